/**
 * The sync engine's tunables, in the units the engine works in, and their
 * conversion from the user-facing configuration.
 */
import type { ParsedConfig } from "../config/schema.js";

/** Settings of one SyncEngine. Prices in c/kWh, durations in ms. */
export interface EngineSettings {
  /** Whether scheduled and live-price syncs run. */
  autoSync: boolean;
  /** `advancedPrice` band for forecast slots. */
  band: "predicted" | "low" | "high";
  /** Any slot moving by at least this makes a tariff change material, c/kWh. */
  minChangeCents: number;
  /** The current half hour moving by at least this is material, c/kWh. */
  currentSlotMinChangeCents: number;
  /** A live push this far from the uploaded current slot triggers a sync, c/kWh. */
  livePriceThresholdCents: number;
  /** Quiet time after the last qualifying live push before its sync, ms. */
  liveDebounceMs: number;
  /** Minimum time between tariff writes for scheduled and live syncs, ms. */
  minWriteSpacingMs: number;
  /** Minimum time between tariff writes that a manual sync may not undercut, ms. */
  manualWriteFloorMs: number;
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
  minChangeCents: 0.5,
  currentSlotMinChangeCents: 0.25,
  livePriceThresholdCents: 2,
  liveDebounceMs: 10_000,
  minWriteSpacingMs: 300_000,
  manualWriteFloorMs: 60_000,
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
    currentSlotMinChangeCents: sync.currentSlotMinChangeCents,
    livePriceThresholdCents: sync.livePriceThresholdCents,
    liveDebounceMs: sync.liveDebounceSeconds * 1000,
    minWriteSpacingMs: sync.minWriteSpacingSeconds * 1000,
    manualWriteFloorMs: sync.manualWriteFloorSeconds * 1000,
    scheduleOffsetMs: sync.scheduleOffsetSeconds * 1000,
    scheduleJitterMs: sync.scheduleJitterSeconds * 1000,
    maxFilledSlots: sync.maxFilledSlots,
    siteInfoRefreshMs: sync.siteInfoRefreshMinutes * 60_000,
    fallbackTimeZone: config.timeZone,
  };
}
