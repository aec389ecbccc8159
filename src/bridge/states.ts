/**
 * Pure functions from the engine's data to entity states: Amber prices,
 * the sync engine's status and the Powerwall's readings. Prices arrive in
 * c/kWh and leave in $/kWh. Feed-in prices are negated, so a positive
 * `feed_in_price` means the household is paid for export, as in HA's core
 * amberelectric integration.
 */
import type {
  ChannelType,
  CurrentInterval,
  Interval,
} from "../amber/schemas.js";
import type { StatusSlot, StatusSnapshot } from "../engine/types.js";
import { PRICE_DESCRIPTORS, SYNC_STATUSES } from "./entities.js";
import type { StateUpdate } from "./messages.js";

/**
 * Largest forecast attribute, in bytes of JSON. HA's recorder skips state
 * attributes over 16 kB, so the list is trimmed to stay below that with
 * room for the other attributes.
 */
export const FORECAST_ATTRIBUTE_BUDGET = 14_000;

const HORIZON_MS = 24 * 3_600_000;

/** Converts c/kWh to $/kWh, rounded to 0.00001 $/kWh. */
export function dollarsPerKwh(cents: number): number {
  return Math.round(cents * 1000) / 100_000;
}

/** Formats epoch ms or an ISO string as ISO 8601 with an explicit UTC offset. */
export function isoWithOffset(value: number | string): string {
  const ms = typeof value === "number" ? value : Date.parse(value);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$|Z$/, "+00:00");
}

/** Maps Amber's camelCase descriptor to the enum sensor's option, or null for an unknown one. */
export function descriptorState(descriptor: string): string | null {
  const mapped =
    descriptor === "negative"
      ? "extremely_low"
      : descriptor.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
  return (PRICE_DESCRIPTORS as readonly string[]).includes(mapped)
    ? mapped
    : null;
}

/** Amber prices as the bridge last saw them. */
export interface PriceView {
  /** The last REST price list (both channels). */
  intervals: readonly Interval[];
  /** The last live push, if any (both channels). */
  live: readonly CurrentInterval[];
  now: number;
}

/** Returns the interval that prices `channel` now: a live push while it lasts, else REST. */
export function currentInterval(
  view: PriceView,
  channel: ChannelType,
): Interval | undefined {
  const live = view.live.find(
    (interval) =>
      interval.channelType === channel &&
      Date.parse(interval.endTime) > view.now,
  );
  if (live !== undefined) {
    return live;
  }
  const ofChannel = view.intervals.filter(
    (interval) => interval.channelType === channel,
  );
  return (
    ofChannel.find((interval) => interval.type === "CurrentInterval") ??
    ofChannel.find(
      (interval) =>
        Date.parse(interval.startTime) <= view.now &&
        view.now < Date.parse(interval.endTime),
    )
  );
}

/** Returns every price entity's state for `view`, with `null` for entities without data. */
export function priceStates(view: PriceView): StateUpdate[] {
  const general = currentInterval(view, "general");
  const feedIn = currentInterval(view, "feedIn");
  const generalForecast = forecastAttribute(view, "general", 1);
  const feedInForecast = forecastAttribute(view, "feedIn", -1);

  return [
    priceUpdate("general_price", general, 1),
    priceUpdate("feed_in_price", feedIn, -1),
    {
      key: "general_forecast",
      state: firstPrice(generalForecast),
      attributes: { forecasts: generalForecast },
    },
    {
      key: "feed_in_forecast",
      state: firstPrice(feedInForecast),
      attributes: { forecasts: feedInForecast },
    },
    {
      key: "price_descriptor",
      state: general === undefined ? null : descriptorState(general.descriptor),
    },
    {
      key: "renewables",
      state: general === undefined ? null : Math.round(general.renewables),
    },
    {
      key: "price_spike",
      state: general === undefined ? null : general.spikeStatus === "spike",
      attributes: { spike_status: general?.spikeStatus ?? null },
    },
  ];
}

function firstPrice(
  items: ReadonlyArray<Record<string, unknown>>,
): number | null {
  const price = items[0]?.["per_kwh"];
  return typeof price === "number" ? price : null;
}

function priceUpdate(
  key: string,
  interval: Interval | undefined,
  sign: 1 | -1,
): StateUpdate {
  if (interval === undefined) {
    return { key, state: null, attributes: {} };
  }
  return {
    key,
    state: dollarsPerKwh(sign * interval.perKwh),
    attributes: {
      descriptor: descriptorState(interval.descriptor),
      spike_status: interval.spikeStatus,
      renewables: interval.renewables,
      spot_per_kwh: dollarsPerKwh(sign * interval.spotPerKwh),
      start_time: isoWithOffset(interval.startTime),
      end_time: isoWithOffset(interval.endTime),
      ...(interval.type === "CurrentInterval"
        ? { estimate: interval.estimate }
        : {}),
    },
  };
}

