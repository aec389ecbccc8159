import { describe, expect, it } from "vitest";

import { ConfigError } from "../../src/errors.js";
import { assembleTariff } from "../../src/tariff/assemble.js";
import { compareTariffs, tariffsEquivalent } from "../../src/tariff/compare.js";
import {
  lenientTariffSchema,
  type TariffContentV2,
} from "../../src/tariff/schema.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { periodLabel } from "../../src/tariff/wall-clock.js";
import { at, recordedTariff, twoRateTariff } from "./helpers.js";

/** Builds a 48-slot tariff with buy 0.20 + i/1000 and sell 0.05 in slot i, then `changes`. */
function rolling(
  changes: Record<string, { buy?: number; sell?: number }> = {},
): TariffContentV2 {
  const slots = Array.from({ length: 48 }, (_, i) => {
    const label = periodLabel(i * 30);
    return {
      label,
      buy: Math.round((0.2 + i / 1000) * 10_000) / 10_000,
      sell: 0.05,
      ...changes[label],
    };
  });
  const tariff = assembleTariff(slots, { name: "Test", code: "TEST" });
  const check = validateTariff(tariff, "strict");
  if (!check.ok) throw new Error(check.problems.join("\n"));
  return tariff;
}

/** Rewrites `tariff` as a Powerwall returns it: zero time fields left out, labels renamed. */
function readBack(tariff: TariffContentV2) {
  const strip = (side: Record<string, unknown>) => {
    const seasons = side["seasons"] as Record<
      string,
      {
        tou_periods: Record<string, { periods: Array<Record<string, number>> }>;
      }
    >;
    for (const season of Object.values(seasons)) {
      const renamed: typeof season.tou_periods = {};
      for (const [label, entry] of Object.entries(season.tou_periods)) {
        renamed[`P${label.slice(7)}`] = {
          periods: entry.periods.map((period) =>
            Object.fromEntries(
              Object.entries(period).filter(([, value]) => value !== 0),
            ),
          ),
        };
      }
      season.tou_periods = renamed;
    }
    const charges = side["energy_charges"] as Record<
      string,
      { rates: Record<string, number> }
    >;
    for (const entry of Object.values(charges)) {
      entry.rates = Object.fromEntries(
        Object.entries(entry.rates).map(([label, rate]) => [
          label === "ALL" ? label : `P${label.slice(7)}`,
          rate,
        ]),
      );
    }
    delete side["currency"];
    delete side["code"];
  };
  const copy = structuredClone(tariff) as unknown as Record<string, unknown>;
  strip(copy);
  strip(copy["sell_tariff"] as Record<string, unknown>);
  const result = validateTariff(copy, "lenient");
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.tariff;
}

