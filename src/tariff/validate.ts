/**
 * Validation of `tariff_content_v2` before upload and after read-back. Beyond
 * the schema it enforces the rules Tesla documents for time-of-use tariffs,
 * on the buy side and on `sell_tariff` alike:
 *
 * - every time field is in range (days 0–6, hours 0–23, minutes 0–59; in
 *   lenient mode an end of 24:00 is accepted as midnight);
 * - in each season every minute of every weekday is covered by exactly one
 *   period (a period may run past midnight only in lenient mode), and a
 *   season has at most 2016 periods;
 * - every period label has a rate and every rate label has periods;
 * - seasons cover every day of the year exactly once. A season may wrap the
 *   year end, and an empty shell season (all-zero months, no periods) is
 *   ignored;
 * - rates are finite and not negative, and in strict mode at most 1000
 *   and `ALL` rates are 0.
 *
 * Each problem names the side, season, label, weekday or time involved and
 * what to change.
 */
import type { z } from "zod";

import { TariffInvalidError } from "../errors.js";
import {
  DAY_NAMES,
  MINUTES_PER_DAY,
  dateOfDayOfYear,
  daysInMonth,
  formatDays,
  formatMinute,
  formatMonthDay,
  isShellSeason,
  ownValue,
  periodDays,
  periodRanges,
  periodWraps,
  resolveRate,
  seasonCovers,
  seasonCoversLeapDay,
} from "./calendar.js";
import {
  lenientTariffSchema,
  strictTariffSchema,
  type TariffContentV2,
  type TariffContentV2Lenient,
  type TariffMode,
  type TariffPeriod,
  type TariffSeason,
  type TariffSide,
} from "./schema.js";

/** Outcome of `validateTariff`: the parsed tariff, or every problem found. */
export type TariffValidation<T> =
  { ok: true; tariff: T } | { ok: false; problems: string[] };

/**
 * Checks `tariff` against the schema of `mode` and Tesla's tariff rules.
 * Returns the parsed tariff (lenient mode fills omitted time fields with 0)
 * or the list of problems; never throws for bad input.
 */
export function validateTariff(
  tariff: unknown,
  mode: "strict",
): TariffValidation<TariffContentV2>;
export function validateTariff(
  tariff: unknown,
  mode: TariffMode,
): TariffValidation<TariffContentV2Lenient>;
export function validateTariff(
  tariff: unknown,
  mode: TariffMode,
): TariffValidation<TariffContentV2Lenient> {
  const parsed =
    mode === "strict"
      ? strictTariffSchema.safeParse(tariff)
      : lenientTariffSchema.safeParse(tariff);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) =>
        describeIssue(issue, mode, tariff),
      ),
    };
  }

  const problems: string[] = [];
  checkSide(parsed.data, "buy", mode, problems);
  if (parsed.data.sell_tariff !== undefined) {
    checkSide(parsed.data.sell_tariff, "sell", mode, problems);
  }
  return problems.length === 0
    ? { ok: true, tariff: parsed.data }
    : { ok: false, problems };
}

/**
 * Same checks as `validateTariff`, throwing `TariffInvalidError` with every
 * problem when the tariff is invalid.
 */
export function assertValidTariff(
  tariff: unknown,
  mode: "strict",
): TariffContentV2;
export function assertValidTariff(
  tariff: unknown,
  mode: TariffMode,
): TariffContentV2Lenient;
export function assertValidTariff(
  tariff: unknown,
  mode: TariffMode,
): TariffContentV2Lenient {
  const result = validateTariff(tariff, mode);
  if (!result.ok) {
    throw new TariffInvalidError(result.problems);
  }
  return result.tariff;
}

/** Replacement advice for each type zod expected. */
const EXPECTED_VALUE: Readonly<Record<string, string>> = {
  number: "a finite number",
  int: "a whole number",
  string: "a string",
  array: "an array",
  object: "an object",
  record: "an object",
  boolean: "true or false",
};

