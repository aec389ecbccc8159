/**
 * Wires a running engine together: configuration, the Amber and Tesla
 * clients, site selection, the state store, the Amber live feed, the sync
 * engine with its scheduler, and the status server. `stop()` takes it all
 * down in reverse order: every timer canceled, every socket closed and the
 * state flushed to disk.
 */
import { mkdir } from "node:fs/promises";

import { AmberClient } from "../amber/client.js";
import { AmberLiveFeed } from "../amber/live.js";
import type { EngineConfig } from "../config/schema.js";
import { pickAmberSite, pickEnergySite } from "../config/sites.js";
import { createControls, type Controls } from "../controls/service.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { dashboardOptionsFromConfig } from "../server/dashboard-config.js";
import type { StatusServer } from "../server/status-server.js";
import { startWebServer } from "../server/web-server.js";
import {
  FleetOAuthProvider,
  StaticTokenProvider,
  type TokenProvider,
} from "../tesla/auth.js";
import { TeslaClient } from "../tesla/client.js";
import { TokenStore } from "../tesla/token-store.js";
import { systemClock, type Clock } from "../util/clock.js";
import { settingsFromConfig } from "./settings.js";
import { StateStore } from "./state-store.js";
import { SyncEngine } from "./sync-engine.js";
import type { AmberPort, TeslaPort } from "./types.js";

/** Options for {@link startService}. */
export interface ServiceOptions {
  /** A "live" configuration (the demo builds one that points at its stand-ins). */
  config: EngineConfig;
  logger: Logger;
  clock?: Clock;
  /** Shown in the status API; default "live". */
  mode?: "live" | "demo";
  /** Whether to run the status server; default true. */
  statusServer?: boolean;
  /** Replaces the Tesla token source of `config`; HA mode passes HA's tesla_fleet token this way. */
  teslaTokens?: TokenProvider;
  /** Wraps the ports the engine uses; HA mode observes prices and rejected credentials this way. */
  wrapPorts?: (ports: { amber: AmberPort; tesla: TeslaPort }) => {
    amber: AmberPort;
    tesla: TeslaPort;
  };
  /** Called with the engine before its startup sync, so no event is missed. */
  onEngine?: (engine: SyncEngine) => void;
}

