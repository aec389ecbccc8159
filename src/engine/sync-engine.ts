/**
 * The sync engine: keeps the Powerwall's tariff in step with Amber prices.
 *
 * One sync runs these steps, and every decision is logged once with its
 * reason and kept in the sync log:
 * 1. Fetch 24 hours of prices from Amber (see price-window.ts).
 * 2. Take the live 5-minute price when a push for the current 5 minutes
 *    arrived, else the REST CurrentInterval prices the current half hour.
 * 3. Build the tariff in the Powerwall's zone (site_info
 *    `installation_time_zone`; when empty, the configured `timeZone`; else
 *    Australia/Sydney with a warning) and validate it strictly. A builder
 *    refusal or a validation problem is "refused" and nothing is written.
 * 4. Compare with the last upload (or with the Powerwall's own tariff when
 *    that differs). The change is material when any half hour moved by at
 *    least `minChangeCents` (default 0.5 c/kWh), or the current half hour
 *    by at least `currentSlotMinChangeCents` (default 0.25 c/kWh), because
 *    the current slot is what the Powerwall acts on now, and a backend that
 *    keeps one price per half hour never sees a later correction to it.
 * 5. Respect the write spacing: scheduled, live and startup syncs write at
 *    most once per `minWriteSpacingMs` (default 5 min); a manual sync may
 *    write sooner, but not within `manualWriteFloorMs` (default 60 s). A
 *    blocked write is "skipped" and a sync is queued for when it is allowed.
 * 6. Upload, read site_info back and confirm the prices match.
 *
 * A failed write (HTTP error, or HTTP 200 with `result: false`) records
 * nothing as uploaded, so the last good tariff stays the reference.
 */
import { EventEmitter } from "node:events";

import { DateTime } from "luxon";

import type { CurrentInterval } from "../amber/schemas.js";
import { DEFAULT_TIME_ZONE } from "../config/schema.js";
import {
  AuthError,
  describeError,
  PricesInsufficientError,
  WriteRejectedError,
} from "../errors.js";
import type { Logger } from "../log.js";
import type { SiteInfo } from "../tesla/schemas.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  clampedSlots,
  describeSummary,
  formatCents,
  formatClock,
  summariseSlots,
  toStoredSlot,
  type BuiltSlot,
} from "./decision.js";
import { LivePriceTracker } from "./live-price.js";
import { fetchPriceWindow, HORIZON_MS } from "./price-window.js";
import { RepeatLog } from "./repeat-log.js";
import { IntervalScheduler } from "./scheduler.js";
import { DEFAULT_ENGINE_SETTINGS, type EngineSettings } from "./settings.js";
import {
  addCounters,
  type DayCounters,
  type StateStore,
} from "./state-store.js";
import {
  buildValidatedTariff,
  compareTariffJson,
  readPowerwallTariff,
  sameTariff,
  type BuiltTariff,
  type TariffJson,
} from "./tariff-port.js";
import type {
  AmberPort,
  EngineEvents,
  LiveFeedState,
  StatusSnapshot,
  SyncOutcome,
  SyncResult,
  SyncTrigger,
  TeslaPort,
} from "./types.js";

/** Sync log entries included in a status snapshot. */
const STATUS_LOG_ENTRIES = 50;

/** Options for {@link SyncEngine}. */
export interface SyncEngineOptions {
  amber: AmberPort;
  tesla: TeslaPort;
  amberSiteId: string;
  teslaSiteId: string;
  /** The Amber site's billing interval, minutes. */
  intervalLength: 5 | 30;
  store: StateStore;
  logger: Logger;
  /** Time source; default the system clock. */
  clock?: Clock;
  /** Shown in the status API; default "live". */
  mode?: "live" | "demo";
  /** Overrides of {@link DEFAULT_ENGINE_SETTINGS}. */
  settings?: Partial<EngineSettings>;
  /** Random source for the scheduler's jitter; default Math.random. */
  random?: () => number;
}

/** A sync step's decision, before bookkeeping. */
interface Decision {
  outcome: SyncOutcome;
  reason: string;
  writes: number;
  built?: BuiltTariff;
  timeZone?: string;
  changedSlots?: number;
  confirmed?: boolean;
  /** Log level for the decision line; default info. */
  level?: "info" | "warn" | "error" | "debug";
  /** Kind for the repeat log: failures and refusals of one kind are warned once. */
  problemKind?: string;
  /** False for a scheduled run moved by the write spacing, which is not a decision. */
  record?: boolean;
}

