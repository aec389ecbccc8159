/**
 * Types shared by the sync engine, the service, the status server and the
 * integrations built on them (HA bridge, dashboard). The JSON shapes here
 * are part of the status API documented in docs/api.md.
 */
import type { CurrentInterval } from "../amber/schemas.js";
import type { PriceResponse } from "../amber/prices.js";
import type { SlotOverlay } from "../tariff/build.js";
import type { SiteInfo } from "../tesla/schemas.js";
import type {
  DayCounters,
  StoredConfirmation,
  SyncLogEntry,
} from "./state-store.js";

/** The cause of a sync. */
export type SyncTrigger =
  "schedule" | "manual" | "live-price" | "startup" | "service";

/**
 * The outcome of a sync. "uploaded": Tesla accepted a new tariff. "unchanged": no
 * slot moved enough to matter, so nothing was written. "refused": the prices
 * or the built tariff failed a check, so nothing was written. "failed": a
 * vendor call failed and the Powerwall keeps its last tariff. "skipped": the
 * sync did not run (auto-sync off), a price-event control holds the tariff,
 * or a write had to wait for the spacing or the daily budget.
 */
export type SyncOutcome =
  "uploaded" | "unchanged" | "refused" | "failed" | "skipped";

/** Short description of a built tariff, in $/kWh. */
export interface TariffSummary {
  /** Number of half-hour slots (48). */
  slots: number;
  timeZone: string;
  /** Label of the current half hour, e.g. "PERIOD_17_30". */
  currentLabel: string;
  currentBuy: number;
  currentSell: number;
  buyMin: number;
  buyMax: number;
  sellMin: number;
  sellMax: number;
  /** Slots whose real price was below zero and was written as zero. */
  clampedSlots: number;
  /** Slots priced by the nearest-day fill rule instead of Amber data. */
  filledSlots: number;
}

/** The result of one sync, as returned by `syncNow` and `POST /api/sync`. */
export interface SyncResult {
  outcome: SyncOutcome;
  /** One sentence saying why, e.g. "largest change 0.2 c/kWh is below the 0.5 c/kWh threshold". */
  reason: string;
  trigger: SyncTrigger;
  /** When the sync finished, ISO 8601 UTC. */
  at: string;
  tariffSummary?: TariffSummary;
  /**
   * Price changes the comparison found against the previous tariff, material
   * or not. Adjacent half hours with the same change count once.
   */
  changedSlots?: number;
  /** Tesla tariff writes this sync sent (0 or 1). */
  writes: number;
  /** For "uploaded": whether the read-back tariff matched the upload. */
  confirmed?: boolean;
  /** Whether the change qualified for the urgent write path; absent when nothing was material. */
  urgent?: boolean;
  /** For "skipped" while a control holds the tariff: its id, e.g. "force" or "spike:NSW1". */
  heldBy?: string;
}

/** A price-event control that holds the Powerwall's tariff, so the Amber sync must not upload. */
export interface TariffHold {
  /** Control id, e.g. "force", "spike:NSW1" or "custom-schedule". */
  holder: string;
  /** The control for people, e.g. "force discharge". */
  description: string;
  /** When the hold ends by itself, ms since the epoch; undefined when an event ends it. */
  until: number | undefined;
  /** Event that ends the hold, shown when `until` is undefined, e.g. "the schedule is cleared". */
  endCondition: string;
}

/** Overlays and hold check that the price-event controls give the engine (see src/controls/service.ts). */
export interface TariffControls {
  /** Returns the overlays for every built tariff, in the order they apply. */
  overlays(): SlotOverlay[];
  /** Returns the control that holds the tariff, or undefined when the sync may upload. */
  tariffHold(): TariffHold | undefined;
}

