/**
 * Tariffs built to slip past the validator, and tariffs it must accept.
 * Every problem it reports must name the place and the change to make.
 */
import { describe, expect, it } from "vitest";

import { compareTariffs, tariffsEquivalent } from "../../src/tariff/compare.js";
import {
  lenientTariffSchema,
  type TariffContentV2,
} from "../../src/tariff/schema.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { recordedTariff, twoRateTariff } from "./helpers.js";

type Mode = "strict" | "lenient";
type Side = TariffContentV2 | TariffContentV2["sell_tariff"];

function problemsOf(tariff: unknown, mode: Mode = "strict"): string[] {
  const result = validateTariff(tariff, mode);
  return result.ok ? [] : result.problems;
}

/** Returns the tariff after a round trip through JSON, as an upload sends it. */
function viaJson(tariff: unknown): unknown {
  return JSON.parse(JSON.stringify(tariff));
}

function sides(tariff: TariffContentV2): Side[] {
  return [tariff, tariff.sell_tariff];
}

function year(side: Side) {
  const season = side.seasons["Year"];
  if (season === undefined) throw new Error("fixture has no Year season");
  return season;
}

function yearRates(side: Side): Record<string, number> {
  const rates = side.energy_charges["Year"]?.rates;
  if (rates === undefined) throw new Error("fixture has no Year rates");
  return rates;
}

