/**
 * Fetches enough Amber prices to cover the next 24 hours. The horizon is
 * measured in time, not in a count of intervals, because a 5-minute site
 * mixes 5-minute intervals for the next hour or so with 30-minute ones after
 * it. One `/prices/current` call is the normal case; when its forecast ends
 * less than 24 hours ahead, `/prices` is asked for today and tomorrow (NEM
 * days) and the two responses are merged.
 */
import type { Interval } from "../amber/schemas.js";
import type { AmberPort } from "./types.js";

const HOUR_MS = 3_600_000;
/** NEM time is UTC+10 all year. */
const NEM_OFFSET_MS = 10 * HOUR_MS;
/** How far ahead the tariff needs prices. */
export const HORIZON_MS = 24 * HOUR_MS;

/** Prices for one sync and how they were obtained. */
export interface PriceWindow {
  intervals: Interval[];
  /** End of the last general-channel interval, ms since the epoch (0 when none). */
  coveredUntil: number;
  /** Amber calls made: 1, or 2 when `/prices` was needed. */
  calls: number;
  ignoredChannelTypes: string[];
}

/**
 * Returns the counts for `/prices/current`: 25 hours of forecast (one spare
 * hour for intervals that end past the horizon) and the half hour before
 * now, in units of the site's interval length.
 */
export function currentPricesQuery(intervalLength: 5 | 30): {
  next: number;
  previous: number;
} {
  const perHour = 60 / intervalLength;
  return { next: 25 * perHour, previous: 30 / intervalLength };
}

/** Returns the NEM date (UTC+10) of `ms` as "YYYY-MM-DD". */
export function nemDate(ms: number): string {
  return new Date(ms + NEM_OFFSET_MS).toISOString().slice(0, 10);
}

/** Fetches the price window for `siteId` at `now`. Vendor errors propagate. */
export async function fetchPriceWindow(
  amber: AmberPort,
  siteId: string,
  intervalLength: 5 | 30,
  now: number,
): Promise<PriceWindow> {
  const current = await amber.getCurrentPrices(
    siteId,
    currentPricesQuery(intervalLength),
  );
  let intervals = current.intervals;
  const ignored = new Set(current.ignoredChannelTypes);
  let calls = 1;

  if (coverageEnd(intervals) < now + HORIZON_MS) {
    const range = await amber.getPrices(siteId, {
      startDate: nemDate(now),
      endDate: nemDate(now + HORIZON_MS),
    });
    calls += 1;
    intervals = mergeIntervals(intervals, range.intervals);
    for (const type of range.ignoredChannelTypes) {
      ignored.add(type);
    }
  }

  return {
    intervals,
    coveredUntil: coverageEnd(intervals),
    calls,
    ignoredChannelTypes: [...ignored],
  };
}

/** Returns the end of the last general-channel interval, ms (0 when there is none). */
export function coverageEnd(intervals: readonly Interval[]): number {
  let end = 0;
  for (const interval of intervals) {
    if (interval.channelType === "general") {
      end = Math.max(end, Date.parse(interval.endTime));
    }
  }
  return end;
}

/**
 * Extends `preferred` with the intervals of `extra` that start after the
 * last interval `preferred` has for the same channel. Overlapping spans are
 * not merged, because `/prices` returns 5-minute intervals where
 * `/prices/current` already gave a 30-minute one, and averaging both would
 * count that half hour twice.
 */
export function mergeIntervals(
  preferred: readonly Interval[],
  extra: readonly Interval[],
): Interval[] {
  const ends = new Map<string, number>();
  for (const interval of preferred) {
    const end = Date.parse(interval.endTime);
    ends.set(
      interval.channelType,
      Math.max(ends.get(interval.channelType) ?? 0, end),
    );
  }
  const merged = [...preferred];
  for (const interval of extra) {
    if (
      Date.parse(interval.startTime) >= (ends.get(interval.channelType) ?? 0)
    ) {
      merged.push(interval);
    }
  }
  return merged;
}
