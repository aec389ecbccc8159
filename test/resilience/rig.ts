/**
 * The engine as startService wires it (Amber and Tesla clients, the
 * price-event controls with the AEMO client, the write guard, the sync
 * engine with its scheduler), run on a virtual clock against the Amber,
 * Tesla and AEMO stand-ins. Every client reaches its stand-in through a
 * VendorGate, so a test can refuse connections and the settle step can
 * tell when real I/O is still pending. Client timeouts are short (CLIENT_TIMEOUT_MS)
 * so that a hung request costs well under a second of real time.
 *
 * Unlike startService it runs no status server and no live-price
 * WebSocket: the WebSocket keeps real-time heartbeats that cannot run on a
 * virtual clock, so tests pass live prices to `engine.handleLivePrices`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { AemoClient } from "../../src/aemo/client.js";
import { AmberClient } from "../../src/amber/client.js";
import { createControls, type Controls } from "../../src/controls/service.js";
import { controlSettingsSchema } from "../../src/controls/settings.js";
import type { StatusSlot } from "../../src/engine/types.js";
import type { EngineSettings } from "../../src/engine/settings.js";
import { StateStore } from "../../src/engine/state-store.js";
import { SyncEngine } from "../../src/engine/sync-engine.js";
import {
  VirtualClock,
  yieldEventLoop,
} from "../../src/engine/virtual-clock.js";
import { createLogger, type Logger } from "../../src/log.js";
import {
  startAemoStandIn,
  type AemoStandIn,
} from "../../src/standins/aemo-server.js";
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
import { VendorGate } from "./gate.js";

/** Monday 2025-06-16 09:12:40 in Sydney (AEST, UTC+10). */
export const START = Date.UTC(2025, 5, 15, 23, 12, 40);
export const MINUTE = 60_000;

/** Timeout of every client request in the rig, ms of real time. */
export const CLIENT_TIMEOUT_MS = 1_000;

export const AMBER_TOKEN = "psk_resilience_amber_0123456789abcdef";
export const TESLA_TOKEN = "resilience-teslemetry-token-0123456789";
export const FLEET_CLIENT_ID = "resilience-client";
export const FLEET_REFRESH_TOKEN = "resilience-refresh-token-0123456789";

/** Code the tariff builder gives every Amber tariff. */
export const AMBER_TARIFF_CODE = "TESLA_SYNC_AMBER_24H";

/** A pino line as captured. */
export type LogEntry = { level: number; msg: string } & Record<string, unknown>;

/** pino's numeric levels. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A logger at debug whose lines can be read back. */
export interface CapturedLog {
  logger: Logger;
  /** Every line so far, parsed. */
  entries(): LogEntry[];
  /** Every line so far, as written. */
  text(): string;
}

/** Returns a JSON logger at debug level that keeps its output in memory. */
export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = (): string => chunks.join("");
  return {
    logger: createLogger({ destination, level: "debug" }),
    text,
    entries: () =>
      text()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogEntry),
  };
}

/**
 * A VirtualClock that counts the sleeps it starts, so a settle step can
 * tell that woken code is still busy scheduling its next wait.
 */
export class ObservedClock extends VirtualClock {
  #started = 0;

  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.#started += 1;
    return super.sleep(ms, signal);
  }

  /** Number of sleeps started since construction. */
  get sleepsStarted(): number {
    return this.#started;
  }
}

/** One tariff upload as the Tesla stand-in received it, with the engine's plan at that moment. */
export interface RecordedTariffWrite {
  at: number;
  tariff: Record<string, unknown>;
  /** The engine's last built slots when the request arrived. */
  plan: StatusSlot[];
}

/** Options for {@link startRig}. */
export interface RigOptions {
  teslaAuth?: "teslemetry" | "fleet";
  /** Whether the spike response polls AEMO; default true. */
  spike?: boolean;
  pattern?: PricePattern;
  start?: number;
  /** Engine setting overrides on top of the rig's. */
  settings?: Partial<EngineSettings>;
}

