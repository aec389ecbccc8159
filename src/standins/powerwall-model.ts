/**
 * A simulated Powerwall for the Tesla stand-in and the demo. Solar follows a
 * bell curve over local daylight hours, and home load has a morning bump and
 * an evening peak. The battery follows the uploaded tariff roughly as Tesla's
 * Time-Based Control does. It charges from the grid when the buy price is in
 * the cheapest quarter of the day's price range and discharges in the
 * dearest quarter. Otherwise it covers the home from solar and battery. Everything is a pure function of
 * (state, elapsed time, tariff, now), so it runs the same under fake time.
 *
 * Signs follow Tesla's live_status: battery power > 0 discharges, grid
 * power > 0 imports. Powers are watts, energies watt-hours. The model has no
 * conversion losses and no weather.
 */
import { DateTime } from "luxon";

import type { ExportRule, OperationMode } from "../tesla/schemas.js";

/** Fixed properties of the simulated site. */
export interface PowerwallSpec {
  /** Usable capacity, Wh; a Powerwall 2 has 13500. */
  capacityWh: number;
  /** Maximum charge power, W. */
  maxChargeW: number;
  /** Maximum discharge power, W. */
  maxDischargeW: number;
  /** Solar output at solar noon, W. */
  solarPeakW: number;
  /** IANA zone that defines the local time of day and the tariff's hours. */
  timeZone: string;
}

/** Settings that Tesla writes change. */
export interface PowerwallSettings {
  operationMode: OperationMode;
  backupReservePercent: number;
  exportRule: ExportRule;
  gridChargingAllowed: boolean;
}

/** Instantaneous power flows, W. */
export interface PowerFlows {
  solarW: number;
  loadW: number;
  /** > 0 discharging, < 0 charging. */
  batteryW: number;
  /** > 0 importing, < 0 exporting. */
  gridW: number;
}

/** Energy accumulated since the model started, Wh. */
export interface EnergyTotals {
  solarWh: number;
  homeWh: number;
  gridImportWh: number;
  gridExportWh: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
}

/** Complete model state; treat as immutable. */
export interface PowerwallState {
  spec: PowerwallSpec;
  settings: PowerwallSettings;
  /** Stored energy, Wh, between 0 and `spec.capacityWh`. */
  energyWh: number;
  /** Flows over the last simulated step. */
  flows: PowerFlows;
  totals: EnergyTotals;
}

/** A Powerwall 2 with a 5 kW solar array in Sydney. */
export const DEFAULT_POWERWALL_SPEC: PowerwallSpec = {
  capacityWh: 13_500,
  maxChargeW: 5000,
  maxDischargeW: 5000,
  solarPeakW: 5000,
  timeZone: "Australia/Sydney",
};

/** Time-Based Control, 20 % reserve, battery export allowed, grid charging allowed. */
export const DEFAULT_POWERWALL_SETTINGS: PowerwallSettings = {
  operationMode: "autonomous",
  backupReservePercent: 20,
  exportRule: "battery_ok",
  gridChargingAllowed: true,
};

/** Longest simulated step, ms; longer elapsed times are integrated in steps of this size. */
export const MAX_STEP_MS = 60_000;

const MS_PER_HOUR = 3_600_000;

/** Creates a model state at `socPercent` charge with zero totals. */
export function createPowerwallState(
  spec: Partial<PowerwallSpec> = {},
  settings: Partial<PowerwallSettings> = {},
  socPercent = 50,
): PowerwallState {
  const fullSpec = { ...DEFAULT_POWERWALL_SPEC, ...spec };
  return {
    spec: fullSpec,
    settings: { ...DEFAULT_POWERWALL_SETTINGS, ...settings },
    energyWh: (fullSpec.capacityWh * clamp(socPercent, 0, 100)) / 100,
    flows: { solarW: 0, loadW: 0, batteryW: 0, gridW: 0 },
    totals: {
      solarWh: 0,
      homeWh: 0,
      gridImportWh: 0,
      gridExportWh: 0,
      batteryChargeWh: 0,
      batteryDischargeWh: 0,
    },
  };
}