/** The daily write budget as the status API shows it; see write-budget.ts. */
export interface WriteBudgetStatus {
  /** Local date (YYYY-MM-DD) the count belongs to. */
  day: string;
  /** Tariff write attempts today, manual ones included. */
  used: number;
  /** Write attempts allowed per local day. */
  limit: number;
  /** Part of `limit` that only urgent changes and manual syncs may use. */
  urgentReserve: number;
  /** Writes an ordinary change may still make now under the even spread. */
  ordinaryAvailable: number;
  /** Writes an urgent change may still make now. */
  urgentAvailable: number;
  /** Earliest time the spacing lets an ordinary automatic write go, ISO 8601, or null for now. */
  nextOrdinaryWriteAt: string | null;
  /** The same for an urgent write. */
  nextUrgentWriteAt: string | null;
}

/** State of the Amber live-price feed as the engine sees it. */
export type LiveFeedState =
  "off" | "connecting" | "connected" | "disconnected" | "stale" | "disabled";

/** The subset of AmberClient the engine uses. */
export interface AmberPort {
  getCurrentPrices(
    siteId: string,
    query: { next?: number; previous?: number },
  ): Promise<PriceResponse>;
  getPrices(
    siteId: string,
    query: { startDate: string; endDate: string },
  ): Promise<PriceResponse>;
  counters(): Record<string, number>;
}

/** The subset of TeslaClient the engine uses. */
export interface TeslaPort {
  getSiteInfo(siteId: string): Promise<SiteInfo>;
  setTariff(siteId: string, tariff: Record<string, unknown>): Promise<void>;
  counters(): Record<string, number>;
}

/** One half hour of the last built tariff, for the status API. */
export interface StatusSlot {
  label: string;
  start: string;
  end: string;
  /** Buy rate in the tariff, $/kWh (never below zero). */
  buy: number;
  sell: number;
  /** Real buy price before clamping, $/kWh (may be negative). */
  buyActual: number;
  sellActual: number;
  source: unknown;
  spikeStatus: string;
  notes: string[];
}

/** The live price pair as last pushed, in $/kWh with Tesla's sign for sell. */
export interface LivePriceStatus {
  state: LiveFeedState;
  /** When the last push arrived, ISO 8601. */
  receivedAt?: string;
  /** Start and end of the 5-minute interval it prices, ISO 8601 UTC. */
  intervalStart?: string;
  intervalEnd?: string;
  buy?: number;
  /** Negated feed-in price: positive means the household is paid. */
  sell?: number;
  estimate?: boolean;
  spikeStatus?: string;
}

/** Everything `GET /api/status` returns. Contains no secret. */
export interface StatusSnapshot {
  mode: "live" | "demo";
  autoSync: boolean;
  amberSiteId: string;
  teslaSiteId: string;
  timeZone: string;
  /** Source of the zone: the Powerwall, the configuration, or the built-in default. */
  timeZoneSource: "site_info" | "config" | "default";
  /** Next scheduled sync, ISO 8601, or null when auto-sync is off. */
  nextSyncAt: string | null;
  /** A sync waiting for the write spacing, ISO 8601, or null. */
  deferredSyncAt: string | null;
  lastSync: SyncResult | null;
  lastUpload: { at: string; summary: string } | null;
  lastConfirmation: (Omit<StoredConfirmation, "at"> & { at: string }) | null;
  live: LivePriceStatus;
  /** Today's Tesla tariff writes against the daily budget; the engine always sets it. */
  writeBudget?: WriteBudgetStatus;
  /** The control holding the tariff, or null when the Amber sync may upload; the engine always sets it. */
  tariffHold?: {
    holder: string;
    description: string;
    /** ISO 8601, or null when an event ends the hold. */
    until: string | null;
    endCondition: string;
  } | null;
  counters: {
    /** Local date (YYYY-MM-DD) of `today`. */
    day: string;
    today: DayCounters;
    /** Calls since the engine started, per endpoint. */
    amber: Record<string, number>;
    tesla: Record<string, number>;
  };
  /** The 48 slots of the last built tariff, current half hour first; empty before the first build. */
  slots: StatusSlot[];
  slotsBuiltAt: string | null;
  /** Most recent sync log entries, newest last. */
  log: Array<Omit<SyncLogEntry, "at"> & { at: string }>;
}

/** Events the engine emits, for the status server, dashboard and HA bridge. */
export interface EngineEvents {
  sync: [SyncResult];
  status: [StatusSnapshot];
  prices: [CurrentInterval[]];
}
