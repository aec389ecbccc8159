/**
 * Assembles the tariffs the controls upload in the strict
 * `tariff_content_v2` form. Spike and force tariffs are 48 half-hour slots
 * built by the tariff module's own assembler. Custom schedules have seasons
 * and named periods: the buy side at the top level and the same seasons and
 * periods under `sell_tariff`, `ALL` rates at zero and zero demand charges,
 * as in Tesla's example tariff. Every tariff passes the strict validator
 * before it leaves this module.
 */
import { DateTime } from "luxon";

import { assembleTariff } from "../tariff/assemble.js";
import type { TariffContentV2 } from "../tariff/schema.js";
import { assertValidTariff } from "../tariff/validate.js";

/** Number of half-hour slots in a day. */
export const SLOTS_PER_DAY = 48;

/** A weekday run and a time window, all six fields explicit. 0:00 as an end means midnight. */
export interface StrictPeriod {
  fromDayOfWeek: number;
  toDayOfWeek: number;
  fromHour: number;
  fromMinute: number;
  toHour: number;
  toMinute: number;
}

/** One tariff label: its buy and sell rates ($/kWh) and the windows it covers. */
export interface LabelledRate {
  label: string;
  /** $/kWh, not negative. */
  buy: number;
  /** $/kWh, not negative. */
  sell: number;
  periods: StrictPeriod[];
}

/** A season: inclusive month/day range and its labels. */
export interface TariffSeasonInput {
  name: string;
  fromMonth: number;
  fromDay: number;
  toMonth: number;
  toDay: number;
  labels: LabelledRate[];
}

/** Name, code and utility written into a tariff; the Tesla app shows the name. */
export interface TariffMeta {
  name: string;
  code: string;
  utility: string;
  /** Default "AUD". */
  currency?: string;
  /** Daily supply charge, $/day; default 0. */
  dailyCharge?: number;
}

/**
 * Builds a strict tariff from seasons of labelled rates and checks it with
 * the strict validator. Throws TariffInvalidError listing every problem.
 */
export function assembleSeasonalTariff(
  meta: TariffMeta,
  seasons: TariffSeasonInput[],
): TariffContentV2 {
  const energyBuy: Record<string, { rates: Record<string, number> }> = {
    ALL: { rates: { ALL: 0 } },
  };
  const energySell: Record<string, { rates: Record<string, number> }> = {
    ALL: { rates: { ALL: 0 } },
  };
  const demand: Record<string, { rates: Record<string, number> }> = {
    ALL: { rates: { ALL: 0 } },
  };
  const seasonObjects: TariffContentV2["seasons"] = {};

  for (const season of seasons) {
    const buyRates: Record<string, number> = {};
    const sellRates: Record<string, number> = {};
    const touPeriods: TariffContentV2["seasons"][string]["tou_periods"] = {};
    for (const entry of season.labels) {
      buyRates[entry.label] = roundRate(entry.buy);
      sellRates[entry.label] = roundRate(entry.sell);
      touPeriods[entry.label] = {
        periods: entry.periods.map((period) => ({ ...period })),
      };
    }
    energyBuy[season.name] = { rates: buyRates };
    energySell[season.name] = { rates: sellRates };
    demand[season.name] = { rates: {} };
    seasonObjects[season.name] = {
      fromMonth: season.fromMonth,
      fromDay: season.fromDay,
      toMonth: season.toMonth,
      toDay: season.toDay,
      tou_periods: touPeriods,
    };
  }

  const currency = meta.currency ?? "AUD";
  const dailyCharges = [{ name: "Charge", amount: meta.dailyCharge ?? 0 }];
  const tariff: TariffContentV2 = {
    version: 1,
    code: meta.code,
    name: meta.name,
    utility: meta.utility,
    currency,
    daily_charges: dailyCharges,
    demand_charges: demand,
    energy_charges: energyBuy,
    seasons: seasonObjects,
    sell_tariff: {
      code: meta.code,
      name: meta.name,
      utility: meta.utility,
      currency,
      daily_charges: structuredClone(dailyCharges),
      demand_charges: structuredClone(demand),
      energy_charges: energySell,
      seasons: structuredClone(seasonObjects),
    },
  };
  return assertValidTariff(tariff, "strict");
}

/** Buy and sell rates of one half-hour slot, $/kWh. */
export interface SlotRates {
  buy: number;
  sell: number;
}

/** Label of slot `index` (0 = 00:00–00:30), e.g. "PERIOD_17_30". */
export function slotLabel(index: number): string {
  const hour = Math.floor(index / 2);
  const minute = (index % 2) * 30;
  return `PERIOD_${pad(hour)}_${pad(minute)}`;
}

/**
 * Builds a 48-slot, all-year tariff from `rates[0]` (00:00) to `rates[47]`
 * (23:30), every day of the week alike, and checks it in strict mode.
 */
export function slotTariff(
  meta: TariffMeta,
  rates: readonly SlotRates[],
): TariffContentV2 {
  if (rates.length !== SLOTS_PER_DAY) {
    throw new RangeError(
      `a slot tariff needs ${SLOTS_PER_DAY} slots, got ${rates.length}`,
    );
  }
  const tariff = assembleTariff(
    rates.map((rate, index) => ({
      label: slotLabel(index),
      buy: roundRate(rate.buy),
      sell: roundRate(rate.sell),
    })),
    {
      name: meta.name,
      code: meta.code,
      utility: meta.utility,
      ...(meta.currency === undefined ? {} : { currency: meta.currency }),
    },
  );
  return assertValidTariff(tariff, "strict");
}

/** Index (0–47) of the local half hour that contains `ms` in `zone`. */
export function slotIndexAt(ms: number, zone: string): number {
  const local = DateTime.fromMillis(ms, { zone });
  return local.hour * 2 + (local.minute >= 30 ? 1 : 0);
}

/**
 * Returns the indexes of the local clock slots touched by the span [`fromMs`, `toMs`),
 * starting with the slot containing `fromMs`. At most 48: a span of a day or
 * more covers every slot.
 */
export function slotsInSpan(
  fromMs: number,
  toMs: number,
  zone: string,
): number[] {
  const slots: number[] = [];
  const first = DateTime.fromMillis(fromMs, { zone });
  let cursor = first.set({
    minute: first.minute >= 30 ? 30 : 0,
    second: 0,
    millisecond: 0,
  });
  // 100 steps is more than a day even with a repeated daylight-saving hour.
  for (let step = 0; step < 100 && cursor.toMillis() < toMs; step += 1) {
    const index = slotIndexAt(cursor.toMillis(), zone);
    if (!slots.includes(index)) {
      slots.push(index);
    }
    if (slots.length === SLOTS_PER_DAY) {
      break;
    }
    cursor = cursor.plus({ minutes: 30 });
  }
  return slots;
}

/** Rounds a rate to 4 decimal places ($/kWh), the precision of Tesla's example tariff. */
export function roundRate(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}