/**
 * Advances `state` over the `elapsedMs` that end at `nowMs`, under the
 * uploaded `tariff` (a tariff_content_v2 object, or undefined for none).
 * With `elapsedMs` 0 it only recomputes the flows at `nowMs`.
 */
export function advancePowerwall(
  state: PowerwallState,
  elapsedMs: number,
  tariff: unknown,
  nowMs: number,
): PowerwallState {
  const prices = new TariffPrices(tariff);
  let energyWh = state.energyWh;
  let flows = state.flows;
  const totals = { ...state.totals };

  if (elapsedMs <= 0) {
    flows = computeFlows(state, energyWh, prices, nowMs, 0);
    return { ...state, flows };
  }

  let stepStart = nowMs - elapsedMs;
  while (stepStart < nowMs) {
    const stepMs = Math.min(MAX_STEP_MS, nowMs - stepStart);
    flows = computeFlows(state, energyWh, prices, stepStart, stepMs);
    const hours = stepMs / MS_PER_HOUR;

    energyWh = clamp(
      energyWh - flows.batteryW * hours,
      0,
      state.spec.capacityWh,
    );
    totals.solarWh += flows.solarW * hours;
    totals.homeWh += flows.loadW * hours;
    if (flows.gridW > 0) {
      totals.gridImportWh += flows.gridW * hours;
    } else {
      totals.gridExportWh -= flows.gridW * hours;
    }
    if (flows.batteryW > 0) {
      totals.batteryDischargeWh += flows.batteryW * hours;
    } else {
      totals.batteryChargeWh -= flows.batteryW * hours;
    }
    stepStart += stepMs;
  }

  return { ...state, energyWh, flows, totals };
}

/** Returns the charge as a percentage of capacity. */
export function chargePercent(state: PowerwallState): number {
  return (state.energyWh / state.spec.capacityWh) * 100;
}

/**
 * Returns solar output at a local decimal hour: a sine-squared bell from
 * 06:00 to 19:00 peaking at 12:30, zero at night.
 */
export function solarPowerAt(localHour: number, peakW: number): number {
  if (localHour <= 6 || localHour >= 19) {
    return 0;
  }
  return peakW * Math.sin((Math.PI * (localHour - 6)) / 13) ** 2;
}

/**
 * Returns home load at a local decimal hour: 400 W base, a 600 W bump
 * around 07:30 and a 1600 W evening peak around 19:00.
 */
export function homeLoadAt(localHour: number): number {
  const bump = (centre: number, width: number): number =>
    Math.exp(-0.5 * ((localHour - centre) / width) ** 2);
  return 400 + 600 * bump(7.5, 1) + 1600 * bump(19, 1.5);
}

/** Battery action for one step, before power and charge limits. */
type BatteryIntent = "charge-from-grid" | "discharge" | "self-consume";

function computeFlows(
  state: PowerwallState,
  energyWh: number,
  prices: TariffPrices,
  atMs: number,
  stepMs: number,
): PowerFlows {
  const { spec, settings } = state;
  const local = DateTime.fromMillis(atMs, { zone: spec.timeZone });
  const hour = local.hour + local.minute / 60 + local.second / 3600;

  let solarW = solarPowerAt(hour, spec.solarPeakW);
  const loadW = homeLoadAt(hour);
  const deficitW = loadW - solarW;
  const intent = batteryIntent(settings, prices, local);

  let batteryW: number;
  switch (intent) {
    case "charge-from-grid":
      batteryW = settings.gridChargingAllowed
        ? -spec.maxChargeW
        : -Math.max(0, -deficitW);
      break;
    case "discharge":
      batteryW = spec.maxDischargeW;
      break;
    case "self-consume":
      batteryW = deficitW;
      break;
  }

  batteryW = clamp(batteryW, -spec.maxChargeW, spec.maxDischargeW);
  batteryW = limitByStoredEnergy(state, energyWh, batteryW, stepMs);

  // Only "battery_ok" lets the battery export; otherwise it covers at most the deficit.
  if (settings.exportRule !== "battery_ok") {
    batteryW = Math.min(batteryW, Math.max(0, deficitW));
  }

  let gridW = loadW - solarW - batteryW;
  if (gridW < 0 && settings.exportRule === "never") {
    // No export at all: the inverters curtail solar to what the site uses.
    solarW += gridW;
    gridW = 0;
  }
  return { solarW, loadW, batteryW, gridW };
}

