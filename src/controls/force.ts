/**
 * Force charge and force discharge for a chosen number of minutes, restored
 * automatically at the end.
 *
 * What each direction writes, in order:
 * - charge: a tariff where grid import costs nothing from now to the end
 *   and `chargeBuyOutsidePerKwh` (default 1.00 $/kWh) afterwards, with no
 *   export pay. Then operation mode `autonomous` (Time-Based Control), a
 *   backup reserve of 100 %, and grid charging allowed if the site blocked
 *   it. The 100 % reserve makes the Powerwall fill from the grid whatever
 *   its optimiser makes of the tariff, and the tariff stops it exporting.
 * - discharge: a tariff that pays `dischargeSellPerKwh` (default
 *   2.00 $/kWh) for export from now to the end and nothing afterwards, and
 *   operation mode `autonomous`. The backup reserve is left alone, so the
 *   Powerwall keeps the energy the user set aside for outages. The export
 *   rule is the user's too; with `pv_only` the battery itself does not
 *   export.
 *
 * Before the first write the site's tariff, operation mode, reserve and
 * grid-charging flag are saved to `force.json`, together with the end
 * time. A restart resumes the timer, or restores at once when the end has
 * passed. `cancel()` restores at once. Starting again while active extends
 * the time (same direction) or switches direction, keeping the settings
 * saved at the first start.
 *
 * State machine (persisted before every write):
 *   idle --start--> entering --writes done--> active
 *   active --end or cancel--> restoring --writes done--> idle
 * A failed restore stays `restoring` and is retried every minute.
 */
import { EventEmitter } from "node:events";

import { DateTime } from "luxon";
import type { Logger } from "pino";
import { z } from "zod";

import { ConfigError, describeError, TariffInvalidError } from "../errors.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  captureSiteState,
  savedSiteStateSchema,
  siteTimeZone,
  type PowerwallWrites,
  type SiteId,
} from "./powerwall.js";
import type { ClaimHolder, ControlArbiter, Resource } from "./precedence.js";
import { SerialQueue } from "./serial.js";
import { StateFile } from "./state-file.js";
import { slotsInSpan, slotTariff, SLOTS_PER_DAY } from "./tariff-shapes.js";

/** Direction of a forced battery flow. */
export type ForceDirection = "charge" | "discharge";

/** States of the force control. */
export const FORCE_STATES = [
  "idle",
  "entering",
  "active",
  "restoring",
] as const;
/** A state of the force control; see the file comment. */
export type ForceState = (typeof FORCE_STATES)[number];

const RESTORE_RETRY_MS = 60_000;

const forceFileSchema = z.object({
  version: z.literal(1),
  state: z.enum(FORCE_STATES),
  direction: z.enum(["charge", "discharge"]).optional(),
  /** Epoch ms. */
  startedAt: z.number().optional(),
  /** Epoch ms. */
  endsAt: z.number().optional(),
  saved: savedSiteStateSchema.optional(),
  timeZone: z.string().optional(),
  /** Settings besides tariff and mode that this control changed and must put back. */
  changed: z
    .object({ backupReserve: z.boolean(), gridCharging: z.boolean() })
    .optional(),
  /** Reason of the coming restore, for the `force_ended` event. */
  endReason: z.enum(["expired", "cancelled", "failed"]).optional(),
});
type ForceFile = z.infer<typeof forceFileSchema>;

/** Tariff prices of the force control, $/kWh. */
export interface ForceTariffOptions {
  /** Buy price after the charge window, $/kWh; default 1.00. */
  chargeBuyOutsidePerKwh?: number;
  /** Sell (and buy) price inside the discharge window, $/kWh; default 2.00. */
  dischargeSellPerKwh?: number;
  /** Buy price outside the discharge window, $/kWh; default 0.30. */
  dischargeBuyOutsidePerKwh?: number;
}

/** Options of {@link ForceControl}. */
export interface ForceControlOptions {
  siteId: SiteId;
  powerwall: PowerwallWrites;
  arbiter: ControlArbiter;
  /** Directory of the state file `force.json`. */
  dataDir: string;
  logger: Logger;
  clock?: Clock;
  /** Zone when site_info has no `installation_time_zone`; default Australia/Sydney. */
  fallbackTimeZone?: string;
  /** Maximum duration, minutes; default 720 (12 hours). */
  maxMinutes?: number;
  tariff?: ForceTariffOptions;
}

/** Payload of the `force_started` event. */
export interface ForceStartedEvent {
  direction: ForceDirection;
  minutes: number;
  /** Epoch ms. */
  endsAt: number;
  /** Epoch ms. */
  at: number;
}

