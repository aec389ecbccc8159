/**
 * Energy from power readings. The energy between two live_status readings is
 * the trapezoid of each power flow: the mean of the two readings times the
 * time between them, split by sign (grid import and export, battery charge
 * and discharge). It is spread over the 5-minute intervals the span crosses,
 * in proportion to the time spent in each. Readings further apart than the
 * allowed gap (a restart, a failed read) add no energy, so a gap shows as a
 * shortfall in `coveredMs` rather than as invented energy.
 */
import type { LiveStatus } from "../tesla/schemas.js";
import {
  ENERGY_INTERVAL_MS,
  type EnergyInterval,
  type EnergySample,
  type EnergyTotals,
} from "./store.js";

const MS_PER_HOUR = 3_600_000;

/** Converts a live_status response taken at `at` into a stored reading. */
export function sampleFromLiveStatus(
  status: LiveStatus,
  at: number,
): EnergySample {
  return {
    at,
    solarW: status.solar_power,
    gridW: status.grid_power,
    batteryW: status.battery_power,
    homeW: status.load_power,
    batteryPercent: status.percentage_charged,
  };
}

/** Returns the start of the 5-minute interval containing `at`. */
export function intervalStart(at: number): number {
  return Math.floor(at / ENERGY_INTERVAL_MS) * ENERGY_INTERVAL_MS;
}

/**
 * Returns the energy between `previous` and `current` per 5-minute interval,
 * or an empty list when the readings are out of order or more than
 * `maxGapMs` apart.
 */
export function integrateEnergy(
  previous: EnergySample,
  current: EnergySample,
  maxGapMs: number,
): EnergyInterval[] {
  const spanMs = current.at - previous.at;
  if (spanMs <= 0 || spanMs > maxGapMs) {
    return [];
  }
  const hours = spanMs / MS_PER_HOUR;
  const total: EnergyTotals = {
    solarWh: mean(positive(previous.solarW), positive(current.solarW)) * hours,
    gridImportWh:
      mean(positive(previous.gridW), positive(current.gridW)) * hours,
    gridExportWh:
      mean(positive(-previous.gridW), positive(-current.gridW)) * hours,
    batteryChargeWh:
      mean(positive(-previous.batteryW), positive(-current.batteryW)) * hours,
    batteryDischargeWh:
      mean(positive(previous.batteryW), positive(current.batteryW)) * hours,
    homeWh: mean(positive(previous.homeW), positive(current.homeW)) * hours,
  };

  const parts: EnergyInterval[] = [];
  let from = previous.at;
  while (from < current.at) {
    const start = intervalStart(from);
    const to = Math.min(start + ENERGY_INTERVAL_MS, current.at);
    const share = (to - from) / spanMs;
    parts.push({
      start,
      solarWh: total.solarWh * share,
      gridImportWh: total.gridImportWh * share,
      gridExportWh: total.gridExportWh * share,
      batteryChargeWh: total.batteryChargeWh * share,
      batteryDischargeWh: total.batteryDischargeWh * share,
      homeWh: total.homeWh * share,
      coveredMs: to - from,
    });
    from = to;
  }
  return parts;
}

/** Adds up energy intervals into buckets of `bucketMs` (a multiple of 5 minutes), oldest first. */
export function bucketEnergy(
  intervals: readonly EnergyInterval[],
  bucketMs: number,
): EnergyInterval[] {
  const buckets = new Map<number, EnergyInterval>();
  for (const interval of intervals) {
    const start = Math.floor(interval.start / bucketMs) * bucketMs;
    const bucket = buckets.get(start) ?? {
      start,
      solarWh: 0,
      gridImportWh: 0,
      gridExportWh: 0,
      batteryChargeWh: 0,
      batteryDischargeWh: 0,
      homeWh: 0,
      coveredMs: 0,
    };
    bucket.solarWh += interval.solarWh;
    bucket.gridImportWh += interval.gridImportWh;
    bucket.gridExportWh += interval.gridExportWh;
    bucket.batteryChargeWh += interval.batteryChargeWh;
    bucket.batteryDischargeWh += interval.batteryDischargeWh;
    bucket.homeWh += interval.homeWh;
    bucket.coveredMs += interval.coveredMs;
    buckets.set(start, bucket);
  }
  return [...buckets.values()].sort((a, b) => a.start - b.start);
}

/** Adds up every field of `intervals`. */
export function sumEnergy(intervals: readonly EnergyTotals[]): EnergyTotals {
  const total: EnergyTotals = {
    solarWh: 0,
    gridImportWh: 0,
    gridExportWh: 0,
    batteryChargeWh: 0,
    batteryDischargeWh: 0,
    homeWh: 0,
  };
  for (const interval of intervals) {
    total.solarWh += interval.solarWh;
    total.gridImportWh += interval.gridImportWh;
    total.gridExportWh += interval.gridExportWh;
    total.batteryChargeWh += interval.batteryChargeWh;
    total.batteryDischargeWh += interval.batteryDischargeWh;
    total.homeWh += interval.homeWh;
  }
  return total;
}

function positive(value: number): number {
  return value > 0 ? value : 0;
}

function mean(a: number, b: number): number {
  return (a + b) / 2;
}
