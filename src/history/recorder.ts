/**
 * Fills the history store while the engine runs:
 * - prices from the engine's live-price pushes and, after each sync, the
 *   price the sync used for the current interval, each with the tariff rate
 *   on the Powerwall for that interval;
 * - settled prices from Amber: the last 24 hours once at start when the
 *   store has none from the last hour, then the last hour every hour (one
 *   Amber call each time, inside the Amber client's shared budget);
 * - energy from a live_status reading every `energy.periodMs` (default
 *   60 s), integrated into 5-minute totals;
 * - every sync result with the day's API counters.
 *
 * It prunes rows past the retention once an hour. Failures never reach the
 * engine: each kind is logged at warn once, repeats at debug, and one info
 * line follows recovery.
 */
import { EventEmitter } from "node:events";

import type { CurrentInterval, Interval } from "../amber/schemas.js";
import type {
  AmberPort,
  EngineEvents,
  StatusSnapshot,
  StatusSlot,
  SyncResult,
} from "../engine/types.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { LiveStatus } from "../tesla/schemas.js";
import type { Clock } from "../util/clock.js";
import { integrateEnergy, sampleFromLiveStatus } from "./energy.js";
import type { EnergySample, HistoryStore, PricePoint } from "./store.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The engine events and status the recorder reads. SyncEngine satisfies it. */
export interface RecorderEngine extends EventEmitter<EngineEvents> {
  status(): StatusSnapshot;
}

/** A source of live_status readings. TeslaClient satisfies it. */
export interface LiveStatusSource {
  getLiveStatus(siteId: string): Promise<LiveStatus>;
}

/** Options for {@link HistoryRecorder}. */
export interface HistoryRecorderOptions {
  store: HistoryStore;
  engine: RecorderEngine;
  clock: Clock;
  logger: Logger;
  /** live_status sampling; energy history stays empty without it. */
  energy?: {
    source: LiveStatusSource;
    siteId: string;
    /** Time between readings, ms; default 60 000. */
    periodMs?: number;
  };
  /** Settled-price backfill from Amber; without it only pushes and syncs record prices. */
  amber?: {
    port: Pick<AmberPort, "getCurrentPrices">;
    siteId: string;
    /** The site's billing interval, minutes. */
    intervalLength: 5 | 30;
  };
  /** Time between prunes and settled-price refreshes, ms; default one hour. */
  maintenanceEveryMs?: number;
}

/** Events of {@link HistoryRecorder}. */
export interface HistoryRecorderEvents {
  /** A new live_status reading was stored. */
  energy: [EnergySample];
  /** Price rows were stored. */
  prices: [number];
  /** A sync was stored. */
  sync: [SyncResult];
}

/** Records engine activity into a {@link HistoryStore}; see the file comment. */
export class HistoryRecorder extends EventEmitter<HistoryRecorderEvents> {
  readonly #options: HistoryRecorderOptions;
  readonly #store: HistoryStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** Failures per kind since the last success of that kind. */
  readonly #failures = new Map<string, number>();
  readonly #periodMs: number;
  #controller: AbortController | undefined;
  #loops: Promise<void>[] = [];
  #lastSample: EnergySample | undefined;
  /** Readings and backfills in progress, for {@link idle}. */
  readonly #inFlight = new Set<Promise<unknown>>();

