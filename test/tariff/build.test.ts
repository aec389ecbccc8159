import { describe, expect, it } from "vitest";

import type { Interval } from "../../src/amber/schemas.js";
import {
  ConfigError,
  PricesInsufficientError,
  TariffInvalidError,
} from "../../src/errors.js";
import {
  buildTariff,
  type BuildTariffInput,
  type BuildTariffOptions,
  type SlotPlan,
} from "../../src/tariff/build.js";
import { compareTariffs } from "../../src/tariff/compare.js";
import { validateTariff } from "../../src/tariff/validate.js";
import {
  SITES,
  at,
  fixtureIntervals,
  interval,
  liveInterval,
  series,
} from "./helpers.js";

const SYDNEY = "Australia/Sydney";
const HALF_HOUR = 30 * 60_000;

function build(
  intervals: readonly Interval[],
  now: number,
  options: Partial<BuildTariffOptions> = {},
  extra: Partial<BuildTariffInput> = {},
) {
  const result = buildTariff({
    intervals,
    now,
    timeZone: SYDNEY,
    options: { band: "predicted", ...options },
    ...extra,
  });
  // Every tariff built in these tests must pass strict validation.
  expect(validateTariff(result.tariff, "strict")).toEqual({
    ok: true,
    tariff: result.tariff,
  });
  return result;
}

function slot(slots: readonly SlotPlan[], label: string): SlotPlan {
  const found = slots.find((candidate) => candidate.label === label);
  if (found === undefined) throw new Error(`no slot ${label}`);
  return found;
}

/** Builds a current 30-minute interval at `now` and forecasts after it: `count` in all, general price `price(i)`. */
function day(
  now: number,
  price: (index: number) => number = (i) => 20 + i,
  count = 48,
  feedIn?: (index: number) => number,
): Interval[] {
  const startMs = Math.floor(now / HALF_HOUR) * HALF_HOUR;
  return series({ startMs, count, price, feedIn, current: true });
}

/** Actual 30-minute intervals for the `hours` before the half hour containing `now`. */
function history(
  now: number,
  hours: number,
  price: (index: number) => number = (i) => 60 + i,
): Interval[] {
  const end = Math.floor(now / HALF_HOUR) * HALF_HOUR;
  const count = hours * 2;
  return series({
    startMs: end - count * HALF_HOUR,
    count,
    price,
    type: "ActualInterval",
  });
}

function catchError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("buildTariff on fixtures", () => {
  const cases = Object.entries(SITES).flatMap(([name, site]) =>
    (["predicted", "low", "high"] as const).map(
      (band) => [name, band, site] as const,
    ),
  );

  it.each(cases)("builds %s with band %s", (name, band, site) => {
    const now = at(site.now, site.zone);
    const { slots, tariff } = buildTariff({
      intervals: fixtureIntervals(name),
      now,
      timeZone: site.zone,
      options: { band },
    });
    expect(validateTariff(tariff, "strict").ok).toBe(true);
    expect(slots).toHaveLength(48);
    expect(new Set(slots.map((s) => s.label)).size).toBe(48);
    const first = Date.parse(slots[0]?.start ?? "");
    expect(first).toBeLessThanOrEqual(now);
    expect(now - first).toBeLessThan(HALF_HOUR);
    for (const plan of slots) {
      expect(plan.buy).toBeGreaterThanOrEqual(0);
      expect(plan.sell).toBeGreaterThanOrEqual(0);
      expect(tariff.energy_charges["Summer"]?.rates[plan.label]).toBe(plan.buy);
      expect(
        tariff.sell_tariff.energy_charges["Summer"]?.rates[plan.label],
      ).toBe(plan.sell);
    }
  });

  it("orders fixture slots in time", () => {
    const site = SITES["sydney-dst-end.json"];
    if (site === undefined) throw new Error("fixture");
    const { slots } = build(
      fixtureIntervals("sydney-dst-end.json"),
      at(site.now, site.zone),
    );
    const starts = slots.map((plan) => Date.parse(plan.start));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });
});