function describeIssue(
  issue: z.core.$ZodIssue,
  mode: TariffMode,
  input: unknown,
): string {
  const path = formatPath(issue.path);
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) {
        return mode === "strict"
          ? `${path}: is missing; tariffs this engine writes must set every field explicitly`
          : `${path}: is missing`;
      }
      return `${path} is ${describeValue(value)}; use ${EXPECTED_VALUE[issue.expected] ?? issue.expected}`;
    case "unrecognized_keys": {
      const keys = issue.keys.map((key) => JSON.stringify(key)).join(", ");
      const noun = issue.keys.length === 1 ? "key" : "keys";
      const pronoun = issue.keys.length === 1 ? "it" : "them";
      return `${path} has the unknown ${noun} ${keys}; remove ${pronoun}, because tariffs this engine writes contain only the documented keys`;
    }
    case "too_small":
      if (issue.path.at(-1) === "currency") {
        return `${path} is ${describeValue(value)}; use a currency code such as AUD`;
      }
      return `${path} is ${describeValue(value)}; ${issue.message}`;
    default:
      return `${path} is ${describeValue(value)}; ${issue.message}`;
  }
}

/**
 * Returns the value at `path` inside `input`, or undefined when some part
 * of the path is missing.
 */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") {
      return undefined;
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Describes a value for a message in at most about 60 characters. Arrays and
 * objects are summarised rather than serialised, because JSON.stringify of
 * a deeply nested value overflows the stack.
 */
function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === "number" && !Number.isFinite(value)) {
    text = String(value);
  } else if (Array.isArray(value)) {
    text = `an array of ${value.length} ${value.length === 1 ? "item" : "items"}`;
  } else if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    text =
      keys.length === 0
        ? "an empty object"
        : `an object with keys ${keys.slice(0, 5).join(", ")}`;
  } else {
    text = JSON.stringify(value) ?? String(value);
  }
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") {
      text += `[${key}]`;
    } else {
      text += text === "" ? String(key) : `.${String(key)}`;
    }
  }
  return text === "" ? "tariff" : text;
}

// ------------------------------------------------------------- one side

type SideName = "buy" | "sell";

function checkSide(
  side: TariffSide,
  sideName: SideName,
  mode: TariffMode,
  problems: string[],
): void {
  const seasonNames = Object.keys(side.seasons);
  const usedSeasons = seasonNames.filter((name) => {
    const season = side.seasons[name];
    return season !== undefined && !isShellSeason(season);
  });
  if (usedSeasons.length === 0) {
    problems.push(
      `${sideName}: no season has periods; add a season covering 1/1 to 12/31 with periods for every day`,
    );
  }
  // Seasons may not overlap and each covers at least one day, so more
  // seasons than days in a leap year cannot be valid. Checking each of
  // them would only cost time and memory.
  if (usedSeasons.length > 366) {
    problems.push(
      `${sideName}: has ${usedSeasons.length} seasons with dates, more than the 366 days of a year, so they cannot avoid overlapping; merge seasons that share their periods and rates`,
    );
    return;
  }

  const tileable: string[] = [];
  for (const name of usedSeasons) {
    const season = side.seasons[name];
    if (season === undefined) {
      continue;
    }
    const where = `${sideName} season "${name}"`;
    if (checkSeasonDates(season, where, problems)) {
      tileable.push(name);
    }
    checkPeriods(season, where, mode, problems);
  }

  checkRates(side, sideName, mode, problems);
  checkSeasonTiling(side, sideName, tileable, problems);
}

function checkSeasonDates(
  season: TariffSeason,
  where: string,
  problems: string[],
): boolean {
  let ok = true;
  for (const [monthKey, dayKey] of [
    ["fromMonth", "fromDay"],
    ["toMonth", "toDay"],
  ] as const) {
    const month = season[monthKey];
    const day = season[dayKey];
    if (month < 1 || month > 12) {
      problems.push(
        `${where}: ${monthKey} ${month} is out of range; use a month from 1 to 12`,
      );
      ok = false;
    } else if (day < 1 || day > daysInMonth(month)) {
      problems.push(
        `${where}: ${dayKey} ${day} is out of range for month ${month}; use a day from 1 to ${daysInMonth(month)}`,
      );
      ok = false;
    }
  }
  return ok;
}