/** A running rig; see the file comment. */
export interface Rig {
  clock: ObservedClock;
  amberStandIn: AmberStandIn;
  teslaStandIn: TeslaStandIn;
  aemoStandIn: AemoStandIn;
  gates: { amber: VendorGate; tesla: VendorGate; aemo: VendorGate };
  amber: AmberClient;
  tesla: TeslaClient;
  engine: SyncEngine;
  controls: Controls;
  store: StateStore;
  log: CapturedLog;
  dataDir: string;
  /** Every tariff upload the Tesla stand-in received, faulted ones included. */
  tariffWrites: RecordedTariffWrite[];
  /** Runs the controls' and the engine's start, as startService does. */
  start(): Promise<void>;
  /** Advances virtual time, letting all woken work and its real I/O finish. */
  advance(ms: number): Promise<void>;
  /** Waits until no real I/O is pending. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Engine settings the rig fixes, so the tests do not depend on defaults,
 * which may change: a write at most every 5 minutes.
 */
const RIG_SETTINGS: Partial<EngineSettings> = {
  minWriteSpacingMs: 5 * MINUTE,
  manualWriteFloorMs: MINUTE,
};

/** Starts the stand-ins, gates, clients, controls and engine; call `start()` next. */
export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const clock = new ObservedClock(options.start ?? START);
  const now = (): number => clock.now();
  const log = captureLog();
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-resilience-"));
  const fleet = options.teslaAuth === "fleet";

  const tariffWrites: RecordedTariffWrite[] = [];
  // The Tesla stand-in's hook reads the engine's plan, and the engine is
  // built after the stand-in, so the hook reaches it through this holder.
  const built: { engine?: SyncEngine } = {};

