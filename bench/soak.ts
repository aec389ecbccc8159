/**
 * Soak benchmark. The engine runs as startService wires it: the clients,
 * the controls with the spike response polling AEMO, the dashboard with
 * its history recorder and the Amber live feed over a real WebSocket. It
 * runs for a week of virtual time against the Amber, Tesla and AEMO
 * stand-ins on 127.0.0.1. A live-price push goes over the WebSocket every
 * 30 s of virtual time, and the price pattern changes every day.
 *
 * After each day it records the heap after a forced garbage collection,
 * the virtual sleeps pending and the engine's listener counts, and it
 * counts the Tesla tariff writes per local day. Before the start and after
 * the stop it counts the process's active handles by type, to find timers,
 * servers or sockets the engine leaves behind.
 *
 * `runSoak` is also used by test/resilience/soak.test.ts with fewer days.
 * Run the week on its own with `node dist/bench/soak.js` after
 * `npm run build`; `npm run bench` runs it too.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { DateTime } from "luxon";

import { resolveConfig } from "../src/config/load.js";
import { startService, type RunningService } from "../src/engine/service.js";
import { VirtualClock, yieldEventLoop } from "../src/engine/virtual-clock.js";
import { createLogger } from "../src/log.js";
import type { WebServer } from "../src/server/web-server.js";
import {
  startAemoStandIn,
  type AemoStandIn,
} from "../src/standins/aemo-server.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../src/standins/amber-server.js";
import type { PricePattern } from "../src/standins/price-model.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../src/standins/tesla-server.js";

const DAY_MS = 24 * 3_600_000;
const ZONE = "Australia/Sydney";
/** Monday 2025-06-16 00:00:20 in Sydney. */
export const SOAK_START = Date.UTC(2025, 5, 15, 14, 0, 20);
/** One pattern per day, repeated when there are more days. */
export const WEEK_PATTERNS: readonly PricePattern[] = [
  "volatile",
  "calm",
  "negative-midday",
  "spike",
  "volatile",
  "calm",
  "volatile",
];
/** Real time a pushed price may take to reach the engine before it counts as lost, ms. */
const PUSH_DELIVERY_TIMEOUT_MS = 5_000;

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Number of periods to run. */
  days: number;
  /**
   * Virtual length of one period, ms; default a day. The CI variant uses
   * shorter periods to compare the heap more often within less time.
   */
  dayMs?: number;
  /** Virtual time between live-price pushes, ms; default 30 000 (the demo's rate). */
  pushPeriodMs?: number;
  /** Seconds between the dashboard's live_status samples; default 60 (the product's default). */
  energySampleSeconds?: number;
  /** Seconds between the spike response's AEMO polls; default 60 (the product's default). */
  spikePollSeconds?: number;
  /**
   * Directory for the engine's data directory; default the system's temp
   * directory. A RAM-backed one (/dev/shm) makes the many fsyncs free.
   */
  dataRoot?: string;
  /** Forces a garbage collection; see {@link exposeGarbageCollector}. */
  collectGarbage: () => void;
  /** Called with each day's figures as soon as the day is over. */
  onDay?: (day: SoakDay) => void;
}

/** What one virtual period (a day unless `dayMs` is set) left behind. */
export interface SoakDay {
  /** 1 for the first period. */
  day: number;
  /** Local date in Sydney of the period's start, YYYY-MM-DD. */
  date: string;
  pattern: PricePattern;
  /** Heap in use after a forced garbage collection at the end of the period, bytes. */
  heapUsedBytes: number;
  /** Resident memory of the whole process (stand-ins included), bytes. */
  rssBytes: number;
  /** Tesla tariff writes the stand-in received during the period. */
  tariffWrites: number;
  /** Amber REST requests during the period. */
  amberCalls: number;
  /** Sleeps pending on the virtual clock at the end of the period. */
  pendingSleeps: number;
  /** Listeners on the engine and the controls' emitters. */
  listeners: number;
  /** Pushes that did not reach the engine within 5 s of real time. */
  lostPushes: number;
}

/** Everything a soak measured. */
export interface SoakResult {
  days: SoakDay[];
  /** Tesla tariff writes per local date in Sydney (YYYY-MM-DD). */
  writesPerDate: Record<string, number>;
  /** The engine's daily write budget. */
  dailyWriteBudget: number;
  /** Active handles by type (process.getActiveResourcesInfo) before the engine started. */
  handlesBefore: Record<string, number>;
  /** The same, right after the engine stopped. */
  handlesAfterStop: Record<string, number>;
  /** The same, once idle keep-alive sockets had up to 10 s to close. */
  handlesSettled: Record<string, number>;
  /** Sleeps left on the virtual clock after the engine stopped. */
  pendingSleepsAfterStop: number;
  /** Lines the engine logged at warn or above. */
  warnings: string[];
  /** Real time the run took, s. */
  wallSeconds: number;
}

/** Counts active handles by type. */
export function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/** Returns a function that forces a full garbage collection. */
export function exposeGarbageCollector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as unknown;
  return typeof gc === "function"
    ? () => (gc as () => void)()
    : () => undefined;
}