// ---------------------------------------------------------------- periods

const TIME_FIELD_LIMITS = {
  fromDayOfWeek: 6,
  toDayOfWeek: 6,
  fromHour: 23,
  fromMinute: 59,
  toHour: 23,
  toMinute: 59,
} as const;

/**
 * Most periods one season may have.
 * NOTE: Tesla documents no limit. This allows a different label for every
 * 5 minutes of every weekday, and bounds the minute-by-minute coverage
 * check, whose cost grows with the periods a hostile read-back may hold.
 */
const MAX_PERIODS_PER_SEASON = 7 * 288;

/** Labels named in an overlap message; the rest are counted. */
const LISTED_LABELS = 3;

/** Labels whose periods cover one minute: the first few, in order, and how many in all. */
interface MinuteOwners {
  labels: string[];
  count: number;
}

function checkPeriods(
  season: TariffSeason,
  where: string,
  mode: TariffMode,
  problems: string[],
): void {
  const labels = Object.keys(season.tou_periods);
  if (labels.length === 0) {
    problems.push(
      `${where}: has dates but no tou_periods, so none of its days is covered; add periods or make it an empty shell (all month and day fields 0)`,
    );
    return;
  }

  const periodCount = labels.reduce(
    (sum, label) => sum + (season.tou_periods[label]?.periods.length ?? 0),
    0,
  );
  if (periodCount > MAX_PERIODS_PER_SEASON) {
    problems.push(
      `${where}: has ${periodCount} periods, more than the ${MAX_PERIODS_PER_SEASON} this engine checks (one per 5 minutes of each weekday); merge adjacent periods of the same label`,
    );
    return;
  }

  // owners[day][minute]: the labels whose periods cover that minute.
  const owners: MinuteOwners[][] = DAY_NAMES.map(() =>
    Array.from({ length: MINUTES_PER_DAY }, () => ({ labels: [], count: 0 })),
  );

  for (const label of labels) {
    const periods = season.tou_periods[label]?.periods ?? [];
    if (periods.length === 0) {
      problems.push(
        `${where} label "${label}": has an empty periods list; remove the label or give it periods`,
      );
    }
    periods.forEach((period, index) => {
      const at = `${where} label "${label}" period ${index}`;
      if (!checkPeriodFields(period, at, mode, problems)) {
        return;
      }
      for (const day of periodDays(period)) {
        for (const range of periodRanges(period)) {
          for (let minute = range.start; minute < range.end; minute++) {
            const owner = owners[day]?.[minute];
            if (owner !== undefined) {
              owner.count++;
              if (owner.labels.length < LISTED_LABELS) {
                owner.labels.push(label);
              }
            }
          }
        }
      }
    });
  }

  reportCoverage(owners, where, problems);
}

function checkPeriodFields(
  period: TariffPeriod,
  at: string,
  mode: TariffMode,
  problems: string[],
): boolean {
  let ok = true;
  for (const [field, max] of Object.entries(TIME_FIELD_LIMITS)) {
    const value = period[field as keyof typeof TIME_FIELD_LIMITS];
    const endOfDay =
      mode === "lenient" &&
      field === "toHour" &&
      value === 24 &&
      period.toMinute === 0;
    if ((value < 0 || value > max) && !endOfDay) {
      problems.push(
        `${at}: ${field} ${value} is out of range; use 0 to ${max}${field === "toHour" ? " (0:00 means midnight)" : ""}`,
      );
      ok = false;
    }
  }
  if (!ok) {
    return false;
  }

  if (period.fromDayOfWeek > period.toDayOfWeek) {
    problems.push(
      `${at}: fromDayOfWeek ${period.fromDayOfWeek} is after toDayOfWeek ${period.toDayOfWeek}; split the weekday run into ranges that do not wrap past Sunday (6)`,
    );
    return false;
  }
  if (mode === "strict" && periodWraps(period)) {
    problems.push(
      `${at}: runs past midnight (${formatMinute(period.fromHour * 60 + period.fromMinute)} to ${formatMinute(period.toHour * 60 + period.toMinute)}); split it at midnight, ending the first part at toHour 0, toMinute 0`,
    );
    return false;
  }
  return true;
}

