/**
 * Comparison of two tariffs by their effective prices, not their labels or
 * layout, so a tariff read back from a Powerwall compares cleanly with the
 * one this engine built. `compareTariffs` decides whether a new tariff is
 * worth a Tesla write; `tariffsEquivalent` confirms a read-back.
 */
import { DateTime } from "luxon";

import { ConfigError } from "../errors.js";
import {
  DAY_NAMES,
  dateOfDayOfYear,
  dayOfYear,
  formatDays,
  formatMinute,
  formatMonthDay,
  seasonsCovering,
} from "./calendar.js";
import {
  boundaryStepMinutes,
  expandTariff,
  type TariffCell,
} from "./expand.js";
import type { TariffContentV2Lenient } from "./schema.js";
import { ianaZone } from "./wall-clock.js";

/** Default smallest price move that makes a new tariff worth uploading: 0.005 $/kWh (0.5 c/kWh). */
export const DEFAULT_MIN_CHANGE = 0.005;

/** Prices closer than this ($/kWh) are equal; half the 4-decimal rounding step of built tariffs. */
export const PRICE_TOLERANCE = 0.00005;

/** Options of `compareTariffs`. */
export interface CompareOptions {
  /** Smallest change of any buy or sell price, in $/kWh, that makes the new tariff material; default 0.005. */
  minChange?: number;
  /**
   * Threshold in $/kWh for the half hour containing `now`, usually lower than
   * `minChange` so that a live price move in the running slot is uploaded;
   * default `minChange`. Needs `now` and `timeZone`.
   */
  currentSlotMinChange?: number;
  /** Time in ms since the epoch that decides the current half hour. */
  now?: number;
  /** IANA zone of the site, used with `now` to find the current half hour. */
  timeZone?: string;
}

/** One price change, merged over weekdays and adjacent times with the same prices. */
export interface ChangedSlot {
  /** Buy season of the new tariff on these dates (of the old one when the new has none). */
  season: string | undefined;
  /** Dates the change applies to, e.g. `1/1-12/31`. */
  dates: string;
  /** Weekdays, e.g. `Monday-Sunday`. */
  days: string;
  /** Weekday numbers, 0 = Monday. */
  daysOfWeek: number[];
  /** Local time range, e.g. `14:00-14:30`. */
  time: string;
  /** Buy period label of the new tariff (of the old one when the new has none). */
  label: string | undefined;
  /** Old buy price in $/kWh; undefined when the old tariff had none here. */
  buyBefore: number | undefined;
  /** New buy price in $/kWh. */
  buyAfter: number | undefined;
  /** Old sell price in $/kWh. */
  sellBefore: number | undefined;
  /** New sell price in $/kWh. */
  sellAfter: number | undefined;
  /** True when the entry includes the current half hour (on today's weekday). */
  current: boolean;
}

/** Outcome of `compareTariffs`. */
export interface TariffComparison {
  /** True when the new tariff differs enough to upload. */
  material: boolean;
  /** One sentence for logs and the sync result, naming the deciding change. */
  reason: string;
  /** Every price that moved by more than `PRICE_TOLERANCE`, material or not. */
  changedSlots: ChangedSlot[];
  /** Largest buy price move in $/kWh where both tariffs have a price. */
  maxBuyDelta: number;
  /** Largest sell price move in $/kWh where both tariffs have a price. */
  maxSellDelta: number;
}

interface CellChange {
  groupKey: string;
  season: string | undefined;
  dates: string;
  day: number;
  start: number;
  end: number;
  label: string | undefined;
  before: TariffCell | undefined;
  after: TariffCell | undefined;
  current: boolean;
}

/**
 * Compares the effective prices of `before` (the tariff on the Powerwall, or
 * undefined when unknown) and `after` (the candidate) over every season,
 * weekday and time step. The new tariff is material when there is no old
 * one, when a price appears or disappears, or when any price moves by at
 * least the threshold (`currentSlotMinChange` in the current half hour,
 * `minChange` elsewhere).
 */
