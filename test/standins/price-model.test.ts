import { describe, expect, it } from "vitest";

import { groupByChannel } from "../../src/amber/prices.js";
import { intervalListSchema, type Interval } from "../../src/amber/schemas.js";
import {
  currentIntervals,
  generateIntervals,
  intervalsBetween,
  PRICE_PATTERNS,
} from "../../src/standins/price-model.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 12:07:30 NEM time on 2 June 2025. */
const NOW = Date.parse("2025-06-02T02:07:30Z");
/** Midnight NEM time starting 2 June 2025. */
const NEM_MIDNIGHT = Date.parse("2025-06-01T14:00:00Z");

function startMs(interval: Interval): number {
  return Date.parse(interval.endTime) - interval.duration * MINUTE;
}

/** NEM hour (0-24) at which the interval starts. */
function nemStartHour(interval: Interval): number {
  return (
    ((((startMs(interval) + 10 * HOUR) % (24 * HOUR)) + 24 * HOUR) %
      (24 * HOUR)) /
    HOUR
  );
}

function dayOf(pattern: (typeof PRICE_PATTERNS)[number]): Interval[] {
  return generateIntervals({
    now: NEM_MIDNIGHT,
    intervalLength: 30,
    pattern,
    hoursAhead: 24,
  });
}

function generalBetween(
  intervals: Interval[],
  fromHour: number,
  toHour: number,
): Interval[] {
  return intervals.filter(
    (interval) =>
      interval.channelType === "general" &&
      nemStartHour(interval) >= fromHour &&
      nemStartHour(interval) < toHour,
  );
}

const cases = PRICE_PATTERNS.flatMap((pattern) =>
  ([5, 30] as const).map((length) => [pattern, length] as const),
);

