import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import {
  intervalListSchema,
  type CurrentInterval,
  type Interval,
} from "../../src/amber/schemas.js";
import type { StatusSnapshot, StatusSlot } from "../../src/engine/types.js";
import { coreEntities, controlEntities } from "../../src/bridge/entities.js";
import {
  currentInterval,
  descriptorState,
  dollarsPerKwh,
  FORECAST_ATTRIBUTE_BUDGET,
  forecastAttribute,
  isoWithOffset,
  powerwallStates,
  priceStates,
  syncStatusState,
  uploadedTariffState,
} from "../../src/bridge/states.js";

const FIXTURE = intervalListSchema.parse(
  JSON.parse(
    readFileSync(
      join(
        import.meta.dirname,
        "..",
        "fixtures",
        "amber",
        "current-prices-5min.json",
      ),
      "utf8",
    ),
  ),
);

function generalCurrent(): Interval {
  const found = FIXTURE.find(
    (interval) =>
      interval.type === "CurrentInterval" && interval.channelType === "general",
  );
  if (found === undefined) {
    throw new Error("fixture has no general CurrentInterval");
  }
  return found;
}

const NOW = Date.parse(generalCurrent().startTime) + 60_000;

function stateOf(
  updates: ReturnType<typeof priceStates>,
  key: string,
): unknown {
  return updates.find((update) => update.key === key)?.state;
}

describe("entity catalogue", () => {
  it("uses unique keys equal to translation keys", () => {
    const all = [...coreEntities(), ...controlEntities()];
    const keys = all.map((entity) => entity.key);

    expect(new Set(keys).size).toBe(keys.length);
    for (const entity of all) {
      expect(entity.translation_key).toBe(entity.key);
      expect(entity.key).toMatch(/^[a-z0-9_]{1,64}$/);
    }
  });

  it.each(coreEntities().filter((entity) => entity.device_class === "energy"))(
    "declares $key for the Energy Dashboard",
    (entity) => {
      expect(entity.state_class).toBe("total_increasing");
      expect(entity.unit).toBe("kWh");
    },
  );

  it("declares options for every select and enum sensor", () => {
    for (const entity of [...coreEntities(), ...controlEntities()]) {
      if (entity.platform === "select" || entity.device_class === "enum") {
        expect(entity.options?.length, entity.key).toBeGreaterThan(0);
      }
    }
  });
});

describe("price states", () => {
  it.each([
    ["extremelyLow", "extremely_low"],
    ["negative", "extremely_low"],
    ["veryLow", "very_low"],
    ["low", "low"],
    ["neutral", "neutral"],
    ["high", "high"],
    ["spike", "spike"],
    ["somethingNew", null],
  ])("maps descriptor %s to %s", (descriptor, expected) => {
    expect(descriptorState(descriptor)).toBe(expected);
  });

  it("converts c/kWh to $/kWh", () => {
    expect(dollarsPerKwh(12.345)).toBe(0.12345);
    expect(dollarsPerKwh(-4.2)).toBe(-0.042);
  });

  it("formats times with an explicit offset", () => {
    expect(isoWithOffset("2026-12-04T02:00:01Z")).toBe(
      "2026-12-04T02:00:01+00:00",
    );
    expect(isoWithOffset(Date.parse("2026-12-04T02:00:01.250Z"))).toBe(
      "2026-12-04T02:00:01+00:00",
    );
  });

  it("prices the current interval from REST", () => {
    const updates = priceStates({ intervals: FIXTURE, live: [], now: NOW });
    const current = generalCurrent();

    expect(stateOf(updates, "general_price")).toBe(
      dollarsPerKwh(current.perKwh),
    );
    expect(stateOf(updates, "renewables")).toBe(Math.round(current.renewables));
    expect(stateOf(updates, "price_spike")).toBe(
      current.spikeStatus === "spike",
    );
    expect(stateOf(updates, "price_descriptor")).toBe(
      descriptorState(current.descriptor),
    );
  });

  it("negates feed-in prices", () => {
    const feedIn = FIXTURE.find(
      (interval) =>
        interval.type === "CurrentInterval" &&
        interval.channelType === "feedIn",
    );
    const updates = priceStates({ intervals: FIXTURE, live: [], now: NOW });

    expect(feedIn).toBeDefined();
    expect(stateOf(updates, "feed_in_price")).toBe(
      dollarsPerKwh(-(feedIn?.perKwh ?? 0)),
    );
  });

  it("prefers a live push while it lasts", () => {
    const live: CurrentInterval = {
      ...(generalCurrent() as CurrentInterval),
      perKwh: 99.5,
      spikeStatus: "potential",
    };

    const during = priceStates({ intervals: FIXTURE, live: [live], now: NOW });
    const after = priceStates({
      intervals: FIXTURE,
      live: [live],
      now: Date.parse(live.endTime) + 1,
    });

    expect(stateOf(during, "general_price")).toBe(0.995);
    expect(
      during.find((update) => update.key === "price_spike")?.attributes,
    ).toEqual({
      spike_status: "potential",
    });
    expect(stateOf(after, "general_price")).not.toBe(0.995);
  });

  it("lists forecasts after the current interval", () => {
    const forecasts = forecastAttribute(
      { intervals: FIXTURE, live: [], now: NOW },
      "general",
      1,
    );
    const current = currentInterval(
      { intervals: FIXTURE, live: [], now: NOW },
      "general",
    );

    expect(forecasts.length).toBeGreaterThan(0);
    for (const item of forecasts) {
      expect(Date.parse(String(item["start_time"]))).toBeGreaterThanOrEqual(
        Date.parse(current?.endTime ?? ""),
      );
      expect(typeof item["per_kwh"]).toBe("number");
    }
    const starts = forecasts.map((item) =>
      Date.parse(String(item["start_time"])),
    );
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
  });

  it("trims forecasts to the attribute budget", () => {
    const first = FIXTURE.find(
      (interval) =>
        interval.type === "ForecastInterval" &&
        interval.channelType === "general",
    );
    if (first === undefined) {
      throw new Error("fixture has no forecast");
    }
    const many: Interval[] = Array.from({ length: 600 }, (_, index) => ({
      ...first,
      startTime: new Date(NOW + index * 120_000).toISOString(),
      endTime: new Date(NOW + (index + 1) * 120_000).toISOString(),
    }));

    const forecasts = forecastAttribute(
      { intervals: many, live: [], now: NOW },
      "general",
      1,
    );

    expect(JSON.stringify(forecasts).length).toBeLessThanOrEqual(
      FORECAST_ATTRIBUTE_BUDGET,
    );
    const last = forecasts.at(-1)?.["end_time"];
    expect(Date.parse(String(last))).toBeGreaterThan(NOW + 19 * 3_600_000);
    expect(forecasts[0]).toHaveProperty("per_kwh");
  });

  it("gives null states without prices", () => {
    const updates = priceStates({ intervals: [], live: [], now: NOW });

    for (const key of [
      "general_price",
      "general_forecast",
      "price_descriptor",
      "renewables",
    ]) {
      expect(stateOf(updates, key), key).toBeNull();
    }
  });
});