/** Payload of the `force_ended` event, sent once the saved settings are back. */
export interface ForceEndedEvent {
  direction: ForceDirection;
  reason: "expired" | "cancelled" | "failed";
  /** Epoch ms. */
  at: number;
}

/** Readable state for the HA bridge and the dashboard. */
export interface ForceSnapshot {
  state: ForceState;
  direction: ForceDirection | undefined;
  startedAt: number | undefined;
  endsAt: number | undefined;
  /** Milliseconds left, 0 when idle. */
  remainingMs: number;
  lastError: string | undefined;
}

/** Events of {@link ForceControl}. */
export interface ForceEvents {
  force_started: [ForceStartedEvent];
  force_ended: [ForceEndedEvent];
  state: [ForceSnapshot];
}

/** Force charge and discharge; see the file comment. */
export class ForceControl
  extends EventEmitter<ForceEvents>
  implements ClaimHolder
{
  readonly id = "force";
  readonly kind = "force" as const;
  readonly #siteId: SiteId;
  readonly #powerwall: PowerwallWrites;
  readonly #arbiter: ControlArbiter;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #file: StateFile<ForceFile>;
  readonly #queue = new SerialQueue();
  readonly #fallbackZone: string;
  readonly #maxMinutes: number;
  readonly #prices: Required<ForceTariffOptions>;
  #state: ForceFile = { version: 1, state: "idle" };
  #timer: AbortController | undefined;
  #lastError: string | undefined;

  constructor(options: ForceControlOptions) {
    super();
    this.#siteId = options.siteId;
    this.#powerwall = options.powerwall;
    this.#arbiter = options.arbiter;
    this.#logger = options.logger.child({ control: this.id });
    this.#clock = options.clock ?? systemClock;
    this.#fallbackZone = options.fallbackTimeZone ?? "Australia/Sydney";
    this.#maxMinutes = options.maxMinutes ?? 720;
    this.#prices = {
      chargeBuyOutsidePerKwh: options.tariff?.chargeBuyOutsidePerKwh ?? 1,
      dischargeSellPerKwh: options.tariff?.dischargeSellPerKwh ?? 2,
      dischargeBuyOutsidePerKwh:
        options.tariff?.dischargeBuyOutsidePerKwh ?? 0.3,
    };
    this.#file = new StateFile(
      options.dataDir,
      "force.json",
      forceFileSchema,
      this.#logger,
      () => this.#clock.now(),
    );
  }

  // ------------------------------------------------------------ lifecycle

  /** Reads the state file and registers the claim, without writing. Call before `resume()`. */
  async load(): Promise<void> {
    const stored = await this.#file.load();
    if (stored !== undefined) {
      this.#state = stored;
    }
    if (this.#state.state !== "idle") {
      this.#arbiter.register(this, resourcesFor(this.#state.direction));
    }
  }

  /** Finishes the previous run's transition and resumes the end timer. */
  resume(): Promise<void> {
    return this.#queue.run(async () => {
      switch (this.#state.state) {
        case "entering":
          await this.#apply({ fresh: true });
          break;
        case "active":
          if (this.#clock.now() >= (this.#state.endsAt ?? 0)) {
            await this.#restore("expired");
          } else {
            this.#armTimer();
          }
          break;
        case "restoring":
          await this.#restore(this.#state.endReason ?? "expired");
          break;
        case "idle":
          break;
      }
      this.#publish();
    });
  }

  /** Cancels the timers and waits for the current transition. Settings stay as they are. */
  async stop(): Promise<void> {
    this.#disarmTimer();
    await this.#queue.idle();
  }

  /**
   * Forces `direction` for `minutes` (whole minutes, 1 to `maxMinutes`).
   * While active, the same direction extends the end to now + `minutes`
   * and the other direction switches. Rejects with the failure when a write
   * fails; the settings saved at the start are then restored.
   */
  start(direction: ForceDirection, minutes: number): Promise<ForceSnapshot> {
    if (
      !Number.isInteger(minutes) ||
      minutes < 1 ||
      minutes > this.#maxMinutes
    ) {
      return Promise.reject(
        new ConfigError(
          `Force ${direction} duration ${minutes} minutes is out of range; use whole minutes from 1 to ${this.#maxMinutes}.`,
        ),
      );
    }
    return this.#queue.run(async () => {
      if (this.#state.state === "restoring") {
        await this.#restore(this.#state.endReason ?? "cancelled");
        if (this.#state.state === "restoring") {
          throw new Error(
            `Force ${direction} cannot start while the previous settings are still being restored (${this.#lastError ?? "unknown error"}); try again in a minute.`,
          );
        }
      }
      const now = this.#clock.now();
      const endsAt = now + minutes * 60_000;
      await this.#arbiter.claim(this, resourcesFor(direction));

      const fresh = this.#state.state === "idle";
      if (fresh) {
        const info = await this.#powerwall.getSiteInfo(this.#siteId);
        const saved = captureSiteState(info);
        if (saved.tariff === undefined) {
          await this.#arbiter.release(this.id);
          throw new TariffInvalidError([
            `the Powerwall reported no tariff_content_v2, so force ${direction} could not restore it afterwards; run a sync first so the site has a tariff`,
          ]);
        }
        await this.#save({
          version: 1,
          state: "entering",
          direction,
          startedAt: now,
          endsAt,
          saved,
          timeZone: siteTimeZone(info, this.#fallbackZone),
          changed: { backupReserve: false, gridCharging: false },
        });
      } else {
        await this.#save({
          ...this.#state,
          state: "entering",
          direction,
          endsAt,
        });
      }

      this.emit("force_started", { direction, minutes, endsAt, at: now });
      await this.#apply({ fresh, rethrow: true });
      this.#publish();
      return this.snapshot();
    });
  }

  /** Ends the force now and restores the saved settings. Does nothing when idle. */
  cancel(): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#state.state !== "idle") {
        await this.#restore("cancelled");
      }
      this.#publish();
    });
  }

  /** Resolves once every queued transition has finished; for tests and shutdown. */
  settled(): Promise<void> {
    return this.#queue.idle();
  }

  snapshot(): ForceSnapshot {
    const endsAt = this.#state.endsAt;
    return {
      state: this.#state.state,
      direction: this.#state.direction,
      startedAt: this.#state.startedAt,
      endsAt,
      remainingMs:
        this.#state.state === "idle" || endsAt === undefined
          ? 0
          : Math.max(0, endsAt - this.#clock.now()),
      lastError: this.#lastError,
    };
  }

  /** Force has the highest priority, so it is never preempted. */
  onPreempted(resource: Resource, by: string): Promise<void> {
    this.#logger.warn(
      { resource, by },
      "Force was preempted, which the precedence table does not allow",
    );
    return Promise.resolve();
  }

  onResumed(): Promise<void> {
    return Promise.resolve();
  }

  // ------------------------------------------------------------ transitions

  /**
   * Writes the direction's settings; the state is `entering` on the way in.
   * `fresh` writes everything, as after idle or a restart; otherwise the
   * force was already on, so the mode and an already raised reserve stay.
   */
  async #apply(options: { fresh: boolean; rethrow?: boolean }): Promise<void> {
    const { direction, saved } = this.#state;
    const endsAt = this.#state.endsAt ?? 0;
    if (direction === undefined || saved === undefined) {
      await this.#toIdle("failed");
      return;
    }
    const now = this.#clock.now();
    if (now >= endsAt) {
      await this.#restore("expired");
      return;
    }

    const changed = {
      ...(this.#state.changed ?? { backupReserve: false, gridCharging: false }),
    };
    try {
      await this.#powerwall.setTariff(
        this.#siteId,
        this.#tariff(direction, now, endsAt),
      );
      if (options.fresh) {
        await this.#powerwall.setOperationMode(this.#siteId, "autonomous");
      }
      if (direction === "charge") {
        if (options.fresh || !changed.backupReserve) {
          changed.backupReserve = true;
          await this.#saveChanged(changed);
          await this.#powerwall.setBackupReserve(this.#siteId, 100);
        }
        if (
          saved.gridChargingAllowed === false &&
          (options.fresh || !changed.gridCharging)
        ) {
          changed.gridCharging = true;
          await this.#saveChanged(changed);
          await this.#powerwall.setGridCharging(this.#siteId, true);
        }
      } else {
        await this.#putBackExtras(changed);
        await this.#saveChanged({ backupReserve: false, gridCharging: false });
      }
    } catch (error) {
      this.#fail(`apply force ${direction}`, error);
      await this.#restore("failed");
      if (options.rethrow === true) {
        throw error;
      }
      return;
    }
    await this.#save({ ...this.#state, state: "active" });
    this.#armTimer();
    this.#logger.info(
      { direction, endsAt: new Date(endsAt).toISOString() },
      `Force ${direction} on`,
    );
  }

  /** Puts the saved settings back and goes idle; on failure stays `restoring` and retries. */
  async #restore(reason: ForceEndedEvent["reason"]): Promise<void> {
    this.#disarmTimer();
    const saved = this.#state.saved;
    const changed = this.#state.changed ?? {
      backupReserve: false,
      gridCharging: false,
    };
    await this.#save({ ...this.#state, state: "restoring", endReason: reason });
    if (saved !== undefined) {
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
        await this.#putBackExtras(changed);
      } catch (error) {
        this.#fail("restore the saved settings", error);
        this.#armRetry();
        return;
      }
    }
    await this.#toIdle(reason);
  }

  /** Restores the reserve and grid-charging flag if this control changed them. */
  async #putBackExtras(
    changed: NonNullable<ForceFile["changed"]>,
  ): Promise<void> {
    const saved = this.#state.saved;
    if (changed.backupReserve && saved?.backupReservePercent !== undefined) {
      await this.#powerwall.setBackupReserve(
        this.#siteId,
        saved.backupReservePercent,
      );
    }
    if (changed.gridCharging && saved?.gridChargingAllowed !== undefined) {
      await this.#powerwall.setGridCharging(
        this.#siteId,
        saved.gridChargingAllowed,
      );
    }
  }

  async #toIdle(reason: ForceEndedEvent["reason"]): Promise<void> {
    const direction = this.#state.direction;
    await this.#save({ version: 1, state: "idle" });
    if (reason !== "failed") {
      this.#lastError = undefined;
    }
    await this.#arbiter.release(this.id);
    if (direction !== undefined) {
      this.#logger.info(
        { direction, reason },
        `Force ${direction} ended; saved settings restored`,
      );
      this.emit("force_ended", { direction, reason, at: this.#clock.now() });
    }
  }

  #tariff(direction: ForceDirection, now: number, endsAt: number) {
    const zone = this.#state.timeZone ?? this.#fallbackZone;
    const window = new Set(slotsInSpan(now, endsAt, zone));
    const rates = Array.from({ length: SLOTS_PER_DAY }, (_, index) => {
      const inside = window.has(index);
      if (direction === "charge") {
        return {
          buy: inside ? 0 : this.#prices.chargeBuyOutsidePerKwh,
          sell: 0,
        };
      }
      const sell = this.#prices.dischargeSellPerKwh;
      // Tesla raises buy to sell anyway; writing it keeps the tariff honest.
      return inside
        ? { buy: sell, sell }
        : { buy: this.#prices.dischargeBuyOutsidePerKwh, sell: 0 };
    });
    return slotTariff(
      {
        name: `Force ${direction} until ${DateTime.fromMillis(endsAt, { zone }).toFormat("HH:mm")}`,
        code: `TESLA_SYNC:FORCE_${direction.toUpperCase()}`,
        utility: "Tesla Sync",
      },
      rates,
    );
  }

  #armTimer(): void {
    this.#disarmTimer();
    const endsAt = this.#state.endsAt ?? this.#clock.now();
    this.#schedule(Math.max(0, endsAt - this.#clock.now()), async () => {
      if (
        this.#state.state === "active" &&
        this.#clock.now() >= (this.#state.endsAt ?? 0)
      ) {
        await this.#restore("expired");
      } else if (this.#state.state === "active") {
        this.#armTimer();
      }
    });
  }

  #armRetry(): void {
    this.#schedule(RESTORE_RETRY_MS, async () => {
      if (this.#state.state === "restoring") {
        await this.#restore(this.#state.endReason ?? "expired");
      }
    });
  }

  #schedule(delayMs: number, action: () => Promise<void>): void {
    this.#disarmTimer();
    const timer = new AbortController();
    this.#timer = timer;
    this.#clock.sleep(delayMs, timer.signal).then(
      () =>
        this.#queue.run(async () => {
          if (this.#timer !== timer) {
            return;
          }
          this.#timer = undefined;
          await action();
          this.#publish();
        }),
      () => undefined,
    );
  }

  #disarmTimer(): void {
    this.#timer?.abort(new Error("force timer cancelled"));
    this.#timer = undefined;
  }

  async #saveChanged(
    changed: NonNullable<ForceFile["changed"]>,
  ): Promise<void> {
    await this.#save({ ...this.#state, changed });
  }

  #fail(action: string, error: unknown): void {
    const text = describeError(error);
    this.#logger.warn({ error: text }, `Force could not ${action}`);
    this.#lastError = text;
  }

  async #save(next: ForceFile): Promise<void> {
    await this.#file.save(next);
    this.#state = next;
  }

  #publish(): void {
    this.emit("state", this.snapshot());
  }
}

/** Discharge needs export, so it also keeps curtailment from blocking it. */
function resourcesFor(direction: ForceDirection | undefined): Resource[] {
  return direction === "discharge" ? ["tariff", "export-rule"] : ["tariff"];
}
