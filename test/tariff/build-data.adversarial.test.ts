/**
 * Hostile Amber data for the tariff builder: duplicates, gaps around the
 * fill limit, extreme and degenerate prices, odd interval lengths, mixed
 * price fields and stale or mismatched live prices.
 */
import { describe, expect, it } from "vitest";

import type { Interval } from "../../src/amber/schemas.js";
import { PricesInsufficientError } from "../../src/errors.js";
import {
  buildTariff,
  type BuildTariffInput,
  type BuildTariffResult,
  type SlotPlan,
} from "../../src/tariff/build.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { at, interval, liveInterval, series } from "./helpers.js";

const SYDNEY = "Australia/Sydney";
const HALF_HOUR = 30 * 60_000;

/** 10:05 local, so the current half hour is 10:00-10:30 (23:00Z the day before). */
const NOW = at("2026-01-15T10:05");
const CURRENT_START = at("2026-01-15T10:00");

function build(
  intervals: readonly Interval[],
  extra: Partial<BuildTariffInput> = {},
): BuildTariffResult {
  const result = buildTariff({
    intervals,
    now: NOW,
    timeZone: SYDNEY,
    options: { band: "predicted" },
    ...extra,
  });
  expect(validateTariff(result.tariff, "strict").ok).toBe(true);
  return result;
}

function slot(result: BuildTariffResult, label: string): SlotPlan {
  const found = result.slots.find((candidate) => candidate.label === label);
  if (found === undefined) throw new Error(`no slot ${label}`);
  return found;
}

function rate(result: BuildTariffResult, label: string, side: "buy" | "sell") {
  const tariff = side === "buy" ? result.tariff : result.tariff.sell_tariff;
  return tariff.energy_charges["Summer"]?.rates[label];
}

/** 24 hours of 30-minute prices from the current half hour: general 20 + i, feed-in -(10 + i / 10). */
function day(count = 48): Interval[] {
  return series({
    startMs: CURRENT_START,
    count,
    price: (i) => 20 + i,
    feedIn: (i) => -(10 + i / 10),
    current: true,
  });
}

/** 24 hours of settled prices before the current half hour: general 60, feed-in -6. */
function yesterday(): Interval[] {
  return series({
    startMs: CURRENT_START - 48 * HALF_HOUR,
    count: 48,
    price: () => 60,
    feedIn: () => -6,
    type: "ActualInterval",
  });
}

/** End (ISO, UTC) of the 30-minute interval of slot index `i` from the current half hour. */
function endOf(i: number): string {
  return new Date(CURRENT_START + (i + 1) * HALF_HOUR)
    .toISOString()
    .replace(".000Z", "Z");
}

function without(
  intervals: readonly Interval[],
  drop: (item: Interval) => boolean,
): Interval[] {
  return intervals.filter((item) => !drop(item));
}

function rejection(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the build to be rejected");
}

describe("duplicate intervals", () => {
  it("prices an exact duplicate once", () => {
    const intervals = day();
    const result = build([...intervals, ...structuredClone(intervals)]);
    expect(slot(result, "PERIOD_12_00").buyActual).toBe(0.24);
    expect(slot(result, "PERIOD_12_00").source.buy.intervals).toBe(1);
  });

  it("lets the later conflicting duplicate win", () => {
    const conflicting = interval({ end: endOf(4), perKwh: 90 });
    const result = build([...day(), conflicting]);
    expect(slot(result, "PERIOD_12_00").buyActual).toBe(0.9);
    const reversed = build([conflicting, ...day()]);
    expect(slot(reversed, "PERIOD_12_00").buyActual).toBe(0.24);
  });

  it("prefers a settled duplicate to a forecast", () => {
    const settled = interval({
      type: "ActualInterval",
      end: endOf(4),
      perKwh: 90,
    });
    const result = build([settled, ...day()]);
    expect(slot(result, "PERIOD_12_00").buyActual).toBe(0.9);
    expect(slot(result, "PERIOD_12_00").source.buy.kind).toBe("actual");
  });
});