function snapshot(overrides: Partial<StatusSnapshot>): StatusSnapshot {
  return {
    mode: "live",
    autoSync: true,
    amberSiteId: "site",
    teslaSiteId: "1",
    timeZone: "Australia/Sydney",
    timeZoneSource: "site_info",
    nextSyncAt: null,
    deferredSyncAt: null,
    lastSync: null,
    lastUpload: null,
    lastConfirmation: null,
    live: { state: "off" },
    counters: {
      day: "2026-12-04",
      today: {} as StatusSnapshot["counters"]["today"],
      amber: {},
      tesla: {},
    },
    slots: [],
    slotsBuiltAt: null,
    log: [],
    ...overrides,
  } as StatusSnapshot;
}

describe("engine states", () => {
  it("keeps the last decided outcome past a skipped sync", () => {
    const status = snapshot({
      lastSync: {
        outcome: "skipped",
        reason: "auto-sync is off",
        trigger: "schedule",
        at: "2026-12-04T02:05:00.000Z",
        writes: 0,
      },
      log: [
        {
          at: "2026-12-04T02:00:00.000Z",
          trigger: "startup",
          outcome: "uploaded",
          reason: "no tariff uploaded yet",
          writes: 1,
        },
        {
          at: "2026-12-04T02:05:00.000Z",
          trigger: "schedule",
          outcome: "skipped",
          reason: "auto-sync is off",
          writes: 0,
        },
      ],
    });

    const update = syncStatusState(status);

    expect(update.state).toBe("uploaded");
    expect(update.attributes).toMatchObject({
      reason: "no tariff uploaded yet",
      trigger: "startup",
      at: "2026-12-04T02:00:00+00:00",
      last_attempt: { outcome: "skipped", reason: "auto-sync is off" },
    });
  });

  it("shows the current slot of the uploaded tariff", () => {
    const slot = (index: number): StatusSlot => ({
      label: `PERIOD_${index}`,
      start: new Date(NOW + (index - 1) * 1_800_000).toISOString(),
      end: new Date(NOW + index * 1_800_000).toISOString(),
      buy: index / 10,
      sell: index / 100,
      buyActual: index / 10,
      sellActual: index / 100,
      source: {},
      spikeStatus: "none",
      notes: [],
    });
    const slots = Array.from({ length: 48 }, (_, index) => slot(index));

    const update = uploadedTariffState(
      {
        slots,
        at: "2026-12-04T02:00:00.000Z",
        summary: "48 slots",
        timeZone: "Australia/Sydney",
      },
      NOW + 1,
    );

    expect(update.state).toBe(0.1);
    expect(update.attributes?.["buy"]).toHaveLength(48);
    expect(update.attributes?.["sell"]).toHaveLength(48);
    expect(update.attributes?.["uploaded_at"]).toBe(
      "2026-12-04T02:00:00+00:00",
    );
  });

  it("rounds Powerwall readings", () => {
    const updates = powerwallStates(
      {
        batteryLevel: 55.55,
        solarPower: 1234.4,
        gridPower: -99.6,
        batteryPower: 0.2,
        homePower: 800,
      },
      {
        solar: 1.23456,
        gridImport: 0,
        gridExport: 2,
        batteryCharge: 0,
        batteryDischarge: 0,
        home: 3,
      },
    );
    const value = (key: string): unknown =>
      updates.find((update) => update.key === key)?.state;

    expect(value("battery_level")).toBe(55.6);
    expect(value("solar_power")).toBe(1234);
    expect(value("grid_power")).toBe(-100);
    expect(value("solar_energy")).toBe(1.235);
    expect(updates).toHaveLength(11);
  });
});