export function compareTariffs(
  before: TariffContentV2Lenient | undefined,
  after: TariffContentV2Lenient,
  options: CompareOptions = {},
): TariffComparison {
  const minChange = options.minChange ?? DEFAULT_MIN_CHANGE;
  const currentMinChange = options.currentSlotMinChange ?? minChange;
  const current = currentSlot(options);

  const changedSlots = mergeChanges(collectChanges(before, after, current));
  let maxBuyDelta = 0;
  let maxSellDelta = 0;
  let deciding: { text: string; score: number } | undefined;
  let largest: { slot: ChangedSlot; side: string; delta: number } | undefined;

  for (const slot of changedSlots) {
    const threshold = slot.current ? currentMinChange : minChange;
    for (const side of ["buy", "sell"] as const) {
      const old = side === "buy" ? slot.buyBefore : slot.sellBefore;
      const now = side === "buy" ? slot.buyAfter : slot.sellAfter;
      if (old === undefined && now === undefined) {
        continue;
      }
      if (old === undefined || now === undefined) {
        deciding ??= {
          score: Number.POSITIVE_INFINITY,
          text: `${side} price at ${where(slot)} ${now === undefined ? "is no longer set" : "is newly set"}`,
        };
        continue;
      }
      const delta = Math.abs(now - old);
      if (side === "buy") {
        maxBuyDelta = Math.max(maxBuyDelta, delta);
      } else {
        maxSellDelta = Math.max(maxSellDelta, delta);
      }
      if (largest === undefined || delta > largest.delta) {
        largest = { slot, side, delta };
      }
      const score = delta / Math.max(threshold, Number.MIN_VALUE);
      if (
        delta >= threshold - 1e-9 &&
        (deciding === undefined || score > deciding.score)
      ) {
        deciding = {
          score,
          text: `${side} price at ${where(slot)} moved ${cents(delta)} (${old.toFixed(4)} to ${now.toFixed(4)} $/kWh), at or above the ${cents(threshold)} threshold${slot.current ? " for the current half hour" : ""}`,
        };
      }
    }
  }

  let reason: string;
  if (before === undefined) {
    reason = "no previous tariff to compare with";
  } else if (deciding !== undefined) {
    reason = deciding.text;
  } else if (largest !== undefined) {
    reason = `largest change ${cents(largest.delta)} (${largest.side} at ${where(largest.slot)}) is below the ${cents(largest.slot.current ? currentMinChange : minChange)} threshold`;
  } else {
    reason = "no price changed";
  }

  return {
    material: before === undefined || deciding !== undefined,
    reason,
    changedSlots,
    maxBuyDelta: roundPrice(maxBuyDelta),
    maxSellDelta: roundPrice(maxSellDelta),
  };
}

/**
 * True when `a` and `b` charge the same buy and sell price, within
 * `tolerance` $/kWh (default 0.00005), at every time of every weekday of
 * every date, and leave the same times unpriced. Labels and season names
 * may differ.
 */
export function tariffsEquivalent(
  a: TariffContentV2Lenient,
  b: TariffContentV2Lenient,
  tolerance = PRICE_TOLERANCE,
): boolean {
  return collectChanges(a, b, undefined, tolerance).length === 0;
}

interface CurrentSlot {
  ordinal: number;
  day: number;
  start: number;
}

function currentSlot(options: CompareOptions): CurrentSlot | undefined {
  if (options.now === undefined || options.timeZone === undefined) {
    return undefined;
  }
  const zone = ianaZone(options.timeZone);
  if (zone === undefined) {
    throw new ConfigError(
      `Time zone "${options.timeZone}" is not a valid IANA zone name; pass the site's installation_time_zone, e.g. Australia/Sydney.`,
    );
  }
  const local = DateTime.fromMillis(options.now, { zone });
  const minute = local.hour * 60 + local.minute;
  return {
    ordinal: dayOfYear(local.month, local.day),
    day: local.weekday - 1,
    start: minute - (minute % 30),
  };
}

function collectChanges(
  before: TariffContentV2Lenient | undefined,
  after: TariffContentV2Lenient,
  current: CurrentSlot | undefined,
  tolerance = PRICE_TOLERANCE,
): CellChange[] {
  const stepMinutes = boundaryStepMinutes(before, after);

  // One representative date per combination of seasons in the two tariffs.
  const groups = new Map<string, number[]>();
  for (let ordinal = 1; ordinal <= 365; ordinal++) {
    const key = JSON.stringify([
      seasonKey(before, ordinal),
      seasonKey(after, ordinal),
    ]);
    const ordinals = groups.get(key) ?? [];
    ordinals.push(ordinal);
    groups.set(key, ordinals);
  }

  const changes: CellChange[] = [];
  for (const [groupKey, ordinals] of groups) {
    const first = ordinals[0] ?? 1;
    const date = dateOfDayOfYear(first);
    const oldGrid =
      before === undefined
        ? undefined
        : expandTariff(before, { date, stepMinutes })[0];
    const newGrid = expandTariff(after, { date, stepMinutes })[0];
    const dates = formatOrdinalRuns(ordinals);
    const isCurrentGroup =
      current !== undefined && ordinals.includes(current.ordinal);

    for (let day = 0; day < DAY_NAMES.length; day++) {
      const newCells = newGrid?.days[day] ?? [];
      newCells.forEach((afterCell, index) => {
        const beforeCell = oldGrid?.days[day]?.[index];
        if (cellsEqual(beforeCell, afterCell, tolerance)) {
          return;
        }
        changes.push({
          groupKey,
          season: newGrid?.buySeason ?? oldGrid?.buySeason,
          dates,
          day,
          start: afterCell.start,
          end: afterCell.end,
          label: afterCell.buyLabel ?? beforeCell?.buyLabel,
          before: beforeCell,
          after: afterCell,
          current:
            isCurrentGroup &&
            current.day === day &&
            afterCell.start >= current.start &&
            afterCell.start < current.start + 30,
        });
      });
    }
  }
  return changes;
}

