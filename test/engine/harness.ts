/**
 * Test harness for the sync engine: the real Amber and Tesla stand-ins on
 * 127.0.0.1, the real clients, a state store in a temporary directory and
 * a virtual clock shared by all of them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { AmberClient } from "../../src/amber/client.js";
import type { PriceResponse } from "../../src/amber/prices.js";
import type { Interval } from "../../src/amber/schemas.js";
import { StateStore } from "../../src/engine/state-store.js";
import { SyncEngine } from "../../src/engine/sync-engine.js";
import type { EngineSettings } from "../../src/engine/settings.js";
import type {
  AmberPort,
  TariffControls,
  TeslaPort,
} from "../../src/engine/types.js";
import {
  VirtualClock,
  yieldEventLoop,
} from "../../src/engine/virtual-clock.js";
import { createLogger, type Logger } from "../../src/log.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import type { PricePattern } from "../../src/standins/price-model.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import {
  FleetOAuthProvider,
  StaticTokenProvider,
} from "../../src/tesla/auth.js";
import { TeslaClient } from "../../src/tesla/client.js";
import { TokenStore } from "../../src/tesla/token-store.js";

/** Monday 2025-06-16 09:12:40 in Sydney (AEST, UTC+10). */
export const START = Date.UTC(2025, 5, 15, 23, 12, 40);
export const MINUTE = 60_000;

export const AMBER_TOKEN = "psk_engine_test_amber_token";
export const TESLA_TOKEN = "teslemetry_engine_test_token";

/**
 * An AmberPort over the real client that can shift the general-channel
 * price of chosen forecast intervals, to make changes of a known size.
 */
export class AdjustableAmber implements AmberPort {
  /** Added to the general price, c/kWh, of intervals ending at the key (ms). */
  readonly shifts = new Map<number, number>();

  constructor(readonly client: AmberClient) {}

  async getCurrentPrices(
    siteId: string,
    query: { next?: number; previous?: number },
  ): Promise<PriceResponse> {
    return this.#shift(await this.client.getCurrentPrices(siteId, query));
  }

  async getPrices(
    siteId: string,
    query: { startDate: string; endDate: string },
  ): Promise<PriceResponse> {
    return this.#shift(await this.client.getPrices(siteId, query));
  }

  counters(): Record<string, number> {
    return this.client.counters();
  }

  #shift(response: PriceResponse): PriceResponse {
    const intervals = response.intervals.map((interval): Interval => {
      const shift = this.shifts.get(Date.parse(interval.endTime));
      if (shift === undefined || interval.channelType !== "general") {
        return interval;
      }
      if (interval.type === "ActualInterval") {
        return { ...interval, perKwh: interval.perKwh + shift };
      }
      const advanced = interval.advancedPrice;
      return {
        ...interval,
        perKwh: interval.perKwh + shift,
        advancedPrice:
          advanced === null || advanced === undefined
            ? advanced
            : {
                low: advanced.low + shift,
                predicted: advanced.predicted + shift,
                high: advanced.high + shift,
              },
      };
    });
    return { ...response, intervals };
  }
}

/** Log lines captured as parsed JSON objects. */
export interface CapturedLog {
  logger: Logger;
  entries: () => Array<
    { level: number; msg: string } & Record<string, unknown>
  >;
}

export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return {
    logger: createLogger({ destination, level: "debug" }),
    entries: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as { level: number; msg: string } & Record<
              string,
              unknown
            >,
        ),
  };
}

/** Options for {@link startHarness}. */
export interface HarnessOptions {
  pattern?: PricePattern;
  intervalLength?: 5 | 30;
  /** installation_time_zone served by the Tesla stand-in. */
  timeZone?: string;
  teslaAuth?: "teslemetry" | "fleet";
  settings?: Partial<EngineSettings>;
  start?: number;
  /** Attempts per Amber call; default 1, so a fault surfaces at once. */
  amberAttempts?: number;
  /** Attempts per Tesla call; default 1. */
  teslaAttempts?: number;
  /** Wraps the Tesla port the engine uses, e.g. to make uploads fail. */
  wrapTesla?: (port: TeslaPort) => TeslaPort;
  /** Overlays and tariff hold check given to the engine. */
  controls?: TariffControls;
}

