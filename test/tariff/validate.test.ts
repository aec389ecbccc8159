import { describe, expect, it } from "vitest";

import { TariffInvalidError } from "../../src/errors.js";
import type { TariffContentV2 } from "../../src/tariff/schema.js";
import {
  assertValidTariff,
  validateTariff,
} from "../../src/tariff/validate.js";
import { recordedTariff, twoRateTariff } from "./helpers.js";

type Period =
  TariffContentV2["seasons"][string]["tou_periods"][string]["periods"][number];

function year(tariff: TariffContentV2) {
  const season = tariff.seasons["Year"];
  if (season === undefined) throw new Error("fixture has no Year season");
  return season;
}

function periodOf(tariff: TariffContentV2, label: string, index = 0): Period {
  const period = year(tariff).tou_periods[label]?.periods[index];
  if (period === undefined) throw new Error(`no period ${label}[${index}]`);
  return period;
}

function buyRates(tariff: TariffContentV2): Record<string, number> {
  const rates = tariff.energy_charges["Year"]?.rates;
  if (rates === undefined) throw new Error("fixture has no Year rates");
  return rates;
}

function problemsOf(
  tariff: unknown,
  mode: "strict" | "lenient" = "strict",
): string[] {
  const result = validateTariff(tariff, mode);
  return result.ok ? [] : result.problems;
}