/** Turns per-minute owners into gap and overlap problems, merging weekdays with the same finding. */
function reportCoverage(
  owners: MinuteOwners[][],
  where: string,
  problems: string[],
): void {
  const daysByFinding = new Map<string, number[]>();
  owners.forEach((minutes, day) => {
    let runStart = 0;
    for (let minute = 1; minute <= MINUTES_PER_DAY; minute++) {
      const previous = minutes[minute - 1] ?? { labels: [], count: 0 };
      const current = minutes[minute];
      if (
        current !== undefined &&
        current.count === previous.count &&
        sameLabels(previous.labels, current.labels)
      ) {
        continue;
      }
      const finding = describeCoverage(previous, runStart, minute);
      if (finding !== undefined) {
        const days = daysByFinding.get(finding) ?? [];
        days.push(day);
        daysByFinding.set(finding, days);
      }
      runStart = minute;
    }
  });

  for (const [finding, days] of daysByFinding) {
    problems.push(`${where}, ${formatDays(days)} ${finding}`);
  }
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i]);
}

function describeCoverage(
  owners: MinuteOwners,
  start: number,
  end: number,
): string | undefined {
  const range = `${formatMinute(start)}-${formatMinute(end)}`;
  if (owners.count === 0) {
    return `${range}: not covered by any period; every minute of each day needs exactly one period`;
  }
  if (owners.count > 1) {
    const unlisted = owners.count - owners.labels.length;
    const more = unlisted > 0 ? ` and ${unlisted} more` : "";
    return `${range}: covered by more than one period (${owners.labels.join(", ")}${more}); periods must not overlap`;
  }
  return undefined;
}

// ------------------------------------------------------------------ rates

/**
 * Largest rate accepted in strict mode, in $/kWh or $/kW.
 * NOTE: Tesla documents no maximum. This is a sanity bound that no real
 * price reaches, about 45 times the NEM market price cap of 2025-26
 * (20,300 $/MWh, 22.33 $/kWh with GST, set by the AEMC). It rejects values
 * such as 1e308, or a spike price left in c/kWh.
 */
const MAX_RATE = 1000;

function checkRates(
  side: TariffSide,
  sideName: SideName,
  mode: TariffMode,
  problems: string[],
): void {
  for (const [table, unit] of [
    ["energy_charges", "$/kWh"],
    ["demand_charges", "$/kW"],
  ] as const) {
    for (const [seasonName, entry] of Object.entries(side[table])) {
      for (const [label, value] of Object.entries(entry.rates)) {
        const at = `${sideName} ${table}.${seasonName}.rates.${label}`;
        if (!Number.isFinite(value)) {
          problems.push(`${at} is ${value}; use a finite number in ${unit}`);
        } else if (value < 0) {
          problems.push(
            `${at} is ${value} ${unit}; rates must not be negative (Tesla rounds them to 0)`,
          );
        } else if (mode === "strict" && value > MAX_RATE) {
          problems.push(
            `${at} is ${value} ${unit}, above the ${MAX_RATE} ${unit} limit; check the unit, because rates are in ${unit}`,
          );
        } else if (mode === "strict" && seasonName === "ALL" && value !== 0) {
          problems.push(
            `${at} is ${value} ${unit}; keep ALL rates at 0 because Tesla does not document whether they add to the period rates`,
          );
        }
      }
    }
  }

  side.daily_charges.forEach((charge, index) => {
    if (!Number.isFinite(charge.amount) || charge.amount < 0) {
      problems.push(
        `${sideName} daily_charges[${index}].amount is ${charge.amount}; use a finite amount of at least 0`,
      );
    }
  });

  checkLabelsHaveRates(side, sideName, mode, problems);
  checkRatesHavePeriods(side, sideName, problems);
}

