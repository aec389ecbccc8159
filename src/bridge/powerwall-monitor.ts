/**
 * Follows the Powerwall's `live_status` for the HA entities: battery level,
 * the four power flows, and energy totals integrated from them. It polls
 * by itself, or takes readings that another part of the engine already
 * polls (the dashboard's history recorder), so Tesla is not asked twice.
 *
 * The totals are a trapezoidal integral of the sampled powers, the method
 * of HA's own Integral helper, so they are estimates: a change between two
 * samples is seen only as the straight line between them. A gap longer than
 * `maxGapMs` between samples (engine stopped, Tesla down) adds nothing
 * rather than guessing. The totals and the last sample are kept in
 * `<dataDir>/ha-energy.json`, so they keep increasing across restarts as
 * the Energy Dashboard expects of a `total_increasing` sensor.
 */
import { EventEmitter } from "node:events";
import { join } from "node:path";

import { z } from "zod";

import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { LiveStatus } from "../tesla/schemas.js";
import { readJsonFile, writeFileAtomic } from "../util/atomic-file.js";
import { systemClock, type Clock } from "../util/clock.js";
import type { EnergyTotals, PowerwallReading } from "./states.js";

/** File name of the energy totals inside the data directory. */
export const ENERGY_FILE_NAME = "ha-energy.json";

/** The part of TeslaClient the monitor uses. */
export interface LiveStatusSource {
  getLiveStatus(siteId: number | string): Promise<LiveStatus>;
}

/** Options for {@link PowerwallMonitor}. */
export interface PowerwallMonitorOptions {
  /** Where to poll; without one the monitor only takes {@link PowerwallMonitor.ingest} readings. */
  source?: LiveStatusSource;
  siteId: number | string;
  dataDir: string;
  logger: Logger;
  clock?: Clock;
  /** Time between polls, ms; default 60 000. */
  intervalMs?: number;
  /** Maximum gap between two samples that is still integrated, ms; default 3 × `intervalMs`. */
  maxGapMs?: number;
}

const totalsSchema = z.object({
  solar: z.number().nonnegative(),
  gridImport: z.number().nonnegative(),
  gridExport: z.number().nonnegative(),
  batteryCharge: z.number().nonnegative(),
  batteryDischarge: z.number().nonnegative(),
  home: z.number().nonnegative(),
});

const readingSchema = z.object({
  batteryLevel: z.number(),
  solarPower: z.number(),
  gridPower: z.number(),
  batteryPower: z.number(),
  homePower: z.number(),
});

const energyFileSchema = z.object({
  version: z.literal(1),
  totals: totalsSchema,
  last: z.object({ at: z.number(), reading: readingSchema }).optional(),
});
type EnergyFile = z.infer<typeof energyFileSchema>;

const ZERO: EnergyTotals = {
  solar: 0,
  gridImport: 0,
  gridExport: 0,
  batteryCharge: 0,
  batteryDischarge: 0,
  home: 0,
};

/** Converts a `live_status` response into a reading. */
export function readingOf(status: LiveStatus): PowerwallReading {
  return {
    batteryLevel: status.percentage_charged,
    solarPower: status.solar_power,
    gridPower: status.grid_power,
    batteryPower: status.battery_power,
    homePower: status.load_power,
  };
}

/**
 * Adds the energy between two samples, `elapsedMs` apart, to `totals`
 * (kWh). Each flow is split by sign first, so import and export (or charge
 * and discharge) accumulate separately.
 */
export function integrate(
  totals: EnergyTotals,
  from: PowerwallReading,
  to: PowerwallReading,
  elapsedMs: number,
): EnergyTotals {
  const hours = elapsedMs / 3_600_000;
  const area = (pick: (reading: PowerwallReading) => number): number =>
    (((pick(from) + pick(to)) / 2) * hours) / 1000;
  const positive = (value: number): number => Math.max(value, 0);
  return {
    solar: totals.solar + area((r) => positive(r.solarPower)),
    gridImport: totals.gridImport + area((r) => positive(r.gridPower)),
    gridExport: totals.gridExport + area((r) => positive(-r.gridPower)),
    batteryCharge:
      totals.batteryCharge + area((r) => positive(-r.batteryPower)),
    batteryDischarge:
      totals.batteryDischarge + area((r) => positive(r.batteryPower)),
    home: totals.home + area((r) => positive(r.homePower)),
  };
}

/** Events of {@link PowerwallMonitor}. */
export interface PowerwallMonitorEvents {
  reading: [PowerwallReading, EnergyTotals];
}