/** A running engine against the stand-ins. */
export interface Harness {
  clock: VirtualClock;
  amberStandIn: AmberStandIn;
  teslaStandIn: TeslaStandIn;
  amber: AdjustableAmber;
  tesla: TeslaClient;
  store: StateStore;
  engine: SyncEngine;
  log: CapturedLog;
  dataDir: string;
  /** Advances the virtual clock, letting every woken sync finish. */
  advance(ms: number): Promise<void>;
  /** Tariff writes the Tesla stand-in accepted or saw. */
  tariffWrites(): number;
  close(): Promise<void>;
}

export async function startHarness(
  options: HarnessOptions = {},
): Promise<Harness> {
  const clock = new VirtualClock(options.start ?? START);
  const now = (): number => clock.now();
  const log = captureLog();
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-engine-"));

  const amberStandIn = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: options.pattern ?? "calm",
    intervalLength: options.intervalLength ?? 5,
    now,
  });
  const fleet = options.teslaAuth === "fleet";
  const teslaStandIn = await startTeslaStandIn({
    authMode: fleet ? "fleet" : "teslemetry",
    token: TESLA_TOKEN,
    clientId: "engine-test",
    initialRefreshToken: "engine_test_refresh_0",
    timeZone: options.timeZone ?? "Australia/Sydney",
    now,
    rateLimit: false,
  });

  const amberClient = new AmberClient({
    baseUrl: amberStandIn.restUrl,
    token: AMBER_TOKEN,
    logger: log.logger,
    clock,
    maxAttempts: options.amberAttempts ?? 1,
    random: () => 0,
  });
  const amber = new AdjustableAmber(amberClient);
  const tokens = fleet
    ? new FleetOAuthProvider({
        clientId: "engine-test",
        store: new TokenStore({ dataDir }),
        logger: log.logger,
        tokenUrl: teslaStandIn.tokenUrl,
        initialRefreshToken: "engine_test_refresh_0",
        clock,
      })
    : new StaticTokenProvider(TESLA_TOKEN);
  const tesla = new TeslaClient({
    baseUrl: teslaStandIn.url,
    tokens,
    logger: log.logger,
    clock,
    maxAttempts: options.teslaAttempts ?? 1,
    random: () => 0,
  });
  const store = await StateStore.open({ dataDir, logger: log.logger, now });
  const site = amberStandIn.sites[0];
  if (site === undefined) {
    throw new Error("the Amber stand-in has no site");
  }
  const engine = new SyncEngine({
    amber,
    tesla: options.wrapTesla?.(tesla) ?? tesla,
    amberSiteId: site.id,
    teslaSiteId: String(teslaStandIn.siteId),
    intervalLength: options.intervalLength ?? 5,
    store,
    logger: log.logger,
    clock,
    random: () => 0,
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    ...(options.controls === undefined ? {} : { controls: options.controls }),
  });

  // The scheduler registers its next wait only after a sync resolves, so
  // the event loop runs once more after the engine is idle.
  const settle = async (): Promise<void> => {
    await yieldEventLoop();
    await engine.idle();
    await yieldEventLoop();
  };

  return {
    clock,
    amberStandIn,
    teslaStandIn,
    amber,
    tesla,
    store,
    engine,
    log,
    dataDir,
    advance: (ms) => clock.advance(ms, { settle }),
    tariffWrites: () =>
      teslaStandIn.writes.filter(
        (write) => write.endpoint === "time_of_use_settings",
      ).length,
    async close() {
      await engine.stop();
      await Promise.allSettled([amberStandIn.close(), teslaStandIn.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Returns the end (ms) of the half hour that starts `hours` after the current one. */
export function halfHourEndAfter(now: number, hours: number): number {
  const halfHour = 30 * MINUTE;
  return Math.floor(now / halfHour) * halfHour + hours * 3_600_000 + halfHour;
}
