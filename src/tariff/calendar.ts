/**
 * Calendar rules of `tariff_content_v2` shared by the validator, the
 * expansion and the comparison: which minutes of which weekday a period
 * covers, which dates a season covers, and how a label resolves to a rate.
 */
import type {
  TariffCharges,
  TariffPeriod,
  TariffSeason,
  TariffSide,
} from "./schema.js";

export const MINUTES_PER_DAY = 24 * 60;

/** Weekday names indexed as Tesla numbers them: 0 = Monday … 6 = Sunday. */
export const DAY_NAMES = [
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
  "Sunday",
] as const;

/** A half-open range of minutes within one day, `start` inclusive, `end` exclusive. */
export interface MinuteRange {
  start: number;
  end: number;
}

/** Minute of day where the period starts (0–1439 when the fields are in range). */
export function periodStartMinute(period: TariffPeriod): number {
  return period.fromHour * 60 + period.fromMinute;
}

/**
 * Minute of day where the period ends, exclusive. Both `0:00` and `24:00`
 * mean the end of the day and return 1440.
 */
export function periodEndMinute(period: TariffPeriod): number {
  const end = period.toHour * 60 + period.toMinute;
  return end === 0 ? MINUTES_PER_DAY : end;
}

/** True when the period's end is at or before its start, so it runs past midnight. */
export function periodWraps(period: TariffPeriod): boolean {
  return periodEndMinute(period) <= periodStartMinute(period);
}

/**
 * Minute ranges a period covers on each of its weekdays. A period that runs
 * past midnight covers the end and the start of the same weekday, and a
 * period whose end equals its start covers the whole day.
 *
 * NOTE: Tesla does not document whether a wrapping period on Friday also
 * covers Saturday morning. This reads it as the same weekday, which gives
 * the same coverage whenever a wrapping period spans all seven days.
 */
export function periodRanges(period: TariffPeriod): MinuteRange[] {
  const start = periodStartMinute(period);
  const end = periodEndMinute(period);
  if (end > start) {
    return [{ start, end }];
  }
  const ranges: MinuteRange[] = [{ start, end: MINUTES_PER_DAY }];
  if (end > 0) {
    ranges.push({ start: 0, end });
  }
  return ranges;
}

/** Weekdays (0–6) a period applies to; empty when `fromDayOfWeek` is after `toDayOfWeek`. */
export function periodDays(period: TariffPeriod): number[] {
  const days: number[] = [];
  for (
    let day = Math.max(0, period.fromDayOfWeek);
    day <= Math.min(6, period.toDayOfWeek);
    day++
  ) {
    days.push(day);
  }
  return days;
}

/** Formats a minute of day as `HH:MM`; 1440 reads `24:00`. */
export function formatMinute(minute: number): string {
  const hours = Math.floor(minute / 60);
  const minutes = minute % 60;
  return `${String(hours).padStart(2, "0")}:${String(minutes).padStart(2, "0")}`;
}

/** Formats a minute range as `HH:MM-HH:MM`. */
export function formatRange(range: MinuteRange): string {
  return `${formatMinute(range.start)}-${formatMinute(range.end)}`;
}

