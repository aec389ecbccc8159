import { describe, expect, it } from "vitest";

import {
  callRows,
  countOf,
  describeForce,
  describeTariff,
  describeToday,
  energySeries,
  flowView,
  formatClock,
  formatEnergy,
  formatPower,
  formatPrice,
  isCurtailmentActive,
  isSpikeActive,
  priceHistorySeries,
  tariffSeries,
  toCents,
} from "../../src/dashboard/view-model.js";
import type { StatusSlot } from "../../src/engine/types.js";

function slot(
  start: string,
  end: string,
  buyActual: number,
  sellActual: number,
): StatusSlot {
  return {
    label: "PERIOD",
    start,
    end,
    buy: Math.max(0, buyActual),
    sell: Math.max(0, sellActual),
    buyActual,
    sellActual,
    source: {},
    spikeStatus: "none",
    notes: [],
  };
}

describe("view model formatting", () => {
  it.each([
    [0.2512, "25.1 c/kWh"],
    [-0.031, "-3.1 c/kWh"],
    [1.5, "150 c/kWh"],
    [null, "–"],
    [undefined, "–"],
  ])("formats price %s", (value, expected) => {
    expect(formatPrice(value)).toBe(expected);
  });

  it.each([
    [450.4, "450 W"],
    [-3250, "3.25 kW"],
    [1000, "1.00 kW"],
  ])("formats power %s", (watts, expected) => {
    expect(formatPower(watts)).toBe(expected);
  });

  it("formats energy in kWh", () => {
    expect(formatEnergy(12_345)).toBe("12.3 kWh");
  });

  it("formats time in the site zone", () => {
    expect(formatClock("2025-06-16T00:05:00Z", "Australia/Sydney")).toBe(
      "10:05",
    );
    expect(formatClock("2025-06-16T00:05:00Z", "Australia/Adelaide")).toBe(
      "09:35",
    );
  });

  it("rounds cents", () => {
    expect(toCents(0.123456)).toBe(12.35);
  });
});

describe("tariff series", () => {
  const slots = [
    slot("2025-06-16T10:30:00+10:00", "2025-06-16T11:00:00+10:00", 0.3, 0.1),
    slot(
      "2025-06-16T10:00:00+10:00",
      "2025-06-16T10:30:00+10:00",
      -0.02,
      -0.04,
    ),
  ];

  it("orders slots and closes the last step", () => {
    const series = tariffSeries(slots);

    expect(series.tariffBuy.map((point) => point.x)).toEqual([
      Date.parse("2025-06-16T00:00:00Z"),
      Date.parse("2025-06-16T00:30:00Z"),
      Date.parse("2025-06-16T01:00:00Z"),
    ]);
    expect(series.tariffBuy.map((point) => point.y)).toEqual([0, 30, 30]);
  });

  it("shows negative prices beside the clamp", () => {
    const series = tariffSeries(slots);

    expect(series.amberBuy[0]?.y).toBe(-2);
    expect(series.tariffBuy[0]?.y).toBe(0);
    expect(series.amberSell[0]?.y).toBe(-4);
    expect(series.clampedSlots).toBe(1);
  });

  it("is empty without slots", () => {
    expect(tariffSeries([]).tariffBuy).toEqual([]);
  });
});

describe("history series", () => {
  it("leaves gaps for missing values", () => {
    const series = priceHistorySeries([
      {
        start: "2025-06-16T00:00:00.000Z",
        minutes: 5,
        buy: 0.2,
        sell: null,
        quality: "actual",
        tariffBuy: null,
        tariffSell: 0.05,
        spikeStatus: null,
      },
    ]);

    expect(series.amberBuy).toEqual([
      { x: Date.parse("2025-06-16T00:00:00Z"), y: 20 },
    ]);
    expect(series.amberSell).toEqual([]);
    expect(series.tariffBuy).toEqual([]);
    expect(series.tariffSell).toHaveLength(1);
  });

  it("balances energy around zero", () => {
    const series = energySeries([
      {
        start: "2025-06-16T00:00:00.000Z",
        solarWh: 2000,
        gridImportWh: 100,
        gridExportWh: 500,
        batteryChargeWh: 800,
        batteryDischargeWh: 0,
        homeWh: 800,
        coveredMs: 3_600_000,
      },
    ]);

    expect(series.solar).toEqual([2]);
    expect(series.gridImport).toEqual([0.1]);
    expect(series.home).toEqual([-0.8]);
    expect(series.gridExport).toEqual([-0.5]);
    expect(series.batteryCharge).toEqual([-0.8]);
  });
});

describe("energy window", () => {
  it("pads missing buckets with zero", () => {
    const from = Date.parse("2025-06-16T00:30:00Z");
    const series = energySeries(
      [
        {
          start: "2025-06-16T01:00:00.000Z",
          solarWh: 1000,
          gridImportWh: 0,
          gridExportWh: 0,
          batteryChargeWh: 0,
          batteryDischargeWh: 0,
          homeWh: 1000,
          coveredMs: 3_600_000,
        },
      ],
      { from, to: from + 3 * 3_600_000, bucketMs: 3_600_000 },
    );

    expect(series.labels).toEqual([
      Date.parse("2025-06-16T00:00:00Z"),
      Date.parse("2025-06-16T01:00:00Z"),
      Date.parse("2025-06-16T02:00:00Z"),
      Date.parse("2025-06-16T03:00:00Z"),
    ]);
    expect(series.solar).toEqual([0, 1, 0, 0]);
  });
});

