import { afterEach, describe, expect, it } from "vitest";

import {
  CustomScheduleControl,
  customScheduleTariff,
  formatCustomSchedule,
  parseCustomSchedule,
  parseCustomScheduleObject,
  type CustomScheduleInput,
} from "../../src/controls/custom-schedule.js";
import type {
  ClaimHolder,
  ControlArbiter,
} from "../../src/controls/precedence.js";
import { ConfigError, TariffInvalidError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { expandTariff } from "../../src/tariff/expand.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { rateOf, startHarness, type Harness } from "./harness.js";

const TWO_SEASONS_YAML = `
name: Example TOU
utility: Example Energy
dailyCharge: 1.1
seasons:
  - name: Summer
    from: { month: 11, day: 1 }
    to: { month: 3, day: 31 }
    periods:
      - name: ON_PEAK
        fromDayOfWeek: 0
        toDayOfWeek: 4
        from: "15:00"
        to: "21:00"
        buy: 0.52
        sell: 0.08
      - name: OFF_PEAK
        fromDayOfWeek: 0
        toDayOfWeek: 4
        from: "21:00"
        to: "15:00"
        buy: 0.21
        sell: 0.05
      - name: OFF_PEAK
        fromDayOfWeek: 5
        toDayOfWeek: 6
        from: "00:00"
        to: "24:00"
        buy: 0.21
        sell: 0.05
  - name: Winter
    from: { month: 4, day: 1 }
    to: { month: 10, day: 31 }
    periods:
      - name: FLAT
        from: "00:00"
        to: "00:00"
        buy: 0.3
        sell: 0.06
`;

/** Returns a one-season schedule with the given periods, in written form. */
function schedule(
  periods: Array<Record<string, unknown>>,
): CustomScheduleInput {
  return {
    name: "Test",
    seasons: [
      {
        name: "Year",
        from: { month: 1, day: 1 },
        to: { month: 12, day: 31 },
        periods,
      },
    ],
  } as CustomScheduleInput;
}

const allDay = {
  name: "FLAT",
  from: "00:00",
  to: "24:00",
  buy: 0.25,
  sell: 0.05,
};

describe("custom schedule parsing", () => {
  it("parses YAML", () => {
    const parsed = parseCustomSchedule(TWO_SEASONS_YAML);

    expect(parsed.name).toBe("Example TOU");
    expect(parsed.seasons).toHaveLength(2);
    expect(parsed.seasons[0]?.periods[0]).toMatchObject({
      from: 900,
      to: 1260,
      fromDayOfWeek: 0,
    });
    expect(parsed.seasons[1]?.periods[0]).toMatchObject({
      fromDayOfWeek: 0,
      toDayOfWeek: 6,
    });
    expect(parsed.currency).toBe("AUD");
  });

  it("JSON and YAML agree", () => {
    const fromYaml = parseCustomSchedule(TWO_SEASONS_YAML);
    const json = JSON.stringify(formatCustomSchedule(fromYaml));

    const fromJson = parseCustomSchedule(json);

    expect(fromJson).toEqual(fromYaml);
    expect(customScheduleTariff(fromJson)).toEqual(
      customScheduleTariff(fromYaml),
    );
  });

  it.each([
    [
      "minute 15",
      [{ ...allDay, from: "00:15" }],
      'seasons[0].periods[0].from: "00:15" is not a half-hour time',
    ],
    [
      "hour 25",
      [{ ...allDay, to: "25:00" }],
      'seasons[0].periods[0].to: "25:00" is not a half-hour time',
    ],
    ["24:30", [{ ...allDay, to: "24:30" }], "is not a half-hour time"],
    [
      "negative buy",
      [{ ...allDay, buy: -0.1 }],
      "seasons[0].periods[0].buy: must not be negative",
    ],
    [
      "sell as text",
      [{ ...allDay, sell: "0.05" }],
      "seasons[0].periods[0].sell: must be a number",
    ],
    [
      "days reversed",
      [{ ...allDay, fromDayOfWeek: 5, toDayOfWeek: 1 }],
      "fromDayOfWeek is after toDayOfWeek",
    ],
    [
      "day 7",
      [{ ...allDay, toDayOfWeek: 7 }],
      "seasons[0].periods[0].toDayOfWeek",
    ],
    ["unknown key", [{ ...allDay, price: 1 }], "seasons[0].periods[0]"],
    ["no periods", [], "seasons[0].periods: needs at least one period"],
  ])("rejects %s", (_name, periods, message) => {
    const attempt = (): unknown => parseCustomScheduleObject(schedule(periods));

    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });

  it("rejects February 30", () => {
    const input = {
      name: "Test",
      seasons: [
        {
          name: "Year",
          from: { month: 2, day: 30 },
          to: { month: 12, day: 31 },
          periods: [allDay],
        },
      ],
    };

    expect(() => parseCustomScheduleObject(input)).toThrow(
      "seasons[0].from.day: day does not exist",
    );
  });

  it("rejects broken YAML with line", () => {
    expect(() => parseCustomSchedule("name: x\nseasons: [\n  - a")).toThrow(
      /not valid YAML at line \d/,
    );
  });

  it("rejects broken JSON", () => {
    expect(() => parseCustomSchedule('{"name": ')).toThrow("not valid JSON");
  });
});

describe("custom schedule tariff", () => {
  it("passes strict validation", () => {
    const tariff = customScheduleTariff(parseCustomSchedule(TWO_SEASONS_YAML));

    expect(validateTariff(tariff, "strict")).toMatchObject({ ok: true });
    expect(tariff.daily_charges).toEqual([{ name: "Charge", amount: 1.1 }]);
    expect(tariff.seasons["Summer"]?.fromMonth).toBe(11);
  });

  it.each([
    // [case, weekday (0 = Monday), date, minute of day, buy, sell]
    ["Wednesday January 16:00", 2, { month: 1, day: 1 }, 16 * 60, 0.52, 0.08],
    ["Wednesday January 22:00", 2, { month: 1, day: 1 }, 22 * 60, 0.21, 0.05],
    ["Wednesday January 03:00", 2, { month: 1, day: 1 }, 3 * 60, 0.21, 0.05],
    ["Saturday January 17:00", 5, { month: 1, day: 4 }, 17 * 60, 0.21, 0.05],
    ["Tuesday July 17:00", 1, { month: 7, day: 1 }, 17 * 60, 0.3, 0.06],
  ])("prices %s", (_name, weekday, date, minute, buy, sell) => {
    const tariff = customScheduleTariff(parseCustomSchedule(TWO_SEASONS_YAML));

    const [grid] = expandTariff(tariff, { date });
    const cell = grid?.days[weekday]?.find(
      (entry) => entry.start <= minute && minute < entry.end,
    );

    expect(cell?.buy).toBe(buy);
    expect(cell?.sell).toBe(sell);
  });

  it("splits a window past midnight", () => {
    const tariff = customScheduleTariff(
      parseCustomScheduleObject(
        schedule([
          { name: "NIGHT", from: "21:00", to: "07:00", buy: 0.15, sell: 0.02 },
          { name: "DAY", from: "07:00", to: "21:00", buy: 0.4, sell: 0.1 },
        ]),
      ),
    );

    expect(tariff.seasons["Year"]?.tou_periods["NIGHT"]?.periods).toEqual([
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 21,
        fromMinute: 0,
        toHour: 0,
        toMinute: 0,
      },
      {
        fromDayOfWeek: 0,
        toDayOfWeek: 6,
        fromHour: 0,
        fromMinute: 0,
        toHour: 7,
        toMinute: 0,
      },
    ]);
  });

  it.each([
    ["a gap", [{ ...allDay, to: "23:00" }], /buy season "Year".*23:00/],
    [
      "an overlap",
      [
        allDay,
        { name: "PEAK", from: "16:00", to: "20:00", buy: 0.5, sell: 0.1 },
      ],
      /buy season "Year".*16:00/,
    ],
  ])("rejects %s with the validator's problems", (_name, periods, problem) => {
    const parsed = parseCustomScheduleObject(schedule(periods));

    const error = (() => {
      try {
        customScheduleTariff(parsed);
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();

    expect(error).toBeInstanceOf(TariffInvalidError);
    expect((error as TariffInvalidError).problems.join("\n")).toMatch(problem);
  });

  it("rejects seasons that leave a gap", () => {
    const parsed = parseCustomScheduleObject({
      name: "Test",
      seasons: [
        {
          name: "Summer",
          from: { month: 1, day: 1 },
          to: { month: 6, day: 30 },
          periods: [allDay],
        },
      ],
    });

    expect(() => customScheduleTariff(parsed)).toThrow(TariffInvalidError);
  });

  it("rejects one name with two prices", () => {
    const parsed = parseCustomScheduleObject(
      schedule([
        { ...allDay, to: "12:00" },
        { ...allDay, from: "12:00", buy: 0.3 },
      ]),
    );

    expect(() => customScheduleTariff(parsed)).toThrow(
      /period "FLAT" in season "Year" has buy 0.3/,
    );
  });
});

describe("CustomScheduleControl", () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.close();
  });

  function control(
    arbiter: ControlArbiter = harness.arbiter,
  ): CustomScheduleControl {
    return new CustomScheduleControl({
      siteId: harness.siteId,
      powerwall: harness.powerwall,
      arbiter,
      dataDir: harness.dataDir,
      logger: silentLogger,
      clock: harness.clock,
    });
  }

  async function restarted(): Promise<CustomScheduleControl> {
    const next = control(harness.restartArbiter());
    await next.load();
    await next.resume();
    return next;
  }

  function spikeHolder(): ClaimHolder {
    return {
      id: "spike:NSW1",
      kind: "spike",
      onPreempted: async () => undefined,
      onResumed: async () => undefined,
    };
  }

  it("applies and holds the tariff", async () => {
    harness = await startHarness();
    const schedules = control();

    const snapshot = await schedules.apply(TWO_SEASONS_YAML);

    expect(harness.writes()).toEqual(["tariff:Example TOU"]);
    expect(snapshot.state).toBe("applied");
    expect(harness.arbiter.tariffOverride()).toBe("custom-schedule");
    expect(rateOf(harness.standIn.state().tariff, "buy", "ON_PEAK")).toBe(0.52);
  });

  it("clear frees the tariff", async () => {
    harness = await startHarness();
    const schedules = control();
    await schedules.apply(TWO_SEASONS_YAML);

    await schedules.clear();

    expect(harness.arbiter.tariffOverride()).toBeUndefined();
    expect(schedules.snapshot().state).toBe("off");
  });

  it("invalid schedule changes nothing", async () => {
    harness = await startHarness();
    const schedules = control();

    await expect(
      schedules.apply(schedule([{ ...allDay, to: "20:00" }])),
    ).rejects.toBeInstanceOf(TariffInvalidError);

    expect(harness.writes()).toEqual([]);
    expect(harness.arbiter.hasClaim("custom-schedule")).toBe(false);
  });

  it("waits for a spike, then uploads", async () => {
    harness = await startHarness();
    await harness.arbiter.claim(spikeHolder(), ["tariff", "export-rule"]);
    const schedules = control();

    const waiting = await schedules.apply(TWO_SEASONS_YAML);
    await harness.arbiter.release("spike:NSW1");

    expect(waiting.state).toBe("pending");
    expect(waiting.blockedBy).toBe("spike:NSW1");
    expect(harness.writes()).toEqual(["tariff:Example TOU"]);
    expect(schedules.snapshot().state).toBe("applied");
  });

  it("skips the upload when unchanged", async () => {
    harness = await startHarness();
    const schedules = control();
    await schedules.apply(TWO_SEASONS_YAML);
    const spike = spikeHolder();
    await harness.arbiter.claim(spike, ["tariff"]);
    const preempted = schedules.snapshot().state;

    await harness.arbiter.release("spike:NSW1");

    expect(preempted).toBe("pending");
    expect(harness.writes()).toEqual(["tariff:Example TOU"]);
    expect(schedules.snapshot().state).toBe("applied");
  });

  it("restart re-uploads a replaced tariff", async () => {
    harness = await startHarness();
    await control().apply(TWO_SEASONS_YAML);
    const other = customScheduleTariff(
      parseCustomScheduleObject(schedule([allDay])),
    );
    await harness.client.setTariff(harness.siteId, other);
    harness.clearWrites();

    const schedules = await restarted();

    expect(harness.writes()).toEqual(["tariff:Example TOU"]);
    expect(schedules.snapshot().active).toBe("Example TOU");
  });

  it("restart keeps a matching tariff", async () => {
    harness = await startHarness();
    await control().apply(TWO_SEASONS_YAML);
    harness.clearWrites();

    const schedules = await restarted();

    expect(harness.writes()).toEqual([]);
    expect(schedules.snapshot().state).toBe("applied");
    expect(harness.arbiter.tariffOverride()).toBe("custom-schedule");
  });

  it("restart when off writes nothing", async () => {
    harness = await startHarness();
    const first = control();
    await first.apply(TWO_SEASONS_YAML);
    await first.clear();
    harness.clearWrites();

    const schedules = await restarted();

    expect(harness.writes()).toEqual([]);
    expect(schedules.snapshot().state).toBe("off");
  });

  it("falls back after 30 minutes", async () => {
    harness = await startHarness();
    const schedules = control();
    await schedules.setFallback(TWO_SEASONS_YAML);
    const start = harness.clock.now();

    const early = schedules.fallbackTariff(start + 29 * 60_000);
    const late = schedules.fallbackTariff(start + 30 * 60_000);
    schedules.noteAmberData(start + 20 * 60_000);
    const afterData = schedules.fallbackTariff(start + 30 * 60_000);

    expect(early).toBeUndefined();
    expect(late?.name).toBe("Example TOU");
    expect(afterData).toBeUndefined();
    expect(harness.writes()).toEqual([]);
  });

  it("no fallback without schedule", async () => {
    harness = await startHarness();
    const schedules = control();

    expect(
      schedules.fallbackTariff(harness.clock.now() + 24 * 3_600_000),
    ).toBeUndefined();
  });

  it("fallback survives a restart", async () => {
    harness = await startHarness();
    await control().setFallback(TWO_SEASONS_YAML);

    const schedules = await restarted();

    expect(schedules.snapshot().fallback).toBe("Example TOU");
    expect(
      schedules.fallbackTariff(harness.clock.now() + 31 * 60_000)?.name,
    ).toBe("Example TOU");
  });
});