describe("gaps around the fill limit", () => {
  // Gaps at the end, in the middle and at the start, of 6 (filled) and 7
  // (rejected) half hours.
  const gapCases = [
    ["end", 42, 6, true],
    ["end", 41, 7, false],
    ["middle", 10, 6, true],
    ["middle", 10, 7, false],
    ["start", 1, 6, true],
    ["start", 1, 7, false],
  ] as const;

  it.each(gapCases)(
    "%s gap from slot %i of %i slots: filled %s",
    (_where, first, length, filled) => {
      const gap = new Set(Array.from({ length }, (_, i) => endOf(first + i)));
      const intervals = [
        ...yesterday(),
        ...without(day(), (item) => gap.has(item.endTime)),
      ];
      if (!filled) {
        const error = rejection(() => build(intervals));
        expect(error).toBeInstanceOf(PricesInsufficientError);
        expect(error.message).toContain(
          `${length} of 48 half-hour slots have no price, more than the 6 that may be filled`,
        );
        return;
      }
      const result = build(intervals);
      const filledSlots = result.slots.filter(
        (plan) => plan.source.buy.kind === "filled",
      );
      expect(filledSlots).toHaveLength(length);
      for (const plan of filledSlots) {
        expect(plan.buyActual).toBeGreaterThan(0);
        expect(plan.sellActual).toBeGreaterThan(0);
      }
    },
  );

  it.each([
    [6, true],
    [7, false],
  ])("sell-only gap of %i: filled %s", (length, filled) => {
    const gap = new Set(Array.from({ length }, (_, i) => endOf(20 + i)));
    const intervals = [
      ...yesterday(),
      ...without(
        day(),
        (item) => item.channelType === "feedIn" && gap.has(item.endTime),
      ),
    ];
    if (!filled) {
      const error = rejection(() => build(intervals));
      expect(error).toBeInstanceOf(PricesInsufficientError);
      expect(error.message).toContain(
        "sell: Amber's feed-in prices have a gap here",
      );
      expect(error.message).not.toContain("buy:");
      return;
    }
    const result = build(intervals);
    const plan = result.slots[20];
    expect(plan?.source.buy.kind).toBe("forecast");
    expect(plan?.source.sell.kind).toBe("filled");
    expect(plan?.sellActual).toBe(0.06);
  });

  it("fills a forecast one slot short", () => {
    const result = build([...yesterday(), ...day(47)]);
    const last = result.slots[47];
    expect(last?.label).toBe("PERIOD_09_30");
    expect(last?.source.buy.kind).toBe("filled");
    expect(last?.buyActual).toBe(0.6);
    expect(last?.sellActual).toBe(0.06);
  });
});

describe("extreme and degenerate prices", () => {
  /** Day with slot 4 (12:00) priced `general` and `feedIn` c/kWh. */
  function withSlot4(general: number, feedIn: number): Interval[] {
    return [
      ...without(day(), (item) => item.endTime === endOf(4)),
      interval({ end: endOf(4), perKwh: general }),
      interval({ end: endOf(4), perKwh: feedIn, channelType: "feedIn" }),
    ];
  }

  it.each([
    ["a 1500 c/kWh spike", 1500, -1400, 15, 14],
    ["the 2025-26 cap incl. GST", 2233, -2030, 22.33, 20.3],
    ["zero", 0, 0, 0, 0],
    ["negative zero", -0, -0, 0, 0],
    ["1e-9", 1e-9, -1e-9, 0, 0],
    ["-1e-9", -1e-9, 1e-9, 0, 0],
  ])("keeps %s", (_name, general, feedIn, buy, sell) => {
    const result = build(withSlot4(general, feedIn));
    const plan = slot(result, "PERIOD_12_00");
    expect(plan.buy).toBe(buy);
    expect(plan.sell).toBe(sell);
    expect(Object.is(plan.buy, -0)).toBe(false);
    expect(Object.is(plan.sell, -0)).toBe(false);
    expect(Object.is(plan.buyActual, -0)).toBe(false);
    expect(Object.is(plan.sellActual, -0)).toBe(false);
    expect(rate(result, "PERIOD_12_00", "buy")).toBe(buy);
    expect(rate(result, "PERIOD_12_00", "sell")).toBe(sell);
    expect(plan.notes.some((note) => note.includes("clamped"))).toBe(false);
  });

  it("averages a 5-minute spike into its half hour", () => {
    const fine = [10, 10, 10, 10, 10, 1500].map((perKwh, i) =>
      interval({
        end: new Date(
          CURRENT_START + 4 * HALF_HOUR + (i + 1) * 300_000,
        ).toISOString(),
        duration: 5,
        perKwh,
      }),
    );
    const result = build([...day(), ...fine]);
    expect(slot(result, "PERIOD_12_00").buy).toBe(2.5833);
  });

  it("clamps an all-negative day", () => {
    const negative = series({
      startMs: CURRENT_START,
      count: 48,
      price: (i) => -3 - i,
      feedIn: () => 5,
      current: true,
    });
    const result = build(negative);
    for (const plan of result.slots) {
      expect(plan.buy).toBe(0);
      expect(plan.sell).toBe(0);
      expect(plan.buyActual).toBeLessThan(0);
      expect(plan.sellActual).toBe(-0.05);
    }
    expect(result.warnings).toContain(
      "clamped 48 buy and 48 sell price(s) below 0 $/kWh to 0 in the tariff, because Tesla treats negative rates as 0; the slot plan keeps the real prices",
    );
  });
});