describe("buildTariff output", () => {
  const now = at("2026-01-15T10:05");

  it("writes every time field", () => {
    const { tariff } = build(day(now), now);
    const periods = tariff.seasons["Summer"]?.tou_periods;
    expect(Object.keys(periods ?? {})).toHaveLength(48);
    expect(periods?.["PERIOD_00_00"]?.periods).toEqual([
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 0,
        fromMinute: 0,
        toHour: 0,
        toMinute: 30,
      },
    ]);
    expect(periods?.["PERIOD_12_30"]?.periods).toEqual([
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 12,
        fromMinute: 30,
        toHour: 13,
        toMinute: 0,
      },
    ]);
    expect(periods?.["PERIOD_23_30"]?.periods).toEqual([
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 23,
        fromMinute: 30,
        toHour: 0,
        toMinute: 0,
      },
    ]);
  });

  it("covers the year with one season", () => {
    const { tariff } = build(day(now), now);
    expect(tariff.seasons["Summer"]).toMatchObject({
      fromMonth: 1,
      fromDay: 1,
      toMonth: 12,
      toDay: 31,
    });
    expect(tariff.seasons["Winter"]).toEqual({
      fromMonth: 0,
      fromDay: 0,
      toMonth: 0,
      toDay: 0,
      tou_periods: {},
    });
    expect(tariff.sell_tariff.seasons).toEqual(tariff.seasons);
  });

  it("keeps zero charges present", () => {
    const { tariff } = build(day(now), now);
    expect(tariff.daily_charges).toEqual([{ name: "Charge", amount: 0 }]);
    expect(tariff.demand_charges["ALL"]).toEqual({ rates: { ALL: 0 } });
    expect(tariff.energy_charges["ALL"]).toEqual({ rates: { ALL: 0 } });
    expect(tariff.sell_tariff.daily_charges).toEqual([
      { name: "Charge", amount: 0 },
    ]);
  });

  it("uses name and code options", () => {
    const { tariff } = build(day(now), now, { name: "Mine", code: "MY:CODE" });
    expect(tariff.name).toBe("Mine");
    expect(tariff.code).toBe("MY:CODE");
    expect(tariff.sell_tariff.name).toBe("Mine");
    expect(tariff.currency).toBe("AUD");
  });

  it("starts at the current half hour", () => {
    const { slots } = build(day(now), now);
    expect(slots[0]?.label).toBe("PERIOD_10_00");
    expect(slots[0]?.start).toBe("2026-01-15T10:00:00+11:00");
    expect(slots[0]?.end).toBe("2026-01-15T10:30:00+11:00");
    expect(slots[47]?.label).toBe("PERIOD_09_30");
    expect(slots[47]?.start).toBe("2026-01-16T09:30:00+11:00");
  });

  it.each([
    [24.335, 0.2434],
    [24.3349, 0.2433],
    [-8.335, -0.0834],
    [0.004, 0],
  ])("rounds %s c/kWh to %s $/kWh", (cents, dollars) => {
    const { slots } = build(
      day(now, (i) => (i === 1 ? cents : 20)),
      now,
    );
    expect(slot(slots, "PERIOD_10_30").buyActual).toBe(dollars);
  });

  it("is pure", () => {
    const intervals = day(now);
    const copy = structuredClone(intervals);
    const first = build(intervals, now);
    const second = build(intervals, now);
    expect(second).toEqual(first);
    expect(intervals).toEqual(copy);
  });
});

