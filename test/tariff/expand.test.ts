import { describe, expect, it } from "vitest";

import {
  boundaryStepMinutes,
  expandTariff,
  type TariffGrid,
} from "../../src/tariff/expand.js";
import { lenientTariffSchema } from "../../src/tariff/schema.js";
import { recordedTariff, twoRateTariff } from "./helpers.js";

function cellAt(grid: TariffGrid | undefined, day: number, time: string) {
  const [hours, minutes] = time.split(":").map(Number);
  const minute = (hours ?? 0) * 60 + (minutes ?? 0);
  const cell = grid?.days[day]?.find(
    (candidate) => candidate.start <= minute && minute < candidate.end,
  );
  if (cell === undefined) throw new Error(`no cell at day ${day} ${time}`);
  return cell;
}

describe("expandTariff", () => {
  it("expands a one-season tariff into one grid", () => {
    const grids = expandTariff(twoRateTariff());
    expect(grids).toHaveLength(1);
    expect(grids[0]?.dates).toEqual([
      { from: { month: 1, day: 1 }, to: { month: 12, day: 31 } },
    ]);
    expect(grids[0]?.days).toHaveLength(7);
    expect(grids[0]?.days[0]).toHaveLength(48);
  });

  it.each([
    ["00:00", 0.182, 0.05, "OFF_PEAK"],
    ["16:30", 0.182, 0.05, "OFF_PEAK"],
    ["17:00", 0.441, 0.15, "ON_PEAK"],
    ["20:30", 0.441, 0.15, "ON_PEAK"],
    ["21:00", 0.182, 0.05, "OFF_PEAK"],
    ["23:30", 0.182, 0.05, "OFF_PEAK"],
  ])("prices %s", (time, buy, sell, label) => {
    const grid = expandTariff(twoRateTariff())[0];
    for (let day = 0; day < 7; day++) {
      const cell = cellAt(grid, day, time);
      expect(cell.buy).toBe(buy);
      expect(cell.sell).toBe(sell);
      expect(cell.buyLabel).toBe(label);
    }
  });

  it("splits the recorded tariff by season", () => {
    const tariff = lenientTariffSchema.parse(recordedTariff());
    const grids = expandTariff(tariff);
    expect(grids.map((grid) => grid.buySeason)).toEqual(["Winter", "Summer"]);
    expect(grids[0]?.dates).toEqual([
      { from: { month: 1, day: 1 }, to: { month: 3, day: 31 } },
      { from: { month: 10, day: 1 }, to: { month: 12, day: 31 } },
    ]);
    expect(grids[1]?.dates).toEqual([
      { from: { month: 4, day: 1 }, to: { month: 9, day: 30 } },
    ]);
  });

  it.each([
    [{ month: 7, day: 1 }, "16:00", 0.35, 0.18],
    [{ month: 7, day: 1 }, "21:00", 0.2, 0.08],
    [{ month: 7, day: 1 }, "03:00", 0.2, 0.08],
    [{ month: 12, day: 25 }, "17:00", 0.25, 0.12],
    [{ month: 12, day: 25 }, "16:30", 0.12, 0.05],
    [{ month: 2, day: 29 }, "19:30", 0.25, 0.12],
  ])("prices the recorded tariff on %o at %s", (date, time, buy, sell) => {
    const tariff = lenientTariffSchema.parse(recordedTariff());
    const grids = expandTariff(tariff, { date });
    expect(grids).toHaveLength(1);
    const cell = cellAt(grids[0], 3, time);
    expect(cell.buy).toBe(buy);
    expect(cell.sell).toBe(sell);
  });

  it("prices weekdays apart", () => {
    const tariff = twoRateTariff();
    const year = tariff.seasons["Year"];
    const onPeak = year?.tou_periods["ON_PEAK"]?.periods[0];
    if (year === undefined || onPeak === undefined) throw new Error("fixture");
    onPeak.toDayOfWeek = 4;
    year.tou_periods["OFF_PEAK"]?.periods.push({
      fromDayOfWeek: 5,
      toDayOfWeek: 6,
      fromHour: 17,
      fromMinute: 0,
      toHour: 21,
      toMinute: 0,
    });
    const grid = expandTariff(tariff)[0];
    expect(cellAt(grid, 4, "18:00").buy).toBe(0.441);
    expect(cellAt(grid, 5, "18:00").buy).toBe(0.182);
  });

  it("leaves sell unset without sell_tariff", () => {
    const raw = recordedTariff();
    delete raw["sell_tariff"];
    const grid = expandTariff(lenientTariffSchema.parse(raw))[0];
    expect(grid?.sellSeason).toBeUndefined();
    expect(cellAt(grid, 0, "12:00").sell).toBeUndefined();
    expect(cellAt(grid, 0, "12:00").buy).toBe(0.12);
  });

  it("leaves uncovered cells unset", () => {
    const tariff = twoRateTariff();
    const offPeak = tariff.seasons["Year"]?.tou_periods["OFF_PEAK"]?.periods[0];
    if (offPeak === undefined) throw new Error("fixture");
    offPeak.toHour = 16;
    const cell = cellAt(expandTariff(tariff)[0], 0, "16:30");
    expect(cell.buy).toBeUndefined();
    expect(cell.buyLabel).toBeUndefined();
  });

  it("uses a finer step", () => {
    const tariff = twoRateTariff();
    const periods = tariff.seasons["Year"]?.tou_periods;
    const off = periods?.["OFF_PEAK"]?.periods[0];
    const on = periods?.["ON_PEAK"]?.periods[0];
    if (off === undefined || on === undefined) throw new Error("fixture");
    off.toMinute = 15;
    on.fromMinute = 15;
    const grid = expandTariff(tariff, { stepMinutes: 15 })[0];
    expect(grid?.days[0]).toHaveLength(96);
    expect(cellAt(grid, 0, "17:00").buy).toBe(0.182);
    expect(cellAt(grid, 0, "17:15").buy).toBe(0.441);
  });

  it.each([0, 7, 50, 1.5, 2880])("rejects step %s", (stepMinutes) => {
    expect(() => expandTariff(twoRateTariff(), { stepMinutes })).toThrow(
      RangeError,
    );
  });
});

describe("boundaryStepMinutes", () => {
  it.each([
    [0, 30],
    [15, 15],
    [5, 5],
    [20, 10],
    [7, 1],
  ])("returns a step for minute %s", (minute, step) => {
    const tariff = twoRateTariff();
    const periods = tariff.seasons["Year"]?.tou_periods;
    const off = periods?.["OFF_PEAK"]?.periods[0];
    const on = periods?.["ON_PEAK"]?.periods[0];
    if (off === undefined || on === undefined) throw new Error("fixture");
    off.toMinute = minute;
    on.fromMinute = minute;
    expect(boundaryStepMinutes(tariff)).toBe(step);
  });

  it("ignores undefined tariffs", () => {
    expect(boundaryStepMinutes(undefined, twoRateTariff())).toBe(30);
  });
});