/** Optional forecast fields, dropped first when the list is over budget. */
const OPTIONAL_FORECAST_KEYS = [
  "advanced_price_low",
  "advanced_price_high",
  "renewables",
  "spike_status",
];

/**
 * Builds the `forecasts` attribute: the next 24 hours of forecast
 * intervals after the current one, each with `start_time`, `end_time`,
 * `per_kwh` and, when Amber sends them, the `advancedPrice` band and the
 * descriptor. Over {@link FORECAST_ATTRIBUTE_BUDGET}, optional fields go
 * first, then items merge into half hours, then the list is cut short.
 */
export function forecastAttribute(
  view: PriceView,
  channel: ChannelType,
  sign: 1 | -1,
): Array<Record<string, unknown>> {
  const current = currentInterval(view, channel);
  const from =
    current === undefined ? view.now : Date.parse(current.endTime) - 1;
  const items = view.intervals
    .filter(
      (interval) =>
        interval.channelType === channel &&
        interval.type === "ForecastInterval" &&
        Date.parse(interval.startTime) >= from &&
        Date.parse(interval.startTime) < view.now + HORIZON_MS,
    )
    .sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime))
    .map((interval) => {
      const band =
        interval.type === "ForecastInterval" ? interval.advancedPrice : null;
      return {
        start_time: isoWithOffset(interval.startTime),
        end_time: isoWithOffset(interval.endTime),
        per_kwh: dollarsPerKwh(sign * interval.perKwh),
        ...(band === null || band === undefined
          ? {}
          : {
              advanced_price_low: dollarsPerKwh(sign * band.low),
              advanced_price_predicted: dollarsPerKwh(sign * band.predicted),
              advanced_price_high: dollarsPerKwh(sign * band.high),
            }),
        descriptor: descriptorState(interval.descriptor),
        spike_status: interval.spikeStatus,
        renewables: Math.round(interval.renewables),
      } as Record<string, unknown>;
    });
  return fitBudget(items);
}

function fitBudget(
  items: Array<Record<string, unknown>>,
): Array<Record<string, unknown>> {
  let fitted = items;
  for (const key of OPTIONAL_FORECAST_KEYS) {
    if (JSON.stringify(fitted).length <= FORECAST_ATTRIBUTE_BUDGET) {
      return fitted;
    }
    fitted = fitted.map((item) =>
      Object.fromEntries(Object.entries(item).filter(([name]) => name !== key)),
    );
  }
  if (JSON.stringify(fitted).length > FORECAST_ATTRIBUTE_BUDGET) {
    fitted = halfHourly(fitted);
  }
  while (
    fitted.length > 0 &&
    JSON.stringify(fitted).length > FORECAST_ATTRIBUTE_BUDGET
  ) {
    fitted = fitted.slice(0, Math.floor(fitted.length * 0.9));
  }
  return fitted;
}

/**
 * Merges forecast items into half hours (the mean of each price), so a
 * long list of 5-minute forecasts keeps its 24-hour reach within the
 * budget.
 */
function halfHourly(
  items: ReadonlyArray<Record<string, unknown>>,
): Array<Record<string, unknown>> {
  const groups = new Map<number, Array<Record<string, unknown>>>();
  for (const item of items) {
    // Amber's start times are one second past the boundary.
    const start = Date.parse(String(item["start_time"])) - 1000;
    const bucket = Math.floor(start / 1_800_000);
    groups.set(bucket, [...(groups.get(bucket) ?? []), item]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] ?? {};
    const last = group[group.length - 1] ?? {};
    const merged: Record<string, unknown> = {
      start_time: first["start_time"],
      end_time: last["end_time"],
    };
    for (const key of ["per_kwh", "advanced_price_predicted"]) {
      const values = group
        .map((item) => item[key])
        .filter((value): value is number => typeof value === "number");
      if (values.length === group.length) {
        const mean =
          values.reduce((sum, value) => sum + value, 0) / values.length;
        merged[key] = Math.round(mean * 100_000) / 100_000;
      }
    }
    if (first["descriptor"] !== undefined) {
      merged["descriptor"] = first["descriptor"];
    }
    return merged;
  });
}

/** The tariff on the Powerwall as the bridge last learned it. */
export interface UploadedTariff {
  /** Slots of the uploaded tariff, current half hour first. */
  slots: readonly StatusSlot[];
  /** When Tesla accepted it, ISO 8601. */
  at: string;
  summary: string;
  timeZone: string;
}

/** States of the engine device: sync results, tariff, counters and settings. */
export function engineStates(
  status: StatusSnapshot,
  uploaded: UploadedTariff | undefined,
  band: string,
  now: number,
): StateUpdate[] {
  return [
    {
      key: "last_sync",
      state:
        status.lastSync === null ? null : isoWithOffset(status.lastSync.at),
    },
    {
      key: "next_sync",
      state:
        status.nextSyncAt === null ? null : isoWithOffset(status.nextSyncAt),
    },
    syncStatusState(status),
    uploadedTariffState(uploaded, now),
    apiCallsState(status),
    { key: "auto_sync", state: status.autoSync },
    { key: "forecast_band", state: band },
  ];
}