  const amberStandIn = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: options.pattern ?? "calm",
    intervalLength: 5,
    now,
  });
  const teslaStandIn = await startTeslaStandIn({
    authMode: fleet ? "fleet" : "teslemetry",
    token: TESLA_TOKEN,
    clientId: FLEET_CLIENT_ID,
    initialRefreshToken: FLEET_REFRESH_TOKEN,
    timeZone: "Australia/Sydney",
    now,
    rateLimit: false,
    onRequest: (request) => {
      if (
        request.method === "POST" &&
        request.path.endsWith("/time_of_use_settings")
      ) {
        tariffWrites.push({
          at: request.at,
          tariff: tariffOfBody(request.body),
          plan: built.engine?.status().slots ?? [],
        });
      }
    },
  });
  const aemoStandIn = await startAemoStandIn({ now });
  const gates = {
    amber: await VendorGate.start(new URL(amberStandIn.restUrl).origin),
    tesla: await VendorGate.start(teslaStandIn.url),
    aemo: await VendorGate.start(aemoStandIn.url),
  };

  const amber = new AmberClient({
    baseUrl: gates.amber.rewrite(amberStandIn.restUrl),
    token: AMBER_TOKEN,
    logger: log.logger,
    clock,
    timeoutMs: CLIENT_TIMEOUT_MS,
    random: () => 0,
  });
  const tokens = fleet
    ? new FleetOAuthProvider({
        clientId: FLEET_CLIENT_ID,
        store: new TokenStore({ dataDir }),
        logger: log.logger.child({ module: "tesla-auth" }),
        tokenUrl: gates.tesla.rewrite(teslaStandIn.tokenUrl),
        initialRefreshToken: FLEET_REFRESH_TOKEN,
        clock,
        timeoutMs: CLIENT_TIMEOUT_MS,
      })
    : new StaticTokenProvider(TESLA_TOKEN);
  const tesla = new TeslaClient({
    baseUrl: gates.tesla.origin,
    tokens,
    logger: log.logger.child({ module: "tesla" }),
    clock,
    timeoutMs: CLIENT_TIMEOUT_MS,
    random: () => 0,
  });
  const aemo = new AemoClient({
    baseUrl: gates.aemo.origin,
    logger: log.logger.child({ module: "aemo" }),
    clock,
    timeoutMs: CLIENT_TIMEOUT_MS,
    random: () => 0,
  });

  const store = await StateStore.open({ dataDir, logger: log.logger, now });
  const controls = await createControls({
    dataDir,
    siteId: teslaStandIn.siteId,
    powerwall: tesla,
    logger: log.logger,
    clock,
    prices: aemo,
    settings: controlSettingsSchema.parse({
      spike: {
        enabled: options.spike ?? true,
        region: "NSW1",
        exitIntervals: 1,
        pollSeconds: 300,
        aemoBaseUrl: gates.aemo.origin,
      },
      curtailment: { enabled: false },
    }),
  });
  const site = amberStandIn.sites[0];
  if (site === undefined) {
    throw new Error("the Amber stand-in has no site");
  }
  const running = new SyncEngine({
    amber,
    tesla: controls.guardTariffWrites(tesla),
    amberSiteId: site.id,
    teslaSiteId: String(teslaStandIn.siteId),
    intervalLength: 5,
    store,
    logger: log.logger,
    clock,
    random: () => 0,
    settings: { ...RIG_SETTINGS, ...options.settings },
  });
  built.engine = running;
  controls.attach(running);

  // Every wait in the rig is either real I/O (HTTP through a gate, file
  // writes of the state files) or a sleep on the virtual clock, so once no
  // I/O is pending, everything left waits for the clock to move.
  const settle = (): Promise<void> => waitForQuiet(clock, Object.values(gates));

  return {
    clock,
    amberStandIn,
    teslaStandIn,
    aemoStandIn,
    gates,
    amber,
    tesla,
    engine: running,
    controls,
    store,
    log,
    dataDir,
    tariffWrites,
    async start() {
      await controls.start();
      await running.start();
      await settle();
    },
    advance: (ms) => clock.advance(ms, { settle }),
    settle,
    async close() {
      // A sync or poll may be waiting out a retry on the virtual clock;
      // stop() waits for it, so time keeps moving until everything stopped.
      amberStandIn.faults.clear();
      teslaStandIn.faults.clear();
      aemoStandIn.faults.clear();
      await Promise.all(Object.values(gates).map((gate) => gate.accept()));
      let stopped = false;
      const stopping = (async () => {
        await controls.stop();
        await running.stop();
      })().finally(() => {
        stopped = true;
      });
      while (!stopped) {
        await clock.advance(MINUTE, { settle });
      }
      await stopping;
      await Promise.allSettled([
        ...Object.values(gates).map((gate) => gate.close()),
        amberStandIn.close(),
        teslaStandIn.close(),
        aemoStandIn.close(),
      ]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Event-loop turns without I/O after which the rig counts as quiet. */
const QUIET_TURNS = 10;

/**
 * Resolves once no request is in flight at any gate, no file operation is
 * pending (libuv lists those as FSReq* and CloseReq) and no sleep has
 * started for QUIET_TURNS turns of the event loop.
 */
export async function waitForQuiet(
  clock: ObservedClock,
  gates: readonly VendorGate[],
): Promise<void> {
  let quietTurns = 0;
  let sleeps = clock.sleepsStarted;
  while (quietTurns < QUIET_TURNS) {
    await yieldEventLoop(1);
    const busy =
      gates.some((gate) => gate.inFlight > 0) ||
      process
        .getActiveResourcesInfo()
        .some(
          (resource) => resource.startsWith("FSReq") || resource === "CloseReq",
        ) ||
      clock.sleepsStarted !== sleeps;
    sleeps = clock.sleepsStarted;
    quietTurns = busy ? 0 : quietTurns + 1;
  }
}

/** Returns `tou_settings.tariff_content_v2` of a write body, or {} when absent. */
export function tariffOfBody(body: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body) as {
      tou_settings?: { tariff_content_v2?: Record<string, unknown> };
    };
    return parsed.tou_settings?.tariff_content_v2 ?? {};
  } catch {
    return {};
  }
}

/** Returns every rate of one side's energy_charges by period label, "ALL" left out. */
export function ratesByLabel(side: unknown): Map<string, number> {
  const rates = new Map<string, number>();
  const charges = (side as { energy_charges?: unknown } | undefined)
    ?.energy_charges;
  if (charges === null || typeof charges !== "object") {
    return rates;
  }
  for (const [season, entry] of Object.entries(charges)) {
    const seasonRates = (entry as { rates?: Record<string, unknown> }).rates;
    if (season === "ALL" || seasonRates === undefined) {
      continue;
    }
    for (const [label, rate] of Object.entries(seasonRates)) {
      if (typeof rate === "number") {
        rates.set(label, rate);
      }
    }
  }
  return rates;
}

/**
 * Lists every zero rate of an Amber tariff write whose half hour had no
 * real price at or below zero in the engine's plan. An empty list means no
 * slot went up as zero because its price was unknown.
 */
export function unexplainedZeros(write: RecordedTariffWrite): string[] {
  const problems: string[] = [];
  const plan = new Map(write.plan.map((slot) => [slot.label, slot]));
  const sides = [
    ["buy", write.tariff, "buyActual"],
    ["sell", write.tariff["sell_tariff"], "sellActual"],
  ] as const;
  for (const [side, tariff, field] of sides) {
    for (const [label, rate] of ratesByLabel(tariff)) {
      if (rate !== 0) {
        continue;
      }
      const slot = plan.get(label);
      if (slot === undefined || !(slot[field] <= 0)) {
        problems.push(
          `${side} ${label} is 0 but the plan has ${slot === undefined ? "no such slot" : `${field} ${slot[field]}`}`,
        );
      }
    }
  }
  return problems;
}