/** Polls one site's live status and keeps its energy totals. */
export class PowerwallMonitor extends EventEmitter<PowerwallMonitorEvents> {
  readonly #source: LiveStatusSource | undefined;
  readonly #siteId: number | string;
  readonly #path: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #maxGapMs: number;
  #file: EnergyFile = { version: 1, totals: ZERO };
  #timer: AbortController | undefined;
  #failing = false;
  #polling: Promise<void> = Promise.resolve();

  constructor(options: PowerwallMonitorOptions) {
    super();
    this.#source = options.source;
    this.#siteId = options.siteId;
    this.#path = join(options.dataDir, ENERGY_FILE_NAME);
    this.#logger = options.logger.child({ module: "powerwall-monitor" });
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#maxGapMs = options.maxGapMs ?? 3 * this.#intervalMs;
  }

  /** The last reading, or undefined before the first successful poll. */
  get reading(): PowerwallReading | undefined {
    return this.#file.last?.reading;
  }

  /** Energy totals so far, kWh. */
  get totals(): EnergyTotals {
    return this.#file.totals;
  }

  /** Loads the saved totals and, with a source, polls once and starts the interval. */
  async start(): Promise<void> {
    await this.#load();
    if (this.#source === undefined) {
      return;
    }
    this.#polling = this.poll();
    await this.#polling;
    this.#schedule();
  }

  /** Stops polling and waits for a poll in progress. */
  async stop(): Promise<void> {
    this.#timer?.abort(new Error("monitor stopped"));
    this.#timer = undefined;
    await this.#polling;
  }

  /** Reads live_status once, integrates and saves the totals. Logs failures instead of throwing them. */
  async poll(): Promise<void> {
    if (this.#source === undefined) {
      return;
    }
    let status: LiveStatus;
    try {
      status = await this.#source.getLiveStatus(this.#siteId);
    } catch (error) {
      const message = `Reading the Powerwall's live status failed: ${describeError(error)}; the power and energy entities keep their last values`;
      if (this.#failing) {
        this.#logger.debug(message);
      } else {
        this.#logger.warn(message);
      }
      this.#failing = true;
      return;
    }
    if (this.#failing) {
      this.#logger.info("Reading the Powerwall's live status works again");
      this.#failing = false;
    }
    await this.ingest(readingOf(status));
  }

  /** Integrates a reading taken at `at` (default now), saves the totals and emits "reading". */
  async ingest(
    reading: PowerwallReading,
    at: number = this.#clock.now(),
  ): Promise<void> {
    const now = at;
    const last = this.#file.last;
    const elapsed = last === undefined ? undefined : now - last.at;
    if (elapsed !== undefined && elapsed < 0) {
      this.#logger.debug(
        { at, lastAt: last?.at },
        "Powerwall reading older than the last one ignored",
      );
      return;
    }
    const totals =
      last !== undefined &&
      elapsed !== undefined &&
      elapsed > 0 &&
      elapsed <= this.#maxGapMs
        ? integrate(this.#file.totals, last.reading, reading, elapsed)
        : this.#file.totals;
    this.#file = { version: 1, totals, last: { at: now, reading } };
    this.emit("reading", reading, totals);
    await this.#save();
  }

  #schedule(): void {
    const controller = new AbortController();
    this.#timer = controller;
    this.#clock.sleep(this.#intervalMs, controller.signal).then(
      () => {
        if (this.#timer !== controller) {
          return;
        }
        this.#polling = this.poll();
        void this.#polling.then(() => {
          if (this.#timer === controller) {
            this.#schedule();
          }
        });
      },
      () => undefined,
    );
  }

  async #load(): Promise<void> {
    let raw: unknown;
    try {
      raw = await readJsonFile(this.#path);
    } catch (error) {
      this.#logger.warn(
        { err: error, path: this.#path },
        "Could not read the saved energy totals; counting from zero",
      );
      return;
    }
    if (raw === undefined) {
      return;
    }
    const parsed = energyFileSchema.safeParse(raw);
    if (!parsed.success) {
      this.#logger.warn(
        { path: this.#path },
        "The saved energy totals are invalid; counting from zero",
      );
      return;
    }
    this.#file = parsed.data;
  }

  async #save(): Promise<void> {
    try {
      await writeFileAtomic(this.#path, `${JSON.stringify(this.#file)}\n`);
    } catch (error) {
      this.#logger.warn(
        { err: error, path: this.#path },
        "Could not save the energy totals; they restart from the last saved values after a restart",
      );
    }
  }
}