/**
 * Limits battery power to what the stored energy allows over `stepMs`: no
 * discharge below the backup reserve, no charge above capacity. With a zero
 * step (a reading without time passing) only an empty or full battery stops.
 */
function limitByStoredEnergy(
  state: PowerwallState,
  energyWh: number,
  batteryW: number,
  stepMs: number,
): number {
  const { spec, settings } = state;
  const hours = stepMs / MS_PER_HOUR;
  if (batteryW > 0) {
    const reserveWh = (spec.capacityWh * settings.backupReservePercent) / 100;
    const availableWh = Math.max(0, energyWh - reserveWh);
    if (hours === 0) {
      return availableWh > 0 ? batteryW : 0;
    }
    return Math.min(batteryW, availableWh / hours);
  }
  if (batteryW < 0) {
    const roomWh = Math.max(0, spec.capacityWh - energyWh);
    if (hours === 0) {
      return roomWh > 0 ? batteryW : 0;
    }
    return Math.max(batteryW, -roomWh / hours);
  }
  return 0;
}

function batteryIntent(
  settings: PowerwallSettings,
  prices: TariffPrices,
  local: DateTime,
): BatteryIntent {
  if (settings.operationMode === "backup") {
    return "charge-from-grid";
  }
  if (settings.operationMode === "self_consumption") {
    return "self-consume";
  }

  const day = prices.dayPrices(local);
  const now = prices.priceAt(local);
  if (day === undefined || now === undefined) {
    return "self-consume";
  }
  // The quarters are of the day's price range, not of its slots, so a
  // two-rate tariff charges in every off-peak slot and discharges at peak.
  // A flat tariff has no range and self-consumes all day.
  const lowest = Math.min(...day);
  const highest = Math.max(...day);
  const quarter = (highest - lowest) / 4;
  if (quarter <= 0) {
    return "self-consume";
  }
  if (now <= lowest + quarter) {
    return "charge-from-grid";
  }
  if (now >= highest - quarter) {
    return "discharge";
  }
  return "self-consume";
}

interface TouPeriod {
  fromDayOfWeek: number;
  toDayOfWeek: number;
  fromMinutes: number;
  toMinutes: number;
}

interface Season {
  name: string;
  from: number;
  to: number;
  periods: Map<string, TouPeriod[]>;
}

/**
 * Buy prices looked up in a tariff_content_v2 object. Parsing is lenient:
 * anything missing or malformed yields no price, and the model then
 * self-consumes. Time fields left out count as 0, as in real Tesla tariffs.
 */
class TariffPrices {
  readonly #seasons: Season[] = [];
  readonly #rates: Record<string, unknown>;
  readonly #dayCache = new Map<string, number[] | undefined>();

  constructor(tariff: unknown) {
    const root = asRecord(tariff);
    this.#rates = asRecord(root?.["energy_charges"]) ?? {};
    const seasons = asRecord(root?.["seasons"]) ?? {};
    for (const [name, value] of Object.entries(seasons)) {
      const season = parseSeason(name, value);
      if (season !== undefined) {
        this.#seasons.push(season);
      }
    }
  }