function checkLabelsHaveRates(
  side: TariffSide,
  sideName: SideName,
  mode: TariffMode,
  problems: string[],
): void {
  for (const [seasonName, season] of Object.entries(side.seasons)) {
    for (const label of Object.keys(season.tou_periods)) {
      const seasonRates = ownValue(side.energy_charges, seasonName)?.rates;
      const rate =
        mode === "strict"
          ? ownValue(seasonRates, label)
          : resolveRate(side.energy_charges, seasonName, label);
      if (rate === undefined) {
        problems.push(
          `${sideName} season "${seasonName}" label "${label}": has periods but no rate; add energy_charges.${seasonName}.rates.${label}`,
        );
      }
    }
  }
}

function checkRatesHavePeriods(
  side: TariffSide,
  sideName: SideName,
  problems: string[],
): void {
  for (const table of ["energy_charges", "demand_charges"] as const) {
    for (const [seasonName, entry] of Object.entries(side[table])) {
      if (seasonName === "ALL") {
        continue;
      }
      const season = ownValue(side.seasons, seasonName);
      if (season === undefined) {
        problems.push(
          `${sideName} ${table}.${seasonName}: season "${seasonName}" is not in seasons; remove the entry or add the season`,
        );
        continue;
      }
      for (const label of Object.keys(entry.rates)) {
        if (
          label !== "ALL" &&
          ownValue(season.tou_periods, label) === undefined
        ) {
          problems.push(
            `${sideName} season "${seasonName}" label "${label}": has a rate in ${table} but no periods; remove the rate or add periods for it`,
          );
        }
      }
    }
  }
}

// ---------------------------------------------------------------- seasons

function checkSeasonTiling(
  side: TariffSide,
  sideName: SideName,
  seasonNames: readonly string[],
  problems: string[],
): void {
  if (seasonNames.length === 0) {
    return;
  }
  const coverKey = (ordinal: number): string[] =>
    seasonNames.filter((name) => {
      const season = side.seasons[name];
      return season !== undefined && seasonCovers(season, ordinal);
    });

  const onLeapDay = seasonNames.filter((name) => {
    const season = side.seasons[name];
    return season !== undefined && seasonCoversLeapDay(season);
  });
  if (onLeapDay.length > 1) {
    problems.push(
      `${sideName} seasons: 2/29 is covered by more than one season (${onLeapDay.map((name) => `"${name}"`).join(", ")}); seasons must not overlap`,
    );
  }

  let runStart = 1;
  let runSeasons = coverKey(1);
  for (let ordinal = 2; ordinal <= 366; ordinal++) {
    const seasons = ordinal <= 365 ? coverKey(ordinal) : undefined;
    if (seasons !== undefined && sameLabels(seasons, runSeasons)) {
      continue;
    }
    const from = dateOfDayOfYear(runStart);
    const to = dateOfDayOfYear(ordinal - 1);
    const dates = `${formatMonthDay(from.month, from.day)}-${formatMonthDay(to.month, to.day)}`;
    if (runSeasons.length === 0) {
      problems.push(
        `${sideName} seasons: ${dates} is not covered by any season; seasons must cover every day of the year exactly once`,
      );
    } else if (runSeasons.length > 1) {
      problems.push(
        `${sideName} seasons: ${dates} is covered by more than one season (${runSeasons.map((name) => `"${name}"`).join(", ")}); seasons must not overlap`,
      );
    }
    runStart = ordinal;
    runSeasons = seasons ?? [];
  }
}
