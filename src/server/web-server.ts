/**
 * Starts the web dashboard: the status server with the dashboard's routes,
 * its access guard, the history store and recorder, the live event stream
 * and, in add-on mode, the ingress listener.
 *
 * Access on the standalone listener (`server.host`, `server.port`):
 * - a configured password (`dashboard.password`) always means login;
 * - the demo without a password runs without login, but only on a loopback
 *   address; any other address is a ConfigError at start;
 * - a live engine without a password generates one at first start (see
 *   password.ts), unless ingress is on: then Home Assistant is the way in,
 *   and the standalone login stays closed until a password is set.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { ConfigError, describeError } from "../errors.js";
import {
  HistoryRecorder,
  type HistoryRecorderOptions,
  type RecorderEngine,
} from "../history/recorder.js";
import { HistoryStore } from "../history/store.js";
import type { Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  createIngressGuard,
  createStandaloneGuard,
  isLoopbackHost,
  SUPERVISOR_INGRESS_ADDRESS,
} from "./access.js";
import { defaultAssetsDir, loadAssets } from "./assets.js";
import {
  controlsSnapshot,
  onControlsChange,
  type DashboardControls,
} from "./controls.js";
import { addDashboardRoutes } from "./dashboard-routes.js";
import { INGRESS_SETTINGS, listen } from "./listen.js";
import { LiveEvents } from "./live-events.js";
import { LoginLimiter, type LoginLimiterOptions } from "./login-limiter.js";
import { addLoginRoutes } from "./login-routes.js";
import { loadDashboardPassword, type PasswordHash } from "./password.js";
import { SessionStore } from "./sessions.js";
import {
  startStatusServer,
  type StatusEngine,
  type StatusServer,
} from "./status-server.js";

/** Default port of the ingress listener, as the add-on's config.yaml sets `ingress_port`. */
export const DEFAULT_INGRESS_PORT = 8099;

/** The engine as the dashboard uses it. SyncEngine satisfies it. */
export type DashboardEngine = StatusEngine & RecorderEngine;

/** The ingress listener of the add-on. */
export interface IngressOptions {
  /** Port; default 8099. 0 picks a free port. */
  port?: number;
  /** Bind address; default "0.0.0.0", because the Supervisor connects over the add-on network. */
  host?: string;
  /** Client addresses allowed; default ["172.30.32.2"], the Supervisor. */
  allowedAddresses?: readonly string[];
}

/** Options for {@link startWebServer}. */
export interface WebServerOptions {
  engine: DashboardEngine;
  logger: Logger;
  /** "demo" allows running without a password on loopback. */
  engineMode: "live" | "demo";
  /** Directory of the history database and the stored password hash. */
  dataDir: string;
  /** Standalone bind address; default "127.0.0.1". */
  host?: string;
  /** Standalone port; default 5001. 0 picks a free port. */
  port?: number;
  /** The configured dashboard password, if any. */
  password?: string;
  /** Starts the ingress listener when set. */
  ingress?: IngressOptions;
  /** Session lifetime, ms; default 12 hours. */
  sessionTtlMs?: number;
  /** History settings, or false for none. Default: history without energy sampling or Amber backfill. */
  history?:
    | false
    | {
        /** Retention, days; default 30. */
        retentionDays?: number;
        energy?: HistoryRecorderOptions["energy"];
        amber?: HistoryRecorderOptions["amber"];
      };
  /** Price-event controls to show; default none. */
  controls?: DashboardControls;
  /** Directory of the built assets; default `dist/dashboard` of this package. */
  assetsDir?: string;
  clock?: Clock;
  /** Output for a generated password; default stderr. */
  print?: (text: string) => void;
  /** Overrides of the login limiter's defaults. */
  limiter?: Omit<LoginLimiterOptions, "clock" | "logger">;
}

/** A running dashboard. Its StatusServer fields describe the standalone listener. */
export interface WebServer extends StatusServer {
  /** Access mode of the standalone listener. */
  readonly access: "open" | "login";
  /** The ingress listener, when started. */
  readonly ingress: { url: string; port: number; server: Server } | undefined;
  readonly history: HistoryStore | undefined;
  readonly recorder: HistoryRecorder | undefined;
  readonly events: LiveEvents;
}

/**
 * Starts the dashboard and resolves once every listener listens. Throws
 * ConfigError for the demo on a non-loopback address without a password,
 * or a configured password that is too short.
 */
