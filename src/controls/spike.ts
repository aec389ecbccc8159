/**
 * AEMO spike response for one NEM region. While the region's dispatch price
 * is in a spike, the Powerwall gets a tariff that pays well for export over
 * the next two hours and runs in Time-Based Control (`autonomous`), so it
 * sells its stored energy into the spike. Afterwards the saved tariff and
 * operation mode go back.
 *
 * State machine (persisted in `spike-<REGION>.json` before every action):
 *
 *   idle --price >= threshold--> entering --writes done--> active
 *   active --N intervals below exit level--> restoring --writes done--> idle
 *   entering/active --preempted by force--> restoring --> suspended
 *   suspended --force ends, spike still on--> entering
 *   suspended --spike over--> idle
 *
 * Hysteresis: a spike starts when a price reaches `thresholdMwh` (default
 * 300 $/MWh). It ends only after `exitIntervals` (default 2) consecutive
 * 5-minute dispatch intervals priced below the exit level,
 * `thresholdMwh * (1 - exitMargin)` (default margin 10 %, so 270 $/MWh).
 * A price between the exit level and the threshold resets the count. Polls
 * within one dispatch interval count once, using the interval's latest
 * price, because AEMO may revise a NOT FIRM price.
 *
 * Failed writes leave the control in `entering` or `restoring`; the next
 * poll tries again. The saved settings are kept until a restore succeeds.
 */
import { EventEmitter } from "node:events";

import type { Logger } from "pino";
import { z } from "zod";

import type { RegionPrice } from "../aemo/client.js";
import { nemRegionSchema, type NemRegion } from "../aemo/schemas.js";
import { ConfigError, describeError } from "../errors.js";
import { tariffsEquivalent } from "../tariff/compare.js";
import { validateTariff } from "../tariff/validate.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  captureSiteState,
  savedSiteStateSchema,
  siteTimeZone,
  type PowerwallWrites,
  type SavedSiteState,
  type SiteId,
} from "./powerwall.js";
import type { ClaimHolder, ControlArbiter, Resource } from "./precedence.js";
import { SerialQueue } from "./serial.js";
import { StateFile } from "./state-file.js";
import {
  roundRate,
  slotsInSpan,
  slotTariff,
  SLOTS_PER_DAY,
} from "./tariff-shapes.js";

const FIVE_MINUTES_MS = 5 * 60_000;

/** States of the spike response. */
export const SPIKE_STATES = [
  "idle",
  "entering",
  "active",
  "restoring",
  "suspended",
] as const;
/** A state of the spike response; see the file comment for the transitions. */
export type SpikeState = (typeof SPIKE_STATES)[number];

const marketSpikeSchema = z.object({
  /** When the spike was first seen, epoch ms. */
  startedAt: z.number(),
  /** Highest price seen during the spike, $/MWh. */
  peakPriceMwh: z.number(),
  /** Latest price, $/MWh. */
  lastPriceMwh: z.number(),
  /** Consecutive dispatch intervals priced below the exit level. */
  belowCount: z.number().int().min(0),
  /** End of the latest dispatch interval seen, epoch ms. */
  lastIntervalEnd: z.number(),
  /** Whether the latest interval was below the exit level. */
  lastIntervalBelow: z.boolean(),
  /** True once the hysteresis rule ends the spike; cleared on the way to idle. */
  over: z.boolean(),
  /** True once `spike_started` was sent, so the way to idle sends `spike_ended`. */
  announced: z.boolean(),
  /** True when test mode started it. */
  simulated: z.boolean(),
});

const spikeFileSchema = z.object({
  version: z.literal(1),
  region: nemRegionSchema,
  enabled: z.boolean(),
  state: z.enum(SPIKE_STATES),
  /** Target state of a restore: idle after the spike, suspended when preempted. */
  restoreTo: z.enum(["idle", "suspended"]).optional(),
  /** Settings saved before the spike tariff went up. */
  saved: savedSiteStateSchema.optional(),
  /** The site's IANA zone, read when entering. */
  timeZone: z.string().optional(),
  /** When the current spike tariff was uploaded, epoch ms. */
  tariffUploadedAt: z.number().optional(),
  /** The market spike being tracked, if any. */
  spike: marketSpikeSchema.optional(),
  /** Price ($/MWh) of a simulated spike in test mode. */
  simulatedPriceMwh: z.number().optional(),
});
type SpikeFile = z.infer<typeof spikeFileSchema>;