/** Renames the label ON_PEAK to `label` on both sides, keeping its rate unless `keepRate` is false. */
function relabel(label: string, keepRate = true): TariffContentV2 {
  const tariff = twoRateTariff();
  for (const side of sides(tariff)) {
    const periods = year(side).tou_periods;
    const rates = yearRates(side);
    const onPeak = periods["ON_PEAK"];
    const rate = rates["ON_PEAK"];
    if (onPeak === undefined || rate === undefined) throw new Error("fixture");
    delete periods["ON_PEAK"];
    delete rates["ON_PEAK"];
    Object.defineProperty(periods, label, {
      value: onPeak,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    if (keepRate) {
      Object.defineProperty(rates, label, {
        value: rate,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
  }
  return tariff;
}

// Names that every plain JavaScript object inherits.
const INHERITED = ["constructor", "toString", "valueOf", "hasOwnProperty"];

describe("labels named like object members", () => {
  it.each(INHERITED)("accepts a priced label %s", (label) => {
    expect(problemsOf(viaJson(relabel(label)))).toEqual([]);
  });

  it.each(
    INHERITED.flatMap(
      (label) =>
        [
          [label, "strict"],
          [label, "lenient"],
        ] as const,
    ),
  )("rejects %s without a rate (%s)", (label, mode) => {
    const problems = problemsOf(viaJson(relabel(label, false)), mode);
    expect(problems).toContain(
      `buy season "Year" label "${label}": has periods but no rate; add energy_charges.Year.rates.${label}`,
    );
  });

  it.each(INHERITED)("rejects a rate %s without periods", (label) => {
    const tariff = twoRateTariff();
    Object.defineProperty(yearRates(tariff), label, {
      value: 0.3,
      enumerable: true,
    });
    expect(problemsOf(viaJson(tariff))).toContain(
      `buy season "Year" label "${label}": has a rate in energy_charges but no periods; remove the rate or add periods for it`,
    );
  });

  it.each(INHERITED)("rejects charges for season %s", (season) => {
    const tariff = twoRateTariff();
    Object.defineProperty(tariff.energy_charges, season, {
      value: { rates: {} },
      enumerable: true,
    });
    expect(problemsOf(viaJson(tariff))).toContain(
      `buy energy_charges.${season}: season "${season}" is not in seasons; remove the entry or add the season`,
    );
  });

  it.each(INHERITED)("compares an unpriced %s as unset", (label) => {
    // Parsed without validation, as a read-back the caller did not check.
    const tariff = lenientTariffSchema.parse(viaJson(relabel(label, false)));
    const result = compareTariffs(twoRateTariff(), tariff);
    expect(result.material).toBe(true);
    expect(result.reason).toBe(
      `buy price at Monday-Sunday 17:00-21:00, season "Year" is no longer set`,
    );
    expect(tariffsEquivalent(twoRateTariff(), tariff)).toBe(false);
  });
});

describe("tariffs that must pass", () => {
  it("accepts the recorded multi-season tariff leniently", () => {
    expect(problemsOf(recordedTariff(), "lenient")).toEqual([]);
  });

  it("accepts Tesla's documented example shape", () => {
    // Two labels on a full-year season, an evening peak and an off-peak
    // period running to midnight written as 0:00, ALL rates at 0.
    const window = (fromHour: number, toHour: number) => ({
      fromDayOfWeek: 0,
      toDayOfWeek: 6,
      fromHour,
      fromMinute: 0,
      toHour,
      toMinute: 0,
    });
    const side = (offPeak: number, onPeak: number, code: string) => ({
      name: "Dynamic",
      utility: "Amber",
      code,
      currency: "AUD",
      daily_charges: [{ name: "Charge", amount: 0 }],
      demand_charges: { ALL: { rates: { ALL: 0 } }, Year: { rates: {} } },
      energy_charges: {
        ALL: { rates: { ALL: 0 } },
        Year: { rates: { OFF_PEAK: offPeak, ON_PEAK: onPeak } },
      },
      seasons: {
        Year: {
          fromMonth: 1,
          fromDay: 1,
          toMonth: 12,
          toDay: 31,
          tou_periods: {
            OFF_PEAK: { periods: [window(0, 17), window(21, 0)] },
            ON_PEAK: { periods: [window(17, 21)] },
          },
        },
      },
    });
    const tariff = {
      version: 1,
      ...side(0.182, 0.441, "HEMS:DYN"),
      sell_tariff: side(0.05, 0.15, ""),
    };
    expect(problemsOf(tariff, "strict")).toEqual([]);
    expect(problemsOf(tariff, "lenient")).toEqual([]);
  });

  it("accepts the same label with other periods on the sell side", () => {
    const tariff = twoRateTariff();
    const sellYear = year(tariff.sell_tariff);
    const [offPeakMorning, offPeakEvening] =
      sellYear.tou_periods["OFF_PEAK"]?.periods ?? [];
    const [onPeak] = sellYear.tou_periods["ON_PEAK"]?.periods ?? [];
    if (!offPeakMorning || !offPeakEvening || !onPeak)
      throw new Error("fixture");
    offPeakMorning.toHour = 16;
    onPeak.fromHour = 16;
    onPeak.toHour = 20;
    offPeakEvening.fromHour = 20;
    expect(problemsOf(tariff)).toEqual([]);
  });

  it("accepts non-zero ALL rates only leniently", () => {
    const tariff = twoRateTariff();
    const all = tariff.energy_charges["ALL"];
    if (all === undefined) throw new Error("fixture");
    all.rates["ALL"] = 0.1;
    expect(problemsOf(tariff, "lenient")).toEqual([]);
    expect(problemsOf(tariff, "strict")).toEqual([
      "buy energy_charges.ALL.rates.ALL is 0.1 $/kWh; keep ALL rates at 0 because Tesla does not document whether they add to the period rates",
    ]);
  });
});

describe("schema problems", () => {
  // Each problem names the field, shows the value and gives what to write.
  const cases: Array<
    [string, (raw: Record<string, unknown>) => void, string, Mode?]
  > = [
    [
      "a null rate",
      (raw) => setAt(raw, "energy_charges.Year.rates.ON_PEAK", null),
      "energy_charges.Year.rates.ON_PEAK is null; use a finite number",
    ],
    [
      "an infinite rate from JSON",
      (raw) =>
        setAt(raw, "energy_charges.Year.rates.ON_PEAK", JSON.parse("1e999")),
      "energy_charges.Year.rates.ON_PEAK is Infinity; use a finite number",
    ],
    [
      "a NaN rate",
      (raw) =>
        setAt(raw, "sell_tariff.energy_charges.Year.rates.ON_PEAK", Number.NaN),
      "sell_tariff.energy_charges.Year.rates.ON_PEAK is NaN; use a finite number",
    ],
    [
      "a rate written as text",
      (raw) => setAt(raw, "energy_charges.Year.rates.ON_PEAK", "0.4"),
      'energy_charges.Year.rates.ON_PEAK is "0.4"; use a finite number',
    ],
    [
      "a fractional hour",
      (raw) =>
        setAt(raw, "seasons.Year.tou_periods.ON_PEAK.periods.0.fromHour", 17.5),
      "seasons.Year.tou_periods.ON_PEAK.periods[0].fromHour is 17.5; use a whole number",
    ],
    [
      "a fractional hour read back",
      (raw) =>
        setAt(raw, "seasons.Year.tou_periods.ON_PEAK.periods.0.fromHour", 17.5),
      "seasons.Year.tou_periods.ON_PEAK.periods[0].fromHour is 17.5; use a whole number",
      "lenient",
    ],
    [
      "periods as an object",
      (raw) => setAt(raw, "seasons.Year.tou_periods.ON_PEAK.periods", {}),
      "seasons.Year.tou_periods.ON_PEAK.periods is an empty object; use an array",
    ],
    [
      "a version as text",
      (raw) => setAt(raw, "version", "1"),
      'version is "1"; use a finite number',
    ],
    [
      "an unknown key",
      (raw) => setAt(raw, "seasons.Year.extra", 1),
      'seasons.Year has the unknown key "extra"; remove it, because tariffs this engine writes contain only the documented keys',
    ],
    [
      "an empty currency",
      (raw) => setAt(raw, "currency", ""),
      'currency is ""; use a currency code such as AUD',
    ],
    [
      "a missing sell tariff",
      (raw) => delete raw["sell_tariff"],
      "sell_tariff: is missing; tariffs this engine writes must set every field explicitly",
    ],
  ];

  it.each(cases)("reports %s", (_name, breakIt, expected, mode = "strict") => {
    const raw = viaJson(twoRateTariff()) as Record<string, unknown>;
    breakIt(raw);
    expect(problemsOf(raw, mode)).toEqual([expected]);
  });

  it("reports a deeply nested rate", () => {
    const depth = 100_000;
    const raw = JSON.parse(
      JSON.stringify(twoRateTariff()).replace(
        '"ON_PEAK":0.441',
        `"ON_PEAK":${"[".repeat(depth)}${"]".repeat(depth)}`,
      ),
    ) as unknown;
    expect(problemsOf(raw)).toEqual([
      "energy_charges.Year.rates.ON_PEAK is an array of 1 item; use a finite number",
    ]);
  });

  it("reports a tariff that is not an object", () => {
    expect(problemsOf("tariff")).toEqual(['tariff is "tariff"; use an object']);
  });
});

/** Sets the value at a dotted path, creating nothing: every parent must exist. */
function setAt(
  root: Record<string, unknown>,
  path: string,
  value: unknown,
): void {
  const keys = path.split(".");
  const last = keys.pop() ?? "";
  let node = root as Record<string, unknown>;
  for (const key of keys) {
    node = node[key] as Record<string, unknown>;
  }
  node[last] = value;
}

describe("period and season problems", () => {
  type Period =
    TariffContentV2["seasons"][string]["tou_periods"][string]["periods"][number];

  function period(tariff: TariffContentV2, label: string, index = 0): Period {
    const found = year(tariff).tou_periods[label]?.periods[index];
    if (found === undefined) throw new Error(`no period ${label}[${index}]`);
    return found;
  }

  /** Splits the year into season A (1/1 to `aTo`) and Year (`yearFrom` to 12/31), same periods and rates. */
  function splitYear(
    aTo: [number, number],
    yearFrom: [number, number],
  ): TariffContentV2 {
    const tariff = twoRateTariff();
    const yearSeason = year(tariff);
    tariff.seasons["A"] = {
      ...structuredClone(yearSeason),
      toMonth: aTo[0],
      toDay: aTo[1],
    };
    yearSeason.fromMonth = yearFrom[0];
    yearSeason.fromDay = yearFrom[1];
    tariff.energy_charges["A"] = { rates: { ...yearRates(tariff) } };
    return tariff;
  }

  const cases: Array<[string, (t: TariffContentV2) => void, string]> = [
    [
      "23:30 to 24:00 in strict mode",
      (t) => Object.assign(period(t, "OFF_PEAK", 1), { toHour: 24 }),
      'buy season "Year" label "OFF_PEAK" period 1: toHour 24 is out of range; use 0 to 23 (0:00 means midnight)',
    ],
    [
      "23:30 to 00:30 in strict mode",
      (t) => {
        Object.assign(period(t, "OFF_PEAK", 1), { toHour: 0, toMinute: 30 });
        Object.assign(period(t, "OFF_PEAK", 0), { fromMinute: 30 });
      },
      'buy season "Year" label "OFF_PEAK" period 1: runs past midnight (21:00 to 00:30); split it at midnight, ending the first part at toHour 0, toMinute 0',
    ],
    [
      "weekdays Sunday to Monday",
      (t) =>
        Object.assign(period(t, "ON_PEAK"), {
          fromDayOfWeek: 6,
          toDayOfWeek: 0,
        }),
      'buy season "Year" label "ON_PEAK" period 0: fromDayOfWeek 6 is after toDayOfWeek 0; split the weekday run into ranges that do not wrap past Sunday (6)',
    ],
    [
      "February 30",
      (t) => Object.assign(year(t), { toMonth: 2, toDay: 30 }),
      'buy season "Year": toDay 30 is out of range for month 2; use a day from 1 to 29',
    ],
    [
      "a negative minute",
      (t) => Object.assign(period(t, "ON_PEAK"), { fromMinute: -30 }),
      'buy season "Year" label "ON_PEAK" period 0: fromMinute -30 is out of range; use 0 to 59',
    ],
  ];

  it.each(cases)("reports %s", (_name, breakIt, expected) => {
    const tariff = twoRateTariff();
    breakIt(tariff);
    expect(problemsOf(tariff)).toContain(expected);
  });

  it("accepts 00:30 wrapping leniently", () => {
    const tariff = twoRateTariff();
    Object.assign(period(tariff, "OFF_PEAK", 1), { toHour: 0, toMinute: 30 });
    Object.assign(period(tariff, "OFF_PEAK", 0), { fromMinute: 30 });
    expect(problemsOf(tariff, "lenient")).toEqual([]);
  });

  it("accepts 24:00 leniently", () => {
    const tariff = twoRateTariff();
    Object.assign(period(tariff, "OFF_PEAK", 1), { toHour: 24 });
    expect(problemsOf(tariff, "lenient")).toEqual([]);
  });

  it("accepts seasons split at February 29", () => {
    expect(problemsOf(splitYear([2, 29], [3, 1]))).toEqual([]);
    expect(problemsOf(splitYear([2, 28], [3, 1]))).toEqual([]);
  });

  it("reports two seasons on February 29", () => {
    expect(problemsOf(splitYear([2, 29], [2, 29]))).toEqual([
      'buy seasons: 2/29 is covered by more than one season ("Year", "A"); seasons must not overlap',
    ]);
  });

  it.each([
    ["1e308", 1e308],
    ["1001", 1001],
  ])("rejects a rate of %s $/kWh", (_name, value) => {
    const tariff = twoRateTariff();
    yearRates(tariff)["ON_PEAK"] = value;
    expect(problemsOf(tariff)).toEqual([
      `buy energy_charges.Year.rates.ON_PEAK is ${value} $/kWh, above the 1000 $/kWh limit; check the unit, because rates are in $/kWh`,
    ]);
    expect(problemsOf(tariff, "lenient")).toEqual([]);
  });

  it("accepts a rate at the limit", () => {
    const tariff = twoRateTariff();
    yearRates(tariff)["ON_PEAK"] = 1000;
    expect(problemsOf(tariff)).toEqual([]);
  });
  it("accepts a February 29 season", () => {
    const tariff = splitYear([2, 28], [3, 1]);
    const a = tariff.seasons["A"];
    if (a === undefined) throw new Error("fixture");
    Object.assign(a, { fromMonth: 2, fromDay: 29, toMonth: 2, toDay: 29 });
    Object.assign(year(tariff), {
      fromMonth: 3,
      fromDay: 1,
      toMonth: 2,
      toDay: 28,
    });
    expect(problemsOf(tariff)).toEqual([]);
  });
});

describe("every problem message", () => {
  // Broken tariffs of every kind the validator checks, each reduced to its
  // messages: each must name where (a side, a season or a field path) and
  // carry advice or the rule to follow after a semicolon.
  const breakers: Array<(t: TariffContentV2) => void> = [
    (t) => (yearRates(t)["ON_PEAK"] = -1),
    (t) => (yearRates(t)["ON_PEAK"] = 5000),
    (t) => delete yearRates(t)["ON_PEAK"],
    (t) => (yearRates(t)["EXTRA"] = 0.1),
    (t) => Object.assign(year(t), { toMonth: 11 }),
    (t) => Object.assign(year(t), { fromMonth: 0 }),
    (t) => Object.assign(year(t), { toDay: 32 }),
    (t) => (year(t).tou_periods = {}),
    (t) => (t.seasons = {}),
    (t) => (t.energy_charges["Spring"] = { rates: {} }),
    (t) => (t.daily_charges = [{ name: "Charge", amount: -2 }]),
    (t) => {
      const all = t.energy_charges["ALL"];
      if (all !== undefined) all.rates["ALL"] = 0.2;
    },
    (t) => {
      const periods = year(t).tou_periods["ON_PEAK"]?.periods ?? [];
      periods.push({ ...(periods[0] as NonNullable<(typeof periods)[0]>) });
    },
    (t) => {
      const first = year(t).tou_periods["ON_PEAK"]?.periods[0];
      if (first !== undefined) {
        Object.assign(first, { fromDayOfWeek: 3, toDayOfWeek: 9, toHour: 30 });
      }
    },
    (t) => {
      const raw = t as unknown as Record<string, unknown>;
      raw["currency"] = 3;
      raw["extra"] = true;
    },
  ];

  const messages = breakers.flatMap((breakIt) =>
    (["strict", "lenient"] as const).flatMap((mode) => {
      const tariff = twoRateTariff();
      breakIt(tariff);
      return problemsOf(viaJson(tariff), mode);
    }),
  );

  it("finds a problem in each case", () => {
    expect(messages.length).toBeGreaterThanOrEqual(breakers.length);
  });

  it.each(messages.map((message) => [message]))(
    "names place and fix: %s",
    (message) => {
      expect(message).toMatch(/^(buy|sell|[A-Za-z_]+[.[:\s]|tariff)/);
      expect(message).toMatch(/; \S/);
      expect(message).not.toContain("Invalid input");
    },
  );
});

describe("oversized tariffs", () => {
  /** Returns the two-rate tariff with `count` more whole-week buy periods. */
  function withExtraPeriods(count: number): TariffContentV2 {
    const tariff = twoRateTariff();
    const periods = year(tariff).tou_periods["OFF_PEAK"]?.periods ?? [];
    for (let i = 0; i < count; i++) {
      periods.push({
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 0,
        fromMinute: 0,
        toHour: 0,
        toMinute: 0,
      });
    }
    return tariff;
  }

  it.each(["strict", "lenient"] as const)(
    "rejects too many periods (%s)",
    (mode) => {
      expect(problemsOf(withExtraPeriods(3000), mode)).toEqual([
        'buy season "Year": has 3003 periods, more than the 2016 this engine checks (one per 5 minutes of each weekday); merge adjacent periods of the same label',
      ]);
    },
  );

  it("lists a few of many overlapping labels", () => {
    expect(problemsOf(withExtraPeriods(2000), "lenient")).toEqual([
      'buy season "Year", Monday-Sunday 00:00-24:00: covered by more than one period (OFF_PEAK, OFF_PEAK, OFF_PEAK and 1998 more); periods must not overlap',
    ]);
  });
});

describe("more seasons than days", () => {
  it("rejects 400 seasons at once", () => {
    const tariff = twoRateTariff();
    const yearSeason = year(tariff);
    const rates = yearRates(tariff);
    for (let i = 0; i < 400; i++) {
      tariff.seasons[`S${i}`] = structuredClone(yearSeason);
      tariff.energy_charges[`S${i}`] = { rates: { ...rates } };
    }
    expect(problemsOf(tariff)).toEqual([
      "buy: has 401 seasons with dates, more than the 366 days of a year, so they cannot avoid overlapping; merge seasons that share their periods and rates",
    ]);
  });
});