/** A running engine and what it owns. */
export interface RunningService {
  engine: SyncEngine;
  /** Undefined when the status server was turned off. */
  server: StatusServer | undefined;
  amber: AmberClient;
  tesla: TeslaClient;
  amberSiteId: string;
  teslaSiteId: string;
  /** Spike response, curtailment, custom schedules and force (docs/controls.md). */
  controls: Controls;
  /** Stops everything; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts the engine for `config`: resolves the sites, starts the live feed
 * and the status server, runs the startup sync and starts the scheduler.
 * Throws ConfigError when the configuration or the site choice is wrong.
 */
export async function startService(
  options: ServiceOptions,
): Promise<RunningService> {
  const { config } = options;
  if (config.mode !== "live") {
    throw new ConfigError(
      "startService needs account settings; with none configured, run the demo instead.",
    );
  }
  const clock = options.clock ?? systemClock;
  const logger = options.logger;

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const store = await StateStore.open({
    dataDir: config.dataDir,
    logger,
    now: () => clock.now(),
  });

  // Aborted by stop(), so that a retry waiting out a 429 or a backoff does
  // not hold up shutdown; Docker and the Supervisor kill after 10 s.
  const shutdown = new AbortController();
  const amber = new AmberClient({
    baseUrl: config.amber.restUrl,
    token: config.amberToken,
    logger,
    clock,
    signal: shutdown.signal,
  });
  const tesla = new TeslaClient({
    baseUrl: config.teslaBaseUrl,
    tokens: options.teslaTokens ?? tokenProvider(config, logger, clock),
    logger: logger.child({ module: "tesla" }),
    clock,
    signal: shutdown.signal,
  });

  const amberSite = pickAmberSite(await amber.listSites(), config.amber.siteId);
  const energySites = await tesla.listEnergySites();
  const batteries = energySites.filter(
    (site) => site.resource_type === "battery",
  );
  const teslaSiteId = pickEnergySite(
    (batteries.length > 0 ? batteries : energySites).map((site) => ({
      id: String(site.energy_site_id),
      name: site.site_name,
    })),
    config.tesla.siteId,
  );
  const intervalLength = amberSite.intervalLength ?? 30;
  logger.info(
    { amberSiteId: amberSite.id, intervalLength, teslaSiteId },
    `Syncing Amber site ${amberSite.id} (${intervalLength}-minute prices) to Tesla energy site ${teslaSiteId}`,
  );

  // While a control claims the tariff (spike, force, custom schedule), the
  // sync skips its upload. `attach` below also gives the engine the
  // controls' overlays.
  const controls = await createControls({
    dataDir: config.dataDir,
    configured: config.controls,
    siteId: teslaSiteId,
    powerwall: tesla,
    logger,
    clock,
    ...(config.timeZone === undefined
      ? {}
      : { fallbackTimeZone: config.timeZone }),
  });

  const ports = options.wrapPorts?.({ amber, tesla }) ?? { amber, tesla };
  const engine = new SyncEngine({
    amber: ports.amber,
    tesla: controls.guardTariffWrites(ports.tesla),
    amberSiteId: amberSite.id,
    teslaSiteId,
    intervalLength,
    store,
    logger,
    clock,
    mode: options.mode ?? "live",
    settings: settingsFromConfig(config),
  });
  controls.attach(engine);
  options.onEngine?.(engine);

  const feed = config.amber.liveFeed
    ? new AmberLiveFeed({
        url: config.amber.wsUrl,
        token: config.amberToken,
        siteId: amberSite.id,
        logger,
      })
    : undefined;
  if (feed !== undefined) {
    feed.on("prices", (live) => engine.handleLivePrices(live.prices));
    feed.on("connected", () => engine.setLiveFeedState("connected"));
    feed.on("disconnected", () => engine.setLiveFeedState("disconnected"));
    feed.on("stale", () => engine.setLiveFeedState("stale"));
    feed.on("disabled", () => engine.setLiveFeedState("disabled"));
    engine.setLiveFeedState("connecting");
    feed.start();
  }

  let server: StatusServer | undefined;
  let started = false;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) {
      return;
    }
    stopped = true;
    feed?.stop();
    // The controls finish their restores first; only then are the waits
    // of a sync still in progress cut short.
    await controls.stop();
    shutdown.abort(new Error("Engine stopping"));
    await engine.stop();
    await server?.close();
    await store.flush();
    // A failed start is reported by the caller; "stopped" would mislead.
    if (started) {
      logger.info("Engine stopped");
    }
  };

  try {
    if (options.statusServer ?? true) {
      server = await startWebServer({
        ...dashboardOptionsFromConfig(config, {
          tesla,
          teslaSiteId,
          amber,
          amberSiteId: amberSite.id,
          intervalLength,
        }),
        engine,
        logger,
        clock,
        engineMode: options.mode ?? "live",
        controls,
      });
    }
    // Before the startup sync, so a control that was active at shutdown
    // claims the tariff again before the sync could overwrite it.
    await controls.start();
    await engine.start();
    started = true;
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    engine,
    server,
    amber,
    tesla,
    amberSiteId: amberSite.id,
    teslaSiteId,
    controls,
    stop,
  };
}

function tokenProvider(
  config: Extract<EngineConfig, { mode: "live" }>,
  logger: Logger,
  clock: Clock,
): TokenProvider {
  const access = config.teslaAccess;
  if (access.kind === "teslemetry") {
    return new StaticTokenProvider(access.token);
  }
  return new FleetOAuthProvider({
    clientId: access.clientId,
    store: new TokenStore({ dataDir: config.dataDir }),
    logger: logger.child({ module: "tesla-auth" }),
    tokenUrl: access.tokenUrl,
    initialRefreshToken: access.refreshToken,
    clock,
  });
}
