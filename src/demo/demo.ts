/**
 * The demo: with no account configured, the real engine runs against the
 * loopback stand-ins. The Amber stand-in serves a 5-minute site with the
 * "volatile" price pattern over REST and the live-price WebSocket, pushing
 * a drifting live price every 30 s. The Tesla stand-in simulates a
 * Powerwall in Sydney behind Fleet API OAuth, so the token refresh path runs
 * too. Every URL is 127.0.0.1 and the state lives in a temporary directory
 * that is removed on stop, so nothing reaches the internet or outlives the
 * run.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { ParsedConfig } from "../config/schema.js";
import { resolveConfig } from "../config/load.js";
import type { Logger } from "../log.js";
import { startService, type RunningService } from "../engine/service.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../standins/amber-server.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../standins/tesla-server.js";
import type { PricePattern } from "../standins/price-model.js";
import type { Clock } from "../util/clock.js";

/** Options for {@link startDemo}. */
export interface DemoOptions {
  logger: Logger;
  /**
   * The user's configuration; only its server, sync, log, time zone and
   * dashboard settings are used, because the demo supplies the accounts.
   */
  base?: ParsedConfig;
  /** Status server port; default the configured one (5001). */
  port?: number;
  /** Real-time period of live-price pushes, ms; default 30 000. */
  livePushIntervalMs?: number;
  /** Amber price pattern; default "volatile". */
  pattern?: PricePattern;
  clock?: Clock;
}

/** A running demo and its parts, for tests. */
export interface RunningDemo {
  service: RunningService;
  amber: AmberStandIn;
  tesla: TeslaStandIn;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts the stand-ins and the real engine against them. */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const logger = options.logger;
  const amberToken = `psk_demo_${randomBytes(12).toString("hex")}`;
  const clientId = "tesla-sync-demo";
  const refreshToken = `demo_refresh_${randomBytes(12).toString("hex")}`;
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-demo-"));

  const amber = await startAmberStandIn({
    token: amberToken,
    pattern: options.pattern ?? "volatile",
    intervalLength: 5,
    livePushIntervalMs: options.livePushIntervalMs ?? 30_000,
    host: "127.0.0.1",
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const tesla = await startTeslaStandIn({
    authMode: "fleet",
    clientId,
    initialRefreshToken: refreshToken,
    timeZone: "Australia/Sydney",
    host: "127.0.0.1",
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });

  const base = options.base;
  const config = resolveConfig(
    {
      amber: { token: amberToken, restUrl: amber.restUrl, wsUrl: amber.wsUrl },
      tesla: {
        auth: "fleet",
        baseUrl: tesla.url,
        fleet: { clientId, refreshToken, tokenUrl: tesla.tokenUrl },
      },
      dataDir,
      ...(base === undefined
        ? {}
        : {
            sync: base.sync,
            log: base.log,
            timeZone: base.timeZone,
            dashboard: base.dashboard,
          }),
      server: {
        host: base?.server.host ?? "127.0.0.1",
        port: options.port ?? base?.server.port ?? 5001,
      },
    },
    {},
    "the demo configuration",
  );

  logger.info(
    { amber: amber.restUrl, tesla: tesla.url, dataDir },
    "Demo mode: no account configured, so the engine syncs a simulated Powerwall from simulated Amber prices on 127.0.0.1",
  );

  let service: RunningService;
  try {
    service = await startService({
      config,
      logger,
      mode: "demo",
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  } catch (error) {
    await Promise.allSettled([amber.close(), tesla.close()]);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  let stopped = false;
  return {
    service,
    amber,
    tesla,
    dataDir,
    async stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      await service.stop();
      await Promise.allSettled([amber.close(), tesla.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
