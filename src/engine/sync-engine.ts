/**
 * The sync engine: keeps the Powerwall's tariff in step with Amber prices.
 *
 * One sync runs these steps, and every decision is logged once with its
 * reason and kept in the sync log:
 * 1. Fetch 24 hours of prices from Amber (see price-window.ts).
 * 2. Take the live 5-minute price when a push for the current 5 minutes
 *    arrived, else the REST CurrentInterval prices the current half hour.
 * 3. Build the tariff with the price-event overlays in the Powerwall's zone,
 *    and validate it strictly. The zone is site_info
 *    `installation_time_zone`, else the configured `timeZone`, else
 *    Australia/Sydney with a warning. A builder refusal or a validation
 *    problem is "refused" and nothing is written.
 * 4. While a price-event control (spike response, force, custom schedule)
 *    holds the tariff, stop: the sync is "skipped" with the control and
 *    when it ends, and it is not a write attempt.
 * 5. Compare with the last upload (or with the Powerwall's own tariff when
 *    that differs) by the materiality rule in decision.ts. Nothing
 *    material is "unchanged".
 * 6. Respect the write spacing and the daily budget (write-budget.ts):
 *    ordinary changes wait `minWriteSpacingMs` (default 30 min) after the
 *    last write, urgent ones `urgentWriteSpacingMs` (default 5 min), and a
 *    manual sync only `manualWriteFloorMs` (default 60 s). A manual sync
 *    skips the budget but never the validation of step 3. A blocked write
 *    is "skipped", and the next scheduled sync looks again with fresh
 *    prices. A manual sync blocked by the floor, and a live-price move
 *    blocked by a spacing, are queued for when the write may go.
 * 7. Upload, read site_info back and confirm the prices match.
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
  TariffHeldError,
  WriteRejectedError,
} from "../errors.js";
import type { Logger } from "../log.js";
import type { SiteInfo } from "../tesla/schemas.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  baselineFromRates,
  baselineFromUpload,
  clampedPrices,
  describeSummary,
  formatCents,
  formatClock,
  judgeCurrentMove,
  judgeMateriality,
  summariseSlots,
  toStoredSlot,
  type BuiltSlot,
  type Materiality,
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
  readPowerwallTariff,
  sameTariff,
  tariffRatesAt,
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
  TariffControls,
  TariffHold,
  TeslaPort,
  WriteBudgetStatus,
} from "./types.js";
import {
  checkWrite,
  dayProgress,
  nextWriteAt,
  ordinaryAllowance,
  urgentAllowance,
  type WriteKind,
  type WritePermission,
} from "./write-budget.js";

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
  /** Overlays and the tariff hold check of the price-event controls; default none. */
  controls?: TariffControls;
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
  urgent?: boolean;
  heldBy?: string;
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
  #controls: TariffControls | undefined;
  /** Id of the control that held the tariff at the last sync, if any. */
  #heldBy: string | undefined;
  /** Local date and the kinds of change the budget held back that day, as logged. */
  #budgetNotices: { day: string; kinds: Set<WriteKind> } | undefined;
  /** Key (limit and time) of the last deferral logged at info, so repeats go to debug. */
  #deferralNotice: string | undefined;

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
    this.#controls = options.controls;
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

  /**
   * Takes the price-event controls' overlays and tariff hold check; the
   * controls call this from their `attach`. Replaces any set before.
   */
  useTariffControls(controls: TariffControls): void {
    this.#controls = controls;
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
   * Takes a live-price push. A push qualifies when it moves the uploaded
   * current half hour by at least `livePriceThresholdCents` and enough to
   * be material (rule 4 in decision.ts). When the spacing and the budget
   * let that kind of change be written, a sync follows after
   * `liveDebounceMs` without further qualifying pushes. While the spacing
   * holds it back, a sync is queued for when the spacing ends. Other moves
   * wait for the scheduled sync.
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
    const slot = uploaded?.slots.find(
      (candidate) => candidate.label === move?.label,
    );
    const live = this.#live.status();
    if (move === undefined || slot === undefined || live.buy === undefined) {
      return;
    }

    const delta = Math.max(move.buyDelta, move.sellDelta);
    const verdict = judgeCurrentMove(
      { buy: slot.buy, sell: slot.sell },
      {
        buy: Math.max(0, live.buy),
        sell: live.sell === undefined ? slot.sell : Math.max(0, live.sell),
      },
      this.#settings,
    );
    const fields = { slot: move.label, deltaCents: formatCents(delta) };
    if (
      verdict === "none" ||
      delta * 100 < this.#settings.livePriceThresholdCents
    ) {
      this.#logger.debug(
        fields,
        "Live price move of the current slot is not material",
      );
      return;
    }
    const hold = this.#controls?.tariffHold();
    if (hold !== undefined) {
      this.#logger.debug(
        { ...fields, heldBy: hold.holder },
        "Live price moved, but a control holds the tariff",
      );
      return;
    }
    if (this.#deferred !== undefined) {
      this.#logger.debug(
        fields,
        "Live price moved; the sync queued for the write spacing will include it",
      );
      return;
    }
    const permission = this.#permission(
      verdict === "urgent" ? "urgent" : "ordinary",
      now,
    );
    if (!permission.allowed) {
      // A spacing ends at a known time, so the sync is queued for it. A
      // spent budget leaves the move to the scheduled syncs.
      const runAt =
        permission.limit === "spacing"
          ? this.#defer(permission.retryAt, "live-price")
          : undefined;
      const when =
        runAt !== undefined
          ? `the sync is queued for ${formatClock(runAt, this.#zone().zone)}`
          : "the scheduled syncs write it then if the move still holds";
      this.#noteDeferral(
        `${permission.limit}@${String(permission.retryAt)}`,
        { ...fields, urgent: verdict === "urgent", limit: permission.limit },
        `Live price moved ${move.label} by ${formatCents(delta)} c/kWh, but ${permission.reason}; ${when}`,
      );
      return;
    }
    if (this.#liveTimer === undefined) {
      this.#logger.info(
        { ...fields, urgent: verdict === "urgent" },
        `Live price moved ${move.label} by ${formatCents(delta)} c/kWh${verdict === "urgent" ? " (urgent)" : ""}; syncing`,
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
    const hold = this.#controls?.tariffHold();

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
      writeBudget: this.#budgetStatus(now, zone),
      tariffHold:
        hold === undefined
          ? null
          : {
              holder: hold.holder,
              description: hold.description,
              until:
                hold.until === undefined
                  ? null
                  : new Date(hold.until).toISOString(),
              endCondition: hold.endCondition,
            },
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
      ...(decision.urgent === undefined ? {} : { urgent: decision.urgent }),
      ...(decision.heldBy === undefined ? {} : { heldBy: decision.heldBy }),
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
    const manual = trigger === "manual" || trigger === "service";
    if (!this.#autoSync && !manual) {
      return {
        outcome: "skipped",
        reason: "auto-sync is off, so only manual syncs run",
        writes: 0,
        level: "debug",
      };
    }
    const now = this.#clock.now();

    // An automatic sync that could not write even an urgent change is
    // moved to the moment the urgent spacing allows, before any Amber call.
    // Moving it (not dropping it) keeps about one fetch per interval, and
    // the runs drift back onto the scheduler's grid once an interval passes
    // without a write. Manual syncs go on, because the caller expects a
    // result about the prices.
    if (!manual) {
      const last = this.#store.state.lastWriteAttemptAt;
      const allowedAt =
        last === undefined ? 0 : last + this.#settings.urgentWriteSpacingMs;
      if (allowedAt > now) {
        const runAt = this.#defer(allowedAt, trigger);
        this.#noteDeferral(
          `spacing@${String(runAt)}`,
          { trigger, limit: "spacing" },
          `Sync deferred by the write spacing: the last write was ${String(Math.round((now - (last ?? now)) / 1000))} s ago and even an urgent change keeps ${String(this.#settings.urgentWriteSpacingMs / 1000)} s between writes, so the sync runs at ${formatClock(runAt, this.#zone().zone)}`,
        );
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

    // After a control let go of the tariff, read what it left on the
    // Powerwall instead of trusting the cached site_info.
    const hold = this.#controls?.tariffHold();
    const released = hold === undefined && this.#heldBy !== undefined;
    const siteProblem = await this.#refreshSiteInfo(now, released);
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
        overlays: this.#controls?.overlays() ?? [],
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

    if (hold !== undefined) {
      return this.#heldDecision(hold, built, zone);
    }
    this.#heldBy = undefined;

    const change = this.#materiality(built);
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

    const kind: WriteKind = manual
      ? "manual"
      : change.urgent
        ? "urgent"
        : "ordinary";
    const permission = this.#permission(kind, now, zone);
    if (!permission.allowed) {
      // Only a manual sync is queued: automatic ones look again at the next
      // scheduled sync, with fresh prices.
      const runAt =
        kind === "manual"
          ? this.#defer(permission.retryAt, trigger)
          : undefined;
      const key = `${kind}:${permission.limit}@${String(permission.retryAt)}`;
      if (this.#noteBudgetLimit(permission, kind, now, zone)) {
        // That info line already gives the reason and the time.
        this.#deferralNotice = key;
      } else {
        const when =
          runAt !== undefined
            ? `the sync is queued for ${formatClock(runAt, zone)}`
            : "the scheduled syncs write it then if the change still holds";
        this.#noteDeferral(
          key,
          { trigger, kind, limit: permission.limit },
          `Tesla write deferred (${kind} change): ${permission.reason}; ${when}`,
        );
      }
      return {
        outcome: "skipped",
        reason: `${change.reason}, but ${permission.reason}`,
        writes: 0,
        built,
        timeZone: zone,
        changedSlots: change.changedSlots,
        urgent: change.urgent,
        level: "debug",
      };
    }

    return this.#upload(built, zone, change, now);
  }

  /**
   * Logs a deferred sync or write at info the first time `key` (the limit
   * and the time it ends) is seen, and at debug while the same deferral
   * repeats.
   */
  #noteDeferral(key: string, fields: object, message: string): void {
    if (this.#deferralNotice === key) {
      this.#logger.debug(fields, message);
      return;
    }
    this.#deferralNotice = key;
    this.#logger.info(fields, message);
  }

  /**
   * Logs at info the first time each local day that the budget holds back
   * a change of `kind`, and returns true when it logged. The budget is
   * expected to bind on volatile days, so it is no warning.
   */
  #noteBudgetLimit(
    permission: WritePermission,
    kind: WriteKind,
    now: number,
    zone: string,
  ): boolean {
    if (permission.allowed || permission.limit !== "budget") {
      return false;
    }
    const day = dayProgress(now, zone).day;
    if (this.#budgetNotices?.day !== day) {
      this.#budgetNotices = { day, kinds: new Set() };
    }
    if (this.#budgetNotices.kinds.has(kind)) {
      return false;
    }
    this.#budgetNotices.kinds.add(kind);
    this.#logger.info(
      { kind, budget: this.#settings.dailyWriteBudget },
      `Daily Tesla write budget holds back ${kind} changes: ${permission.reason}`,
    );
    return true;
  }

  /** The decision for a sync while `hold` keeps the Amber tariff off the Powerwall. */
  #heldDecision(hold: TariffHold, built: BuiltTariff, zone: string): Decision {
    const until =
      hold.until === undefined
        ? `until ${hold.endCondition}`
        : `until ${formatClock(hold.until, zone)}`;
    const first = this.#heldBy !== hold.holder;
    this.#heldBy = hold.holder;
    return {
      outcome: "skipped",
      reason: `the ${hold.description} holds the tariff ${until}, so the Amber tariff is not uploaded`,
      writes: 0,
      built,
      timeZone: zone,
      heldBy: hold.holder,
      level: first ? "info" : "debug",
    };
  }

  /** Applies the materiality rule against the Powerwall's current tariff. */
  #materiality(built: BuiltTariff): Materiality {
    const upload = this.#store.state.lastUpload;
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
      const change = judgeMateriality(
        built.slots,
        baselineFromRates(tariffRatesAt(powerwall, built.slots)),
        this.#settings,
      );
      return {
        ...change,
        reason: `${change.reason} against the Powerwall's current tariff`,
      };
    }
    if (upload === undefined) {
      return {
        material: true,
        urgent: false,
        reason: "no tariff uploaded yet",
        findings: [],
        changedSlots: built.slots.length,
        maxDelta: 0,
      };
    }
    return judgeMateriality(
      built.slots,
      baselineFromUpload(built.slots, upload.slots),
      this.#settings,
    );
  }

  /** Whether the spacing and the daily budget let a write of `kind` go at `now`. */
  #permission(
    kind: WriteKind,
    now: number,
    zone = this.#zone().zone,
  ): WritePermission {
    const progress = dayProgress(now, zone);
    return checkWrite(
      this.#settings,
      {
        kind,
        now,
        lastWriteAt: this.#store.state.lastWriteAttemptAt,
        usedToday: this.#store.state.counters[progress.day]?.teslaWrites ?? 0,
        progress,
      },
      (ms) => formatClock(ms, zone),
    );
  }

  #budgetStatus(now: number, zone: string): WriteBudgetStatus {
    const progress = dayProgress(now, zone);
    const used = this.#store.state.counters[progress.day]?.teslaWrites ?? 0;
    const request = {
      now,
      lastWriteAt: this.#store.state.lastWriteAttemptAt,
      usedToday: used,
      progress,
    };
    const next = (kind: WriteKind): string | null => {
      const at = nextWriteAt(this.#settings, request, kind);
      return at <= now ? null : new Date(at).toISOString();
    };
    return {
      day: progress.day,
      used,
      limit: this.#settings.dailyWriteBudget,
      urgentReserve: this.#settings.urgentWriteReserve,
      ordinaryAvailable: Math.max(
        0,
        ordinaryAllowance(this.#settings, progress.fraction) - used,
      ),
      urgentAvailable: Math.max(
        0,
        urgentAllowance(this.#settings, progress.fraction) - used,
      ),
      nextOrdinaryWriteAt: next("ordinary"),
      nextUrgentWriteAt: next("urgent"),
    };
  }

  async #upload(
    built: BuiltTariff,
    zone: string,
    change: Materiality,
    now: number,
  ): Promise<Decision> {
    const previousAttempt = this.#store.state.lastWriteAttemptAt;
    await this.#store
      .update((draft) => {
        draft.lastWriteAttemptAt = now;
      })
      .catch(() => undefined);

    try {
      await this.#tesla.setTariff(this.#teslaSiteId, built.tariff);
    } catch (error) {
      if (error instanceof TariffHeldError) {
        // A control claimed the tariff after the check above. Its guard
        // stopped the request before it reached Tesla, so this was no write.
        await this.#store
          .update((draft) => {
            draft.lastWriteAttemptAt = previousAttempt;
          })
          .catch(() => undefined);
        return {
          outcome: "skipped",
          reason: error.message,
          writes: 0,
          built,
          timeZone: zone,
          changedSlots: change.changedSlots,
          urgent: change.urgent,
        };
      }
      const failure = this.#failure(
        error instanceof WriteRejectedError ? "tesla-rejected" : "tesla-write",
        error instanceof WriteRejectedError
          ? `Tesla rejected the tariff: ${error.reason || "no reason given"}; the Powerwall keeps its previous tariff`
          : `tariff upload failed: ${describeError(error)}; the Powerwall keeps its previous tariff`,
        error,
      );
      return {
        ...failure,
        writes: 1,
        built,
        timeZone: zone,
        urgent: change.urgent,
      };
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

    const clamped = clampedPrices(built.slots);
    if (clamped.length > 0) {
      const listed = clamped
        .map((price) => `${price.side} ${price.label} (${price.cents} c/kWh)`)
        .join(", ");
      this.#logger.info(
        { clamped },
        `Clamped ${clamped.length} negative ${clamped.length === 1 ? "price" : "prices"} to zero for the upload (Tesla treats negative rates as zero): ${listed}`,
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
      urgent: change.urgent,
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
   * Reads site_info when it is missing, older than `siteInfoRefreshMs`, or
   * `force` is set. Returns a failed decision only when no zone was ever
   * learned, because building in a guessed zone could shift every price by
   * hours.
   */
  async #refreshSiteInfo(
    now: number,
    force = false,
  ): Promise<Decision | undefined> {
    const cached = this.#siteInfo;
    if (
      !force &&
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

  /** Queues a sync for `at` unless one is queued earlier, and returns when the queued sync runs. */
  #defer(at: number, trigger: SyncTrigger): number {
    if (this.#deferred !== undefined && this.#deferred.at <= at) {
      return this.#deferred.at;
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
    return at;
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