describe("generateIntervals", () => {
  it.each(cases)("%s at %i min parses", (pattern, intervalLength) => {
    const intervals = generateIntervals({ now: NOW, intervalLength, pattern });

    expect(intervalListSchema.safeParse(intervals).success).toBe(true);
  });

  it.each(cases)("%s at %i min covers 24 h", (pattern, intervalLength) => {
    const groups = groupByChannel(
      generateIntervals({ now: NOW, intervalLength, pattern }),
    );

    for (const channel of [groups.general, groups.feedIn]) {
      const last = channel[channel.length - 1];
      expect(last).toBeDefined();
      expect(Date.parse(last?.endTime ?? "")).toBeGreaterThanOrEqual(
        NOW + 24 * HOUR,
      );
    }
  });

  it.each(cases)("%s at %i min is contiguous", (pattern, intervalLength) => {
    const groups = groupByChannel(
      generateIntervals({ now: NOW, intervalLength, pattern }),
    );

    for (const channel of [groups.general, groups.feedIn]) {
      for (let i = 1; i < channel.length; i += 1) {
        const previous = channel[i - 1];
        const interval = channel[i];
        expect(Date.parse(interval?.startTime ?? "")).toBe(
          Date.parse(previous?.endTime ?? "") + 1000,
        );
      }
    }
  });

  it("lists general before feed-in", () => {
    const intervals = generateIntervals({
      now: NOW,
      intervalLength: 30,
      pattern: "calm",
    });
    const firstFeedIn = intervals.findIndex((i) => i.channelType === "feedIn");
    const lastGeneral = intervals
      .map((i) => i.channelType)
      .lastIndexOf("general");

    expect(firstFeedIn).toBeGreaterThan(lastGeneral);
  });

  it("types intervals by now", () => {
    const general = groupByChannel(
      generateIntervals({ now: NOW, intervalLength: 5, pattern: "calm" }),
    ).general;
    const types = general.map((interval) => interval.type);
    const current = general.filter((i) => i.type === "CurrentInterval");

    expect(current).toHaveLength(1);
    expect(types.slice(0, 12).every((t) => t === "ActualInterval")).toBe(true);
    expect(types[12]).toBe("CurrentInterval");
    expect(types.slice(13).every((t) => t === "ForecastInterval")).toBe(true);
    expect(current[0]?.startTime).toBe("2025-06-02T02:05:01Z");
    expect(current[0]?.endTime).toBe("2025-06-02T02:10:00Z");
  });

  it("starts the current interval at a boundary", () => {
    const now = Date.parse("2025-06-02T02:30:00Z");
    const general = groupByChannel(
      generateIntervals({ now, intervalLength: 30, pattern: "calm" }),
    ).general;
    const current = general.find((i) => i.type === "CurrentInterval");

    expect(current?.startTime).toBe("2025-06-02T02:30:01Z");
    expect(current?.nemTime).toBe("2025-06-02T13:00:00+10:00");
  });

  it("writes Amber timestamps", () => {
    const intervals = generateIntervals({
      now: NOW,
      intervalLength: 5,
      pattern: "calm",
    });

    for (const interval of intervals) {
      const end = Date.parse(interval.endTime);
      const nem = new Date(end + 10 * HOUR).toISOString().slice(0, 19);
      const nemDate = new Date(startMs(interval) + 10 * HOUR)
        .toISOString()
        .slice(0, 10);
      expect(interval.startTime).toMatch(/:01Z$/);
      expect(interval.endTime).toMatch(/:00Z$/);
      expect(interval.nemTime).toBe(`${nem}+10:00`);
      expect(interval.date).toBe(nemDate);
    }
  });

  it("dates a day's last interval to that day", () => {
    const now = Date.parse("2025-06-02T13:40:00Z");
    const general = groupByChannel(
      generateIntervals({ now, intervalLength: 30, pattern: "calm" }),
    ).general;
    const last = general.find((i) => i.nemTime === "2025-06-03T00:00:00+10:00");

    expect(last?.date).toBe("2025-06-02");
  });

  it("mixes 5 and 30 min on a 5-min site", () => {
    const general = groupByChannel(
      generateIntervals({ now: NOW, intervalLength: 5, pattern: "calm" }),
    ).general;
    const forecasts = general.filter((i) => i.type === "ForecastInterval");
    const firstLong = forecasts.findIndex((i) => i.duration === 30);
    const firstLongStart = startMs(forecasts[firstLong] as Interval);
    const durations = forecasts.map((i) => i.duration);

    expect(firstLong).toBeGreaterThan(0);
    expect(durations.slice(0, firstLong).every((d) => d === 5)).toBe(true);
    expect(durations.slice(firstLong).every((d) => d === 30)).toBe(true);
    expect(firstLongStart % (30 * MINUTE)).toBe(0);
    expect(
      firstLongStart - Date.parse("2025-06-02T02:10:00Z"),
    ).toBeGreaterThanOrEqual(HOUR);
  });

  it("uses only 30 min on a 30-min site", () => {
    const intervals = generateIntervals({
      now: NOW,
      intervalLength: 30,
      pattern: "calm",
    });

    expect(intervals.every((i) => i.duration === 30)).toBe(true);
  });

  it.each([
    [5, 1, 12],
    [30, 1, 2],
    [30, 3, 6],
  ] as const)(
    "%i-min site, %i h back gives %i actuals",
    (intervalLength, hoursBack, count) => {
      const general = groupByChannel(
        generateIntervals({
          now: NOW,
          intervalLength,
          pattern: "calm",
          hoursBack,
        }),
      ).general;

      expect(general.filter((i) => i.type === "ActualInterval")).toHaveLength(
        count,
      );
    },
  );

  it("gives advancedPrice to current and forecasts", () => {
    const intervals = generateIntervals({
      now: NOW,
      intervalLength: 5,
      pattern: "volatile",
    });

    for (const interval of intervals) {
      if (interval.type === "ActualInterval") {
        expect(interval).not.toHaveProperty("advancedPrice");
        continue;
      }
      const band = interval.advancedPrice;
      expect(band).toBeDefined();
      if (interval.channelType === "feedIn") {
        expect(band?.high ?? 0).toBeLessThanOrEqual(band?.predicted ?? 0);
        expect(band?.predicted ?? 0).toBeLessThanOrEqual(band?.low ?? 0);
      } else {
        expect(band?.low ?? 0).toBeLessThanOrEqual(band?.predicted ?? 0);
        expect(band?.predicted ?? 0).toBeLessThanOrEqual(band?.high ?? 0);
      }
    }
  });

  it("is deterministic per seed", () => {
    const options = {
      now: NOW,
      intervalLength: 5,
      pattern: "volatile",
    } as const;

    expect(generateIntervals(options)).toEqual(generateIntervals(options));
    expect(generateIntervals({ ...options, seed: 2 })).not.toEqual(
      generateIntervals(options),
    );
  });

  it("prices only the requested channels", () => {
    const intervals = generateIntervals({
      now: NOW,
      intervalLength: 30,
      pattern: "calm",
      channels: ["general", "controlledLoad"],
    });
    const groups = groupByChannel(intervals);

    expect(groups.feedIn).toEqual([]);
    expect(groups.controlledLoad.length).toBe(groups.general.length);
  });
});