describe("compareTariffs", () => {
  it("finds nothing between equal tariffs", () => {
    const result = compareTariffs(rolling(), rolling());
    expect(result.material).toBe(false);
    expect(result.reason).toBe("no price changed");
    expect(result.changedSlots).toEqual([]);
    expect(result.maxBuyDelta).toBe(0);
    expect(result.maxSellDelta).toBe(0);
  });

  it("treats a missing previous tariff as material", () => {
    const result = compareTariffs(undefined, rolling());
    expect(result.material).toBe(true);
    expect(result.reason).toBe("no previous tariff to compare with");
    expect(result.changedSlots).toHaveLength(48);
    expect(result.changedSlots[0]?.buyBefore).toBeUndefined();
  });

  it.each([
    ["above", 0.006, true],
    ["at", 0.005, true],
    ["below", 0.004, false],
  ])("decides a buy move %s the threshold", (_name, delta, material) => {
    const after = rolling({ PERIOD_14_00: { buy: 0.228 + delta } });
    const result = compareTariffs(rolling(), after);
    expect(result.material).toBe(material);
    expect(result.maxBuyDelta).toBeCloseTo(delta, 6);
    expect(result.changedSlots).toHaveLength(1);
    expect(result.changedSlots[0]).toMatchObject({
      season: "Summer",
      dates: "1/1-12/31",
      days: "Monday-Sunday",
      daysOfWeek: [0, 1, 2, 3, 4, 5, 6],
      time: "14:00-14:30",
      label: "PERIOD_14_00",
      buyBefore: 0.228,
      sellBefore: 0.05,
      sellAfter: 0.05,
      current: false,
    });
  });

  it("names the deciding change", () => {
    const after = rolling({ PERIOD_18_30: { sell: 0.09 } });
    const result = compareTariffs(rolling(), after);
    expect(result.reason).toBe(
      'sell price at Monday-Sunday 18:30-19:00, season "Summer" moved 4.00 c/kWh (0.0500 to 0.0900 $/kWh), at or above the 0.50 c/kWh threshold',
    );
    expect(result.maxSellDelta).toBeCloseTo(0.04, 6);
  });

  it("names the largest change below threshold", () => {
    const after = rolling({
      PERIOD_01_00: { buy: 0.2035 },
      PERIOD_02_00: { sell: 0.052 },
    });
    const result = compareTariffs(rolling(), after);
    expect(result.material).toBe(false);
    expect(result.reason).toBe(
      'largest change 0.20 c/kWh (sell at Monday-Sunday 02:00-02:30, season "Summer") is below the 0.50 c/kWh threshold',
    );
  });

  it("honours minChange", () => {
    const after = rolling({ PERIOD_03_00: { buy: 0.206 + 0.02 } });
    expect(compareTariffs(rolling(), after, { minChange: 0.03 }).material).toBe(
      false,
    );
    expect(compareTariffs(rolling(), after, { minChange: 0.01 }).material).toBe(
      true,
    );
  });

  it("applies the current-slot threshold", () => {
    const options = {
      minChange: 0.005,
      currentSlotMinChange: 0.002,
      now: at("2026-03-10T14:10"),
      timeZone: "Australia/Sydney",
    };
    const inCurrent = rolling({ PERIOD_14_00: { buy: 0.231 } });
    const elsewhere = rolling({ PERIOD_15_00: { buy: 0.233 } });

    const current = compareTariffs(rolling(), inCurrent, options);
    expect(current.material).toBe(true);
    expect(current.reason).toContain("for the current half hour");
    expect(current.changedSlots.some((slot) => slot.current)).toBe(true);

    expect(compareTariffs(rolling(), elsewhere, options).material).toBe(false);
  });

  it("rejects an invalid time zone", () => {
    const run = () =>
      compareTariffs(rolling(), rolling(), { now: 0, timeZone: "+10:00" });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow('Time zone "+10:00" is not a valid IANA zone name');
  });

  it("flags prices that disappear", () => {
    const after = rolling();
    const period = after.seasons["Summer"]?.tou_periods["PERIOD_10_00"];
    if (period === undefined) throw new Error("fixture");
    period.periods[0] = {
      ...period.periods[0],
      toDayOfWeek: 4,
    } as (typeof period.periods)[0];
    const result = compareTariffs(rolling(), after);
    expect(result.material).toBe(true);
    expect(result.reason).toBe(
      'buy price at Saturday-Sunday 10:00-10:30, season "Summer" is no longer set',
    );
  });

  it("compares against a read-back tariff", () => {
    const built = rolling();
    const result = compareTariffs(readBack(built), built);
    expect(result.material).toBe(false);
    expect(result.changedSlots).toEqual([]);
  });

  it("compares across season layouts", () => {
    const before = lenientTariffSchema.parse(recordedTariff());
    const result = compareTariffs(before, twoRateTariff());
    expect(result.material).toBe(true);
    const winterPeak = result.changedSlots.find(
      (slot) =>
        slot.dates === "1/1-3/31, 10/1-12/31" && slot.time === "17:00-20:00",
    );
    expect(winterPeak).toMatchObject({
      days: "Monday-Sunday",
      buyBefore: 0.25,
      buyAfter: 0.441,
      sellBefore: 0.12,
      sellAfter: 0.15,
    });
  });
});

describe("tariffsEquivalent", () => {
  it("accepts a read-back copy", () => {
    const built = rolling();
    expect(tariffsEquivalent(built, readBack(built))).toBe(true);
  });

  it("accepts differences within 0.00005", () => {
    const after = rolling({ PERIOD_05_00: { buy: 0.21 + 0.00004 } });
    expect(tariffsEquivalent(rolling(), after)).toBe(true);
  });

  it("rejects a price difference", () => {
    const after = rolling({ PERIOD_05_00: { buy: 0.2101 } });
    expect(tariffsEquivalent(rolling(), after)).toBe(false);
  });

  it("rejects a missing sell side", () => {
    const built = rolling();
    const raw = structuredClone(built) as unknown as Record<string, unknown>;
    delete raw["sell_tariff"];
    expect(tariffsEquivalent(built, lenientTariffSchema.parse(raw))).toBe(
      false,
    );
  });

  it("ignores labels and season names", () => {
    const tariff = twoRateTariff();
    const renamed = structuredClone(tariff);
    for (const side of [renamed, renamed.sell_tariff]) {
      const year = side.seasons["Year"];
      const rates = side.energy_charges["Year"];
      if (year === undefined || rates === undefined) throw new Error("fixture");
      side.seasons = { Summer: year };
      side.energy_charges = { ALL: { rates: { ALL: 0 } }, Summer: rates };
      side.demand_charges = { ALL: { rates: { ALL: 0 } } };
    }
    expect(tariffsEquivalent(tariff, renamed)).toBe(true);
  });
});