/** The stand-ins and the running engine of one soak. */
interface SoakRig {
  clock: VirtualClock;
  amber: AmberStandIn;
  tesla: TeslaStandIn;
  aemo: AemoStandIn;
  service: RunningService;
  warnings: string[];
  dataDir: string;
}

const AMBER_TOKEN = "psk_soak_amber_token_0123456789abcdef";
const TESLA_TOKEN = "soak-teslemetry-token-0123456789";

async function startStandIns(clock: VirtualClock): Promise<{
  amber: AmberStandIn;
  tesla: TeslaStandIn;
  aemo: AemoStandIn;
}> {
  const now = (): number => clock.now();
  return {
    amber: await startAmberStandIn({
      token: AMBER_TOKEN,
      intervalLength: 5,
      now,
    }),
    tesla: await startTeslaStandIn({
      authMode: "teslemetry",
      token: TESLA_TOKEN,
      timeZone: ZONE,
      now,
      rateLimit: false,
    }),
    aemo: await startAemoStandIn({ now }),
  };
}

async function startEngine(
  clock: VirtualClock,
  standIns: { amber: AmberStandIn; tesla: TeslaStandIn; aemo: AemoStandIn },
  options: {
    energySampleSeconds: number;
    spikePollSeconds: number;
    dataRoot: string;
  },
): Promise<SoakRig> {
  const dataDir = await mkdtemp(join(options.dataRoot, "tesla-sync-soak-"));
  await writeFile(
    join(dataDir, "controls.json"),
    JSON.stringify({
      spike: {
        enabled: true,
        region: "NSW1",
        pollSeconds: options.spikePollSeconds,
        aemoBaseUrl: standIns.aemo.url,
      },
    }),
  );
  const config = resolveConfig(
    {
      amber: {
        token: AMBER_TOKEN,
        restUrl: standIns.amber.restUrl,
        wsUrl: standIns.amber.wsUrl,
      },
      tesla: {
        auth: "teslemetry",
        token: TESLA_TOKEN,
        baseUrl: standIns.tesla.url,
      },
      dataDir,
      server: { port: 0 },
      dashboard: {
        password: "soak-dashboard-password",
        energySampleSeconds: options.energySampleSeconds,
      },
    },
    {},
    "the soak configuration",
  );

  const warnings: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split("\n")) {
        if (line.includes('"level":40') || line.includes('"level":50')) {
          warnings.push(line);
        }
      }
      callback();
    },
  });
  const service = await startService({
    config,
    logger: createLogger({ destination, level: "info" }),
    clock,
  });
  return { clock, ...standIns, service, warnings, dataDir };
}

/** Resolves once the engine, the controls and the history recorder have no work in progress. */
async function settle(service: RunningService): Promise<void> {
  const recorder = (service.server as Partial<WebServer> | undefined)?.recorder;
  for (let round = 0; round < 2; round += 1) {
    await yieldEventLoop(3);
    await service.engine.idle();
    await service.controls.spike.settled();
    await recorder?.idle();
  }
}

/** Pushes the current prices over the WebSocket and resolves once the engine has them. */
async function pushLivePrices(rig: SoakRig): Promise<boolean> {
  const received = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      rig.service.engine.off("prices", onPrices);
      resolve(false);
    }, PUSH_DELIVERY_TIMEOUT_MS);
    const onPrices = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    rig.service.engine.once("prices", onPrices);
  });
  if (rig.amber.pushLivePrices() === 0) {
    return false;
  }
  return received;
}

function listenerCount(service: RunningService): number {
  const emitters = [
    service.engine,
    service.controls.spike,
    service.controls.curtailment,
    service.controls.force,
    service.controls.customSchedule,
  ];
  let total = 0;
  for (const emitter of emitters) {
    for (const name of emitter.eventNames()) {
      total += emitter.listenerCount(name);
    }
  }
  return total;
}

function localDate(ms: number): string {
  return DateTime.fromMillis(ms, { zone: ZONE }).toISODate() ?? "";
}