describe("daily shape", () => {
  it("is about 20 c overnight", () => {
    const night = generalBetween(dayOf("calm"), 1, 5);
    expect(night).toHaveLength(8);
    const mean = night.reduce((sum, i) => sum + i.perKwh, 0) / night.length;

    expect(mean).toBeGreaterThan(15);
    expect(mean).toBeLessThan(25);
  });

  it("is cheap at solar noon", () => {
    const noon = generalBetween(dayOf("calm"), 11.5, 14);

    expect(noon).toHaveLength(5);
    expect(Math.max(...noon.map((i) => i.perKwh))).toBeLessThan(18);
  });

  it("peaks at 35-60 c in the evening", () => {
    const evening = generalBetween(dayOf("calm"), 17, 21);
    const peak = Math.max(...evening.map((i) => i.perKwh));
    expect(evening).toHaveLength(8);

    expect(peak).toBeGreaterThanOrEqual(35);
    expect(peak).toBeLessThanOrEqual(60);
  });

  it("pays for feed-in in the evening", () => {
    const feedIn = dayOf("calm").filter(
      (i) =>
        i.channelType === "feedIn" &&
        nemStartHour(i) >= 18 &&
        nemStartHour(i) < 20,
    );

    expect(feedIn.length).toBeGreaterThan(0);
    expect(feedIn.every((i) => i.perKwh < 0)).toBe(true);
  });

  it("goes negative at midday on negative-midday", () => {
    const day = dayOf("negative-midday");
    const general = generalBetween(day, 12, 13.5);
    const feedIn = day.filter(
      (i) =>
        i.channelType === "feedIn" &&
        nemStartHour(i) >= 12 &&
        nemStartHour(i) < 13.5,
    );

    expect(general).toHaveLength(3);
    expect(feedIn).toHaveLength(3);
    expect(general.every((i) => i.perKwh < 0)).toBe(true);
    expect(feedIn.every((i) => i.perKwh > 0)).toBe(true);
    expect(general.every((i) => i.descriptor === "extremelyLow")).toBe(true);
  });

  it("spikes above $10/kWh for an evening hour", () => {
    const day = dayOf("spike");
    const spikeHour = generalBetween(day, 18, 19);
    const before = generalBetween(day, 16, 18);

    expect(spikeHour).toHaveLength(2);
    expect(spikeHour.every((i) => i.perKwh >= 1000)).toBe(true);
    expect(spikeHour.every((i) => i.spikeStatus === "spike")).toBe(true);
    expect(spikeHour.every((i) => i.descriptor === "spike")).toBe(true);
    expect(before.every((i) => i.spikeStatus === "potential")).toBe(true);
    expect(
      generalBetween(day, 0, 16).every((i) => i.spikeStatus === "none"),
    ).toBe(true);
  });

  it("has no spikes on a calm day", () => {
    expect(dayOf("calm").every((i) => i.spikeStatus === "none")).toBe(true);
  });

  it("swings far more when volatile", () => {
    const meanStep = (intervals: Interval[]): number => {
      const prices = intervals
        .filter((i) => i.channelType === "general")
        .map((i) => i.perKwh);
      let total = 0;
      for (let i = 1; i < prices.length; i += 1) {
        total += Math.abs((prices[i] ?? 0) - (prices[i - 1] ?? 0));
      }
      return total / (prices.length - 1);
    };

    expect(meanStep(dayOf("volatile"))).toBeGreaterThan(
      3 * meanStep(dayOf("calm")),
    );
  });
});

describe("currentIntervals", () => {
  it("matches generateIntervals", () => {
    for (const intervalLength of [5, 30] as const) {
      const options = { intervalLength, pattern: "volatile" } as const;
      const fromList = generateIntervals({ now: NOW, ...options }).filter(
        (i) => i.type === "CurrentInterval",
      );

      expect(currentIntervals(NOW, options)).toEqual(fromList);
    }
  });

  it("returns one per channel", () => {
    const current = currentIntervals(NOW, {
      intervalLength: 5,
      pattern: "calm",
    });

    expect(current.map((i) => i.channelType)).toEqual(["general", "feedIn"]);
    expect(current.every((i) => i.type === "CurrentInterval")).toBe(true);
  });

  it("drifts within a half hour", () => {
    const halfHour = Date.parse("2025-06-02T02:00:00Z");
    const prices = [0, 5, 10, 15, 20, 25].map(
      (minute) =>
        currentIntervals(halfHour + minute * MINUTE + 10_000, {
          intervalLength: 30,
          pattern: "calm",
        })[0]?.perKwh,
    );

    expect(new Set(prices).size).toBeGreaterThan(1);
  });

  it("settles on the actual price", () => {
    const halfHour = Date.parse("2025-06-02T02:00:00Z");
    const options = { intervalLength: 30, pattern: "calm" } as const;
    const last = currentIntervals(halfHour + 26 * MINUTE, options)[0];
    const actual = intervalsBetween({
      ...options,
      now: halfHour + 40 * MINUTE,
      startMs: halfHour,
      endMs: halfHour + 1,
    })[0];

    expect(last?.estimate).toBe(false);
    expect(actual?.type).toBe("ActualInterval");
    expect(last?.perKwh).toBe(actual?.perKwh);
  });

  it.each([
    [5, 10_000, true],
    [5, 60_000, false],
    [30, 10 * MINUTE, true],
    [30, 26 * MINUTE, false],
  ] as const)(
    "%i-min site at +%i ms: estimate %s",
    (intervalLength, offset, estimate) => {
      const halfHour = Date.parse("2025-06-02T02:00:00Z");
      const current = currentIntervals(halfHour + offset, {
        intervalLength,
        pattern: "calm",
      });

      expect(current[0]?.estimate).toBe(estimate);
    },
  );
});

describe("intervalsBetween", () => {
  it("keeps only intervals starting in range", () => {
    const startMs = Date.parse("2025-06-01T14:00:00Z");
    const intervals = intervalsBetween({
      now: NOW,
      intervalLength: 30,
      pattern: "calm",
      startMs,
      endMs: startMs + 24 * HOUR,
    });
    const general = groupByChannel(intervals).general;

    expect(general).toHaveLength(48);
    expect(general[0]?.startTime).toBe("2025-06-01T14:00:01Z");
    expect(general.every((i) => i.date === "2025-06-02")).toBe(true);
  });
});