  /** Returns the buy price ($/kWh) at a local time, or undefined when none applies. */
  priceAt(local: DateTime): number | undefined {
    const season = this.#seasonOn(local);
    if (season === undefined) {
      return undefined;
    }
    const weekday = local.weekday - 1;
    const minutes = local.hour * 60 + local.minute;
    for (const [label, periods] of season.periods) {
      if (periods.some((period) => coversTime(period, weekday, minutes))) {
        return this.#rate(season.name, label);
      }
    }
    return undefined;
  }

  /** Returns the 48 half-hour buy prices of the local day, or undefined if any is unknown. */
  dayPrices(local: DateTime): number[] | undefined {
    const key = local.toISODate() ?? "";
    if (this.#dayCache.has(key)) {
      return this.#dayCache.get(key);
    }
    const prices: number[] = [];
    const midnight = local.startOf("day");
    for (let slot = 0; slot < 48; slot += 1) {
      const price = this.priceAt(midnight.plus({ minutes: slot * 30 + 15 }));
      if (price === undefined) {
        this.#dayCache.set(key, undefined);
        return undefined;
      }
      prices.push(price);
    }
    this.#dayCache.set(key, prices);
    return prices;
  }

  #seasonOn(local: DateTime): Season | undefined {
    const date = local.month * 100 + local.day;
    return this.#seasons.find((season) =>
      season.from <= season.to
        ? date >= season.from && date <= season.to
        : date >= season.from || date <= season.to,
    );
  }

  #rate(season: string, label: string): number | undefined {
    const seasonRates = asRecord(asRecord(this.#rates[season])?.["rates"]);
    const allRates = asRecord(asRecord(this.#rates["ALL"])?.["rates"]);
    const rate = seasonRates?.[label] ?? allRates?.["ALL"];
    return typeof rate === "number" && Number.isFinite(rate) ? rate : undefined;
  }
}

function parseSeason(name: string, value: unknown): Season | undefined {
  const season = asRecord(value);
  const touPeriods = asRecord(season?.["tou_periods"]);
  if (season === undefined || touPeriods === undefined) {
    return undefined;
  }
  const periods = new Map<string, TouPeriod[]>();
  for (const [label, entry] of Object.entries(touPeriods)) {
    const list = asRecord(entry)?.["periods"];
    if (!Array.isArray(list)) {
      continue;
    }
    periods.set(
      label,
      list.map((item) => {
        const period = asRecord(item) ?? {};
        return {
          fromDayOfWeek: numberOr(period["fromDayOfWeek"], 0),
          toDayOfWeek: numberOr(period["toDayOfWeek"], 6),
          fromMinutes:
            numberOr(period["fromHour"], 0) * 60 +
            numberOr(period["fromMinute"], 0),
          toMinutes:
            numberOr(period["toHour"], 0) * 60 +
            numberOr(period["toMinute"], 0),
        };
      }),
    );
  }
  return {
    name,
    from:
      numberOr(season["fromMonth"], 1) * 100 + numberOr(season["fromDay"], 1),
    to: numberOr(season["toMonth"], 12) * 100 + numberOr(season["toDay"], 31),
    periods,
  };
}

/**
 * True when `period` covers the weekday (0 = Monday) and minute of day. The
 * end is exclusive, and an end at or before the start wraps past midnight.
 */
function coversTime(
  period: TouPeriod,
  weekday: number,
  minutes: number,
): boolean {
  // NOTE: the part of a wrapping period after midnight is matched against
  // the same weekday range, not the next day's. That matters only for
  // tariffs whose day ranges differ across midnight.
  const dayMatches =
    period.fromDayOfWeek <= period.toDayOfWeek
      ? weekday >= period.fromDayOfWeek && weekday <= period.toDayOfWeek
      : weekday >= period.fromDayOfWeek || weekday <= period.toDayOfWeek;
  if (!dayMatches) {
    return false;
  }
  if (period.toMinutes <= period.fromMinutes) {
    return minutes >= period.fromMinutes || minutes < period.toMinutes;
  }
  return minutes >= period.fromMinutes && minutes < period.toMinutes;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
