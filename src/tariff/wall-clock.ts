/**
 * Wall-clock arithmetic in a site's IANA time zone: which UTC instants carry
 * a given local date and time (none on the day daylight saving starts, two
 * on the day it ends), and the local half hour containing an instant.
 */
import { DateTime, IANAZone } from "luxon";

/** A calendar date without a zone. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Returns the `PERIOD_HH_MM` label of the half hour starting at `minuteOfDay`. */
export function periodLabel(minuteOfDay: number): string {
  const hours = String(Math.floor(minuteOfDay / 60)).padStart(2, "0");
  const minutes = String(minuteOfDay % 60).padStart(2, "0");
  return `PERIOD_${hours}_${minutes}`;
}

/**
 * Returns the zone, or undefined when `name` is not an IANA zone name. Fixed
 * offsets such as `+10:00` are rejected even though the platform accepts
 * them, because a fixed offset gets daylight saving wrong.
 */
export function ianaZone(name: string): IANAZone | undefined {
  if (name.trim() === "" || /^[+-]/.test(name) || !IANAZone.isValidZone(name)) {
    return undefined;
  }
  return IANAZone.create(name);
}

/** Local date and minute of day of the instant `ms`. */
export function localTime(
  ms: number,
  zone: IANAZone,
): { date: LocalDate; minuteOfDay: number } {
  const local = DateTime.fromMillis(ms, { zone });
  return {
    date: { year: local.year, month: local.month, day: local.day },
    minuteOfDay: local.hour * 60 + local.minute,
  };
}

/** Start (ms) of the local half hour that contains `ms`. */
export function halfHourStart(ms: number, zone: IANAZone): number {
  const local = DateTime.fromMillis(ms, { zone });
  const intoHalfHour =
    ((local.minute % 30) * 60 + local.second) * 1000 + local.millisecond;
  return ms - intoHalfHour;
}

/** `date` moved by `days` calendar days. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const moved = DateTime.fromObject(date, { zone: "UTC" }).plus({ days });
  return { year: moved.year, month: moved.month, day: moved.day };
}

/** Formats a date as `YYYY-MM-DD`. */
export function formatDate(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, "0")}-${String(date.day).padStart(2, "0")}`;
}

/**
 * Returns the UTC instants (ms, ascending) at which the wall clock of `zone` reads
 * `minuteOfDay` on `date`: none when daylight saving skips that time, two
 * when the hour repeats as daylight saving ends, otherwise one.
 */
export function instantsAt(
  date: LocalDate,
  minuteOfDay: number,
  zone: IANAZone,
): number[] {
  const wallAsUtc =
    Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE_MS;
  // The offset in force is one of those a day either side; try each.
  const offsets = new Set([
    zone.offset(wallAsUtc - DAY_MS),
    zone.offset(wallAsUtc),
    zone.offset(wallAsUtc + DAY_MS),
  ]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const instant = wallAsUtc - offset * MINUTE_MS;
    if (zone.offset(instant) === offset && !instants.includes(instant)) {
      instants.push(instant);
    }
  }
  return instants.sort((a, b) => a - b);
}

/** ISO 8601 text of `ms` in `zone`, with its offset and without milliseconds. */
export function isoLocal(ms: number, zone: IANAZone): string {
  return (
    DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) ??
    new Date(ms).toISOString()
  );
}

/** ISO 8601 text of a wall time that has no offset because it does not occur. */
export function isoWallTime(date: LocalDate, minuteOfDay: number): string {
  const hours = String(Math.floor(minuteOfDay / 60)).padStart(2, "0");
  const minutes = String(minuteOfDay % 60).padStart(2, "0");
  return `${formatDate(date)}T${hours}:${minutes}:00`;
}