/** Runs the engine for `options.days` virtual days; see the file comment. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = performance.now();
  const pushPeriodMs = options.pushPeriodMs ?? 30_000;
  const clock = new VirtualClock(SOAK_START);
  const standIns = await startStandIns(clock);
  options.collectGarbage();
  const handlesBefore = activeHandles();
  const dayMs = options.dayMs ?? DAY_MS;
  const rig = await startEngine(clock, standIns, {
    energySampleSeconds: options.energySampleSeconds ?? 60,
    spikePollSeconds: options.spikePollSeconds ?? 60,
    dataRoot: options.dataRoot ?? tmpdir(),
  });
  const { amber, tesla, service } = rig;
  const settleOnce = (): Promise<void> => settle(service);

  const days: SoakDay[] = [];
  const writesPerDate: Record<string, number> = {};
  try {
    // The live feed connects in real time; give it a moment before pushing.
    for (
      let tries = 0;
      tries < 100 && amber.liveConnectionCount() === 0;
      tries += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (let day = 1; day <= options.days; day += 1) {
      const pattern = WEEK_PATTERNS[(day - 1) % WEEK_PATTERNS.length] ?? "calm";
      amber.setPattern(pattern);
      const dayStart = SOAK_START + (day - 1) * dayMs;
      let lostPushes = 0;
      for (
        let elapsed = pushPeriodMs;
        elapsed <= DAY_MS;
        elapsed += pushPeriodMs
      ) {
        await clock.advanceTo(dayStart + elapsed, { settle: settleOnce });
        if (!(await pushLivePrices(rig))) {
          lostPushes += 1;
        }
        await settleOnce();
      }
      const date = localDate(dayStart);
      const tariffWrites = tesla.writes.filter(
        (write) => write.endpoint === "time_of_use_settings",
      );
      for (const write of tariffWrites) {
        const writeDate = localDate(write.at);
        writesPerDate[writeDate] = (writesPerDate[writeDate] ?? 0) + 1;
      }
      const amberCalls = amber.requests.length;
      // The stand-ins keep every request and write body; dropping them
      // keeps their memory out of the heap figure, which is the engine's.
      amber.requests.splice(0);
      tesla.requests.splice(0);
      tesla.writes.splice(0);
      options.collectGarbage();
      const memory = process.memoryUsage();
      const report: SoakDay = {
        day,
        date,
        pattern,
        heapUsedBytes: memory.heapUsed,
        rssBytes: memory.rss,
        tariffWrites: tariffWrites.length,
        amberCalls,
        pendingSleeps: clock.pendingSleeps,
        listeners: listenerCount(service),
        lostPushes,
      };
      days.push(report);
      options.onDay?.(report);
    }
  } finally {
    const stopping = service.stop();
    // Work in progress may wait on the virtual clock; keep it moving.
    let stopped = false;
    void stopping.finally(() => {
      stopped = true;
    });
    while (!stopped) {
      await clock.advance(60_000, { settle: settleOnce });
    }
    await stopping;
  }

  const handlesAfterStop = activeHandles();
  const pendingSleepsAfterStop = clock.pendingSleeps;
  // Idle keep-alive sockets to the stand-ins close after the servers' 5 s
  // keep-alive timeout, so they are counted again once that has passed.
  let handlesSettled = activeHandles();
  for (
    let tries = 0;
    tries < 100 && !withinBaseline(handlesSettled, handlesBefore);
    tries += 1
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    handlesSettled = activeHandles();
  }
  await Promise.allSettled([
    standIns.amber.close(),
    standIns.tesla.close(),
    standIns.aemo.close(),
  ]);
  await rm(rig.dataDir, { recursive: true, force: true });

  return {
    days,
    writesPerDate,
    dailyWriteBudget: service.engine.settings.dailyWriteBudget,
    handlesBefore,
    handlesAfterStop,
    handlesSettled,
    pendingSleepsAfterStop,
    warnings: rig.warnings,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/** True when no handle type has more entries in `now` than in `baseline`. */
export function withinBaseline(
  now: Record<string, number>,
  baseline: Record<string, number>,
): boolean {
  return Object.entries(now).every(
    ([type, count]) => count <= (baseline[type] ?? 0),
  );
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function describeHandles(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, count]) => `${type} ${count}`)
      .join(", ") || "none"
  );
}

/** Runs the week and prints one line per day and a summary. */
export async function benchSoak(): Promise<void> {
  const result = await runSoak({
    days: 7,
    // The engine fsyncs its state on every sync; RAM makes that free, and
    // the soak is about memory, not disk.
    ...(existsSync("/dev/shm") ? { dataRoot: "/dev/shm" } : {}),
    collectGarbage: exposeGarbageCollector(),
    onDay: (day) => {
      console.log(
        `soak day ${day.day} (${day.date}, ${day.pattern}): heap used ${megabytes(day.heapUsedBytes)} after GC, rss ${megabytes(day.rssBytes)}, ${day.tariffWrites} Tesla tariff writes, ${day.amberCalls} Amber REST calls, ${day.pendingSleeps} virtual sleeps pending, ${day.listeners} listeners, ${day.lostPushes} pushes lost`,
      );
    },
  });
  const first = result.days[0];
  const last = result.days.at(-1);
  if (first !== undefined && last !== undefined) {
    console.log(
      `soak heap growth from day 1 to day ${last.day}: ${megabytes(last.heapUsedBytes - first.heapUsedBytes)}; most Tesla tariff writes in a day: ${Math.max(...result.days.map((day) => day.tariffWrites))} (daily budget ${result.dailyWriteBudget})`,
    );
  }
  console.log(
    `soak handles before start: ${describeHandles(result.handlesBefore)}; right after stop: ${describeHandles(result.handlesAfterStop)}; once idle sockets closed: ${describeHandles(result.handlesSettled)}; virtual sleeps left: ${result.pendingSleepsAfterStop}`,
  );
  console.log(
    `soak warnings logged: ${result.warnings.length}; ran in ${result.wallSeconds.toFixed(1)} s`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchSoak();
}