/** Tariff the spike response uploads; all prices $/kWh. */
export interface SpikeTariffOptions {
  /** How far ahead export pays the spike price, minutes; default 120. */
  windowMinutes?: number;
  /** Lowest sell price in the window, $/kWh; default 1.00. The AEMO price is used when higher. */
  minSellPerKwh?: number;
  /** Buy price outside the window, $/kWh; default 0.30. */
  buyOutsidePerKwh?: number;
  /** Sell price outside the window, $/kWh; default 0. */
  sellOutsidePerKwh?: number;
}

/** Source of regional prices for the spike response; AemoClient implements it. */
export interface RegionPriceSource {
  getRegionPrice(region: NemRegion): Promise<RegionPrice>;
}

/** Options of {@link SpikeResponse}. */
export interface SpikeResponseOptions {
  region: NemRegion;
  siteId: SiteId;
  powerwall: PowerwallWrites;
  prices: RegionPriceSource;
  arbiter: ControlArbiter;
  /** Directory of the state file `spike-<REGION>.json`. */
  dataDir: string;
  logger: Logger;
  clock?: Clock;
  /** Price at or above which a spike starts, $/MWh; default 300. */
  thresholdMwh?: number;
  /** Fraction below the threshold that counts as over, 0 to 1; default 0.1. */
  exitMargin?: number;
  /** Consecutive dispatch intervals below the exit level that end a spike; default 2. */
  exitIntervals?: number;
  /** Time between AEMO polls, ms; default 60000. */
  pollIntervalMs?: number;
  /** Zone when site_info has no `installation_time_zone`; default Australia/Sydney. */
  fallbackTimeZone?: string;
  /** Enabled on first start; later the state file keeps the switch. Default false. */
  enabled?: boolean;
  tariff?: SpikeTariffOptions;
}

/** Payload of the `spike_started` event. */
export interface SpikeStartedEvent {
  region: NemRegion;
  /** Price that started the spike, $/MWh. */
  price: number;
  thresholdMwh: number;
  /** Epoch ms. */
  at: number;
  /** True when started by {@link SpikeResponse.simulate}. */
  simulated: boolean;
  /** False when a higher control (force) holds the tariff, so the response waits. */
  responding: boolean;
}

/** Payload of the `spike_ended` event, sent once the saved settings are back. */
export interface SpikeEndedEvent {
  region: NemRegion;
  /** Latest price, $/MWh. */
  price: number;
  peakPriceMwh: number;
  /** Epoch ms. */
  at: number;
  durationMs: number;
  simulated: boolean;
  reason: "price-fell" | "simulation-ended" | "disabled";
}

/** Readable state for the HA bridge and the dashboard. */
export interface SpikeSnapshot {
  id: string;
  region: NemRegion;
  enabled: boolean;
  state: SpikeState;
  thresholdMwh: number;
  exitBelowMwh: number;
  exitIntervals: number;
  /** Latest AEMO price seen. */
  lastPrice: RegionPrice | undefined;
  spike: SpikeFile["spike"];
  simulated: boolean;
  /** Control holding the tariff while this one waits. */
  blockedBy: string | undefined;
  /** Last failure, for display; cleared by the next success. */
  lastError: string | undefined;
}

/** Events of {@link SpikeResponse}. */
export interface SpikeEvents {
  spike_started: [SpikeStartedEvent];
  spike_ended: [SpikeEndedEvent];
  state: [SpikeSnapshot];
}

