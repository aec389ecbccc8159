/**
 * Latency benchmark: from a live-price push on the Amber stand-in's
 * WebSocket to the tariff upload arriving at the Tesla stand-in, in real
 * time over real sockets. The engine runs in this process with real
 * timers: the Amber live feed, the Amber and Tesla clients, the state
 * store and the sync engine, as startService wires them.
 *
 * Each push moves the current 5-minute price by 20 c/kWh against the one
 * before, which is urgent under the default rules. The debounce, the write
 * spacing and the daily budget are set to zero or out of reach. The figure
 * is therefore the engine's own work: parsing the push, fetching 24 hours
 * of prices over REST, building, validating and comparing the tariff, and
 * sending it. With the default settings a push waits the 10 s debounce
 * (`sync.liveDebounceSeconds`) on top of this.
 *
 * Run it on its own with `node dist/bench/latency.js` after
 * `npm run build`; `npm run bench` runs it too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { AmberClient } from "../src/amber/client.js";
import { AmberLiveFeed } from "../src/amber/live.js";
import { StateStore } from "../src/engine/state-store.js";
import { SyncEngine } from "../src/engine/sync-engine.js";
import { silentLogger } from "../src/log.js";
import { startAmberStandIn } from "../src/standins/amber-server.js";
import { currentIntervals } from "../src/standins/price-model.js";
import { startTeslaStandIn } from "../src/standins/tesla-server.js";
import { StaticTokenProvider } from "../src/tesla/auth.js";
import { TeslaClient } from "../src/tesla/client.js";

/** Timed pushes. */
const PUSHES = 30;
/** Pushes before the timed ones, to warm up the JIT and the connections. */
const WARM_UP = 5;
/** Maximum wait for one upload before the push counts as missed, ms. */
const UPLOAD_TIMEOUT_MS = 15_000;

const AMBER_TOKEN = "psk_latency_amber_token_0123456789";
const TESLA_TOKEN = "latency-teslemetry-token-0123456789";

/** The latencies of one run, ms. */
export interface LatencyResult {
  samples: number[];
  median: number;
  p95: number;
  /** Pushes that led to no upload within 15 s. */
  missed: number;
}

/** Returns the value below which `fraction` of the sorted samples lie (nearest rank). */
export function percentile(
  sorted: readonly number[],
  fraction: number,
): number {
  const index = Math.min(
    sorted.length - 1,
    Math.ceil(fraction * sorted.length) - 1,
  );
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

/** Sends PUSHES + WARM_UP pushes and times each one to its upload. */
export async function measureLatency(): Promise<LatencyResult> {
  const amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: "calm",
    intervalLength: 5,
    rateLimit: 10_000,
  });
  const uploads: number[] = [];
  const tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    timeZone: "Australia/Sydney",
    rateLimit: false,
    onRequest: (request) => {
      if (
        request.method === "POST" &&
        request.path.endsWith("/time_of_use_settings")
      ) {
        uploads.push(performance.now());
      }
    },
  });
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-latency-"));
  const site = amber.sites[0];
  if (site === undefined) {
    throw new Error("the Amber stand-in has no site");
  }
  const store = await StateStore.open({ dataDir, logger: silentLogger });
  const engine = new SyncEngine({
    amber: new AmberClient({
      baseUrl: amber.restUrl,
      token: AMBER_TOKEN,
      logger: silentLogger,
    }),
    tesla: new TeslaClient({
      baseUrl: tesla.url,
      tokens: new StaticTokenProvider(TESLA_TOKEN),
      logger: silentLogger,
    }),
    amberSiteId: site.id,
    teslaSiteId: String(tesla.siteId),
    intervalLength: 5,
    store,
    logger: silentLogger,
    settings: {
      liveDebounceMs: 0,
      minWriteSpacingMs: 0,
      urgentWriteSpacingMs: 0,
      manualWriteFloorMs: 0,
      dailyWriteBudget: 1_000_000,
      urgentWriteReserve: 0,
    },
  });
  const feed = new AmberLiveFeed({
    url: amber.wsUrl,
    token: AMBER_TOKEN,
    siteId: site.id,
    logger: silentLogger,
  });
  feed.on("prices", (live) => engine.handleLivePrices(live.prices));

  const samples: number[] = [];
  let missed = 0;
  try {
    await engine.start();
    let subscribed = false;
    feed.once("connected", () => {
      subscribed = true;
    });
    feed.start();
    await until(() => subscribed, 10_000);

    for (let push = 0; push < WARM_UP + PUSHES; push += 1) {
      await engine.idle();
      const before = uploads.length;
      const shiftCents = push % 2 === 0 ? 25 : 5;
      const prices = currentIntervals(Date.now(), {
        intervalLength: 5,
        pattern: "calm",
      }).map((interval) =>
        interval.channelType === "general"
          ? { ...interval, perKwh: interval.perKwh + shiftCents }
          : interval,
      );
      const sentAt = performance.now();
      amber.sendLiveMessage({
        service: "live-prices",
        action: "price-update",
        timestamp: new Date().toISOString(),
        data: { siteId: site.id, prices },
      });
      const arrived = await until(
        () => uploads.length > before,
        UPLOAD_TIMEOUT_MS,
      ).then(
        () => true,
        () => false,
      );
      if (push < WARM_UP) {
        continue;
      }
      if (arrived) {
        samples.push((uploads[before] ?? sentAt) - sentAt);
      } else {
        missed += 1;
      }
    }
  } finally {
    feed.stop();
    await engine.stop();
    await Promise.allSettled([amber.close(), tesla.close()]);
    await rm(dataDir, { recursive: true, force: true });
  }

  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples,
    median: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    missed,
  };
}

/** Polls `condition` every 2 ms; rejects after `timeoutMs`. */
async function until(
  condition: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Runs the measurement and prints one line. */
export async function benchLatency(): Promise<void> {
  const result = await measureLatency();
  console.log(
    `live push to tariff upload (${result.samples.length} pushes after ${WARM_UP} warm-up, no debounce or spacing): median ${result.median.toFixed(0)} ms, p95 ${result.p95.toFixed(0)} ms, max ${Math.max(...result.samples).toFixed(0)} ms, ${result.missed} pushes without an upload`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchLatency();
}