/**
 * Returns the `sync_status` sensor: the last sync that decided something. A
 * "skipped" sync (auto-sync off, or a write waiting for the spacing) is no
 * state of its own; it shows in the `last_attempt` attribute.
 */
export function syncStatusState(status: StatusSnapshot): StateUpdate {
  const decided = [...status.log]
    .reverse()
    .find((entry) =>
      (SYNC_STATUSES as readonly string[]).includes(entry.outcome),
    );
  const last = status.lastSync;
  return {
    key: "sync_status",
    state: decided?.outcome ?? null,
    attributes: {
      reason: decided?.reason ?? null,
      trigger: decided?.trigger ?? null,
      at: decided === undefined ? null : isoWithOffset(decided.at),
      ...(last === null
        ? {}
        : {
            last_attempt: {
              outcome: last.outcome,
              reason: last.reason,
              at: isoWithOffset(last.at),
            },
          }),
    },
  };
}

/**
 * Returns the `uploaded_buy_price` sensor: the buy rate of the current half hour in
 * the tariff on the Powerwall, with the 48 slots as `buy` and `sell` lists
 * of `{start_time, end_time, price}` ($/kWh as uploaded, so never below 0).
 */
export function uploadedTariffState(
  uploaded: UploadedTariff | undefined,
  now: number,
): StateUpdate {
  if (uploaded === undefined) {
    return { key: "uploaded_buy_price", state: null, attributes: {} };
  }
  const current =
    uploaded.slots.find(
      (slot) => Date.parse(slot.start) <= now && now < Date.parse(slot.end),
    ) ?? uploaded.slots[0];
  const list = (pick: (slot: StatusSlot) => number): unknown[] =>
    uploaded.slots.map((slot) => ({
      start_time: isoWithOffset(slot.start),
      end_time: isoWithOffset(slot.end),
      price: pick(slot),
    }));
  return {
    key: "uploaded_buy_price",
    state: current?.buy ?? null,
    attributes: {
      summary: uploaded.summary,
      uploaded_at: isoWithOffset(uploaded.at),
      time_zone: uploaded.timeZone,
      buy: list((slot) => slot.buy),
      sell: list((slot) => slot.sell),
    },
  };
}

function apiCallsState(status: StatusSnapshot): StateUpdate {
  const total = (counters: Record<string, number>): number =>
    Object.values(counters).reduce((sum, value) => sum + value, 0);
  return {
    key: "tesla_api_calls",
    state: total(status.counters.tesla),
    attributes: {
      tesla_by_endpoint: status.counters.tesla,
      amber_calls: total(status.counters.amber),
      amber_by_endpoint: status.counters.amber,
      day: status.counters.day,
      today: status.counters.today,
    },
  };
}

/** One live reading of the Powerwall, in W and %. */
export interface PowerwallReading {
  batteryLevel: number;
  solarPower: number;
  /** > 0 importing, < 0 exporting. */
  gridPower: number;
  /** > 0 discharging, < 0 charging. */
  batteryPower: number;
  homePower: number;
}

/** Energy totals since the engine first ran, kWh. */
export interface EnergyTotals {
  solar: number;
  gridImport: number;
  gridExport: number;
  batteryCharge: number;
  batteryDischarge: number;
  home: number;
}

/** States of the Powerwall device. */
export function powerwallStates(
  reading: PowerwallReading | undefined,
  totals: EnergyTotals | undefined,
): StateUpdate[] {
  const round = (value: number, digits: number): number =>
    Math.round(value * 10 ** digits) / 10 ** digits;
  const updates: StateUpdate[] = [];
  if (reading !== undefined) {
    updates.push(
      { key: "battery_level", state: round(reading.batteryLevel, 1) },
      { key: "solar_power", state: Math.round(reading.solarPower) },
      { key: "grid_power", state: Math.round(reading.gridPower) },
      { key: "battery_power", state: Math.round(reading.batteryPower) },
      { key: "home_power", state: Math.round(reading.homePower) },
    );
  }
  if (totals !== undefined) {
    updates.push(
      { key: "solar_energy", state: round(totals.solar, 3) },
      { key: "grid_import_energy", state: round(totals.gridImport, 3) },
      { key: "grid_export_energy", state: round(totals.gridExport, 3) },
      { key: "battery_charge_energy", state: round(totals.batteryCharge, 3) },
      {
        key: "battery_discharge_energy",
        state: round(totals.batteryDischarge, 3),
      },
      { key: "home_energy", state: round(totals.home, 3) },
    );
  }
  return updates;
}