describe("C1 missing prices", () => {
  const now = at("2026-01-15T10:05");

  it("fills short forecasts from yesterday", () => {
    const intervals = [...history(now, 24), ...day(now, undefined, 45)];
    const { slots, warnings } = build(intervals, now);
    for (const label of ["PERIOD_08_30", "PERIOD_09_00", "PERIOD_09_30"]) {
      const plan = slot(slots, label);
      expect(plan.source.buy.kind).toBe("filled");
      expect(plan.source.sell.kind).toBe("filled");
      expect(plan.buy).toBeGreaterThan(0);
      expect(plan.notes.join(" ")).toContain("filled from 2026-01-15T");
    }
    // The nearest day is today: history index 47 is 09:30 to 10:00.
    expect(slot(slots, "PERIOD_09_30").buy).toBe(1.07);
    expect(slot(slots, "PERIOD_09_30").source.buy.filledFrom).toBe(
      "2026-01-15T09:30:00+11:00",
    );
    expect(warnings).toContain(
      "filled 6 missing price(s) from the same time on the nearest day with a price: PERIOD_08_30 buy, PERIOD_08_30 sell, PERIOD_09_00 buy, PERIOD_09_00 sell, PERIOD_09_30 buy, PERIOD_09_30 sell",
    );
  });

  it("never prices an unknown slot at zero", () => {
    const intervals = [...history(now, 24), ...day(now, undefined, 44)];
    const { slots } = build(intervals, now);
    expect(slots.every((plan) => plan.buy > 0)).toBe(true);
  });

  it("rejects a long gap", () => {
    const intervals = [...history(now, 24), ...day(now, undefined, 38)];
    const error = catchError(() => build(intervals, now));
    expect(error).toBeInstanceOf(PricesInsufficientError);
    expect(error.message).toContain(
      "10 of 48 half-hour slots have no price, more than the 6 that may be filled",
    );
    expect(error.message).toContain(
      "PERIOD_05_00 to PERIOD_09_30 (2026-01-16T05:00:00+11:00 to 2026-01-16T10:00:00+11:00; buy: Amber's general prices end at 2026-01-16T05:00:00+11:00; sell: Amber's feed-in prices end at 2026-01-16T05:00:00+11:00)",
    );
  });

  it("rejects a gap it cannot fill", () => {
    const error = catchError(() => build(day(now, undefined, 46), now));
    expect(error).toBeInstanceOf(PricesInsufficientError);
    expect(error.message).toContain(
      "no day within 7 days of the slot has a price to fill PERIOD_09_00 buy, PERIOD_09_00 sell, PERIOD_09_30 buy, PERIOD_09_30 sell",
    );
  });

  it.each([
    [2, 3, true],
    [3, 3, false],
    [0, 1, true],
  ])("applies maxFilledSlots %s to %s gaps", (limit, gaps, rejected) => {
    const intervals = [...history(now, 24), ...day(now, undefined, 48 - gaps)];
    const run = () => build(intervals, now, { maxFilledSlots: limit });
    if (rejected) {
      expect(run).toThrow(PricesInsufficientError);
    } else {
      expect(run().slots).toHaveLength(48);
    }
  });

  it("fills a feed-in gap alone", () => {
    const intervals = [...history(now, 24), ...day(now)].filter(
      (item) =>
        !(
          item.channelType === "feedIn" &&
          item.endTime === "2026-01-15T03:00:00Z"
        ),
    );
    const { slots } = build(intervals, now);
    const plan = slot(slots, "PERIOD_13_30");
    expect(plan.source.buy.kind).toBe("forecast");
    expect(plan.source.sell.kind).toBe("filled");
  });

  it("rejects an empty price list", () => {
    const error = catchError(() => build([], now));
    expect(error).toBeInstanceOf(PricesInsufficientError);
    expect(error.message).toContain("Amber sent no general prices");
    expect(error.message).toContain("Amber sent no feed-in prices");
  });

  it("rejects a forecast with only history", () => {
    expect(() => build(history(now, 24), now)).toThrow(PricesInsufficientError);
  });

  it("treats a NaN price as missing", () => {
    const intervals = [...history(now, 24), ...day(now)];
    const broken = intervals.map((item) =>
      item.channelType === "general" && item.endTime === "2026-01-15T03:00:00Z"
        ? { ...item, perKwh: Number.NaN }
        : item,
    );
    const { slots, warnings } = build(broken, now);
    expect(slot(slots, "PERIOD_13_30").source.buy.kind).toBe("filled");
    expect(warnings[0]).toBe(
      "ignored 1 interval(s) whose price or end time is not a finite number: [103] general ending 2026-01-15T03:00:00Z",
    );
  });
});

