/**
 * Expansion of a tariff into a grid of effective prices: for each weekday,
 * the buy and sell $/kWh of every half hour (or finer step). Comparison and
 * preview read prices this way, so they agree on what a tariff charges
 * whatever its labels and season layout.
 */
import {
  MINUTES_PER_DAY,
  dateOfDayOfYear,
  dayOfYear,
  periodDays,
  periodRanges,
  resolveRate,
  seasonsCovering,
} from "./calendar.js";
import type { TariffContentV2Lenient, TariffSide } from "./schema.js";

/** Effective prices of one time step of one weekday. */
export interface TariffCell {
  /** Minute of day where the cell starts (0–1439). */
  start: number;
  /** Minute of day where the cell ends, exclusive (at most 1440). */
  end: number;
  /** Buy price in $/kWh; undefined when no period or rate covers the cell. */
  buy: number | undefined;
  /** Sell price in $/kWh; undefined when no period or rate covers the cell or there is no `sell_tariff`. */
  sell: number | undefined;
  /** Buy period label covering the cell start. */
  buyLabel: string | undefined;
  /** Sell period label covering the cell start. */
  sellLabel: string | undefined;
}

/** Inclusive range of calendar dates, as month (1–12) and day. */
export interface DateRange {
  from: { month: number; day: number };
  to: { month: number; day: number };
}

/** Prices of every weekday for the dates that share one buy season and one sell season. */
export interface TariffGrid {
  /** Buy season in force on these dates, or undefined when none covers them. */
  buySeason: string | undefined;
  /** Sell season in force on these dates, or undefined when none covers them. */
  sellSeason: string | undefined;
  /** Dates this grid applies to (February 29 follows February 28). */
  dates: DateRange[];
  /** Length of each cell in minutes. */
  stepMinutes: number;
  /** `days[dayOfWeek][cell]`, day 0 = Monday, cells in time order from 00:00. */
  days: TariffCell[][];
}

/** Options of `expandTariff`. */
export interface ExpandOptions {
  /** Expand only the seasons in force on this date; default: every season combination of the year. */
  date?: { month: number; day: number };
  /** Cell length in minutes, a divisor of 1440; default 30. */
  stepMinutes?: number;
}

/**
 * Expands `tariff` into price grids: one per combination of buy and sell
 * season over the year, or only the one in force on `options.date`. Each
 * cell takes the price of the period covering its first minute, so use a
 * step that divides every period boundary (see `boundaryStepMinutes`) for an
 * exact picture of tariffs whose boundaries are not on the half hour.
 */
export function expandTariff(
  tariff: TariffContentV2Lenient,
  options: ExpandOptions = {},
): TariffGrid[] {
  const stepMinutes = options.stepMinutes ?? 30;
  if (
    !Number.isInteger(stepMinutes) ||
    stepMinutes < 1 ||
    MINUTES_PER_DAY % stepMinutes !== 0
  ) {
    throw new RangeError(
      `stepMinutes ${stepMinutes} does not divide a day; use a divisor of 1440 such as 5 or 30`,
    );
  }

  const ordinals =
    options.date === undefined
      ? Array.from({ length: 365 }, (_, i) => i + 1)
      : [dayOfYear(options.date.month, options.date.day)];

  const groups = new Map<
    string,
    { buySeason?: string; sellSeason?: string; ordinals: number[] }
  >();
  for (const ordinal of ordinals) {
    const buySeason = seasonsCovering(tariff, ordinal)[0];
    const sellSeason =
      tariff.sell_tariff === undefined
        ? undefined
        : seasonsCovering(tariff.sell_tariff, ordinal)[0];
    const key = JSON.stringify([buySeason, sellSeason]);
    const group = groups.get(key) ?? { buySeason, sellSeason, ordinals: [] };
    group.ordinals.push(ordinal);
    groups.set(key, group);
  }

  return [...groups.values()].map((group) => ({
    buySeason: group.buySeason,
    sellSeason: group.sellSeason,
    dates: toDateRanges(group.ordinals),
    stepMinutes,
    days: expandDays(tariff, group.buySeason, group.sellSeason, stepMinutes),
  }));
}

