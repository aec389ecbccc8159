/**
 * The sync engine's tunables, in the units the engine works in, and their
 * conversion from the user-facing configuration. The materiality rule that
 * most of them feed is described at the top of decision.ts, and the write
 * spacing and daily budget at the top of write-budget.ts.
 */
import type { ParsedConfig } from "../config/schema.js";

/** Settings of one SyncEngine. Prices in c/kWh, durations in ms. */
export interface EngineSettings {
  /** Whether scheduled and live-price syncs run. */
  autoSync: boolean;
  /** `advancedPrice` band for forecast slots. */
  band: "predicted" | "low" | "high";
  /**
   * Absolute part of the threshold for a half hour after the next one,
   * before it grows with lead time, c/kWh.
   */
  minChangeCents: number;
  /**
   * Relative part of that threshold, percent of the larger of the old and
   * new rate, before it grows with lead time.
   */
  minChangePercent: number;
  /** How much both parts of that threshold grow per hour of lead time, percent. */
  thresholdGrowthPercentPerHour: number;
  /** Absolute threshold for the current and the next half hour, c/kWh. */
  currentSlotMinChangeCents: number;
  /** Relative threshold for the current and the next half hour, percent. */
  currentSlotMinChangePercent: number;
  /** A current-slot move at least this large (and relative) is urgent, c/kWh. */
  urgentMinChangeCents: number;
  /** Relative part of the urgent test, percent. */
  urgentMinChangePercent: number;
  /** Hours ahead in which sign, spike-status and ranking changes are material. */
  nearHorizonHours: number;
  /** Cheapest and dearest half hours the ranking rule watches on each end. */
  rankedSlots: number;
  /** A live push must also move the uploaded current slot by this much to trigger a sync, c/kWh. */
  livePriceThresholdCents: number;
  /** Quiet time after the last qualifying live push before its sync, ms. */
  liveDebounceMs: number;
  /** Minimum time between tariff writes for ordinary automatic changes, ms. */
  minWriteSpacingMs: number;
  /** Minimum time between tariff writes for urgent automatic changes, ms. */
  urgentWriteSpacingMs: number;
  /** Minimum time between tariff writes that a manual sync may not undercut, ms. */
  manualWriteFloorMs: number;
  /** Tariff write attempts allowed per local day, manual ones included. */
  dailyWriteBudget: number;
  /** Part of the daily budget that only urgent changes (and manual syncs) may use. */
  urgentWriteReserve: number;
  /** Scheduler delay after each 5-minute boundary, ms. */
  scheduleOffsetMs: number;
  /** Upper bound of the scheduler's per-install random delay, ms. */
  scheduleJitterMs: number;
  /** Half hours that may be filled from the nearest day before the builder refuses. */
  maxFilledSlots: number;
  /** Age after which site_info (zone and the Powerwall's tariff) is read again, ms. */
  siteInfoRefreshMs: number;
  /** Zone used when the Powerwall reports none; undefined means Australia/Sydney with a warning. */
  fallbackTimeZone: string | undefined;
}

/** Defaults, equal to the configuration schema's. */
export const DEFAULT_ENGINE_SETTINGS: EngineSettings = {
  autoSync: true,
  band: "predicted",
  minChangeCents: 4,
  minChangePercent: 15,
  thresholdGrowthPercentPerHour: 25,
  currentSlotMinChangeCents: 4,
  currentSlotMinChangePercent: 15,
  urgentMinChangeCents: 10,
  urgentMinChangePercent: 50,
  nearHorizonHours: 6,
  rankedSlots: 2,
  livePriceThresholdCents: 2,
  liveDebounceMs: 10_000,
  minWriteSpacingMs: 1_800_000,
  urgentWriteSpacingMs: 300_000,
  manualWriteFloorMs: 60_000,
  dailyWriteBudget: 48,
  urgentWriteReserve: 12,
  scheduleOffsetMs: 35_000,
  scheduleJitterMs: 10_000,
  maxFilledSlots: 6,
  siteInfoRefreshMs: 3_600_000,
  fallbackTimeZone: undefined,
};

/** Converts the parsed configuration into engine settings. */
export function settingsFromConfig(config: ParsedConfig): EngineSettings {
  const sync = config.sync;
  return {
    autoSync: sync.autoSync,
    band: sync.forecastBand,
    minChangeCents: sync.minChangeCents,
    minChangePercent: sync.minChangePercent,
    thresholdGrowthPercentPerHour: sync.thresholdGrowthPercentPerHour,
    currentSlotMinChangeCents: sync.currentSlotMinChangeCents,
    currentSlotMinChangePercent: sync.currentSlotMinChangePercent,
    urgentMinChangeCents: sync.urgentMinChangeCents,
    urgentMinChangePercent: sync.urgentMinChangePercent,
    nearHorizonHours: sync.nearHorizonHours,
    rankedSlots: sync.rankedSlots,
    livePriceThresholdCents: sync.livePriceThresholdCents,
    liveDebounceMs: sync.liveDebounceSeconds * 1000,
    minWriteSpacingMs: sync.minWriteSpacingSeconds * 1000,
    urgentWriteSpacingMs: sync.urgentWriteSpacingSeconds * 1000,
    manualWriteFloorMs: sync.manualWriteFloorSeconds * 1000,
    dailyWriteBudget: sync.dailyWriteBudget,
    urgentWriteReserve: sync.urgentWriteReserve,
    scheduleOffsetMs: sync.scheduleOffsetSeconds * 1000,
    scheduleJitterMs: sync.scheduleJitterSeconds * 1000,
    maxFilledSlots: sync.maxFilledSlots,
    siteInfoRefreshMs: sync.siteInfoRefreshMinutes * 60_000,
    fallbackTimeZone: config.timeZone,
  };
}