describe("interval lengths", () => {
  it("weights 15-minute intervals", () => {
    const quarter = (endMinute: number, perKwh: number) =>
      interval({
        end: new Date(
          CURRENT_START + 4 * HALF_HOUR + endMinute * 60_000,
        ).toISOString(),
        duration: 15,
        perKwh,
      });
    const result = build([
      ...without(
        day(),
        (item) => item.channelType === "general" && item.endTime === endOf(4),
      ),
      quarter(15, 10),
      quarter(30, 40),
    ]);
    const plan = slot(result, "PERIOD_12_00");
    expect(plan.buyActual).toBe(0.25);
    expect(plan.source.buy.intervals).toBe(2);
  });

  it("splits intervals that straddle a half hour", () => {
    // 30-minute general intervals ending at :15 and :45.
    const shifted = series({
      startMs: CURRENT_START - 15 * 60_000,
      count: 50,
      price: (i) => (i % 2 === 0 ? 10 : 30),
    }).filter((item) => item.channelType === "general");
    const feedIn = day().filter((item) => item.channelType === "feedIn");
    const result = build([...shifted, ...feedIn]);
    for (const plan of result.slots.slice(1)) {
      expect(plan.buyActual).toBe(0.2);
      expect(plan.source.buy.intervals).toBe(2);
    }
  });
});

describe("price fields", () => {
  it("chooses the field per interval", () => {
    const fine = Array.from({ length: 6 }, (_, i) =>
      interval({
        end: new Date(
          CURRENT_START + 4 * HALF_HOUR + (i + 1) * 300_000,
        ).toISOString(),
        duration: 5,
        perKwh: i < 3 ? -1 : 10,
        advancedPrice: i < 3 ? { low: 20, predicted: 30, high: 40 } : null,
      }),
    );
    const result = build([...day(), ...fine]);
    const plan = slot(result, "PERIOD_12_00");
    expect(plan.buyActual).toBe(0.2);
    expect(plan.source.buy.intervals).toBe(6);
  });

  it.each([true, false])(
    "prices a current interval with estimate %s by perKwh",
    (estimate) => {
      const current = {
        ...(interval({
          type: "CurrentInterval",
          end: endOf(0),
          perKwh: 33,
          advancedPrice: { low: 1, predicted: 2, high: 3 },
        }) as Interval & { type: "CurrentInterval" }),
        estimate,
      };
      const result = build([
        ...without(
          day(),
          (item) =>
            item.channelType === "general" && item.type === "CurrentInterval",
        ),
        current,
      ]);
      expect(result.slots[0]?.buyActual).toBe(0.33);
      expect(result.slots[0]?.source.buy.kind).toBe("current");
    },
  );
});