  readonly #onSync = (result: SyncResult): void => {
    this.#guard("sync-record", () => this.#recordSync(result));
  };

  readonly #onPrices = (prices: CurrentInterval[]): void => {
    this.#guard("price-record", () => this.#recordIntervals(prices));
  };

  constructor(options: HistoryRecorderOptions) {
    super();
    this.#options = options;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger.child({ module: "history" });
    this.#periodMs = options.energy?.periodMs ?? MINUTE_MS;
  }

  /** Subscribes to the engine and starts sampling, backfill and pruning. Calling it twice does nothing. */
  start(): void {
    if (this.#controller !== undefined) {
      return;
    }
    const controller = new AbortController();
    this.#controller = controller;
    this.#lastSample = this.#store.latestEnergySample();
    this.#options.engine.on("sync", this.#onSync);
    this.#options.engine.on("prices", this.#onPrices);
    this.#loops = [this.#maintenanceLoop(controller.signal)];
    if (this.#options.energy !== undefined) {
      this.#loops.push(this.#energyLoop(controller.signal));
    }
  }

  /** Unsubscribes, cancels every wait and resolves once running work has finished. */
  async stop(): Promise<void> {
    const controller = this.#controller;
    if (controller === undefined) {
      return;
    }
    this.#controller = undefined;
    this.#options.engine.off("sync", this.#onSync);
    this.#options.engine.off("prices", this.#onPrices);
    controller.abort(new Error("history recorder stopped"));
    await Promise.allSettled(this.#loops);
    this.#loops = [];
  }

  /** Resolves once no live_status reading or price backfill is in progress. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  /** Reads live_status once and stores the reading and its energy. Returns the reading, or undefined on failure. */
  sampleEnergy(): Promise<EnergySample | undefined> {
    return this.#track(this.#sampleEnergy());
  }

  /**
   * Fetches settled prices for the last `hours` from Amber and stores them.
   * Returns the number of intervals stored (0 when Amber is not configured
   * or the call failed).
   */
  backfillPrices(hours: number): Promise<number> {
    return this.#track(this.#backfillPrices(hours));
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const remove = (): void => {
      this.#inFlight.delete(work);
    };
    work.then(remove, remove);
    return work;
  }

  async #sampleEnergy(): Promise<EnergySample | undefined> {
    const energy = this.#options.energy;
    if (energy === undefined) {
      return undefined;
    }
    let status: LiveStatus;
    try {
      status = await energy.source.getLiveStatus(energy.siteId);
    } catch (error) {
      this.#report(
        "live-status",
        `Could not read the Powerwall's live_status for the energy history: ${describeError(error)}; retrying every ${Math.round(this.#periodMs / 1000)} s`,
      );
      return undefined;
    }
    const sample = sampleFromLiveStatus(status, this.#clock.now());
    const stored = this.#guard("energy-record", () => {
      const previous = this.#lastSample;
      this.#store.recordEnergySample(sample);
      if (previous !== undefined) {
        this.#store.addEnergy(
          integrateEnergy(previous, sample, 3 * this.#periodMs),
        );
      }
      this.#lastSample = sample;
    });
    if (!stored) {
      return undefined;
    }
    this.#recovered("live-status");
    this.emit("energy", sample);
    return sample;
  }

  async #backfillPrices(hours: number): Promise<number> {
    const amber = this.#options.amber;
    if (amber === undefined) {
      return 0;
    }
    const previous = Math.ceil((hours * 60) / amber.intervalLength);
    let intervals: Interval[];
    try {
      const response = await amber.port.getCurrentPrices(amber.siteId, {
        previous,
        next: 0,
      });
      intervals = response.intervals;
    } catch (error) {
      this.#report(
        "price-backfill",
        `Could not fetch settled Amber prices for the price history: ${describeError(error)}; trying again within the hour`,
      );
      return 0;
    }
    let stored = 0;
    this.#guard("price-record", () => {
      stored = this.#recordIntervals(intervals);
    });
    this.#recovered("price-backfill");
    return stored;
  }

  /** Prunes old rows now; returns false when the database failed. */
  prune(): boolean {
    return this.#guard("prune", () => {
      const removed = this.#store.prune(this.#clock.now());
      this.#logger.debug({ removed }, "History pruned");
    });
  }

  async #energyLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.sampleEnergy();
      try {
        await this.#clock.sleep(this.#periodMs, signal);
      } catch {
        return;
      }
    }
  }

  async #maintenanceLoop(signal: AbortSignal): Promise<void> {
    const everyMs = this.#options.maintenanceEveryMs ?? HOUR_MS;
    const latest = this.#store.latestActualPriceStart();
    const now = this.#clock.now();
    await this.backfillPrices(
      latest === undefined || latest < now - HOUR_MS ? 24 : 1,
    );
    this.prune();
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(everyMs, signal);
      } catch {
        return;
      }
      await this.backfillPrices(1);
      this.prune();
    }
  }

  #recordSync(result: SyncResult): void {
    const status = this.#options.engine.status();
    const at = Date.parse(result.at);
    this.#store.recordSync({
      at: Number.isFinite(at) ? at : this.#clock.now(),
      trigger: result.trigger,
      outcome: result.outcome,
      reason: result.reason,
      writes: result.writes,
      changedSlots: result.changedSlots ?? null,
      confirmed: result.confirmed ?? null,
      counters: { ...status.counters.today },
    });

    // The price the sync used for the current interval: the live price when
    // it covers now, else the current half hour of the built tariff.
    const onPowerwall =
      result.outcome === "uploaded" || result.outcome === "unchanged";
    const slot = status.slots[0];
    if (onPowerwall && slot !== undefined) {
      const now = Number.isFinite(at) ? at : this.#clock.now();
      const live = status.live;
      const liveStart =
        live.intervalStart === undefined ? NaN : Date.parse(live.intervalStart);
      const liveEnd =
        live.intervalEnd === undefined ? NaN : Date.parse(live.intervalEnd);
      const liveCoversNow =
        liveStart <= now &&
        now < liveEnd &&
        live.buy !== undefined &&
        live.sell !== undefined;
      const start = liveCoversNow
        ? liveStart
        : Math.floor(now / (5 * MINUTE_MS)) * 5 * MINUTE_MS;
      this.#store.recordPrices([
        {
          start,
          minutes: liveCoversNow
            ? Math.round((liveEnd - liveStart) / MINUTE_MS)
            : 5,
          buy: liveCoversNow ? (live.buy ?? null) : slot.buyActual,
          sell: liveCoversNow ? (live.sell ?? null) : slot.sellActual,
          quality: "estimate",
          tariffBuy: slot.buy,
          tariffSell: slot.sell,
          spikeStatus: liveCoversNow
            ? (live.spikeStatus ?? null)
            : slot.spikeStatus,
        },
      ]);
    }
    this.emit("sync", result);
  }

  /** Stores Amber intervals, pairing each general price with its feed-in price. */
  #recordIntervals(intervals: readonly Interval[]): number {
    const slots = this.#options.engine.status().slots;
    const points = new Map<number, PricePoint>();
    for (const interval of intervals) {
      if (interval.channelType === "controlledLoad") {
        continue;
      }
      const end = Date.parse(interval.endTime);
      const start = end - interval.duration * MINUTE_MS;
      const point = points.get(start) ?? {
        start,
        minutes: interval.duration,
        buy: null,
        sell: null,
        quality: interval.type === "ActualInterval" ? "actual" : "estimate",
        tariffBuy: null,
        tariffSell: null,
        spikeStatus: null,
      };
      if (interval.channelType === "general") {
        point.buy = interval.perKwh / 100;
        point.spikeStatus = interval.spikeStatus;
      } else {
        point.sell = -interval.perKwh / 100;
      }
      const slot = slotAt(slots, start);
      if (slot !== undefined) {
        point.tariffBuy = slot.buy;
        point.tariffSell = slot.sell;
      }
      points.set(start, point);
    }
    this.#store.recordPrices([...points.values()]);
    this.emit("prices", points.size);
    return points.size;
  }

  /** Runs `work`, logging a database failure by kind; returns whether it succeeded. */
  #guard(kind: string, work: () => void): boolean {
    if (this.#store.closed) {
      return false;
    }
    try {
      work();
    } catch (error) {
      this.#report(
        kind,
        `History database write failed (${kind}): ${describeError(error)}; the engine keeps syncing without it`,
      );
      return false;
    }
    this.#recovered(kind);
    return true;
  }

  /** Logs a failure of `kind`: the first at warn, repeats at debug. */
  #report(kind: string, message: string): void {
    const count = (this.#failures.get(kind) ?? 0) + 1;
    this.#failures.set(kind, count);
    if (count === 1) {
      this.#logger.warn({ kind }, message);
    } else {
      this.#logger.debug({ kind, repeats: count }, message);
    }
  }

  /** Logs one info line when `kind` had failed before this success. */
  #recovered(kind: string): void {
    const count = this.#failures.get(kind);
    if (count !== undefined) {
      this.#failures.delete(kind);
      this.#logger.info(
        { kind, failures: count },
        `History ${kind} works again after ${count} failures`,
      );
    }
  }
}

/** Returns the tariff slot whose half hour contains `at`. */
function slotAt(
  slots: readonly StatusSlot[],
  at: number,
): StatusSlot | undefined {
  return slots.find(
    (slot) => Date.parse(slot.start) <= at && at < Date.parse(slot.end),
  );
}
