/**
 * `tesla-sync run [--config FILE]`: loads the configuration and runs the
 * engine until SIGINT or SIGTERM. With no account configured it runs the
 * demo against the loopback stand-ins.
 */
import { parseArgs } from "node:util";

import { haSettingsFromEnv, type HaSettings } from "../bridge/env.js";
import {
  describeBridgeStatus,
  startHaMode,
  type HaMode,
} from "../bridge/ha-mode.js";
import { loadConfig } from "../config/load.js";
import { configFromEnv, unknownEnvVariables } from "../config/env.js";
import { configSchema, type EngineConfig } from "../config/schema.js";
import { startDemo } from "../demo/demo.js";
import {
  startService,
  type RunningService,
  type ServiceOptions,
} from "../engine/service.js";
import {
  ConfigError,
  describeError,
  RateLimitedError,
  TeslaSyncError,
  UpstreamUnavailableError,
} from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import {
  IngressWaitingPage,
  type IngressWaitingState,
} from "../server/ingress-waiting.js";
import {
  packageVersion,
  startSupervisorDiscovery,
} from "../supervisor/discovery.js";
import type { Clock } from "../util/clock.js";
import { startWithRetry } from "./start-retry.js";

/** A configuration with accounts. */
type LiveEngineConfig = Extract<EngineConfig, { mode: "live" }>;

/** Usage text of the run command. */
export const RUN_USAGE = `Usage: tesla-sync run [--config FILE]

Runs the sync engine and its status server (default http://127.0.0.1:5001/).

Options:
  --config FILE   YAML configuration file; TESLA_SYNC_* environment variables
                  override its values (see docs/configuration.md)
  -h, --help      show this help

With no Amber or Tesla account configured, runs the demo: a simulated
Powerwall synced from simulated Amber prices, all on 127.0.0.1.`;

/** Output streams and the process hooks the command uses; tests pass their own. */
export interface RunCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Resolves when the process is asked to stop; default SIGINT or SIGTERM. */
  stopSignal?: Promise<string>;
  /** Clock of the start retries; default the system clock. */
  clock?: Clock;
  /** Destination of the log; default the process's stdout. */
  logDestination?: NodeJS.WritableStream;
}

/**
 * Runs the command and resolves with the exit code once the engine has
 * stopped: 0 after a requested stop, 1 when it could not start, 2 for a
 * usage error.
 */
export async function runCommand(
  argv: readonly string[],
  io: RunCommandIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  },
): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(
      `tesla-sync run: ${(error as Error).message}\n\n${RUN_USAGE}\n`,
    );
    return 2;
  }
  if (values.help === true) {
    io.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }

  let config;
  try {
    config = await loadConfig({
      env: io.env,
      ...(values.config === undefined ? {} : { configFile: values.config }),
    });
  } catch (error) {
    io.stderr.write(
      `tesla-sync run: ${error instanceof ConfigError ? error.message : describeError(error)}\n`,
    );
    return 1;
  }

  const logger = createLogger({
    level: config.log.level,
    ...(config.log.format === undefined ? {} : { format: config.log.format }),
    ...(io.logDestination === undefined
      ? {}
      : { destination: io.logDestination }),
  });

  warnUnknownVariables(io.env, logger);

  // As a Home Assistant add-on, announce the engine so HA offers the
  // integration's setup; this needs no accounts, so it runs in every mode.
  const discovery = startSupervisorDiscovery(io.env, logger);

  let stop: () => Promise<void>;
  let stopSignal = io.stopSignal;
  try {
    // With an HA address and token (or as an add-on), the configuration
    // comes from the Tesla Sync integration instead (docs/bridge-protocol.md).
    const ha = haSettingsFromEnv(io.env);
    if (ha !== undefined) {
      stop = await runHaMode(ha, io.env, logger);
    } else if (config.mode === "demo") {
      const demo = await startDemo({ logger, base: config });
      stop = demo.stop;
    } else {
      // Listening from here on, so that a stop ends the start retries.
      stopSignal ??= waitForSignal();
      const live = config;
      const service = await startWithRetry({
        start: () => startService({ config: live, logger }),
        logger,
        stopSignal,
        advice: (error) => unreachableAdvice(error, live),
        ...(io.clock === undefined ? {} : { clock: io.clock }),
      });
      if (service === undefined) {
        logger.info("Stopped before the engine started");
        await discovery?.withdraw();
        return 0;
      }
      stop = service.stop;
    }
  } catch (error) {
    reportStartFailure(error, logger, io.stderr);
    await discovery?.withdraw();
    return 1;
  }

  const signal = await (stopSignal ?? waitForSignal());
  logger.info({ signal }, "Stopping");
  await stop();
  await discovery?.withdraw();
  return 0;
}

