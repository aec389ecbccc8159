/**
 * Attempts to fool the comparison: the same prices under other labels,
 * seasons, period layouts and float noise must not count as a change, and a
 * tariff read back with its zero fields left out must equal the one sent.
 */
import { describe, expect, it } from "vitest";

import { assembleTariff } from "../../src/tariff/assemble.js";
import { compareTariffs, tariffsEquivalent } from "../../src/tariff/compare.js";
import type {
  TariffContentV2,
  TariffContentV2Lenient,
} from "../../src/tariff/schema.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { periodLabel } from "../../src/tariff/wall-clock.js";

type Period =
  TariffContentV2["seasons"][string]["tou_periods"][string]["periods"][number];

/** Buy price of half hour `i` (0 = 00:00): two daily levels and an evening peak, $/kWh. */
function buyAt(i: number): number {
  if (i >= 34 && i < 42) return 0.4512;
  return i < 14 ? 0.1833 : 0.2461;
}

/** Sell price of half hour `i`, $/kWh. */
function sellAt(i: number): number {
  return i >= 34 && i < 42 ? 0.1507 : 0.0512;
}

/** Builds the 48-slot tariff of `buyAt` and `sellAt`, as the builder would. */
function rolling(noise: (i: number) => number = () => 0): TariffContentV2 {
  const slots = Array.from({ length: 48 }, (_, i) => ({
    label: periodLabel(i * 30),
    buy: buyAt(i) + noise(i),
    sell: sellAt(i) + noise(i),
  }));
  return assembleTariff(slots, { name: "Test", code: "TEST" });
}

function window(fromMinute: number, toMinute: number, days = [0, 6]): Period {
  return {
    fromDayOfWeek: days[0] ?? 0,
    toDayOfWeek: days[1] ?? 6,
    fromHour: Math.floor(fromMinute / 60),
    fromMinute: fromMinute % 60,
    toHour: Math.floor((toMinute % 1440) / 60),
    toMinute: toMinute % 60,
  };
}

/**
 * Builds the same prices as `rolling()` with three labels over merged periods, in
 * a season named `season`. With `split`, every period is cut into quarter
 * hours and into weekday and weekend runs.
 */
function merged(options: {
  season?: string;
  labels?: [string, string, string];
  split?: boolean;
}): TariffContentV2 {
  const season = options.season ?? "Year";
  const [night, day, peak] = options.labels ?? ["NIGHT", "DAY", "PEAK"];
  const ranges: Array<[string, number, number]> = [
    [night, 0, 420],
    [day, 420, 1020],
    [peak, 1020, 1260],
    [day, 1260, 1440],
  ];
  const periods: Record<string, { periods: Period[] }> = {};
  for (const [label, from, to] of ranges) {
    const list = (periods[label] ??= { periods: [] }).periods;
    if (options.split === true) {
      for (let start = from; start < to; start += 15) {
        list.push(window(start, start + 15, [0, 4]));
        list.push(window(start, start + 15, [5, 6]));
      }
    } else {
      list.push(window(from, to));
    }
  }
  const side = (rates: Record<string, number>) => ({
    name: "Merged",
    utility: "Test",
    code: "TEST:MERGED",
    currency: "AUD",
    daily_charges: [{ name: "Charge", amount: 0 }],
    demand_charges: { ALL: { rates: { ALL: 0 } } },
    energy_charges: { ALL: { rates: { ALL: 0 } }, [season]: { rates } },
    seasons: {
      [season]: {
        fromMonth: 1,
        fromDay: 1,
        toMonth: 12,
        toDay: 31,
        tou_periods: structuredClone(periods),
      },
    },
  });
  const tariff = {
    version: 1,
    ...side({ [night]: 0.1833, [day]: 0.2461, [peak]: 0.4512 }),
    sell_tariff: side({ [night]: 0.0512, [day]: 0.0512, [peak]: 0.1507 }),
  };
  const check = validateTariff(tariff, "strict");
  if (!check.ok) throw new Error(check.problems.join("\n"));
  return check.tariff;
}

/** `tariff` with the labels of both sides renamed by `rename`. */
function relabelled(
  tariff: TariffContentV2,
  rename: (label: string) => string,
): TariffContentV2 {
  const copy = structuredClone(tariff);
  for (const side of [copy, copy.sell_tariff]) {
    for (const season of Object.values(side.seasons)) {
      season.tou_periods = Object.fromEntries(
        Object.entries(season.tou_periods).map(([label, entry]) => [
          rename(label),
          entry,
        ]),
      );
    }
    for (const entry of Object.values(side.energy_charges)) {
      entry.rates = Object.fromEntries(
        Object.entries(entry.rates).map(([label, value]) => [
          label === "ALL" ? label : rename(label),
          value,
        ]),
      );
    }
  }
  return copy;
}

/** Deletes every key whose value is 0, recursively, as a protobuf-backed read-back might. */
function dropZeros(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropZeros);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== 0)
    .map(([key, item]) => [key, dropZeros(item)]);
  return Object.fromEntries(entries);
}