describe("validateTariff", () => {
  it("accepts the two-rate tariff in both modes", () => {
    expect(problemsOf(twoRateTariff(), "strict")).toEqual([]);
    expect(problemsOf(twoRateTariff(), "lenient")).toEqual([]);
  });

  it("accepts the recorded tariff in lenient mode", () => {
    const result = validateTariff(recordedTariff(), "lenient");
    expect(result.ok).toBe(true);
  });

  it("rejects the recorded tariff in strict mode", () => {
    const problems = problemsOf(recordedTariff(), "strict");
    expect(problems).toContain(
      "currency: is missing; tariffs this engine writes must set every field explicitly",
    );
    expect(problems).toContain(
      "seasons.Summer.tou_periods.PEAK.periods[0].fromMinute: is missing; tariffs this engine writes must set every field explicitly",
    );
  });

  it("accepts an empty shell season", () => {
    const tariff = twoRateTariff();
    tariff.seasons["Winter"] = {
      fromMonth: 0,
      fromDay: 0,
      toMonth: 0,
      toDay: 0,
      tou_periods: {},
    };
    tariff.energy_charges["Winter"] = { rates: {} };
    expect(problemsOf(tariff)).toEqual([]);
  });

  it("accepts seasons that wrap the year end", () => {
    const tariff = twoRateTariff();
    const summer = {
      ...structuredClone(year(tariff)),
      fromMonth: 10,
      toMonth: 3,
      toDay: 31,
    };
    const winter = {
      ...structuredClone(year(tariff)),
      fromMonth: 4,
      toMonth: 9,
      toDay: 30,
    };
    tariff.seasons = { Summer: summer, Winter: winter };
    const rates = buyRates(tariff);
    tariff.energy_charges = {
      ALL: { rates: { ALL: 0 } },
      Summer: { rates: { ...rates } },
      Winter: { rates: { ...rates } },
    };
    tariff.demand_charges = { ALL: { rates: { ALL: 0 } } };
    expect(problemsOf(tariff)).toEqual([]);
  });

  it("accepts a lenient period ending at 24:00", () => {
    const tariff = twoRateTariff();
    Object.assign(periodOf(tariff, "OFF_PEAK", 1), { toHour: 24, toMinute: 0 });
    expect(problemsOf(tariff, "lenient")).toEqual([]);
    expect(problemsOf(tariff, "strict")).toContain(
      'buy season "Year" label "OFF_PEAK" period 1: toHour 24 is out of range; use 0 to 23 (0:00 means midnight)',
    );
  });

  it("accepts a lenient whole-day period 0:00 to 0:00", () => {
    const tariff = twoRateTariff();
    year(tariff).tou_periods = {
      ALL_DAY: {
        periods: [
          {
            fromDayOfWeek: 0,
            toDayOfWeek: 6,
            fromHour: 0,
            fromMinute: 0,
            toHour: 0,
            toMinute: 0,
          },
        ],
      },
    };
    tariff.energy_charges["Year"] = { rates: { ALL_DAY: 0.3 } };
    tariff.sell_tariff = {
      ...tariff.sell_tariff,
      seasons: structuredClone(tariff.seasons),
    };
    tariff.sell_tariff.energy_charges["Year"] = { rates: { ALL_DAY: 0.05 } };
    expect(problemsOf(tariff, "strict")).toEqual([]);
  });

  const broken: Array<
    [string, (tariff: TariffContentV2) => void, string, ("strict" | "lenient")?]
  > = [
    [
      "overlap",
      (t) =>
        Object.assign(periodOf(t, "OFF_PEAK"), { toHour: 17, toMinute: 30 }),
      'buy season "Year", Monday-Sunday 17:00-17:30: covered by more than one period (OFF_PEAK, ON_PEAK); periods must not overlap',
    ],
    [
      "gap",
      (t) => Object.assign(periodOf(t, "OFF_PEAK"), { toHour: 16 }),
      'buy season "Year", Monday-Sunday 16:00-17:00: not covered by any period; every minute of each day needs exactly one period',
    ],
    [
      "weekend gap",
      (t) => Object.assign(periodOf(t, "ON_PEAK"), { toDayOfWeek: 4 }),
      'buy season "Year", Saturday-Sunday 17:00-21:00: not covered by any period; every minute of each day needs exactly one period',
    ],
    [
      "missing rate",
      (t) => delete buyRates(t)["ON_PEAK"],
      'buy season "Year" label "ON_PEAK": has periods but no rate; add energy_charges.Year.rates.ON_PEAK',
    ],
    [
      "rate without periods",
      (t) => (buyRates(t)["SHOULDER"] = 0.3),
      'buy season "Year" label "SHOULDER": has a rate in energy_charges but no periods; remove the rate or add periods for it',
    ],
    [
      "negative rate",
      (t) => (buyRates(t)["ON_PEAK"] = -0.05),
      "buy energy_charges.Year.rates.ON_PEAK is -0.05 $/kWh; rates must not be negative (Tesla rounds them to 0)",
    ],
    [
      "NaN rate",
      (t) => (buyRates(t)["ON_PEAK"] = Number.NaN),
      "energy_charges.Year.rates.ON_PEAK is NaN; use a finite number",
    ],
    [
      "infinite rate",
      (t) => (buyRates(t)["ON_PEAK"] = Number.POSITIVE_INFINITY),
      "energy_charges.Year.rates.ON_PEAK is Infinity; use a finite number",
    ],
    [
      "season gap",
      (t) => Object.assign(year(t), { toMonth: 11, toDay: 30 }),
      "buy seasons: 12/1-12/31 is not covered by any season; seasons must cover every day of the year exactly once",
    ],
    [
      "season overlap",
      (t) => {
        t.seasons["Winter"] = {
          ...structuredClone(year(t)),
          fromMonth: 6,
          toMonth: 8,
          toDay: 31,
        };
        t.energy_charges["Winter"] = { rates: { ...buyRates(t) } };
      },
      'buy seasons: 6/1-8/31 is covered by more than one season ("Year", "Winter"); seasons must not overlap',
    ],
    [
      "season day out of range",
      (t) => Object.assign(year(t), { toMonth: 4, toDay: 31 }),
      'buy season "Year": toDay 31 is out of range for month 4; use a day from 1 to 30',
    ],
    [
      "season month out of range",
      (t) => Object.assign(year(t), { fromMonth: 13 }),
      'buy season "Year": fromMonth 13 is out of range; use a month from 1 to 12',
    ],
    [
      "hour out of range",
      (t) => Object.assign(periodOf(t, "ON_PEAK"), { fromHour: 25 }),
      'buy season "Year" label "ON_PEAK" period 0: fromHour 25 is out of range; use 0 to 23',
    ],
    [
      "minute out of range",
      (t) => Object.assign(periodOf(t, "ON_PEAK"), { toMinute: 60 }),
      'buy season "Year" label "ON_PEAK" period 0: toMinute 60 is out of range; use 0 to 59',
    ],
    [
      "weekday out of range",
      (t) => Object.assign(periodOf(t, "ON_PEAK"), { toDayOfWeek: 7 }),
      'buy season "Year" label "ON_PEAK" period 0: toDayOfWeek 7 is out of range; use 0 to 6',
    ],
    [
      "weekdays reversed",
      (t) =>
        Object.assign(periodOf(t, "ON_PEAK"), {
          fromDayOfWeek: 5,
          toDayOfWeek: 1,
        }),
      'buy season "Year" label "ON_PEAK" period 0: fromDayOfWeek 5 is after toDayOfWeek 1; split the weekday run into ranges that do not wrap past Sunday (6)',
    ],
    [
      "strict wrap past midnight",
      (t) => {
        Object.assign(periodOf(t, "OFF_PEAK", 1), { toHour: 17 });
        year(t).tou_periods["OFF_PEAK"]?.periods.splice(0, 1);
      },
      'buy season "Year" label "OFF_PEAK" period 0: runs past midnight (21:00 to 17:00); split it at midnight, ending the first part at toHour 0, toMinute 0',
    ],
    [
      "non-zero ALL rate",
      (t) => {
        const all = t.energy_charges["ALL"];
        if (all !== undefined) all.rates["ALL"] = 0.1;
      },
      "buy energy_charges.ALL.rates.ALL is 0.1 $/kWh; keep ALL rates at 0 because Tesla does not document whether they add to the period rates",
    ],
    [
      "sell side gap",
      (t) =>
        Object.assign(
          t.sell_tariff.seasons["Year"]?.tou_periods["ON_PEAK"]?.periods[0] ??
            {},
          { toHour: 20 },
        ),
      'sell season "Year", Monday-Sunday 20:00-21:00: not covered by any period; every minute of each day needs exactly one period',
    ],
    [
      "no seasons",
      (t) => (t.seasons = {}),
      "buy: no season has periods; add a season covering 1/1 to 12/31 with periods for every day",
    ],
    [
      "season without periods",
      (t) => (year(t).tou_periods = {}),
      'buy season "Year": has dates but no tou_periods, so none of its days is covered; add periods or make it an empty shell (all month and day fields 0)',
    ],
    [
      "rates for an unknown season",
      (t) => (t.energy_charges["Autumn"] = { rates: {} }),
      'buy energy_charges.Autumn: season "Autumn" is not in seasons; remove the entry or add the season',
    ],
    [
      "negative daily charge",
      (t) => (t.daily_charges = [{ name: "Charge", amount: -1 }]),
      "buy daily_charges[0].amount is -1; use a finite amount of at least 0",
    ],
    [
      "lenient missing rate",
      (t) => delete buyRates(t)["ON_PEAK"],
      'buy season "Year" label "ON_PEAK": has periods but no rate; add energy_charges.Year.rates.ON_PEAK',
      "lenient",
    ],
  ];

  it.each(broken)("reports %s", (_name, breakIt, expected, mode = "strict") => {
    const tariff = twoRateTariff();
    breakIt(tariff);
    expect(problemsOf(tariff, mode)).toContain(expected);
  });

  it("lists every problem at once", () => {
    const tariff = twoRateTariff();
    buyRates(tariff)["ON_PEAK"] = -1;
    Object.assign(periodOf(tariff, "OFF_PEAK"), { toHour: 16 });
    expect(problemsOf(tariff)).toHaveLength(2);
  });

  it("allows a period past midnight in lenient mode", () => {
    const tariff = twoRateTariff();
    Object.assign(periodOf(tariff, "OFF_PEAK", 1), { toHour: 17 });
    year(tariff).tou_periods["OFF_PEAK"]?.periods.splice(0, 1);
    expect(problemsOf(tariff, "lenient")).toEqual([]);
  });

  it("rejects non-objects", () => {
    expect(problemsOf("tariff")).toEqual(['tariff is "tariff"; use an object']);
  });
});

describe("assertValidTariff", () => {
  it("returns the parsed tariff", () => {
    const parsed = assertValidTariff(recordedTariff(), "lenient");
    expect(parsed.seasons["Winter"]?.fromMonth).toBe(10);
  });

  it("throws TariffInvalidError with problems", () => {
    const tariff = twoRateTariff();
    buyRates(tariff)["ON_PEAK"] = -1;
    expect(() => assertValidTariff(tariff, "strict")).toThrow(
      TariffInvalidError,
    );
    try {
      assertValidTariff(tariff, "strict");
    } catch (error) {
      expect((error as TariffInvalidError).problems).toHaveLength(1);
      expect((error as TariffInvalidError).message).toContain(
        "ON_PEAK is -1 $/kWh",
      );
    }
  });
});