/** Keeps one Powerwall's tariff in step with one Amber site. */
export class SyncEngine extends EventEmitter<EngineEvents> {
  readonly #amber: AmberPort;
  readonly #tesla: TeslaPort;
  readonly #amberSiteId: string;
  readonly #teslaSiteId: string;
  readonly #intervalLength: 5 | 30;
  readonly #store: StateStore;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #mode: "live" | "demo";
  readonly #settings: EngineSettings;
  readonly #scheduler: IntervalScheduler;
  readonly #live = new LivePriceTracker();
  /** Failed and refused syncs: first of a kind at warn, cleared by a good sync. */
  readonly #problems: RepeatLog;
  /** Conditions worth one warning per run (zone fallback, tariff drift, read-back). */
  readonly #notices: RepeatLog;

  #autoSync: boolean;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #lastResult: SyncResult | undefined;
  #lastBuilt: { slots: BuiltSlot[]; at: number } | undefined;
  #siteInfo: { info: SiteInfo; fetchedAt: number } | undefined;
  #powerwallTariff: TariffJson | undefined;
  #deferred: { at: number; controller: AbortController } | undefined;
  #liveTimer: AbortController | undefined;
  #stopped = false;

  constructor(options: SyncEngineOptions) {
    super();
    this.#amber = options.amber;
    this.#tesla = options.tesla;
    this.#amberSiteId = options.amberSiteId;
    this.#teslaSiteId = options.teslaSiteId;
    this.#intervalLength = options.intervalLength;
    this.#store = options.store;
    this.#logger = options.logger.child({ module: "engine" });
    this.#clock = options.clock ?? systemClock;
    this.#mode = options.mode ?? "live";
    this.#settings = { ...DEFAULT_ENGINE_SETTINGS, ...options.settings };
    this.#autoSync = this.#settings.autoSync;
    this.#problems = new RepeatLog(this.#logger);
    this.#notices = new RepeatLog(this.#logger);
    this.#scheduler = new IntervalScheduler({
      clock: this.#clock,
      offsetMs: this.#settings.scheduleOffsetMs,
      jitterMs: this.#settings.scheduleJitterMs,
      ...(options.random === undefined ? {} : { random: options.random }),
      onTick: () => this.#onTick(),
      onError: (error) => {
        this.#logger.error(
          { err: error },
          "Scheduled sync crashed; the next interval runs as usual",
        );
      },
    });
  }

  /** The settings in force. */
  get settings(): Readonly<EngineSettings> {
    return this.#settings;
  }

  /** Whether scheduled and live-price syncs run. */
  get autoSync(): boolean {
    return this.#autoSync;
  }

  /** Runs the startup sync (skipped while auto-sync is off), then starts the interval scheduler. */
  async start(): Promise<SyncResult> {
    this.#stopped = false;
    const result = await this.syncNow("startup");
    if (!this.#stopped) {
      this.#scheduler.start();
      this.#emitStatus();
    }
    return result;
  }

  /** Cancels every timer and waits for a sync in progress to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelDeferred();
    this.#liveTimer?.abort(new Error("engine stopped"));
    this.#liveTimer = undefined;
    await this.#scheduler.stop();
    await this.idle();
    await this.#store.flush();
  }

  /** Resolves once no sync is running or queued. */
  async idle(): Promise<void> {
    while (this.#pending > 0) {
      await this.#queue;
    }
  }

  /** Turns scheduled and live-price syncs on or off; manual syncs work either way. */
  setAutoSync(enabled: boolean): void {
    if (enabled === this.#autoSync) {
      return;
    }
    this.#autoSync = enabled;
    this.#logger.info(
      { autoSync: enabled },
      `Auto-sync turned ${enabled ? "on" : "off"}`,
    );
    if (!enabled) {
      this.#cancelDeferred();
      this.#liveTimer?.abort(new Error("auto-sync off"));
      this.#liveTimer = undefined;
    }
    this.#emitStatus();
  }

  /** Records the live feed's connection state for the status API. */
  setLiveFeedState(state: LiveFeedState): void {
    if (this.#live.state === state) {
      return;
    }
    const previous = this.#live.state;
    this.#live.state = state;
    if (state === "stale" || state === "disabled") {
      this.#logger.info(
        { liveFeed: state },
        `Amber live feed is ${state}; the current half hour is priced from REST each interval until it recovers`,
      );
    } else if (
      state === "connected" &&
      (previous === "stale" || previous === "disconnected")
    ) {
      this.#logger.info("Amber live feed recovered");
    }
    this.#emitStatus();
  }

  /**
   * Takes a live-price push. When it moves the current half hour by more
   * than `livePriceThresholdCents` from the uploaded tariff, a sync follows
   * after `liveDebounceMs` without further qualifying pushes.
   */
  handleLivePrices(prices: readonly CurrentInterval[]): void {
    const now = this.#clock.now();
    if (!this.#live.accept(prices, now)) {
      this.#logger.debug("Live push without a general-channel price ignored");
      return;
    }
    this.emit("prices", [...prices]);
    if (!this.#autoSync || this.#stopped) {
      return;
    }

    const uploaded = this.#store.state.lastUpload;
    const move =
      uploaded === undefined
        ? undefined
        : this.#live.moveFrom(uploaded.slots, now);
    if (move === undefined) {
      return;
    }

    const delta = Math.max(move.buyDelta, move.sellDelta);
    if (delta * 100 <= this.#settings.livePriceThresholdCents) {
      this.#logger.debug(
        { slot: move.label, deltaCents: formatCents(delta) },
        "Live price within the threshold of the uploaded slot",
      );
      return;
    }
    if (this.#deferred !== undefined) {
      this.#logger.debug(
        { slot: move.label, deltaCents: formatCents(delta) },
        "Live price moved; the sync queued for the write spacing will include it",
      );
      return;
    }
    if (this.#liveTimer === undefined) {
      this.#logger.info(
        { slot: move.label, deltaCents: formatCents(delta) },
        `Live price moved ${move.label} by ${formatCents(delta)} c/kWh (threshold ${this.#settings.livePriceThresholdCents} c/kWh); syncing`,
      );
    }
    this.#debounceLiveSync();
  }

  /**
   * Runs one sync now, after any sync already running. A failure of the
   * sync itself resolves as a SyncResult with outcome "failed" and the
   * reason; only an exception thrown by a "sync" listener rejects.
   */
  syncNow(trigger: SyncTrigger): Promise<SyncResult> {
    this.#pending += 1;
    const run = this.#queue.then(() => this.#syncOnce(trigger));
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.#pending -= 1;
    });
  }

  /** Returns the engine's state for the status API and the dashboard, without any secret. */
  status(): StatusSnapshot {
    const now = this.#clock.now();
    const { zone, source } = this.#zone();
    const state = this.#store.state;
    const day = this.#dayKey(now, zone);
    const today: DayCounters = addCounters(state.counters[day], {});
    const upload = state.lastUpload;
    const confirmation = state.lastConfirmation;
    const nextRunAt = this.#autoSync ? this.#scheduler.nextRunAt : undefined;

    return {
      mode: this.#mode,
      autoSync: this.#autoSync,
      amberSiteId: this.#amberSiteId,
      teslaSiteId: this.#teslaSiteId,
      timeZone: zone,
      timeZoneSource: source,
      nextSyncAt:
        nextRunAt === undefined ? null : new Date(nextRunAt).toISOString(),
      deferredSyncAt:
        this.#deferred === undefined
          ? null
          : new Date(this.#deferred.at).toISOString(),
      lastSync: this.#lastResult ?? null,
      lastUpload:
        upload === undefined
          ? null
          : { at: new Date(upload.at).toISOString(), summary: upload.summary },
      lastConfirmation:
        confirmation === undefined
          ? null
          : { ...confirmation, at: new Date(confirmation.at).toISOString() },
      live: this.#live.status(),
      counters: {
        day,
        today,
        amber: this.#amber.counters(),
        tesla: this.#tesla.counters(),
      },
      slots: this.#lastBuilt?.slots ?? [],
      slotsBuiltAt:
        this.#lastBuilt === undefined
          ? null
          : new Date(this.#lastBuilt.at).toISOString(),
      log: state.log
        .slice(-STATUS_LOG_ENTRIES)
        .map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() })),
    };
  }

  async #onTick(): Promise<void> {
    if (!this.#autoSync) {
      this.#logger.debug("Auto-sync is off; scheduled sync not run");
      return;
    }
    await this.syncNow("schedule");
  }

  async #syncOnce(trigger: SyncTrigger): Promise<SyncResult> {
    const amberBefore = sumCounters(this.#amber.counters());
    const teslaBefore = sumCounters(this.#tesla.counters());

    let decision: Decision;
    try {
      decision = await this.#decide(trigger);
    } catch (error) {
      decision = {
        outcome: "failed",
        reason: `unexpected error: ${describeError(error)}`,
        writes: 0,
        level: "error",
        problemKind: "unexpected",
      };
    }

    const now = this.#clock.now();
    const result: SyncResult = {
      outcome: decision.outcome,
      reason: decision.reason,
      trigger,
      at: new Date(now).toISOString(),
      writes: decision.writes,
      ...(decision.built === undefined
        ? {}
        : {
            tariffSummary: summariseSlots(
              decision.built.slots,
              decision.timeZone ?? this.#zone().zone,
            ),
          }),
      ...(decision.changedSlots === undefined
        ? {}
        : { changedSlots: decision.changedSlots }),
      ...(decision.confirmed === undefined
        ? {}
        : { confirmed: decision.confirmed }),
    };
    if (decision.record === false) {
      this.#logger.debug(
        { trigger },
        `Sync ${result.outcome}: ${result.reason}`,
      );
      return result;
    }
    this.#lastResult = result;
    this.#logDecision(result, decision);

    const day = this.#dayKey(now, this.#zone().zone);
    const amberCalls = sumCounters(this.#amber.counters()) - amberBefore;
    const teslaCalls = sumCounters(this.#tesla.counters()) - teslaBefore;
    try {
      await this.#store.update((draft) => {
        draft.log.push({
          at: now,
          trigger,
          outcome: result.outcome,
          reason: result.reason,
          writes: result.writes,
        });
        draft.counters[day] = addCounters(draft.counters[day], {
          syncs: 1,
          uploads: result.outcome === "uploaded" ? 1 : 0,
          teslaWrites: result.writes,
          amberCalls,
          teslaCalls,
        });
      });
    } catch {
      // The store has logged the failed write and kept the entry in memory.
    }

    this.emit("sync", result);
    this.#emitStatus();
    return result;
  }

  async #decide(trigger: SyncTrigger): Promise<Decision> {
    if (!this.#autoSync && trigger !== "manual" && trigger !== "service") {
      return {
        outcome: "skipped",
        reason: "auto-sync is off, so only manual syncs run",
        writes: 0,
        level: "debug",
      };
    }
    const now = this.#clock.now();

    // An automatic sync that could not write anyway is moved to the moment
    // the spacing allows, before any Amber call. Moving it (not dropping it)
    // keeps about one fetch per interval, and the runs drift back onto the
    // scheduler's grid once an interval passes without a write. Manual
    // syncs go on, because the caller expects a result about the prices.
    if (trigger !== "manual" && trigger !== "service") {
      const allowedAt = this.#writeAllowedAt(trigger);
      if (allowedAt > now) {
        this.#defer(allowedAt, trigger);
        return {
          outcome: "skipped",
          reason: `moved to ${formatClock(allowedAt, this.#zone().zone)} by the write spacing`,
          writes: 0,
          level: "debug",
          record: trigger === "startup",
        };
      }
    }

    // Prices first: without them there is nothing to decide.
    let window;
    try {
      window = await fetchPriceWindow(
        this.#amber,
        this.#amberSiteId,
        this.#intervalLength,
        now,
      );
    } catch (error) {
      return this.#failure(
        "amber-prices",
        `could not fetch Amber prices: ${describeError(error)}`,
        error,
      );
    }
    if (window.coveredUntil < now + HORIZON_MS) {
      this.#logger.debug(
        { coveredUntil: new Date(window.coveredUntil).toISOString() },
        "Amber prices cover less than 24 hours; the builder fills or refuses the rest",
      );
    }

    const siteProblem = await this.#refreshSiteInfo(now);
    if (siteProblem !== undefined) {
      return siteProblem;
    }
    const { zone, source } = this.#zone();
    if (source !== "site_info") {
      const reported = this.#siteInfo?.info.installation_time_zone ?? "";
      const what =
        reported === ""
          ? "no installation_time_zone"
          : `an unknown zone "${reported}"`;
      this.#notices.report(
        "zone-fallback",
        source === "default"
          ? `The Powerwall reports ${what}; using ${DEFAULT_TIME_ZONE}. Set timeZone in the configuration if the site is elsewhere.`
          : `The Powerwall reports ${what}; using the configured ${zone}`,
      );
    }

    let outcome;
    try {
      outcome = buildValidatedTariff({
        intervals: window.intervals,
        live: this.#live.freshAt(now),
        now,
        timeZone: zone,
        band: this.#settings.band,
        maxFilledSlots: this.#settings.maxFilledSlots,
      });
    } catch (error) {
      if (error instanceof PricesInsufficientError) {
        return this.#refusal("prices-insufficient", error.message, zone);
      }
      throw error;
    }
    if (!outcome.ok) {
      return this.#refusal(
        "tariff-invalid",
        `the built tariff failed validation: ${outcome.problems.join("; ")}`,
        zone,
      );
    }
    const built = outcome.built;
    this.#lastBuilt = { slots: built.slots, at: now };
    for (const warning of built.warnings) {
      this.#logger.debug({ warning }, "Tariff builder warning");
    }

    const change = this.#materiality(built, now, zone);
    if (!change.material) {
      return {
        outcome: "unchanged",
        reason: change.reason,
        writes: 0,
        built,
        timeZone: zone,
        changedSlots: change.changedSlots,
      };
    }

    const spacing = this.#spacingBlock(trigger, now, zone);
    if (spacing !== undefined) {
      return {
        outcome: "skipped",
        reason: `${change.reason}, but ${spacing}`,
        writes: 0,
        built,
        timeZone: zone,
        changedSlots: change.changedSlots,
      };
    }

    return this.#upload(built, zone, change, now);
  }

  /** Decides whether `built` differs enough from what the Powerwall has. */
  #materiality(
    built: BuiltTariff,
    now: number,
    zone: string,
  ): { material: boolean; reason: string; changedSlots: number } {
    const upload = this.#store.state.lastUpload;
    let before: TariffJson | undefined = upload?.tariff;
    let against = "";
    const powerwall = this.#powerwallTariff;
    if (
      powerwall !== undefined &&
      (upload === undefined || !sameTariff(upload.tariff, powerwall))
    ) {
      if (upload !== undefined) {
        this.#notices.report(
          "powerwall-tariff-differs",
          "The Powerwall's tariff differs from the last upload (changed in the Tesla app?), so the engine compares with the Powerwall's",
        );
      }
      before = powerwall;
      against = " against the Powerwall's current tariff";
    }
    if (before === undefined) {
      return {
        material: true,
        reason: "no tariff uploaded yet",
        changedSlots: built.slots.length,
      };
    }

    const change = compareTariffJson(before, built.tariff, {
      minChange: this.#settings.minChangeCents / 100,
      currentSlotMinChange: this.#settings.currentSlotMinChangeCents / 100,
      now,
      timeZone: zone,
    });
    return {
      material: change.material,
      reason: `${change.reason}${against}`,
      changedSlots: change.changedSlots,
    };
  }

  /** The earliest time the write spacing lets `trigger` write, ms (0 when there was no write). */
  #writeAllowedAt(trigger: SyncTrigger): number {
    const last = this.#store.state.lastWriteAttemptAt;
    if (last === undefined) {
      return 0;
    }
    const spacing =
      trigger === "manual" || trigger === "service"
        ? this.#settings.manualWriteFloorMs
        : this.#settings.minWriteSpacingMs;
    return last + spacing;
  }

  /** Returns why a write must wait, and queues a sync for when it may go; undefined when it may go now. */
  #spacingBlock(
    trigger: SyncTrigger,
    now: number,
    zone: string,
  ): string | undefined {
    const last = this.#store.state.lastWriteAttemptAt ?? 0;
    const allowedAt = this.#writeAllowedAt(trigger);
    if (now >= allowedAt) {
      return undefined;
    }
    this.#defer(allowedAt, trigger);
    return `the last write was ${Math.round((now - last) / 1000)} s ago, so the write waits until ${formatClock(allowedAt, zone)} (${(allowedAt - last) / 1000} s spacing)`;
  }

  async #upload(
    built: BuiltTariff,
    zone: string,
    change: { reason: string; changedSlots: number },
    now: number,
  ): Promise<Decision> {
    await this.#store
      .update((draft) => {
        draft.lastWriteAttemptAt = now;
      })
      .catch(() => undefined);

    try {
      await this.#tesla.setTariff(this.#teslaSiteId, built.tariff);
    } catch (error) {
      const failure = this.#failure(
        error instanceof WriteRejectedError ? "tesla-rejected" : "tesla-write",
        error instanceof WriteRejectedError
          ? `Tesla rejected the tariff: ${error.reason || "no reason given"}; the Powerwall keeps its previous tariff`
          : `tariff upload failed: ${describeError(error)}; the Powerwall keeps its previous tariff`,
        error,
      );
      return { ...failure, writes: 1, built, timeZone: zone };
    }

    const summary = summariseSlots(built.slots, zone);
    const acceptedAt = this.#clock.now();
    await this.#store
      .update((draft) => {
        draft.lastUpload = {
          at: acceptedAt,
          tariff: built.tariff,
          slots: built.slots.map(toStoredSlot),
          timeZone: zone,
          summary: describeSummary(summary),
        };
      })
      .catch(() => undefined);

    const clamped = clampedSlots(built.slots);
    if (clamped.length > 0) {
      this.#logger.info(
        { slots: clamped.map((slot) => slot.label) },
        `Clamped ${clamped.length} negative slot prices to zero in the uploaded tariff (Tesla treats negative rates as zero): ${clamped
          .map(
            (slot) =>
              `${slot.label} buy ${slot.buyActual.toFixed(4)} sell ${slot.sellActual.toFixed(4)}`,
          )
          .join(", ")}`,
      );
    }

    const confirmed = await this.#confirm(built.tariff);
    return {
      outcome: "uploaded",
      reason: `validated tariff accepted by Tesla (${change.reason}); read-back ${confirmed ? "confirmed" : "not confirmed"}`,
      writes: 1,
      built,
      timeZone: zone,
      changedSlots: change.changedSlots,
      confirmed,
    };
  }

  /** Reads site_info back and checks that the Powerwall has the uploaded prices. */
  async #confirm(uploaded: TariffJson): Promise<boolean> {
    const now = this.#clock.now();
    let confirmed = false;
    let detail: string;
    try {
      const info = await this.#tesla.getSiteInfo(this.#teslaSiteId);
      this.#siteInfo = { info, fetchedAt: now };
      const readBack = readPowerwallTariff(info.tariff_content_v2);
      this.#powerwallTariff = readBack;
      confirmed = readBack !== undefined && sameTariff(uploaded, readBack);
      detail = confirmed
        ? "the Powerwall reports the uploaded prices"
        : readBack === undefined
          ? "site_info has no readable tariff_content_v2"
          : "the Powerwall reports prices that differ from the upload";
    } catch (error) {
      detail = `could not read site_info back: ${describeError(error)}`;
    }
    if (!confirmed) {
      this.#notices.report(
        "read-back",
        `Tariff read-back not confirmed: ${detail}`,
      );
    }
    await this.#store
      .update((draft) => {
        draft.lastConfirmation = { at: now, confirmed, detail };
      })
      .catch(() => undefined);
    return confirmed;
  }

  /**
   * Reads site_info when it is missing or older than `siteInfoRefreshMs`.
   * Returns a failed decision only when no zone was ever learned, because
   * building in a guessed zone could shift every price by hours.
   */
  async #refreshSiteInfo(now: number): Promise<Decision | undefined> {
    const cached = this.#siteInfo;
    if (
      cached !== undefined &&
      now - cached.fetchedAt < this.#settings.siteInfoRefreshMs
    ) {
      return undefined;
    }
    try {
      const info = await this.#tesla.getSiteInfo(this.#teslaSiteId);
      this.#siteInfo = { info, fetchedAt: now };
      this.#powerwallTariff = readPowerwallTariff(info.tariff_content_v2);
      return undefined;
    } catch (error) {
      if (cached !== undefined) {
        this.#notices.report(
          "site-info-refresh",
          `Could not refresh site_info (${describeError(error)}); using the zone and tariff read at ${new Date(cached.fetchedAt).toISOString()}`,
        );
        return undefined;
      }
      return this.#failure(
        "site-info",
        `could not read the Powerwall's site_info to learn its time zone: ${describeError(error)}`,
        error,
      );
    }
  }

  /** The zone slots are keyed by, and where it came from. */
  #zone(): { zone: string; source: "site_info" | "config" | "default" } {
    const reported = this.#siteInfo?.info.installation_time_zone ?? "";
    if (reported !== "" && DateTime.local().setZone(reported).isValid) {
      return { zone: reported, source: "site_info" };
    }
    const configured = this.#settings.fallbackTimeZone;
    return configured === undefined
      ? { zone: DEFAULT_TIME_ZONE, source: "default" }
      : { zone: configured, source: "config" };
  }

  #refusal(kind: string, reason: string, zone: string): Decision {
    return {
      outcome: "refused",
      reason: `${reason}; the Powerwall keeps its current tariff`,
      writes: 0,
      timeZone: zone,
      level: "warn",
      problemKind: kind,
    };
  }

  #failure(kind: string, reason: string, error: unknown): Decision {
    return {
      outcome: "failed",
      reason,
      writes: 0,
      // A rejected credential needs a person; everything else retries by itself.
      level: error instanceof AuthError ? "error" : "warn",
      problemKind: kind,
    };
  }

  #logDecision(result: SyncResult, decision: Decision): void {
    const fields = {
      trigger: result.trigger,
      outcome: result.outcome,
      writes: result.writes,
      ...(result.changedSlots === undefined
        ? {}
        : { changedSlots: result.changedSlots }),
    };
    const message = `Sync ${result.outcome}: ${result.reason}`;
    if (decision.problemKind !== undefined) {
      this.#problems.report(
        decision.problemKind,
        message,
        fields,
        decision.level === "error" ? "error" : "warn",
      );
      return;
    }
    if (result.outcome === "uploaded" || result.outcome === "unchanged") {
      this.#problems.clearAll(
        (kind, count) => `Recovered from ${kind} after ${count} failed syncs`,
      );
    }
    const level = decision.level ?? "info";
    this.#logger[level](fields, message);
  }

  #defer(at: number, trigger: SyncTrigger): void {
    if (this.#deferred !== undefined && this.#deferred.at <= at) {
      return;
    }
    this.#cancelDeferred();
    const controller = new AbortController();
    this.#deferred = { at, controller };
    const delay = Math.max(0, at - this.#clock.now());
    this.#clock.sleep(delay, controller.signal).then(
      () => {
        if (this.#deferred?.controller === controller) {
          this.#deferred = undefined;
        }
        if (!this.#stopped) {
          void this.syncNow(trigger);
        }
      },
      () => undefined,
    );
  }

  #cancelDeferred(): void {
    this.#deferred?.controller.abort(new Error("deferred sync canceled"));
    this.#deferred = undefined;
  }

  #debounceLiveSync(): void {
    this.#liveTimer?.abort(new Error("debounced"));
    const controller = new AbortController();
    this.#liveTimer = controller;
    this.#clock.sleep(this.#settings.liveDebounceMs, controller.signal).then(
      () => {
        if (this.#liveTimer === controller) {
          this.#liveTimer = undefined;
        }
        if (!this.#stopped && this.#autoSync) {
          void this.syncNow("live-price");
        }
      },
      () => undefined,
    );
  }

  #dayKey(now: number, zone: string): string {
    return (
      DateTime.fromMillis(now, { zone }).toISODate() ??
      new Date(now).toISOString().slice(0, 10)
    );
  }

  #emitStatus(): void {
    if (this.listenerCount("status") > 0) {
      this.emit("status", this.status());
    }
  }
}

function sumCounters(counters: Record<string, number>): number {
  let total = 0;
  for (const value of Object.values(counters)) {
    total += value;
  }
  return total;
}