/** Formats weekdays as runs of names, e.g. `Monday-Friday, Sunday`. */
export function formatDays(days: readonly number[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const runs: string[] = [];
  let index = 0;
  while (index < sorted.length) {
    const first = sorted[index] ?? 0;
    let last = first;
    while (sorted[index + 1] === last + 1) {
      index++;
      last = sorted[index] ?? last;
    }
    runs.push(
      first === last ? dayName(first) : `${dayName(first)}-${dayName(last)}`,
    );
    index++;
  }
  return runs.join(", ");
}

function dayName(day: number): string {
  return DAY_NAMES[day] ?? `day ${day}`;
}

// ---------------------------------------------------------------- seasons

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAYS_BEFORE_MONTH = [
  0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
];

/** Days in `month` (1–12), counting 29 for February; 0 for a month out of range. */
export function daysInMonth(month: number): number {
  return DAYS_IN_MONTH[month - 1] ?? 0;
}

/** Day of a 365-day year (1–365) for a month and day; February 29 counts as March 1. */
function ordinalFrom(month: number, day: number): number {
  if (month === 2 && day === 29) {
    return ordinalFrom(3, 1);
  }
  return (DAYS_BEFORE_MONTH[month - 1] ?? 0) + day;
}

/** Day of a 365-day year for a season's last day; February 29 counts as February 28. */
function ordinalTo(month: number, day: number): number {
  return (
    (DAYS_BEFORE_MONTH[month - 1] ?? 0) + Math.min(day, month === 2 ? 28 : day)
  );
}

/**
 * Day of a 365-day year (1–365) for a calendar date. February 29 counts as
 * February 28, so a leap day takes the season of the day before it.
 */
export function dayOfYear(month: number, day: number): number {
  return ordinalTo(month, day);
}

/** Month and day of a day of a 365-day year. */
export function dateOfDayOfYear(ordinal: number): {
  month: number;
  day: number;
} {
  let month = 12;
  while (month > 1 && (DAYS_BEFORE_MONTH[month - 1] ?? 0) >= ordinal) {
    month--;
  }
  return { month, day: ordinal - (DAYS_BEFORE_MONTH[month - 1] ?? 0) };
}

/** Formats a month and day as `M/D`, the way Tesla's season fields read. */
export function formatMonthDay(month: number, day: number): string {
  return `${month}/${day}`;
}

/** True for an unused season: all four month/day fields 0 and no periods. */
export function isShellSeason(season: TariffSeason): boolean {
  return (
    season.fromMonth === 0 &&
    season.fromDay === 0 &&
    season.toMonth === 0 &&
    season.toDay === 0 &&
    Object.keys(season.tou_periods).length === 0
  );
}

/**
 * True when the season covers the day of year `ordinal` (1–365). Seasons are
 * inclusive at both ends and wrap the year end when they start after they
 * finish (e.g. 10/1 to 3/31).
 */
export function seasonCovers(season: TariffSeason, ordinal: number): boolean {
  if (isShellSeason(season) || isLeapDayOnly(season)) {
    return false;
  }
  const from = ordinalFrom(season.fromMonth, season.fromDay);
  const to = ordinalTo(season.toMonth, season.toDay);
  return from <= to
    ? ordinal >= from && ordinal <= to
    : ordinal >= from || ordinal <= to;
}

/**
 * True for a season of February 29 alone. It covers no day of the 365-day
 * year, whereas the ordinal rules above would read it as wrapping the whole
 * year, because its start counts as March 1 and its end as February 28.
 */
function isLeapDayOnly(season: TariffSeason): boolean {
  return (
    season.fromMonth === 2 &&
    season.fromDay === 29 &&
    season.toMonth === 2 &&
    season.toDay === 29
  );
}

/**
 * True when the season's dates include February 29 as written, counting on
 * a leap-year calendar. The 365-day rules fold the leap day into February
 * 28, so two seasons that both name February 29 need this check to be
 * found overlapping.
 */
export function seasonCoversLeapDay(season: TariffSeason): boolean {
  if (isShellSeason(season)) {
    return false;
  }
  const leapDay = 60;
  const ordinal = (month: number, day: number): number =>
    (DAYS_BEFORE_MONTH[month - 1] ?? 0) + (month > 2 ? 1 : 0) + day;
  const from = ordinal(season.fromMonth, season.fromDay);
  const to = ordinal(season.toMonth, season.toDay);
  return from <= to
    ? leapDay >= from && leapDay <= to
    : leapDay >= from || leapDay <= to;
}

/** Names of the seasons of `side` that cover the day of year `ordinal`. */
export function seasonsCovering(side: TariffSide, ordinal: number): string[] {
  return Object.entries(side.seasons)
    .filter(([, season]) => seasonCovers(season, ordinal))
    .map(([name]) => name);
}

// ------------------------------------------------------------------ rates

/**
 * Rate of `label` in `season`: the season's own rate for the label, else
 * the season's `ALL` rate, else the `ALL` season's rate for the label.
 * Tesla documents `ALL` entries as applying to every period but not whether
 * they add to a period's own rate, so they are read as a fallback only. The
 * catch-all `ALL.rates.ALL` prices only a label named `ALL`, so that a label
 * without a rate stays unpriced rather than reading Tesla's usual 0 there.
 * Returns undefined when no rate applies.
 */
export function resolveRate(
  charges: TariffCharges,
  season: string,
  label: string,
): number | undefined {
  const own = ownValue(charges, season)?.rates;
  const all = ownValue(charges, "ALL")?.rates;
  return ownValue(own, label) ?? ownValue(own, "ALL") ?? ownValue(all, label);
}

/**
 * Value of `key` in a record parsed from JSON, or undefined when the record
 * is undefined or does not have the key. Labels and season names are free text, so a plain
 * index would read a name such as `constructor` or `toString` from
 * Object.prototype.
 */
export function ownValue<T>(
  record: Readonly<Record<string, T>> | undefined,
  key: string,
): T | undefined {
  return record !== undefined && Object.hasOwn(record, key)
    ? record[key]
    : undefined;
}
