/**
 * Solar curtailment: when exporting earns less than a threshold, set the
 * Powerwall's export rule to `never`, and put the user's own rule back when
 * export pays again.
 *
 * Prices use Amber's feed-in sign: `perKwh` is a cost to the customer, so
 * -8.3 c/kWh means export earns 8.3 c/kWh and +4 means exporting costs
 * 4 c/kWh. Earnings are the negated feed-in price.
 *
 * Rules:
 * - Curtail when earnings < `thresholdCents` (default 1 c/kWh, which also
 *   covers every price at which exporting costs money).
 * - Restore when earnings >= `thresholdCents + hysteresisCents` (default
 *   0.5 c/kWh more), so a price hovering at the threshold does not flap.
 * - At most one price-driven export-rule change per 5-minute NEM interval.
 *   A change wanted again in the same interval waits for the next interval
 *   boundary and then uses the latest price. A confirmation retry counts as
 *   part of the same change.
 * - Before the first write the user's rule is read from site_info and saved
 *   to `curtailment.json`. The restore writes it back, or `battery_ok` when
 *   the site did not report one.
 * - Every write is read back from site_info
 *   (`components.customer_preferred_export_rule`, or
 *   `components.non_export_configured` when the rule is absent). When the
 *   read-back disagrees, the write is sent once more.
 *
 * State machine (persisted before every write):
 *   normal --curtail--> curtailing --confirmed--> curtailed
 *   curtailed --restore--> restoring --> normal
 *   any --export-rule held by spike/force discharge--> waiting
 */
import { EventEmitter } from "node:events";

import type { Logger } from "pino";
import { z } from "zod";

import { ConfigError, describeError } from "../errors.js";
import {
  exportRuleSchema,
  readSiteSettings,
  type ExportRule,
} from "../tesla/schemas.js";
import { systemClock, type Clock } from "../util/clock.js";
import type { PowerwallWrites, SiteId } from "./powerwall.js";
import type { ClaimHolder, ControlArbiter, Resource } from "./precedence.js";
import { SerialQueue } from "./serial.js";
import { StateFile } from "./state-file.js";

const INTERVAL_MS = 5 * 60_000;

/** States of the curtailment control. */
export const CURTAILMENT_STATES = [
  "normal",
  "curtailing",
  "curtailed",
  "restoring",
  "waiting",
] as const;
/** A state of the curtailment control; see the file comment. */
export type CurtailmentState = (typeof CURTAILMENT_STATES)[number];

const curtailmentFileSchema = z.object({
  version: z.literal(1),
  enabled: z.boolean(),
  state: z.enum(CURTAILMENT_STATES),
  /** The user's export rule before curtailment; absent when the site reported none. */
  userRule: exportRuleSchema.optional(),
  /** Whether site_info confirmed the last write. */
  confirmed: z.boolean().optional(),
  /** Time of the last price-driven export-rule change, epoch ms. */
  lastChangeAt: z.number().optional(),
});
type CurtailmentFile = z.infer<typeof curtailmentFileSchema>;

/** Options of {@link SolarCurtailment}. */
export interface SolarCurtailmentOptions {
  siteId: SiteId;
  powerwall: PowerwallWrites;
  arbiter: ControlArbiter;
  /** Directory of the state file `curtailment.json`. */
  dataDir: string;
  logger: Logger;
  clock?: Clock;
  /** Curtail when export earns less than this, c/kWh; default 1. */
  thresholdCents?: number;
  /** Extra earnings needed before restoring, c/kWh; default 0.5. */
  hysteresisCents?: number;
  /** Enabled on first start; later the state file keeps the switch. Default false. */
  enabled?: boolean;
}

/** Payload of the `curtailment_changed` event. */
export interface CurtailmentChangedEvent {
  /** True while export is curtailed by this control. */
  active: boolean;
  /** The export rule written. */
  rule: ExportRule;
  /** Whether site_info showed the rule after the write (and one retry). */
  confirmed: boolean;
  /** Amber feed-in price that drove the change, c/kWh (negative when export pays). */
  feedInCents: number | undefined;
  /** The same price as a sell price, $/kWh (positive when export pays). */
  sellPrice: number | undefined;
  reason: "price" | "preempted" | "resumed" | "disabled";
  /** Epoch ms. */
  at: number;
}

/** Readable state for the HA bridge and the dashboard. */
export interface CurtailmentSnapshot {
  enabled: boolean;
  state: CurtailmentState;
  /** True while the export rule is (being set to) `never` by this control. */
  curtailed: boolean;
  userRule: ExportRule | undefined;
  confirmed: boolean | undefined;
  thresholdCents: number;
  /** Earnings at or above which the user's rule comes back, c/kWh. */
  restoreAtCents: number;
  lastPrice: { feedInCents: number; at: number } | undefined;
  /** When a change held back by the once-per-interval rule is checked again, epoch ms. */
  nextCheckAt: number | undefined;
  /** Control holding the export rule while this one waits. */
  blockedBy: string | undefined;
  lastError: string | undefined;
}