describe("C3 time zones", () => {
  it.each([
    ["Australia/Sydney", "2026-01-15T02:00:00Z", "PERIOD_18_30"],
    ["Australia/Sydney", "2026-07-15T02:00:00Z", "PERIOD_17_30"],
    ["Australia/Adelaide", "2026-01-15T02:00:00Z", "PERIOD_18_00"],
    ["Australia/Brisbane", "2026-01-15T02:00:00Z", "PERIOD_17_30"],
    ["Australia/Lord_Howe", "2026-01-15T02:00:00Z", "PERIOD_18_30"],
  ])("keys %s slots by local time (%s)", (zone, nowText, label) => {
    const now = Date.parse(nowText);
    // The interval whose nemTime is 18:00+10:00 (08:00Z) costs 99 c/kWh.
    const intervals = day(now, (i) => (i === 11 ? 99 : 20));
    const { slots } = build(intervals, now, {}, { timeZone: zone });
    expect(slot(slots, label).buyActual).toBe(0.99);
    expect(slots.filter((plan) => plan.buyActual === 0.99)).toHaveLength(1);
  });

  it.each(["", "   ", "Mars/Olympus", "+10:00"])(
    "rejects time zone %j",
    (zone) => {
      const now = at("2026-01-15T10:05");
      const error = catchError(() =>
        buildTariff({
          intervals: day(now),
          now,
          timeZone: zone,
          options: { band: "predicted" },
        }),
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain(
        `Time zone "${zone}" is not a valid IANA zone name`,
      );
    },
  );

  describe("daylight saving starts", () => {
    const site = SITES["sydney-dst-start.json"];
    if (site === undefined) throw new Error("fixture");
    const now = at(site.now, site.zone);
    const intervals = fixtureIntervals("sydney-dst-start.json");

    it("gives 48 slots", () => {
      const { slots } = build(intervals, now, { maxFilledSlots: 0 });
      expect(slots).toHaveLength(48);
      expect(new Set(slots.map((plan) => plan.label)).size).toBe(48);
    });

    it.each(["PERIOD_02_00", "PERIOD_02_30"])("fills skipped %s", (label) => {
      const { slots } = build(intervals, now);
      const plan = slot(slots, label);
      const time = `${label.slice(7, 9)}:${label.slice(10)}`;
      expect(plan.start).toBe(`2026-10-04T${time}:00`);
      expect(plan.source.buy.kind).toBe("filled");
      expect(plan.source.buy.filledFrom).toBe(`2026-10-03T${time}:00+10:00`);
      expect(plan.notes[0]).toBe(
        `${time} does not occur on 2026-10-04 because daylight saving starts`,
      );
    });

    it("switches offset after the gap", () => {
      const { slots } = build(intervals, now);
      expect(slot(slots, "PERIOD_01_30").start).toBe(
        "2026-10-04T01:30:00+10:00",
      );
      expect(slot(slots, "PERIOD_01_30").end).toBe("2026-10-04T03:00:00+11:00");
      expect(slot(slots, "PERIOD_03_00").start).toBe(
        "2026-10-04T03:00:00+11:00",
      );
    });
  });

  describe("daylight saving ends", () => {
    const site = SITES["sydney-dst-end.json"];
    if (site === undefined) throw new Error("fixture");
    const now = at(site.now, site.zone);
    const intervals = fixtureIntervals("sydney-dst-end.json");

    it("takes the first repeated hour", () => {
      const { slots } = build(intervals, now);
      expect(slot(slots, "PERIOD_02_00").start).toBe(
        "2026-04-05T02:00:00+11:00",
      );
      expect(slot(slots, "PERIOD_02_30").start).toBe(
        "2026-04-05T02:30:00+11:00",
      );
      expect(slot(slots, "PERIOD_03_00").start).toBe(
        "2026-04-05T03:00:00+10:00",
      );
    });

    it("fills the 25th hour's end", () => {
      const { slots } = build(intervals, now);
      const plan = slot(slots, "PERIOD_19_30");
      expect(plan.start).toBe("2026-04-05T19:30:00+10:00");
      expect(plan.source.buy.kind).toBe("filled");
      expect(plan.source.buy.filledFrom).toBe("2026-04-04T19:30:00+11:00");
    });

    it.each([
      [
        "2026-04-05T02:15:00+10:00",
        "PERIOD_02_00",
        "+10:00",
        "PERIOD_02_30",
        "2026-04-05T02:30:00+10:00",
      ],
      [
        "2026-04-05T02:40:00+11:00",
        "PERIOD_02_30",
        "+11:00",
        "PERIOD_02_00",
        "2026-04-05T02:00:00+10:00",
      ],
    ])(
      "places slots at %s",
      (nowText, currentLabel, offset, nextLabel, nextStart) => {
        const at2 = Date.parse(nowText);
        const intervals2 = [
          ...series({
            startMs: at2 - 26 * 3_600_000 - (at2 % HALF_HOUR),
            count: 52,
            price: () => 30,
            type: "ActualInterval",
          }),
          ...day(at2, () => 25, 52),
        ];
        const { slots } = build(intervals2, at2);
        expect(slots[0]?.label).toBe(currentLabel);
        expect(slots[0]?.start.endsWith(offset)).toBe(true);
        expect(slots[1]?.label).toBe(nextLabel);
        expect(slots[1]?.start).toBe(nextStart);
      },
    );
  });
});

describe("C4 interval boundaries", () => {
  const now = at("2026-01-15T12:00");

  it.each([
    [30, 0.77],
    [5, 0.4033],
  ])("puts a %s-minute interval ending 18:00 in 17:30", (duration, buy) => {
    const ending = interval({
      end: "2026-01-15T18:00:00+11:00",
      duration: duration as 5 | 30,
      perKwh: 77,
    });
    expect(
      ending.startTime.endsWith(duration === 30 ? "06:30:01Z" : "06:55:01Z"),
    ).toBe(true);
    const others = day(now, () => 33).filter(
      (item) =>
        !(item.channelType === "general" && item.endTime === ending.endTime),
    );
    const base = duration === 30 ? others : day(now, () => 33);
    const { slots } = build([...base, ending], now);
    expect(slot(slots, "PERIOD_17_30").buyActual).toBe(buy);
    expect(slot(slots, "PERIOD_18_00").buyActual).toBe(0.33);
  });

  it("finds one current interval at a boundary", () => {
    const boundary = at("2026-01-15T18:00");
    const rest = day(boundary, () => 30).filter(
      (item) => item.type !== "CurrentInterval",
    );
    const current = (
      end: string,
      perKwh: number,
      channelType: "general" | "feedIn",
    ) =>
      interval({
        type: "CurrentInterval",
        end,
        duration: 5,
        perKwh,
        channelType,
      });
    const { slots } = build(
      [
        ...rest,
        current("2026-01-15T18:00:00+11:00", 11, "general"),
        current("2026-01-15T18:05:00+11:00", 55, "general"),
        current("2026-01-15T18:00:00+11:00", -1, "feedIn"),
        current("2026-01-15T18:05:00+11:00", -5, "feedIn"),
      ],
      boundary,
    );
    expect(slots[0]?.label).toBe("PERIOD_18_00");
    expect(slots[0]?.buyActual).toBe(0.55);
    expect(slots[0]?.sellActual).toBe(0.05);
    expect(slots[0]?.source.buy.kind).toBe("current");
    expect(slots[0]?.notes).toContain(
      "buy and sell: current 5-minute price from 2026-01-15T18:00:00+11:00",
    );
    expect(slots[47]?.label).toBe("PERIOD_17_30");
  });

  it("ignores a live pair ending at now", () => {
    const boundary = at("2026-01-15T18:00");
    const live = [
      liveInterval({ end: "2026-01-15T18:00:00+11:00", perKwh: 90 }),
      liveInterval({
        end: "2026-01-15T18:00:00+11:00",
        perKwh: -9,
        channelType: "feedIn",
      }),
    ];
    const { slots, warnings } = build(
      day(boundary, () => 30),
      boundary,
      {},
      { live },
    );
    expect(slots[0]?.source.buy.kind).toBe("current");
    expect(slots[0]?.buyActual).toBe(0.3);
    expect(warnings[0]).toContain("live prices ignored");
  });
});

describe("C5 five-minute prices", () => {
  const site = SITES["site-5min.json"];
  if (site === undefined) throw new Error("fixture");
  const now = at(site.now, site.zone);
  const intervals = fixtureIntervals("site-5min.json");

  it("averages six 5-minute prices", () => {
    const inSlot = intervals.filter(
      (item) =>
        item.channelType === "general" &&
        item.duration === 5 &&
        Date.parse(item.endTime) > at("2026-06-10T18:30", site.zone) &&
        Date.parse(item.endTime) <= at("2026-06-10T19:00", site.zone),
    );
    expect(inSlot).toHaveLength(6);
    const mean =
      inSlot.reduce(
        (sum, item) =>
          sum +
          (item.type === "ForecastInterval"
            ? (item.advancedPrice?.predicted ?? 0)
            : 0),
        0,
      ) / 6;
    const { slots } = build(intervals, now);
    const plan = slot(slots, "PERIOD_18_30");
    expect(plan.buyActual).toBe(Math.round(mean * 100) / 10_000);
    expect(plan.source.buy.intervals).toBe(6);
    expect(plan.source.buy.field).toBe("advancedPrice.predicted");
  });

  it("covers 24 hours from mixed lengths", () => {
    const { slots } = build(intervals, now);
    expect(slots.filter((plan) => plan.source.buy.kind === "filled")).toEqual(
      [],
    );
    expect(slot(slots, "PERIOD_19_00").source.buy.intervals).toBe(1);
    expect(slot(slots, "PERIOD_17_30").start).toBe("2026-06-11T17:30:00+10:00");
  });

  it("weights a 15-minute interval by its share", () => {
    const now2 = at("2026-01-15T10:05");
    const general = (end: string, duration: 5 | 15, perKwh: number) =>
      interval({ end, duration, perKwh });
    const base = day(now2, () => 20).filter(
      (item) =>
        !(
          item.channelType === "general" &&
          item.endTime === "2026-01-15T01:30:00Z"
        ),
    );
    const { slots } = build(
      [
        ...base,
        general("2026-01-15T12:15:00+11:00", 15, 30),
        general("2026-01-15T12:20:00+11:00", 5, 10),
        general("2026-01-15T12:25:00+11:00", 5, 20),
        general("2026-01-15T12:30:00+11:00", 5, 30),
      ],
      now2,
    );
    expect(slot(slots, "PERIOD_12_00").buyActual).toBe(0.25);
    expect(slot(slots, "PERIOD_12_00").source.buy.intervals).toBe(4);
  });

  it("prefers shorter overlapping intervals", () => {
    const now2 = at("2026-01-15T10:05");
    const fine = [0, 1, 2].map((i) =>
      interval({
        end: `2026-01-15T12:${String(5 + i * 5).padStart(2, "0")}:00+11:00`,
        duration: 5,
        perKwh: 10,
      }),
    );
    const base = day(now2, (i) => (i === 4 ? 50 : 20));
    const { slots } = build([...base, ...fine], now2);
    expect(slot(slots, "PERIOD_12_00").buyActual).toBe(0.3);
  });

  it("prefers settled prices in the current half hour", () => {
    const now2 = at("2026-01-15T12:20");
    const settled = [0, 1, 2, 3].map((i) =>
      interval({
        type: "ActualInterval",
        end: `2026-01-15T12:${String(5 + i * 5).padStart(2, "0")}:00+11:00`,
        duration: 5,
        perKwh: 10,
      }),
    );
    const forecasts = day(now2, () => 40).filter(
      (item) => item.type !== "CurrentInterval",
    );
    const slotForecast = interval({
      end: "2026-01-15T12:30:00+11:00",
      perKwh: 40,
    });
    const slotFeedIn = interval({
      end: "2026-01-15T12:30:00+11:00",
      perKwh: -4,
      channelType: "feedIn",
    });
    const { slots } = build(
      [...settled, ...forecasts, slotForecast, slotFeedIn],
      now2,
    );
    expect(slots[0]?.buyActual).toBe(0.2);
    expect(slots[0]?.source.buy.kind).toBe("actual");
    expect(slots[0]?.notes).toContain(
      "buy: mixed: 20 min actual, 10 min forecast",
    );
  });
});

describe("C6 forecast price field", () => {
  const now = at("2026-01-15T10:05");
  const advanced = { low: 20, predicted: 26, high: 35 };

  function withSlot(item: Interval): Interval[] {
    return [
      ...day(now, () => 20).filter(
        (other) =>
          !(
            other.channelType === item.channelType &&
            other.endTime === item.endTime
          ),
      ),
      item,
    ];
  }

  it.each([
    ["predicted", 0.26],
    ["low", 0.2],
    ["high", 0.35],
  ] as const)("uses advancedPrice.%s", (band, buy) => {
    const item = interval({
      end: "2026-01-15T14:00:00+11:00",
      perKwh: -1,
      advancedPrice: advanced,
    });
    const { slots } = build(withSlot(item), now, { band });
    const plan = slot(slots, "PERIOD_13_30");
    expect(plan.buy).toBe(buy);
    expect(plan.source.buy.field).toBe(`advancedPrice.${band}`);
  });

  it("uses perKwh without advancedPrice", () => {
    const item = interval({
      end: "2026-01-15T14:00:00+11:00",
      perKwh: -1,
      advancedPrice: null,
    });
    const { slots } = build(withSlot(item), now);
    const plan = slot(slots, "PERIOD_13_30");
    expect(plan.buyActual).toBe(-0.01);
    expect(plan.buy).toBe(0);
    expect(plan.source.buy.field).toBe("perKwh");
  });

  it("uses perKwh for the current interval", () => {
    const current = interval({
      type: "CurrentInterval",
      end: "2026-01-15T10:30:00+11:00",
      perKwh: 31,
      advancedPrice: advanced,
    });
    const { slots } = build(withSlot(current), now);
    expect(slots[0]?.buy).toBe(0.31);
    expect(slots[0]?.source.buy).toEqual({
      kind: "current",
      field: "perKwh",
      intervals: 1,
    });
  });

  it.each([
    ["predicted", 0.1113],
    ["high", 0.1492],
    ["low", 0.0913],
  ] as const)("negates feed-in advancedPrice.%s", (band, sell) => {
    const item = interval({
      end: "2026-01-15T14:00:00+11:00",
      channelType: "feedIn",
      perKwh: -10,
      advancedPrice: { low: -9.13, predicted: -11.13, high: -14.92 },
    });
    const { slots } = build(withSlot(item), now, { band });
    expect(slot(slots, "PERIOD_13_30").sell).toBe(sell);
  });
});

describe("C8 feed-in sign", () => {
  const now = at("2026-01-15T10:05");

  it.each([
    [-8.3, 0.083, 0.083],
    [4, 0, -0.04],
    [0, 0, 0],
  ])("turns feed-in %s c/kWh into sell %s", (feedIn, sell, sellActual) => {
    const { slots } = build(
      day(
        now,
        () => 25,
        48,
        () => feedIn,
      ),
      now,
    );
    const plan = slot(slots, "PERIOD_15_00");
    expect(plan.sell).toBe(sell);
    expect(plan.sellActual).toBe(sellActual);
    expect(Object.is(plan.sellActual, -0)).toBe(false);
  });

  it("notes that exporting costs money", () => {
    const { slots } = build(
      day(
        now,
        () => 25,
        48,
        () => 4,
      ),
      now,
    );
    expect(slot(slots, "PERIOD_15_00").notes).toContain(
      "sell -0.0400 $/kWh (exporting costs money) clamped to 0 in the tariff",
    );
  });
});

describe("C9 negative prices", () => {
  const now = at("2026-01-15T10:05");

  it("clamps the tariff and keeps the real price", () => {
    const { slots, tariff, warnings } = build(
      day(
        now,
        (i) => (i === 6 || i === 7 ? -5 : 25),
        48,
        () => -8,
      ),
      now,
    );
    const plan = slot(slots, "PERIOD_13_00");
    expect(plan.buy).toBe(0);
    expect(plan.buyActual).toBe(-0.05);
    expect(tariff.energy_charges["Summer"]?.rates["PERIOD_13_00"]).toBe(0);
    expect(plan.notes).toContain(
      "buy -0.0500 $/kWh clamped to 0 in the tariff",
    );
    const clampWarnings = warnings.filter((warning) =>
      warning.startsWith("clamped"),
    );
    expect(clampWarnings).toEqual([
      "clamped 2 buy and 0 sell price(s) below 0 $/kWh to 0 in the tariff, because Tesla treats negative rates as 0; the slot plan keeps the real prices",
    ]);
  });

  it("warns nothing without negatives", () => {
    const { warnings } = build(
      day(now, () => 25),
      now,
    );
    expect(warnings).toEqual([]);
  });
});

describe("C7 spike states", () => {
  it("keeps potential and spike apart", () => {
    const site = SITES["site-5min.json"];
    if (site === undefined) throw new Error("fixture");
    const { slots } = build(
      fixtureIntervals("site-5min.json"),
      at(site.now, site.zone),
    );
    expect(slot(slots, "PERIOD_18_30").spikeStatus).toBe("spike");
    expect(slot(slots, "PERIOD_19_00").spikeStatus).toBe("potential");
    expect(slot(slots, "PERIOD_19_30").spikeStatus).toBe("none");
  });
});

describe("C12 live price", () => {
  const now = at("2026-01-15T14:07");
  const zone = SYDNEY;
  const livePair = (general: number, feedIn: number) => [
    liveInterval({ end: "2026-01-15T14:10:00+11:00", perKwh: general }),
    liveInterval({
      end: "2026-01-15T14:10:00+11:00",
      perKwh: feedIn,
      channelType: "feedIn",
    }),
  ];

  it("prices the current slot from live", () => {
    const { slots } = build(
      day(now, () => 30),
      now,
      {},
      { live: livePair(45, -12) },
    );
    expect(slots[0]?.buy).toBe(0.45);
    expect(slots[0]?.sell).toBe(0.12);
    expect(slots[0]?.source.buy).toEqual({
      kind: "live",
      field: "perKwh",
      intervals: 1,
    });
    expect(slots[1]?.buy).toBe(0.3);
  });

  it("ignores live without a feed-in price", () => {
    const { slots, warnings } = build(
      day(now, () => 30),
      now,
      {},
      {
        live: livePair(45, -12).slice(0, 1),
      },
    );
    expect(slots[0]?.source.buy.kind).toBe("current");
    expect(warnings[0]).toContain("live prices ignored");
  });

  it.each([
    [45, true],
    [30.1, false],
  ])("reports live %s c/kWh material: %s", (price, material) => {
    const before = build(
      day(now, () => 30),
      now,
    ).tariff;
    const after = build(
      day(now, () => 30),
      now,
      {},
      { live: livePair(price, -15) },
    ).tariff;
    const result = compareTariffs(before, after, {
      minChange: 0.005,
      currentSlotMinChange: 0.02,
      now,
      timeZone: zone,
    });
    expect(result.material).toBe(material);
    expect(result.changedSlots.every((changed) => changed.current)).toBe(true);
  });

  it("keeps half-hour granularity", () => {
    const { tariff } = build(
      day(now, () => 30),
      now,
      {},
      { live: livePair(45, -12) },
    );
    const period =
      tariff.seasons["Summer"]?.tou_periods["PERIOD_14_00"]?.periods;
    expect(period).toEqual([
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 14,
        fromMinute: 0,
        toHour: 14,
        toMinute: 30,
      },
    ]);
  });
});