/** Warns once about `TESLA_SYNC_*` variables that no setting reads, such as a misspelt name. */
function warnUnknownVariables(
  env: Record<string, string | undefined>,
  logger: Logger,
): void {
  const unknown = unknownEnvVariables(env);
  if (unknown.length === 0) {
    return;
  }
  const names = unknown.map(({ name, suggestion }) =>
    suggestion === undefined ? name : `${name} (did you mean ${suggestion}?)`,
  );
  logger.warn(
    { variables: unknown.map(({ name }) => name) },
    `Ignoring unknown environment ${unknown.length === 1 ? "variable" : "variables"} ${names.join(", ")}: no setting has that name. docs/configuration.md lists every TESLA_SYNC_* variable.`,
  );
}

/**
 * Reports a failed start once: in the log, or on stderr when the log level
 * hides errors. The message of a catalogued error is complete, so only an
 * unexpected error adds its stack.
 */
function reportStartFailure(
  error: unknown,
  logger: Logger,
  stderr: NodeJS.WritableStream,
): void {
  const message = `The engine could not start: ${describeError(error)}`;
  if (logger.isLevelEnabled("error")) {
    logger.error(
      error instanceof TeslaSyncError ? { code: error.code } : { err: error },
      message,
    );
  } else {
    stderr.write(`tesla-sync run: ${message}\n`);
  }
}

/**
 * Returns advice for a vendor that could not be reached: its URL and the
 * setting that changes it. Exported for tests.
 */
export function unreachableAdvice(
  error: unknown,
  config: LiveEngineConfig,
): string {
  const vendor =
    error instanceof UpstreamUnavailableError ||
    error instanceof RateLimitedError
      ? error.vendor
      : undefined;
  if (vendor === "amber") {
    return `Check that Amber's API at ${config.amber.restUrl} is reachable from this machine (setting amber.restUrl, variable TESLA_SYNC_AMBER_REST_URL).`;
  }
  if (vendor === "tesla") {
    const token =
      config.teslaAccess.kind === "fleet"
        ? ` and its token endpoint ${config.teslaAccess.tokenUrl} (tesla.fleet.tokenUrl, TESLA_SYNC_FLEET_TOKEN_URL)`
        : "";
    return `Check that Tesla's API at ${config.teslaBaseUrl} (setting tesla.baseUrl, variable TESLA_SYNC_TESLA_BASE_URL)${token} is reachable from this machine.`;
  }
  return "Check this machine's network connection.";
}

/**
 * Starts HA mode and returns its stop function. As an add-on, the ingress
 * port responds from the start: a waiting page holds it whenever the engine
 * (whose own ingress listener replaces it) is not running.
 */
async function runHaMode(
  settings: HaSettings,
  env: Record<string, string | undefined>,
  logger: Logger,
): Promise<() => Promise<void>> {
  let mode: HaMode | undefined;
  let problem: string | undefined;
  let stopping = false;
  const waiting = ingressWaitingPage(env, logger, () =>
    waitingState(mode, problem),
  );
  await waiting?.open();

  const startEngine = async (
    options: ServiceOptions,
  ): Promise<RunningService> => {
    await waiting?.close();
    let service: RunningService;
    try {
      service = await startService(options);
    } catch (error) {
      problem = describeError(error);
      if (!stopping) {
        await waiting?.open();
      }
      throw error;
    }
    problem = undefined;
    return {
      ...service,
      stop: async () => {
        await service.stop();
        if (!stopping) {
          await waiting?.open();
        }
      },
    };
  };

  try {
    mode = await startHaMode({
      settings,
      env,
      logger,
      engineVersion: packageVersion(),
      startEngine,
    });
  } catch (error) {
    await waiting?.close();
    throw error;
  }
  const running = mode;
  return async () => {
    stopping = true;
    await running.stop();
    await waiting?.close();
  };
}

/**
 * Returns the ingress waiting page when ingress is on (`dashboard.ingress`,
 * by default as an add-on). The settings come from the environment alone,
 * because the engine takes them from there in HA mode.
 */
function ingressWaitingPage(
  env: Record<string, string | undefined>,
  logger: Logger,
  state: () => IngressWaitingState,
): IngressWaitingPage | undefined {
  const dashboard = configSchema.parse(configFromEnv(env)).dashboard;
  const ingress = dashboard.ingress ?? (env["SUPERVISOR_TOKEN"] ?? "") !== "";
  if (!ingress) {
    return undefined;
  }
  return new IngressWaitingPage({
    host: dashboard.ingressHost,
    port: dashboard.ingressPort,
    allowedAddresses: dashboard.ingressAllowedAddresses,
    logger,
    state,
  });
}

function waitingState(
  mode: HaMode | undefined,
  problem: string | undefined,
): IngressWaitingState {
  if (problem !== undefined) {
    return {
      state: "engine-failed",
      reason: `The engine could not start: ${problem} The add-on's log says what to do.`,
    };
  }
  if (mode === undefined) {
    return { state: "connecting", reason: "Connecting to Home Assistant." };
  }
  return describeBridgeStatus(mode.bridge.status);
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
      resolve(signal);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}