/** Events of {@link SolarCurtailment}. */
export interface CurtailmentEvents {
  curtailment_changed: [CurtailmentChangedEvent];
  state: [CurtailmentSnapshot];
}

/** Solar curtailment through the export rule; see the file comment. */
export class SolarCurtailment
  extends EventEmitter<CurtailmentEvents>
  implements ClaimHolder
{
  readonly id = "curtailment";
  readonly kind = "curtailment" as const;
  readonly #siteId: SiteId;
  readonly #powerwall: PowerwallWrites;
  readonly #arbiter: ControlArbiter;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #file: StateFile<CurtailmentFile>;
  readonly #queue = new SerialQueue();
  readonly #thresholdCents: number;
  readonly #restoreAtCents: number;
  #state: CurtailmentFile;
  #lastPrice: { feedInCents: number; at: number } | undefined;
  #lastError: string | undefined;
  #recheck: { at: number; abort: AbortController } | undefined;

  constructor(options: SolarCurtailmentOptions) {
    super();
    this.#siteId = options.siteId;
    this.#powerwall = options.powerwall;
    this.#arbiter = options.arbiter;
    this.#logger = options.logger.child({ control: this.id });
    this.#clock = options.clock ?? systemClock;
    this.#thresholdCents = options.thresholdCents ?? 1;
    const hysteresis = options.hysteresisCents ?? 0.5;
    if (!Number.isFinite(this.#thresholdCents) || !(hysteresis >= 0)) {
      throw new ConfigError(
        `Curtailment threshold ${this.#thresholdCents} c/kWh or hysteresis ${hysteresis} c/kWh is invalid; use a finite threshold and a hysteresis of 0 or more.`,
      );
    }
    this.#restoreAtCents = this.#thresholdCents + hysteresis;
    this.#file = new StateFile(
      options.dataDir,
      "curtailment.json",
      curtailmentFileSchema,
      this.#logger,
      () => this.#clock.now(),
    );
    this.#state = {
      version: 1,
      enabled: options.enabled ?? false,
      state: "normal",
    };
  }

  // ------------------------------------------------------------ lifecycle

  /** Reads the state file and registers the claim, without writing. Call before `resume()`. */
  async load(): Promise<void> {
    const stored = await this.#file.load();
    if (stored !== undefined) {
      this.#state = stored;
    }
    if (this.#state.state !== "normal") {
      this.#arbiter.register(this, ["export-rule"]);
    }
  }

  /** Finishes a write the previous run left half done. */
  resume(): Promise<void> {
    return this.#queue.run(async () => {
      const writer = this.#arbiter.isWriter(this.id, "export-rule");
      switch (this.#state.state) {
        case "curtailing":
          if (writer) {
            await this.#writeNever(undefined);
          } else {
            await this.#save({ ...this.#state, state: "waiting" });
          }
          break;
        case "curtailed":
          if (!writer) {
            await this.#save({ ...this.#state, state: "waiting" });
          }
          break;
        case "restoring":
          // Writing the user's own rule never gets in a higher control's way.
          await this.#restore("price", { release: true });
          break;
        case "normal":
        case "waiting":
          break;
      }
      this.#publish();
    });
  }

  /** Cancels a pending re-check and waits for the current transition. Settings stay as they are. */
  async stop(): Promise<void> {
    this.#cancelRecheck();
    await this.#queue.idle();
  }

  /** Turns curtailment on and acts on the latest price. */
  enable(): Promise<void> {
    return this.#queue.run(async () => {
      await this.#save({ ...this.#state, enabled: true });
      await this.#decide();
      this.#publish();
    });
  }

  /** Turns curtailment off, restoring the user's export rule first if curtailed. */
  disable(): Promise<void> {
    return this.#queue.run(async () => {
      this.#cancelRecheck();
      await this.#save({ ...this.#state, enabled: false });
      if (this.#state.state !== "normal") {
        await this.#restore("disabled", { release: true });
      }
      this.#publish();
    });
  }

  /**
   * Acts on a new feed-in price, c/kWh in Amber's sign (negative when export
   * pays), from a live push or a scheduled sync. `at` is the price's time,
   * epoch ms.
   */
  onPrice(feedInCents: number, at: number): Promise<void> {
    return this.#queue.run(async () => {
      if (!Number.isFinite(feedInCents)) {
        this.#logger.warn(
          { feedInCents },
          "Ignored a feed-in price that is not a finite number",
        );
        return;
      }
      this.#lastPrice = { feedInCents, at };
      await this.#decide();
      this.#publish();
    });
  }

  /** Resolves once every queued transition has finished; for tests and shutdown. */
  settled(): Promise<void> {
    return this.#queue.idle();
  }

  snapshot(): CurtailmentSnapshot {
    const writer = this.#arbiter.writer("export-rule");
    return {
      enabled: this.#state.enabled,
      state: this.#state.state,
      curtailed:
        this.#state.state === "curtailing" || this.#state.state === "curtailed",
      userRule: this.#state.userRule,
      confirmed: this.#state.confirmed,
      thresholdCents: this.#thresholdCents,
      restoreAtCents: this.#restoreAtCents,
      lastPrice: this.#lastPrice,
      nextCheckAt: this.#recheck?.at,
      blockedBy:
        this.#state.state === "waiting" && writer !== this.id
          ? writer
          : undefined,
      lastError: this.#lastError,
    };
  }

  // ------------------------------------------------------------ arbiter callbacks

  /** Gives the export back to the user's rule while spike or force discharge needs export. */
  onPreempted(resource: Resource): Promise<void> {
    if (resource !== "export-rule") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      this.#cancelRecheck();
      if (this.#state.state !== "normal" && this.#state.state !== "waiting") {
        await this.#restore("preempted", { release: false });
      }
      this.#publish();
    });
  }

  /** Curtails again at once if export still pays too little. */
  onResumed(resource: Resource): Promise<void> {
    if (resource !== "export-rule") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      if (this.#state.state === "waiting") {
        await this.#decide({ ignoreInterval: true });
      }
      this.#publish();
    });
  }

  // ------------------------------------------------------------ transitions

  async #decide(options: { ignoreInterval?: boolean } = {}): Promise<void> {
    const price = this.#lastPrice;
    if (!this.#state.enabled || price === undefined) {
      return;
    }
    const earnings = -price.feedInCents;
    const state = this.#state.state;

    let want: "curtail" | "restore" | "release" | undefined;
    switch (state) {
      case "normal":
        want = earnings < this.#thresholdCents ? "curtail" : undefined;
        break;
      case "waiting":
        want = earnings < this.#thresholdCents ? "curtail" : "release";
        break;
      case "curtailing":
      case "restoring":
        want = earnings < this.#thresholdCents ? "curtail" : "restore";
        break;
      case "curtailed":
        if (earnings >= this.#restoreAtCents) {
          want = "restore";
        } else if (this.#state.confirmed === false) {
          want = "curtail";
        }
        break;
    }
    if (want === undefined) {
      return;
    }
    if (want === "release") {
      await this.#save({
        ...this.#state,
        state: "normal",
        userRule: undefined,
        confirmed: undefined,
      });
      await this.#arbiter.release(this.id);
      return;
    }
    if (!options.ignoreInterval && this.#changedThisInterval()) {
      this.#scheduleRecheck();
      return;
    }
    if (want === "curtail") {
      await this.#curtail(price.feedInCents);
    } else {
      await this.#restore(
        options.ignoreInterval === true ? "resumed" : "price",
        { release: true },
      );
    }
  }

  async #curtail(feedInCents: number): Promise<void> {
    const claim = await this.#arbiter.claim(this, ["export-rule"]);
    if (!claim.granted) {
      if (this.#state.state !== "waiting") {
        await this.#save({ ...this.#state, state: "waiting" });
        this.#logger.info(
          { blockedBy: claim.blockedBy },
          "Curtailment waits because another control needs export",
        );
      }
      return;
    }

    if (this.#state.state === "normal" || this.#state.state === "waiting") {
      let userRule: ExportRule | undefined;
      try {
        userRule = readSiteSettings(
          await this.#powerwall.getSiteInfo(this.#siteId),
        ).exportRule;
      } catch (error) {
        this.#fail("read the export rule", error);
        return;
      }
      if (userRule === "never") {
        // The user already blocks export; there is nothing to change or restore.
        await this.#save({
          ...this.#state,
          state: "curtailed",
          userRule,
          confirmed: true,
        });
        return;
      }
      await this.#save({
        ...this.#state,
        state: "curtailing",
        userRule,
        confirmed: undefined,
      });
    }
    await this.#writeNever(feedInCents);
  }

  /** Writes `never`, confirms it, and moves to `curtailed`. The state is `curtailing` or `curtailed`. */
  async #writeNever(feedInCents: number | undefined): Promise<void> {
    await this.#save({
      ...this.#state,
      state: "curtailing",
      lastChangeAt: this.#clock.now(),
    });
    let confirmed: boolean;
    try {
      confirmed = await this.#writeConfirmed("never");
    } catch (error) {
      this.#fail("set the export rule to never", error);
      return;
    }
    await this.#save({ ...this.#state, state: "curtailed", confirmed });
    this.#logger.info(
      { feedInCents, confirmed },
      "Export curtailed: export rule set to never",
    );
    this.#emitChanged(true, "never", confirmed, "price");
  }

  /**
   * Writes the user's rule back (battery_ok when unknown). With `release`
   * the control ends in `normal` and drops its claim; without, it waits.
   */
  async #restore(
    reason: CurtailmentChangedEvent["reason"],
    options: { release: boolean },
  ): Promise<void> {
    const userRule = this.#state.userRule;
    const rule = userRule ?? "battery_ok";
    let confirmed = true;
    if (userRule !== "never") {
      await this.#save({
        ...this.#state,
        state: "restoring",
        ...(reason === "price" ? { lastChangeAt: this.#clock.now() } : {}),
      });
      try {
        confirmed = await this.#writeConfirmed(rule);
      } catch (error) {
        this.#fail(`restore the export rule ${rule}`, error);
        return;
      }
    }

    if (options.release) {
      await this.#save({
        ...this.#state,
        state: "normal",
        userRule: undefined,
        confirmed: undefined,
      });
      await this.#arbiter.release(this.id);
    } else {
      await this.#save({
        ...this.#state,
        state: "waiting",
        confirmed: undefined,
      });
    }
    this.#logger.info({ rule, confirmed, reason }, "Export rule restored");
    this.#emitChanged(false, rule, confirmed, reason);
  }

  /** Writes `rule`, reads it back and writes once more if site_info disagrees. */
  async #writeConfirmed(rule: ExportRule): Promise<boolean> {
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      await this.#powerwall.setExportRule(this.#siteId, rule);
      if (await this.#confirm(rule)) {
        this.#lastError = undefined;
        return true;
      }
      this.#logger.warn(
        { rule, attempt },
        attempt === 1
          ? "site_info does not show the export rule just written; writing it once more"
          : "site_info still does not show the export rule; check it in the Tesla app",
      );
    }
    return false;
  }

  async #confirm(rule: ExportRule): Promise<boolean> {
    const info = await this.#powerwall.getSiteInfo(this.#siteId);
    const reported =
      info.components.customer_preferred_export_rule ??
      info.customer_preferred_export_rule;
    if (reported !== undefined) {
      return reported === rule;
    }
    // Sites managed by a VPP or retailer report only whether export is blocked.
    const blocked = info.components.non_export_configured;
    return blocked !== undefined && blocked === (rule === "never");
  }

  #changedThisInterval(): boolean {
    const last = this.#state.lastChangeAt;
    return (
      last !== undefined &&
      Math.floor(last / INTERVAL_MS) ===
        Math.floor(this.#clock.now() / INTERVAL_MS)
    );
  }

  #scheduleRecheck(): void {
    if (this.#recheck !== undefined) {
      return;
    }
    const now = this.#clock.now();
    const at = (Math.floor(now / INTERVAL_MS) + 1) * INTERVAL_MS;
    const abort = new AbortController();
    this.#recheck = { at, abort };
    this.#clock.sleep(at - now, abort.signal).then(
      () =>
        this.#queue.run(async () => {
          if (this.#recheck?.abort === abort) {
            this.#recheck = undefined;
          }
          await this.#decide();
          this.#publish();
        }),
      () => undefined,
    );
  }

  #cancelRecheck(): void {
    this.#recheck?.abort.abort(new Error("curtailment re-check cancelled"));
    this.#recheck = undefined;
  }

  #emitChanged(
    active: boolean,
    rule: ExportRule,
    confirmed: boolean,
    reason: CurtailmentChangedEvent["reason"],
  ): void {
    const feedInCents = this.#lastPrice?.feedInCents;
    this.emit("curtailment_changed", {
      active,
      rule,
      confirmed,
      feedInCents,
      sellPrice: feedInCents === undefined ? undefined : -feedInCents / 100,
      reason,
      at: this.#clock.now(),
    });
  }

  #fail(action: string, error: unknown): void {
    const text = describeError(error);
    if (this.#lastError === undefined) {
      this.#logger.warn(
        { error: text },
        `Curtailment could not ${action}; retrying on the next price`,
      );
    } else {
      this.#logger.debug({ error: text }, `Curtailment still cannot ${action}`);
    }
    this.#lastError = text;
  }

  async #save(next: CurtailmentFile): Promise<void> {
    await this.#file.save(next);
    this.#state = next;
  }

  #publish(): void {
    this.emit("state", this.snapshot());
  }
}