describe("overlays", () => {
  const now = at("2026-01-15T10:05");

  it("applies overlays before assembly", () => {
    const { slots, tariff } = build(
      day(now, () => 30),
      now,
      {
        overlays: [
          (input) =>
            input.map((plan) =>
              plan.label === "PERIOD_18_00"
                ? {
                    ...plan,
                    buy: plan.buy + 1,
                    notes: [...plan.notes, "test overlay: +1.00"],
                  }
                : plan,
            ),
        ],
      },
    );
    expect(slot(slots, "PERIOD_18_00").buy).toBe(1.3);
    expect(slot(slots, "PERIOD_18_00").notes).toContain("test overlay: +1.00");
    expect(tariff.energy_charges["Summer"]?.rates["PERIOD_18_00"]).toBe(1.3);
  });

  it("rejects an overlay that drops slots", () => {
    const run = () =>
      build(day(now), now, { overlays: [(input) => input.slice(1)] });
    expect(run).toThrow(TariffInvalidError);
  });

  it("rejects an overlay that sets a negative rate", () => {
    const error = catchError(() =>
      buildTariff({
        intervals: day(now),
        now,
        timeZone: SYDNEY,
        options: {
          band: "predicted",
          overlays: [(input) => input.map((plan) => ({ ...plan, sell: -1 }))],
        },
      }),
    );
    expect(error).toBeInstanceOf(TariffInvalidError);
    expect(error.message).toContain(
      "sell energy_charges.Summer.rates.PERIOD_00_00 is -1 $/kWh",
    );
  });
});

describe("option checks", () => {
  const now = at("2026-01-15T10:05");

  it.each([
    [
      { band: "median" },
      'Forecast band "median" is not valid; use predicted, low or high.',
    ],
    [
      { maxFilledSlots: -1 },
      "maxFilledSlots -1 is not valid; use a whole number from 0 to 48.",
    ],
    [
      { maxFilledSlots: 2.5 },
      "maxFilledSlots 2.5 is not valid; use a whole number from 0 to 48.",
    ],
    [{ fallback: "zero" }, 'Fallback "zero" is not valid; use nearest-day.'],
  ])("rejects %o", (options, message) => {
    const run = () =>
      buildTariff({
        intervals: day(now),
        now,
        timeZone: SYDNEY,
        options: { band: "predicted", ...options } as BuildTariffOptions,
      });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });

  it("rejects a non-finite now", () => {
    expect(() =>
      buildTariff({
        intervals: day(now),
        now: Number.NaN,
        timeZone: SYDNEY,
        options: { band: "low" },
      }),
    ).toThrow("now NaN is not a time");
  });
});