describe("flow view", () => {
  it.each([
    [1500, -2000, "importing", "charging"],
    [-1500, 2000, "exporting", "discharging"],
    [10, -10, "idle", "idle"],
  ])("describes grid %i and battery %i", (gridW, batteryW, grid, battery) => {
    const view = flowView({
      at: "2025-06-16T00:00:00Z",
      solarW: 0,
      gridW,
      batteryW,
      homeW: 500,
      batteryPercent: 55.4,
    });

    expect(view.gridDirection).toBe(grid);
    expect(view.batteryDirection).toBe(battery);
    expect(view.batteryPercent).toBe("55 %");
  });

  it("sorts call counters busiest first", () => {
    expect(callRows({ "GET b": 1, "GET a": 1, "POST c": 5 })).toEqual([
      ["POST c", 5],
      ["GET a", 1],
      ["GET b", 1],
    ]);
  });
});

describe("counts", () => {
  it.each([
    [0, "0 syncs"],
    [1, "1 sync"],
    [2, "2 syncs"],
  ])("writes %i with its noun", (count, text) => {
    expect(countOf(count, "sync", "syncs")).toBe(text);
  });

  it("describes today's counters", () => {
    expect(
      describeToday("2026-01-15", {
        syncs: 1,
        uploads: 1,
        teslaWrites: 1,
        teslaCalls: 2,
        amberCalls: 0,
      }),
    ).toBe(
      "Today (2026-01-15): 1 Tesla tariff write, 2 Tesla calls, 0 Amber calls, 1 sync, 1 upload.",
    );
  });
});

describe("force line", () => {
  const zone = "Australia/Sydney";
  // 03:35 UTC is 14:35 in Sydney in December (AEDT, UTC+11).
  const endsAt = Date.parse("2026-12-04T03:35:00Z");

  it.each([
    [
      "active charge",
      {
        state: "active",
        direction: "charge",
        endsAt,
        remainingMs: 120 * 60_000,
      },
      "Charging from the grid until 14:35 (120 min left).",
      true,
    ],
    [
      "active discharge",
      {
        state: "active",
        direction: "discharge",
        endsAt,
        remainingMs: 29 * 60_000 + 1,
      },
      "Discharging to the grid until 14:35 (30 min left).",
      true,
    ],
    [
      "entering",
      { state: "entering", direction: "charge", remainingMs: 0 },
      "Starting to charge from the grid…",
      true,
    ],
    [
      "restoring",
      { state: "restoring", direction: "charge", remainingMs: 0 },
      "Stopping: putting back the tariff and settings from before.",
      true,
    ],
    ["idle", { state: "idle", remainingMs: 0 }, "Idle.", false],
    [
      "idle after error",
      { state: "idle", remainingMs: 0, lastError: "write rejected" },
      "Idle. Last error: write rejected",
      false,
    ],
  ])("describes %s", (_case, force, text, active) => {
    const line = describeForce(force, zone);
    expect(line.text).toBe(text);
    expect(line.active).toBe(active);
  });
});

describe("control activity", () => {
  const spike = { enabled: true, region: "NSW1", thresholdMwh: 300 };

  it.each([
    ["idle", false],
    ["entering", true],
    ["active", true],
    ["restoring", true],
    ["suspended", false],
  ])("spike %s is active: %s", (state, active) => {
    expect(isSpikeActive({ ...spike, state })).toBe(active);
  });

  it.each([
    ["normal", false, false],
    ["curtailing", false, true],
    ["curtailed", true, true],
  ])("curtailment %s is active", (state, curtailed, active) => {
    const curtailment = { enabled: true, state, curtailed, thresholdCents: 0 };
    expect(isCurtailmentActive(curtailment)).toBe(active);
  });
});

describe("tariff note", () => {
  const base = {
    slots: [slot("2026-12-04T03:00:00Z", "2026-12-04T03:30:00Z", 0.2, 0.05)],
    timeZone: "Australia/Sydney",
    slotsBuiltAt: "2026-12-04T03:00:00Z",
    lastSync: null,
    lastUpload: { at: "2026-12-04T03:00:00Z", summary: "48 slots" },
  };

  it("names the holding control and its end", () => {
    const note = describeTariff(
      {
        ...base,
        tariffHold: {
          holder: "force",
          description: "force charge",
          until: "2026-12-04T03:35:00Z",
          endCondition: "it is cancelled",
        },
      },
      0,
    );
    expect(note.held).toBe(true);
    expect(note.text).toContain(
      "Force charge holds the Powerwall's tariff until 14:35",
    );
    expect(note.text).toContain(
      "Solid lines are the last Amber tariff, built Fri, 4 Dec, 14:00, which is not on the Powerwall while force charge holds it",
    );
  });

  it("names the end event of an open hold", () => {
    const note = describeTariff(
      {
        ...base,
        tariffHold: {
          holder: "custom-schedule",
          description: 'custom schedule "night"',
          until: null,
          endCondition: "the schedule is cleared",
        },
      },
      0,
    );
    expect(note.held).toBe(true);
    expect(note.text).toContain(
      'Custom schedule "night" holds the Powerwall\'s tariff until the schedule is cleared',
    );
  });

  it("describes an uploaded tariff without hold", () => {
    const note = describeTariff(
      {
        ...base,
        tariffHold: null,
        lastSync: {
          at: "2026-12-04T03:00:00Z",
          trigger: "schedule",
          outcome: "uploaded",
          reason: "prices changed",
          writes: 1,
        },
      },
      2,
    );
    expect(note.held).toBe(false);
    expect(note.text).toContain(
      "Solid lines are the rates written to the Powerwall",
    );
    expect(note.text).toContain(
      "2 half hours have a negative price that the tariff writes as zero.",
    );
  });

  it("is short before the first build", () => {
    const note = describeTariff({ ...base, slots: [], tariffHold: null }, 0);
    expect(note).toEqual({ text: "No tariff built yet.", held: false });
  });
});