/** Spike response for one region; see the file comment. */
export class SpikeResponse
  extends EventEmitter<SpikeEvents>
  implements ClaimHolder
{
  readonly id: string;
  readonly kind = "spike" as const;
  readonly #region: NemRegion;
  readonly #siteId: SiteId;
  readonly #powerwall: PowerwallWrites;
  readonly #prices: RegionPriceSource;
  readonly #arbiter: ControlArbiter;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #file: StateFile<SpikeFile>;
  readonly #queue = new SerialQueue();
  readonly #thresholdMwh: number;
  readonly #exitBelowMwh: number;
  readonly #exitIntervals: number;
  readonly #pollIntervalMs: number;
  readonly #fallbackZone: string;
  readonly #tariff: Required<SpikeTariffOptions>;
  #state: SpikeFile;
  #lastPrice: RegionPrice | undefined;
  #lastError: string | undefined;
  #loop: AbortController | undefined;
  #loopDone: Promise<void> | undefined;

  constructor(options: SpikeResponseOptions) {
    super();
    this.#region = options.region;
    this.id = `spike:${options.region}`;
    this.#siteId = options.siteId;
    this.#powerwall = options.powerwall;
    this.#prices = options.prices;
    this.#arbiter = options.arbiter;
    this.#logger = options.logger.child({ control: this.id });
    this.#clock = options.clock ?? systemClock;
    this.#thresholdMwh = options.thresholdMwh ?? 300;
    const margin = options.exitMargin ?? 0.1;
    if (!(margin >= 0 && margin < 1)) {
      throw new ConfigError(
        `Spike exit margin ${margin} is out of range; use a fraction from 0 to below 1, e.g. 0.1.`,
      );
    }
    this.#exitBelowMwh = this.#thresholdMwh * (1 - margin);
    this.#exitIntervals = Math.max(1, Math.round(options.exitIntervals ?? 2));
    this.#pollIntervalMs = options.pollIntervalMs ?? 60_000;
    this.#fallbackZone = options.fallbackTimeZone ?? "Australia/Sydney";
    this.#tariff = {
      windowMinutes: options.tariff?.windowMinutes ?? 120,
      minSellPerKwh: options.tariff?.minSellPerKwh ?? 1,
      buyOutsidePerKwh: options.tariff?.buyOutsidePerKwh ?? 0.3,
      sellOutsidePerKwh: options.tariff?.sellOutsidePerKwh ?? 0,
    };
    this.#file = new StateFile(
      options.dataDir,
      `spike-${options.region}.json`,
      spikeFileSchema,
      this.#logger,
      () => this.#clock.now(),
    );
    this.#state = {
      version: 1,
      region: options.region,
      enabled: options.enabled ?? false,
      state: "idle",
    };
  }

  // ------------------------------------------------------------ lifecycle

  /**
   * Reads the state file and registers this control's claim with the
   * arbiter, without writing anything. Call `load()` on every control
   * before `resume()` on any, so the arbiter has every claim first.
   */
  async load(): Promise<void> {
    const stored = await this.#file.load();
    if (stored !== undefined && stored.region === this.#region) {
      this.#state = stored;
    }
    if (this.#state.state !== "idle") {
      this.#arbiter.register(this, ["tariff", "export-rule"]);
    }
  }

  /** Finishes whatever the previous run left half done; see the file comment. */
  resume(): Promise<void> {
    return this.#queue.run(async () => {
      const writer = this.#arbiter.isWriter(this.id, "tariff");
      switch (this.#state.state) {
        case "entering":
          if (writer) {
            await this.#applySpikeTariff({ skipWhatTheSiteHas: true });
          } else {
            await this.#save({ ...this.#state, state: "suspended" });
          }
          break;
        case "active":
          if (!writer) {
            await this.#save({ ...this.#state, state: "suspended" });
          }
          break;
        case "restoring":
          await this.#restore(this.#state.restoreTo ?? "idle", {
            writes: writer,
          });
          break;
        case "idle":
        case "suspended":
          break;
      }
      this.#publish();
    });
  }

  /** Starts polling AEMO every `pollIntervalMs`, the first poll at once. */
  start(): void {
    if (this.#loop !== undefined) {
      return;
    }
    const loop = new AbortController();
    this.#loop = loop;
    this.#loopDone = (async () => {
      while (!loop.signal.aborted) {
        await this.poll();
        try {
          await this.#clock.sleep(this.#pollIntervalMs, loop.signal);
        } catch {
          return;
        }
      }
    })();
  }

  /** Stops polling and waits for the current transition to finish. Settings stay as they are. */
  async stop(): Promise<void> {
    this.#loop?.abort(new Error("spike response stopped"));
    await this.#loopDone;
    this.#loop = undefined;
    this.#loopDone = undefined;
    await this.#queue.idle();
  }

  /** Turns the response on; the next poll acts on the price. */
  enable(): Promise<void> {
    return this.#queue.run(async () => {
      await this.#save({ ...this.#state, enabled: true });
      this.#publish();
    });
  }

  /** Turns the response off, restoring the saved settings first if a spike tariff is up. */
  disable(): Promise<void> {
    return this.#queue.run(async () => {
      await this.#save({
        ...this.#state,
        enabled: false,
        simulatedPriceMwh: undefined,
      });
      await this.#endSpike("disabled");
      this.#publish();
    });
  }

  // ------------------------------------------------------------ test mode

  /**
   * Test mode: acts as if AEMO reported `priceMwh` until `endSimulation()`.
   * Real prices are ignored meanwhile. Rejects a price below the threshold.
   */
  simulate(priceMwh: number): Promise<void> {
    if (!Number.isFinite(priceMwh) || priceMwh < this.#thresholdMwh) {
      return Promise.reject(
        new ConfigError(
          `Simulated spike price ${priceMwh} $/MWh is below the threshold of ${this.#thresholdMwh} $/MWh; use at least the threshold.`,
        ),
      );
    }
    return this.#queue.run(async () => {
      await this.#save({ ...this.#state, simulatedPriceMwh: priceMwh });
      await this.#evaluate(this.#simulatedPrice(priceMwh));
      this.#publish();
    });
  }

  /** Ends test mode and restores the saved settings at once, skipping the hysteresis. */
  endSimulation(): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#state.simulatedPriceMwh === undefined) {
        return;
      }
      await this.#save({ ...this.#state, simulatedPriceMwh: undefined });
      await this.#endSpike("simulation-ended");
      this.#publish();
    });
  }

  // ------------------------------------------------------------ polling

  /** Reads the region's price once and acts on it. Failures are logged and kept in `lastError`. */
  poll(): Promise<void> {
    return this.#queue.run(async () => {
      if (!this.#state.enabled) {
        return;
      }
      let price: RegionPrice;
      if (this.#state.simulatedPriceMwh !== undefined) {
        price = this.#simulatedPrice(this.#state.simulatedPriceMwh);
      } else {
        try {
          price = await this.#prices.getRegionPrice(this.#region);
        } catch (error) {
          this.#lastError = describeError(error);
          this.#publish();
          return;
        }
      }
      await this.#evaluate(price);
      this.#publish();
    });
  }

  /** Resolves once every queued transition has finished; for tests and shutdown. */
  settled(): Promise<void> {
    return this.#queue.idle();
  }

  snapshot(): SpikeSnapshot {
    const writer = this.#arbiter.writer("tariff");
    return {
      id: this.id,
      region: this.#region,
      enabled: this.#state.enabled,
      state: this.#state.state,
      thresholdMwh: this.#thresholdMwh,
      exitBelowMwh: this.#exitBelowMwh,
      exitIntervals: this.#exitIntervals,
      lastPrice: this.#lastPrice,
      spike: this.#state.spike,
      simulated: this.#state.simulatedPriceMwh !== undefined,
      blockedBy:
        this.#state.state === "suspended" && writer !== this.id
          ? writer
          : undefined,
      lastError: this.#lastError,
    };
  }

  // ------------------------------------------------------------ arbiter callbacks

  /** Puts the saved settings back and waits suspended while a higher control holds the tariff. */
  onPreempted(resource: Resource): Promise<void> {
    if (resource !== "tariff") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      const state = this.#state.state;
      if (state === "entering" || state === "active" || state === "restoring") {
        await this.#restore(this.#state.restoreTo ?? "suspended", {
          writes: true,
        });
      }
      this.#publish();
    });
  }

  /** Starts the response again if the spike outlasted the higher control. */
  onResumed(resource: Resource): Promise<void> {
    if (resource !== "tariff") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      if (this.#state.state !== "suspended") {
        return;
      }
      if (this.#marketOn() && this.#state.enabled) {
        await this.#enter();
      } else {
        await this.#toIdle();
      }
      this.#publish();
    });
  }

  // ------------------------------------------------------------ transitions

  #marketOn(): boolean {
    return this.#state.spike !== undefined && !this.#state.spike.over;
  }

  async #evaluate(price: RegionPrice): Promise<void> {
    this.#lastPrice = price;
    this.#lastError = undefined;
    const spike = this.#track(price);
    if (spike !== this.#state.spike) {
      await this.#save({ ...this.#state, spike });
    }
    const on = this.#marketOn();

    switch (this.#state.state) {
      case "idle":
        if (on) {
          await this.#enter();
        } else if (spike?.over === true) {
          await this.#toIdle();
        }
        break;
      case "entering":
        if (on) {
          await this.#enter();
        } else {
          await this.#restore("idle", { writes: true });
        }
        break;
      case "active":
        if (on) {
          await this.#refreshIfDue();
        } else {
          await this.#restore("idle", { writes: true });
        }
        break;
      case "suspended":
        if (!on) {
          await this.#toIdle();
        } else if (this.#arbiter.isWriter(this.id, "tariff")) {
          await this.#enter();
        }
        break;
      case "restoring":
        await this.#restore(this.#state.restoreTo ?? "idle", { writes: true });
        break;
    }
  }

  /**
   * Returns the tracked market spike updated with `price`: a new one when
   * the price reaches the threshold, marked `over` once the hysteresis is
   * met. Returns the same object when nothing changed.
   */
  #track(price: RegionPrice): SpikeFile["spike"] {
    const current = this.#state.spike;
    const below = price.priceMwh < this.#exitBelowMwh;
    if (current === undefined || current.over) {
      if (price.priceMwh < this.#thresholdMwh || current?.over === true) {
        return current;
      }
      this.#logger.info(
        { priceMwh: price.priceMwh, thresholdMwh: this.#thresholdMwh },
        "AEMO price spike started",
      );
      return {
        startedAt: this.#clock.now(),
        peakPriceMwh: price.priceMwh,
        lastPriceMwh: price.priceMwh,
        belowCount: 0,
        lastIntervalEnd: price.settlementEnd,
        lastIntervalBelow: false,
        over: false,
        announced: false,
        simulated: this.#state.simulatedPriceMwh !== undefined,
      };
    }

    let belowCount = current.belowCount;
    if (price.settlementEnd === current.lastIntervalEnd) {
      // A repeat poll of the same interval, possibly with a revised price.
      if (current.lastIntervalBelow && !below) {
        belowCount = 0;
      } else if (!current.lastIntervalBelow && below) {
        belowCount += 1;
      }
    } else if (price.settlementEnd > current.lastIntervalEnd) {
      belowCount = below ? belowCount + 1 : 0;
    } else {
      // An interval older than one already seen: ignore it.
      return current;
    }

    // A simulated spike ends only by endSimulation().
    const over =
      belowCount >= this.#exitIntervals &&
      this.#state.simulatedPriceMwh === undefined;
    if (over) {
      this.#logger.info(
        { priceMwh: price.priceMwh, peakPriceMwh: current.peakPriceMwh },
        "AEMO price spike ended",
      );
    }
    return {
      ...current,
      peakPriceMwh: Math.max(current.peakPriceMwh, price.priceMwh),
      lastPriceMwh: price.priceMwh,
      belowCount,
      lastIntervalEnd: price.settlementEnd,
      lastIntervalBelow: below,
      over,
    };
  }

  /** Claims the tariff, saves the site's settings and uploads the spike tariff. */
  async #enter(): Promise<void> {
    const spike = this.#state.spike;
    if (spike === undefined) {
      return;
    }
    const claim = await this.#arbiter.claim(this, ["tariff", "export-rule"]);
    if (!spike.announced) {
      await this.#save({
        ...this.#state,
        spike: { ...spike, announced: true },
      });
      this.#emitStarted(spike, claim.granted);
    }
    if (!claim.granted) {
      if (this.#state.state !== "suspended") {
        await this.#save({ ...this.#state, state: "suspended" });
      }
      this.#logger.info(
        { blockedBy: claim.blockedBy },
        "Spike response waits because another control holds the tariff",
      );
      return;
    }

    if (this.#state.saved === undefined) {
      let saved: SavedSiteState;
      let timeZone: string;
      try {
        const info = await this.#powerwall.getSiteInfo(this.#siteId);
        saved = captureSiteState(info);
        timeZone = siteTimeZone(info, this.#fallbackZone);
      } catch (error) {
        this.#fail("read site_info before the spike tariff", error);
        return;
      }
      if (saved.tariff === undefined) {
        this.#fail(
          "save the current tariff",
          new Error(
            "site_info has no tariff_content_v2 to restore later, so no spike tariff was uploaded",
          ),
        );
        return;
      }
      await this.#save({ ...this.#state, state: "entering", saved, timeZone });
    } else if (this.#state.state !== "entering") {
      await this.#save({ ...this.#state, state: "entering" });
    }
    await this.#applySpikeTariff();
  }

  /** Uploads the spike tariff and sets autonomous mode; the state is `entering` on the way in. */
  async #applySpikeTariff(
    options: { skipWhatTheSiteHas?: boolean } = {},
  ): Promise<void> {
    const priceMwh = this.#state.spike?.peakPriceMwh ?? this.#thresholdMwh;
    const now = this.#clock.now();
    const tariff = this.#spikeTariff(now, priceMwh);
    try {
      // After a restart the interrupted entry may already have reached the
      // site, and writing the same tariff or mode again costs Tesla writes.
      const current = options.skipWhatTheSiteHas
        ? captureSiteState(await this.#powerwall.getSiteInfo(this.#siteId))
        : undefined;
      const present = validateTariff(current?.tariff, "lenient");
      if (!present.ok || !tariffsEquivalent(present.tariff, tariff)) {
        await this.#powerwall.setTariff(this.#siteId, tariff);
      }
      if (current?.operationMode !== "autonomous") {
        await this.#powerwall.setOperationMode(this.#siteId, "autonomous");
      }
    } catch (error) {
      this.#fail("upload the spike tariff", error);
      return;
    }
    await this.#save({
      ...this.#state,
      state: "active",
      tariffUploadedAt: now,
    });
    this.#logger.info(
      { priceMwh },
      "Spike tariff uploaded; the Powerwall is set to export",
    );
  }

  /** Re-uploads the spike tariff once half its window has passed, so export keeps paying. */
  async #refreshIfDue(): Promise<void> {
    const now = this.#clock.now();
    const uploadedAt = this.#state.tariffUploadedAt ?? 0;
    const halfWindowMs = (this.#tariff.windowMinutes * 60_000) / 2;
    if (now - uploadedAt < halfWindowMs) {
      return;
    }
    const priceMwh = this.#state.spike?.peakPriceMwh ?? this.#thresholdMwh;
    try {
      await this.#powerwall.setTariff(
        this.#siteId,
        this.#spikeTariff(now, priceMwh),
      );
    } catch (error) {
      this.#fail("refresh the spike tariff", error);
      return;
    }
    await this.#save({ ...this.#state, tariffUploadedAt: now });
  }

  /**
   * Puts the saved tariff and mode back, then moves to `to`. Without
   * `writes` it only changes state, for when a higher control holds the
   * tariff and has already saved the user's settings. A failed write leaves
   * the state `restoring` for the next poll.
   */
  async #restore(
    to: "idle" | "suspended",
    options: { writes: boolean; reason?: SpikeEndedEvent["reason"] },
  ): Promise<void> {
    const saved = this.#state.saved;
    if (options.writes && saved !== undefined) {
      await this.#save({ ...this.#state, state: "restoring", restoreTo: to });
      try {
        if (saved.tariff !== undefined) {
          await this.#powerwall.setTariff(this.#siteId, saved.tariff);
        }
        if (saved.operationMode !== undefined) {
          await this.#powerwall.setOperationMode(
            this.#siteId,
            saved.operationMode,
          );
        }
      } catch (error) {
        this.#fail("restore the saved tariff and mode", error);
        return;
      }
      this.#logger.info("Saved tariff and operation mode restored");
    }

    if (to === "idle") {
      await this.#toIdle(options.reason);
      return;
    }
    await this.#save({
      ...this.#state,
      state: "suspended",
      restoreTo: undefined,
      saved: undefined,
      timeZone: undefined,
      tariffUploadedAt: undefined,
    });
  }

  /** Forgets the spike, releases the claim and sends `spike_ended` if `spike_started` went out. */
  async #toIdle(
    reason: SpikeEndedEvent["reason"] = "price-fell",
  ): Promise<void> {
    const spike = this.#state.spike;
    await this.#save({
      ...this.#state,
      state: "idle",
      restoreTo: undefined,
      saved: undefined,
      timeZone: undefined,
      tariffUploadedAt: undefined,
      spike: undefined,
    });
    await this.#arbiter.release(this.id);
    if (spike?.announced === true) {
      this.#emitEnded(spike, reason);
    }
  }

  /** Ends the response at once, for disable() and endSimulation(). */
  async #endSpike(reason: SpikeEndedEvent["reason"]): Promise<void> {
    const state = this.#state.state;
    if (state === "idle" || state === "suspended") {
      if (state === "suspended" || this.#state.spike !== undefined) {
        await this.#toIdle(reason);
      }
      return;
    }
    const writes = this.#arbiter.isWriter(this.id, "tariff");
    await this.#restore("idle", { writes, reason });
  }

  #spikeTariff(now: number, priceMwh: number) {
    const zone = this.#state.timeZone ?? this.#fallbackZone;
    const window = new Set(
      slotsInSpan(now, now + this.#tariff.windowMinutes * 60_000, zone),
    );
    // $/MWh to $/kWh is a division by 1000.
    const spikeSell = roundRate(
      Math.max(this.#tariff.minSellPerKwh, priceMwh / 1000),
    );
    const rates = Array.from({ length: SLOTS_PER_DAY }, (_, index) =>
      window.has(index)
        ? // Tesla raises buy to sell anyway; writing it keeps the tariff honest.
          { buy: spikeSell, sell: spikeSell }
        : {
            buy: this.#tariff.buyOutsidePerKwh,
            sell: this.#tariff.sellOutsidePerKwh,
          },
    );
    return slotTariff(
      {
        name: `Spike response ${this.#region} ${Math.round(priceMwh)} $/MWh`,
        code: "TESLA_SYNC:SPIKE",
        utility: "Tesla Sync",
      },
      rates,
    );
  }

  #simulatedPrice(priceMwh: number): RegionPrice {
    const now = this.#clock.now();
    return {
      region: this.#region,
      priceMwh,
      settlementEnd: Math.ceil(now / FIVE_MINUTES_MS) * FIVE_MINUTES_MS,
      firm: true,
    };
  }

  #emitStarted(
    spike: NonNullable<SpikeFile["spike"]>,
    responding: boolean,
  ): void {
    this.emit("spike_started", {
      region: this.#region,
      price: spike.lastPriceMwh,
      thresholdMwh: this.#thresholdMwh,
      at: this.#clock.now(),
      simulated: spike.simulated,
      responding,
    });
  }

  #emitEnded(
    spike: NonNullable<SpikeFile["spike"]>,
    reason: SpikeEndedEvent["reason"],
  ): void {
    const now = this.#clock.now();
    this.emit("spike_ended", {
      region: this.#region,
      price: spike.lastPriceMwh,
      peakPriceMwh: spike.peakPriceMwh,
      at: now,
      durationMs: now - spike.startedAt,
      simulated: spike.simulated,
      reason,
    });
  }

  #fail(action: string, error: unknown): void {
    const text = describeError(error);
    if (this.#lastError === undefined) {
      this.#logger.warn(
        { error: text },
        `Spike response could not ${action}; retrying on the next poll`,
      );
    } else {
      this.#logger.debug(
        { error: text },
        `Spike response still cannot ${action}`,
      );
    }
    this.#lastError = text;
  }

  async #save(next: SpikeFile): Promise<void> {
    await this.#file.save(next);
    this.#state = next;
  }

  #publish(): void {
    this.emit("state", this.snapshot());
  }
}