/** `tariff` as a Powerwall may return it: zero scalars dropped (map values kept), metadata and empty shells gone. */
function readBack(tariff: TariffContentV2): TariffContentV2Lenient {
  const raw = structuredClone(tariff) as unknown as Record<string, unknown>;
  for (const side of [raw, raw["sell_tariff"] as Record<string, unknown>]) {
    const seasons = side["seasons"] as Record<string, Record<string, unknown>>;
    for (const [name, season] of Object.entries(seasons)) {
      const touPeriods = season["tou_periods"] as Record<
        string,
        { periods: unknown[] }
      >;
      for (const entry of Object.values(touPeriods)) {
        entry.periods = entry.periods.map(dropZeros);
      }
      seasons[name] = {
        ...(dropZeros({ ...season, tou_periods: undefined }) as object),
        tou_periods: touPeriods,
      };
      if (Object.keys(touPeriods).length === 0) {
        seasons[name] = {};
      }
    }
    side["daily_charges"] = dropZeros(side["daily_charges"]);
    delete side["demand_charges"];
    delete side["currency"];
    delete side["code"];
  }
  delete raw["version"];
  const result = validateTariff(raw, "lenient");
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.tariff;
}

/** `tariff` with every rate rounded to a 32-bit float, in case the Powerwall stores them so. */
function float32(tariff: TariffContentV2): TariffContentV2 {
  const copy = structuredClone(tariff);
  for (const side of [copy, copy.sell_tariff]) {
    for (const entry of Object.values(side.energy_charges)) {
      for (const label of Object.keys(entry.rates)) {
        entry.rates[label] = Math.fround(entry.rates[label] ?? 0);
      }
    }
  }
  return copy;
}

describe("comparison is not fooled", () => {
  const cases: Array<[string, () => TariffContentV2Lenient]> = [
    ["relabelled slots", () => relabelled(rolling(), (l) => `X${l.slice(7)}`)],
    [
      "labels swapped in order",
      () =>
        relabelled(rolling(), (l) =>
          periodLabel(
            (47 - (Number(l.slice(7, 9)) * 2 + Number(l.slice(10)) / 30)) * 30,
          ),
        ),
    ],
    ["three merged labels", () => merged({})],
    ["the season renamed", () => merged({ season: "Winter" })],
    [
      "labels Tesla's app shows",
      () => merged({ labels: ["OFF_PEAK", "PARTIAL_PEAK", "ON_PEAK"] }),
    ],
    ["quarter-hour weekday periods", () => merged({ split: true })],
    ["float noise", () => rolling((i) => (i % 2 === 0 ? 1e-9 : -1e-9))],
    ["noise below the rounding step", () => rolling(() => 0.00004)],
    ["a read-back copy", () => readBack(rolling())],
    ["rates stored as 32-bit floats", () => float32(rolling())],
    ["a read-back of merged labels", () => readBack(merged({ split: true }))],
  ];

  it.each(cases)("finds no change in %s", (_name, other) => {
    const result = compareTariffs(rolling(), other());
    expect(result.material).toBe(false);
    expect(result.changedSlots).toEqual([]);
    expect(result.reason).toBe("no price changed");
    expect(tariffsEquivalent(rolling(), other())).toBe(true);
    expect(tariffsEquivalent(other(), rolling())).toBe(true);
  });

  it("finds one changed half hour among merged labels", () => {
    const after = rolling();
    const rates = after.energy_charges["Summer"]?.rates;
    if (rates === undefined) throw new Error("fixture");
    rates["PERIOD_18_00"] = 0.4612;
    const result = compareTariffs(merged({ split: true }), after);
    expect(result.material).toBe(true);
    expect(result.changedSlots).toHaveLength(1);
    expect(result.changedSlots[0]).toMatchObject({
      days: "Monday-Sunday",
      time: "18:00-18:30",
      buyBefore: 0.4512,
      buyAfter: 0.4612,
    });
  });

  it.each([
    ["just below", 0.0049, false],
    ["at, with float error", 0.2461 + 0.005 - 0.2461, true],
    ["above", 0.0051, true],
  ])("judges a move %s the threshold", (_name, delta, material) => {
    const after = rolling((i) => (i === 20 ? delta : 0));
    expect(compareTariffs(merged({}), after).material).toBe(material);
    expect(compareTariffs(readBack(rolling()), after).material).toBe(material);
  });

  it("keeps zero rates in a read-back", () => {
    // A clamped slot is priced 0; the read-back must still price it.
    const zero = rolling();
    const rates = zero.energy_charges["Summer"]?.rates;
    if (rates === undefined) throw new Error("fixture");
    rates["PERIOD_01_30"] = 0;
    const back = readBack(zero);
    expect(back.energy_charges["Summer"]?.rates["PERIOD_01_30"]).toBe(0);
    expect(tariffsEquivalent(zero, back)).toBe(true);
  });
});