describe("live prices", () => {
  const pair = (end: string, general: number, feedIn: number) => [
    liveInterval({ end, perKwh: general }),
    liveInterval({ end, perKwh: feedIn, channelType: "feedIn" }),
  ];

  it("uses a pair covering now", () => {
    const result = build(day(), {
      live: pair("2026-01-15T10:10:00+11:00", 77, -7),
    });
    expect(result.slots[0]?.buyActual).toBe(0.77);
    expect(result.slots[0]?.source.buy.kind).toBe("live");
  });

  it.each([
    ["from the previous half hour", "2026-01-15T10:00:00+11:00"],
    ["from an hour ago", "2026-01-15T09:10:00+11:00"],
    ["from the future", "2026-01-15T10:15:00+11:00"],
  ])("ignores a pair %s", (_name, end) => {
    const result = build(day(), { live: pair(end, 77, -7) });
    expect(result.slots[0]?.buyActual).toBe(0.2);
    expect(result.slots[0]?.source.buy.kind).toBe("current");
    expect(
      result.warnings.some((w) => w.startsWith("live prices ignored")),
    ).toBe(true);
  });

  it.each([
    ["two general prices", "general", "general"],
    ["two feed-in prices", "feedIn", "feedIn"],
    ["controlled load and feed-in", "controlledLoad", "feedIn"],
  ] as const)("ignores %s", (_name, first, second) => {
    const end = "2026-01-15T10:10:00+11:00";
    const result = build(day(), {
      live: [
        liveInterval({ end, perKwh: 77, channelType: first }),
        liveInterval({ end, perKwh: -7, channelType: second }),
      ],
    });
    expect(result.slots[0]?.source.buy.kind).toBe("current");
    expect(result.slots[0]?.source.sell.kind).toBe("current");
    expect(result.slots[0]?.buyActual).toBe(0.2);
  });

  it("ignores a stale pair beside a fresh one", () => {
    const result = build(day(), {
      live: [
        ...pair("2026-01-15T10:10:00+11:00", 77, -7),
        ...pair("2026-01-15T10:05:00+11:00", 99, -9),
      ],
    });
    expect(result.slots[0]?.buyActual).toBe(0.77);
    expect(result.slots[0]?.sellActual).toBe(0.07);
  });
});

describe("fills and spikes", () => {
  /** Settled prices of the 48 half hours ending `daysBack` days before the current half hour. */
  function settledDay(
    daysBack: number,
    price: (i: number) => number,
    spike: (i: number) => boolean = () => false,
  ): Interval[] {
    const startMs = CURRENT_START - daysBack * 48 * HALF_HOUR;
    return Array.from({ length: 48 }, (_, i) => i).flatMap((i) => {
      const end = new Date(startMs + (i + 1) * HALF_HOUR).toISOString();
      const spikeStatus = spike(i) ? ("spike" as const) : ("none" as const);
      return [
        interval({
          type: "ActualInterval",
          end,
          perKwh: price(i),
          spikeStatus,
        }),
        interval({
          type: "ActualInterval",
          channelType: "feedIn",
          end,
          perKwh: -price(i) / 2,
          spikeStatus,
        }),
      ];
    });
  }

  it("does not copy a spike into a filled slot", () => {
    const intervals = [
      ...settledDay(2, () => 50),
      ...settledDay(
        1,
        (i) => (i === 47 ? 1500 : 60),
        (i) => i === 47,
      ),
      ...day(47),
    ];
    const result = build(intervals);
    const plan = slot(result, "PERIOD_09_30");
    expect(plan.source.buy.kind).toBe("filled");
    expect(plan.buyActual).toBe(0.5);
    expect(plan.source.buy.filledFrom).toBe("2026-01-14T09:30:00+11:00");
  });

  it("copies a spike when no other day has a price", () => {
    const intervals = [
      ...settledDay(
        1,
        (i) => (i === 47 ? 1500 : 60),
        (i) => i === 47,
      ),
      ...day(47),
    ];
    const result = build(intervals);
    const plan = slot(result, "PERIOD_09_30");
    expect(plan.buyActual).toBe(15);
    expect(plan.notes.join(" ")).toContain("spike");
  });
});
