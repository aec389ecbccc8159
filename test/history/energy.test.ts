import { describe, expect, it } from "vitest";

import {
  bucketEnergy,
  integrateEnergy,
  intervalStart,
  sampleFromLiveStatus,
  sumEnergy,
} from "../../src/history/energy.js";
import type { EnergySample } from "../../src/history/store.js";

const T0 = Date.UTC(2025, 5, 16, 2, 0, 0);
const MINUTE = 60_000;

function sample(
  at: number,
  overrides: Partial<EnergySample> = {},
): EnergySample {
  return {
    at,
    solarW: 0,
    gridW: 0,
    batteryW: 0,
    homeW: 0,
    batteryPercent: 50,
    ...overrides,
  };
}

describe("energy integration", () => {
  it("integrates a steady hour", () => {
    const parts = integrateEnergy(
      sample(T0, { solarW: 1200, homeW: 600, gridW: -600 }),
      sample(T0 + 60 * MINUTE, { solarW: 1200, homeW: 600, gridW: -600 }),
      2 * 60 * MINUTE,
    );
    const total = sumEnergy(parts);

    expect(parts).toHaveLength(12);
    expect(total.solarWh).toBeCloseTo(1200);
    expect(total.homeWh).toBeCloseTo(600);
    expect(total.gridExportWh).toBeCloseTo(600);
    expect(total.gridImportWh).toBe(0);
  });

  it("splits by sign", () => {
    const [part] = integrateEnergy(
      sample(T0, { gridW: 1000, batteryW: -2000 }),
      sample(T0 + MINUTE, { gridW: -1000, batteryW: 2000 }),
      5 * MINUTE,
    );

    expect(part?.gridImportWh).toBeCloseTo(1000 / 2 / 60);
    expect(part?.gridExportWh).toBeCloseTo(1000 / 2 / 60);
    expect(part?.batteryChargeWh).toBeCloseTo(2000 / 2 / 60);
    expect(part?.batteryDischargeWh).toBeCloseTo(2000 / 2 / 60);
  });

  it("splits across an interval boundary", () => {
    const parts = integrateEnergy(
      sample(T0 + 4 * MINUTE, { homeW: 600 }),
      sample(T0 + 6 * MINUTE, { homeW: 600 }),
      5 * MINUTE,
    );

    expect(parts.map((part) => part.start)).toEqual([T0, T0 + 5 * MINUTE]);
    expect(parts.map((part) => part.coveredMs)).toEqual([MINUTE, MINUTE]);
    expect(parts[0]?.homeWh).toBeCloseTo(10);
    expect(parts[1]?.homeWh).toBeCloseTo(10);
  });

  it.each([
    ["a gap", T0 + 10 * MINUTE],
    ["the same time", T0],
    ["reversed readings", T0 - MINUTE],
  ])("adds nothing over %s", (_name, at) => {
    expect(
      integrateEnergy(
        sample(T0, { homeW: 500 }),
        sample(at, { homeW: 500 }),
        3 * MINUTE,
      ),
    ).toEqual([]);
  });

  it("buckets intervals by hour", () => {
    const parts = integrateEnergy(
      sample(T0, { solarW: 600 }),
      sample(T0 + 90 * MINUTE, { solarW: 600 }),
      2 * 60 * MINUTE,
    );
    const hours = bucketEnergy(parts, 60 * MINUTE);

    expect(hours.map((hour) => hour.start)).toEqual([T0, T0 + 60 * MINUTE]);
    expect(hours[0]?.solarWh).toBeCloseTo(600);
    expect(hours[1]?.solarWh).toBeCloseTo(300);
    expect(hours[0]?.coveredMs).toBe(60 * MINUTE);
  });

  it("maps live_status fields", () => {
    const reading = sampleFromLiveStatus(
      {
        solar_power: 4000,
        battery_power: -1500,
        load_power: 900,
        grid_power: -1600,
        percentage_charged: 61.5,
      },
      T0,
    );

    expect(reading).toEqual({
      at: T0,
      solarW: 4000,
      gridW: -1600,
      batteryW: -1500,
      homeW: 900,
      batteryPercent: 61.5,
    });
  });

  it("finds the interval start", () => {
    expect(intervalStart(T0 + 7 * MINUTE + 5)).toBe(T0 + 5 * MINUTE);
  });
});