/**
 * Largest cell length (a divisor of 30 minutes) on which every period
 * boundary of the given tariffs falls, so a grid of that step is exact.
 */
export function boundaryStepMinutes(
  ...tariffs: Array<TariffContentV2Lenient | undefined>
): number {
  let step = 30;
  for (const tariff of tariffs) {
    if (tariff === undefined) {
      continue;
    }
    const sides: TariffSide[] =
      tariff.sell_tariff === undefined
        ? [tariff]
        : [tariff, tariff.sell_tariff];
    for (const side of sides) {
      for (const season of Object.values(side.seasons)) {
        for (const { periods } of Object.values(season.tou_periods)) {
          for (const period of periods) {
            step = gcd(step, period.fromHour * 60 + period.fromMinute);
            step = gcd(step, period.toHour * 60 + period.toMinute);
          }
        }
      }
    }
  }
  return step;
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) {
    [x, y] = [y, x % y];
  }
  return x === 0 ? 1 : x;
}

function toDateRanges(ordinals: readonly number[]): DateRange[] {
  const ranges: DateRange[] = [];
  let start: number | undefined;
  let previous: number | undefined;
  for (const ordinal of [...ordinals, Number.NaN]) {
    if (previous !== undefined && ordinal === previous + 1) {
      previous = ordinal;
      continue;
    }
    if (start !== undefined && previous !== undefined) {
      ranges.push({
        from: dateOfDayOfYear(start),
        to: dateOfDayOfYear(previous),
      });
    }
    start = ordinal;
    previous = ordinal;
  }
  return ranges;
}

interface LabelLookup {
  labelAt(day: number, minute: number): string | undefined;
  rate(label: string): number | undefined;
}

function lookupFor(
  side: TariffSide | undefined,
  seasonName: string | undefined,
): LabelLookup {
  const season =
    side === undefined || seasonName === undefined
      ? undefined
      : side.seasons[seasonName];
  if (side === undefined || seasonName === undefined || season === undefined) {
    return { labelAt: () => undefined, rate: () => undefined };
  }

  // owner[day][minute]: the first label whose period covers that minute.
  const owner: Array<Array<string | undefined>> = Array.from(
    { length: 7 },
    () => new Array<string | undefined>(MINUTES_PER_DAY).fill(undefined),
  );
  for (const [label, { periods }] of Object.entries(season.tou_periods)) {
    for (const period of periods) {
      for (const day of periodDays(period)) {
        const minutes = owner[day];
        if (minutes === undefined) {
          continue;
        }
        for (const range of periodRanges(period)) {
          for (
            let minute = range.start;
            minute < Math.min(range.end, MINUTES_PER_DAY);
            minute++
          ) {
            minutes[minute] ??= label;
          }
        }
      }
    }
  }
  return {
    labelAt: (day, minute) => owner[day]?.[minute],
    rate: (label) => resolveRate(side.energy_charges, seasonName, label),
  };
}

function expandDays(
  tariff: TariffContentV2Lenient,
  buySeason: string | undefined,
  sellSeason: string | undefined,
  stepMinutes: number,
): TariffCell[][] {
  const buy = lookupFor(tariff, buySeason);
  const sell = lookupFor(tariff.sell_tariff, sellSeason);
  const days: TariffCell[][] = [];
  for (let day = 0; day < 7; day++) {
    const cells: TariffCell[] = [];
    for (let start = 0; start < MINUTES_PER_DAY; start += stepMinutes) {
      const buyLabel = buy.labelAt(day, start);
      const sellLabel = sell.labelAt(day, start);
      cells.push({
        start,
        end: start + stepMinutes,
        buy: buyLabel === undefined ? undefined : buy.rate(buyLabel),
        sell: sellLabel === undefined ? undefined : sell.rate(sellLabel),
        buyLabel,
        sellLabel,
      });
    }
    days.push(cells);
  }
  return days;
}