function seasonKey(
  tariff: TariffContentV2Lenient | undefined,
  ordinal: number,
): Array<string | undefined> {
  if (tariff === undefined) {
    return [];
  }
  return [
    seasonsCovering(tariff, ordinal)[0],
    tariff.sell_tariff === undefined
      ? undefined
      : seasonsCovering(tariff.sell_tariff, ordinal)[0],
  ];
}

function formatOrdinalRuns(ordinals: readonly number[]): string {
  const runs: string[] = [];
  let start = ordinals[0];
  let previous = start;
  for (const ordinal of [...ordinals.slice(1), Number.NaN]) {
    if (previous !== undefined && ordinal === previous + 1) {
      previous = ordinal;
      continue;
    }
    if (start !== undefined && previous !== undefined) {
      const from = dateOfDayOfYear(start);
      const to = dateOfDayOfYear(previous);
      runs.push(
        `${formatMonthDay(from.month, from.day)}-${formatMonthDay(to.month, to.day)}`,
      );
    }
    start = ordinal;
    previous = ordinal;
  }
  return runs.join(", ");
}

function cellsEqual(
  a: TariffCell | undefined,
  b: TariffCell | undefined,
  tolerance: number,
): boolean {
  return (
    pricesEqual(a?.buy, b?.buy, tolerance) &&
    pricesEqual(a?.sell, b?.sell, tolerance)
  );
}

function pricesEqual(
  a: number | undefined,
  b: number | undefined,
  tolerance: number,
): boolean {
  if (a === undefined || b === undefined) {
    return a === b;
  }
  return Math.abs(a - b) <= tolerance + 1e-12;
}

/** Merges adjacent times within a weekday, then weekdays, that carry the same prices. */
function mergeChanges(changes: readonly CellChange[]): ChangedSlot[] {
  const runs: CellChange[] = [];
  for (const change of changes) {
    const last = runs.at(-1);
    if (
      last !== undefined &&
      last.groupKey === change.groupKey &&
      last.day === change.day &&
      last.end === change.start &&
      last.current === change.current &&
      samePrices(last, change)
    ) {
      runs[runs.length - 1] = { ...last, end: change.end };
    } else {
      runs.push(change);
    }
  }

  const merged = new Map<string, ChangedSlot>();
  for (const run of runs) {
    // The same time on other weekdays joins the current half hour's entry:
    // the prices are equal, so the current threshold decides for all of them.
    const key = JSON.stringify([
      run.groupKey,
      run.start,
      run.end,
      run.before?.buy,
      run.after?.buy,
      run.before?.sell,
      run.after?.sell,
    ]);
    const existing = merged.get(key);
    if (existing !== undefined) {
      existing.daysOfWeek.push(run.day);
      existing.days = formatDays(existing.daysOfWeek);
      existing.current ||= run.current;
      continue;
    }
    merged.set(key, {
      season: run.season,
      dates: run.dates,
      days: formatDays([run.day]),
      daysOfWeek: [run.day],
      time: `${formatMinute(run.start)}-${formatMinute(run.end)}`,
      label: run.label,
      buyBefore: run.before?.buy,
      buyAfter: run.after?.buy,
      sellBefore: run.before?.sell,
      sellAfter: run.after?.sell,
      current: run.current,
    });
  }
  return [...merged.values()];
}

function samePrices(a: CellChange, b: CellChange): boolean {
  return (
    a.before?.buy === b.before?.buy &&
    a.after?.buy === b.after?.buy &&
    a.before?.sell === b.before?.sell &&
    a.after?.sell === b.after?.sell
  );
}

function where(slot: ChangedSlot): string {
  const season = slot.season === undefined ? "" : `, season "${slot.season}"`;
  return `${slot.days} ${slot.time}${season}`;
}

function cents(dollars: number): string {
  return `${(dollars * 100).toFixed(2)} c/kWh`;
}

function roundPrice(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