export async function startWebServer(
  options: WebServerOptions,
): Promise<WebServer> {
  const host = options.host ?? "127.0.0.1";
  const clock = options.clock ?? systemClock;
  const logger = options.logger.child({ module: "dashboard" });
  const { engine } = options;
  const controls = options.controls ?? {};

  const access = decideAccess(options, host);
  let passwordHash: PasswordHash | undefined;
  if (access === "login") {
    if (options.password !== undefined || options.ingress === undefined) {
      passwordHash = (
        await loadDashboardPassword({
          configured: options.password,
          dataDir: options.dataDir,
          logger,
          ...(options.print === undefined ? {} : { print: options.print }),
        })
      ).hash;
    }
  }

  const history = openHistory(options, logger);
  const assetsDir = options.assetsDir ?? defaultAssetsDir();
  const { assets, missing } = await loadAssets(assetsDir);
  if (missing.length > 0) {
    logger.warn(
      { assetsDir, missing },
      `Dashboard files ${missing.join(", ")} are missing from ${assetsDir}; run "npm run build" to create them`,
    );
  }

  const sessions = new SessionStore({
    clock,
    ...(options.sessionTtlMs === undefined
      ? {}
      : { ttlMs: options.sessionTtlMs }),
  });
  const limiter = new LoginLimiter({ clock, logger, ...options.limiter });
  const events = new LiveEvents({ clock, logger });

  const status = await startStatusServer({
    engine,
    logger: options.logger,
    host,
    port: options.port ?? 5001,
    guard: createStandaloneGuard({ mode: access, sessions }),
  });

  addLoginRoutes({
    server: status,
    sessions,
    limiter,
    passwordHash,
    noPasswordMessage:
      "Login is off because no dashboard password is set. Open Tesla Sync from the Home Assistant sidebar, or set a dashboard password and restart.",
    logger,
  });
  addDashboardRoutes({
    server: status,
    engine,
    engineMode: options.engineMode,
    history,
    controls,
    events,
    assets,
    now: () => clock.now(),
  });

  let ingress: WebServer["ingress"];
  try {
    ingress =
      options.ingress === undefined
        ? undefined
        : await startIngress(status, options.ingress, logger);
  } catch (error) {
    await status.close();
    history?.close();
    throw error;
  }

  const recorder =
    history === undefined
      ? undefined
      : new HistoryRecorder({
          store: history,
          engine,
          clock,
          logger: options.logger,
          ...(options.history === false || options.history === undefined
            ? {}
            : {
                ...(options.history.energy === undefined
                  ? {}
                  : { energy: options.history.energy }),
                ...(options.history.amber === undefined
                  ? {}
                  : { amber: options.history.amber }),
              }),
        });

  const onStatus = (): void => {
    events.publish("status", () => engine.status());
  };
  const onSync = (result: unknown): void => {
    events.publish("sync", () => result);
  };
  engine.on("status", onStatus);
  engine.on("sync", onSync);
  recorder?.on("energy", (sample) => {
    events.publish("energy", () => sample);
  });
  const stopControls = onControlsChange(controls, () => {
    events.publish("controls", () => controlsSnapshot(controls));
  });
  recorder?.start();

  logger.info(
    { url: status.url, access, ingress: ingress?.url },
    access === "open"
      ? `Dashboard at ${status.url}/ without login (demo on 127.0.0.1 only)`
      : `Dashboard at ${status.url}/ with login${passwordHash === undefined ? " (closed until a dashboard password is set)" : ""}`,
  );

  let closed = false;
  return {
    ...status,
    access,
    ingress,
    history,
    recorder,
    events,
    async close() {
      if (closed) {
        return;
      }
      closed = true;
      engine.off("status", onStatus);
      engine.off("sync", onSync);
      stopControls();
      await events.close();
      await recorder?.stop();
      if (ingress !== undefined) {
        await closeServer(ingress.server);
      }
      await status.close();
      history?.close();
    },
  };
}

function decideAccess(
  options: WebServerOptions,
  host: string,
): "open" | "login" {
  if (options.password !== undefined) {
    return "login";
  }
  if (options.engineMode === "demo") {
    if (!isLoopbackHost(host)) {
      throw new ConfigError(
        `The demo has no dashboard password, so it may only listen on 127.0.0.1, not ${host}. Set dashboard.password (or TESLA_SYNC_DASHBOARD_PASSWORD), or set server.host to 127.0.0.1.`,
      );
    }
    return "open";
  }
  return "login";
}

function openHistory(
  options: WebServerOptions,
  logger: Logger,
): HistoryStore | undefined {
  if (options.history === false) {
    return undefined;
  }
  try {
    return HistoryStore.open({
      dataDir: options.dataDir,
      ...(options.history?.retentionDays === undefined
        ? {}
        : { retentionDays: options.history.retentionDays }),
    });
  } catch (error) {
    logger.warn(
      { err: error },
      `Price and energy history is off: ${describeError(error)}`,
    );
    return undefined;
  }
}

async function startIngress(
  status: StatusServer,
  options: IngressOptions,
  logger: Logger,
): Promise<{ url: string; port: number; server: Server }> {
  const host = options.host ?? "0.0.0.0";
  const allowedAddresses = options.allowedAddresses ?? [
    SUPERVISOR_INGRESS_ADDRESS,
  ];
  const server = createServer(
    status.handler(
      createIngressGuard({
        allowedAddresses,
        csrfToken: randomBytes(32).toString("base64url"),
      }),
    ),
  );
  await listen(
    server,
    options.port ?? DEFAULT_INGRESS_PORT,
    host,
    INGRESS_SETTINGS,
  );
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info(
    { url, allowedAddresses },
    `Ingress listener at ${url} for ${allowedAddresses.join(", ")}`,
  );
  return { url, port, server };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
