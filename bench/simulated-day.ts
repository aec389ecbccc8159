/**
 * Runs the real engine for one simulated day against the loopback
 * stand-ins, in virtual time: the scheduler ticks every 5 minutes and a
 * live-price push arrives every 30 s, as the demo's WebSocket sends them.
 * The pushes go straight to the engine's handler because the WebSocket
 * client keeps real-time heartbeats that cannot run in virtual time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { AmberClient } from "../src/amber/client.js";
import type { EngineSettings } from "../src/engine/settings.js";
import { StateStore } from "../src/engine/state-store.js";
import { SyncEngine } from "../src/engine/sync-engine.js";
import { VirtualClock, yieldEventLoop } from "../src/engine/virtual-clock.js";
import { silentLogger } from "../src/log.js";
import { startAmberStandIn } from "../src/standins/amber-server.js";
import {
  currentIntervals,
  type PricePattern,
} from "../src/standins/price-model.js";
import { startTeslaStandIn } from "../src/standins/tesla-server.js";
import { StaticTokenProvider } from "../src/tesla/auth.js";
import { TeslaClient } from "../src/tesla/client.js";

const DAY_MS = 24 * 3_600_000;
const PUSH_PERIOD_MS = 30_000;

/** The cost of one simulated day. */
export interface DayResult {
  pattern: PricePattern;
  tariffWrites: number;
  /** Uploads that took the urgent write path. */
  urgentUploads: number;
  teslaCalls: number;
  amberCalls: number;
  syncs: number;
  outcomes: Record<string, number>;
  /** Memory after the day, bytes. */
  rss: number;
  heapUsed: number;
}

/** Runs one day starting at `start` (ms) with the given price pattern. */
export async function simulateDay(
  pattern: PricePattern,
  start: number,
  collectGarbage: () => void,
  settings: Partial<EngineSettings> = {},
): Promise<DayResult> {
  const clock = new VirtualClock(start);
  const now = (): number => clock.now();
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-bench-"));
  const amberToken = "psk_bench_amber_token";
  const teslaToken = "bench_teslemetry_token";

  const amberStandIn = await startAmberStandIn({
    token: amberToken,
    pattern,
    intervalLength: 5,
    now,
  });
  const teslaStandIn = await startTeslaStandIn({
    authMode: "teslemetry",
    token: teslaToken,
    timeZone: "Australia/Sydney",
    now,
    rateLimit: false,
  });
  const store = await StateStore.open({ dataDir, logger: silentLogger, now });
  const engine = new SyncEngine({
    amber: new AmberClient({
      baseUrl: amberStandIn.restUrl,
      token: amberToken,
      logger: silentLogger,
      clock,
    }),
    tesla: new TeslaClient({
      baseUrl: teslaStandIn.url,
      tokens: new StaticTokenProvider(teslaToken),
      logger: silentLogger,
      clock,
    }),
    amberSiteId: amberStandIn.sites[0]?.id ?? "",
    teslaSiteId: String(teslaStandIn.siteId),
    intervalLength: 5,
    store,
    logger: silentLogger,
    clock,
    settings,
  });

  const settle = async (): Promise<void> => {
    await yieldEventLoop(3);
    await engine.idle();
  };

  const outcomes: Record<string, number> = {};
  let urgentUploads = 0;
  engine.on("sync", (result) => {
    outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
    if (result.outcome === "uploaded" && result.urgent === true) {
      urgentUploads += 1;
    }
  });

  try {
    await engine.start();
    for (
      let elapsed = PUSH_PERIOD_MS;
      elapsed <= DAY_MS;
      elapsed += PUSH_PERIOD_MS
    ) {
      await clock.advanceTo(start + elapsed, { settle });
      engine.handleLivePrices(
        currentIntervals(clock.now(), { intervalLength: 5, pattern }),
      );
    }
    await engine.stop();

    collectGarbage();
    const memory = process.memoryUsage();
    return {
      pattern,
      tariffWrites: teslaStandIn.writes.filter(
        (write) => write.endpoint === "time_of_use_settings",
      ).length,
      urgentUploads,
      teslaCalls: teslaStandIn.requests.length,
      amberCalls: amberStandIn.requests.length,
      syncs: Object.values(outcomes).reduce((sum, count) => sum + count, 0),
      outcomes,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
    };
  } finally {
    await engine.stop();
    await Promise.allSettled([amberStandIn.close(), teslaStandIn.close()]);
    await rm(dataDir, { recursive: true, force: true });
  }
}
