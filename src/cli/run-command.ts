/**
 * `tesla-sync run [--config FILE]`: loads the configuration and runs the
 * engine until SIGINT or SIGTERM. With no account configured it runs the
 * demo against the loopback stand-ins.
 */
import { parseArgs } from "node:util";

import { haSettingsFromEnv } from "../bridge/env.js";
import { startHaMode } from "../bridge/ha-mode.js";
import { loadConfig } from "../config/load.js";
import { startDemo } from "../demo/demo.js";
import { startService } from "../engine/service.js";
import { ConfigError, describeError } from "../errors.js";
import { createLogger } from "../log.js";
import {
  packageVersion,
  startSupervisorDiscovery,
} from "../supervisor/discovery.js";

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
  });

  // As a Home Assistant add-on, announce the engine so HA offers the
  // integration's setup; this needs no accounts, so it runs in every mode.
  const discovery = startSupervisorDiscovery(io.env, logger);

  let stop: () => Promise<void>;
  try {
    // With an HA address and token (or as an add-on), the configuration
    // comes from the Tesla Sync integration instead (docs/bridge-protocol.md).
    const ha = haSettingsFromEnv(io.env);
    if (ha !== undefined) {
      const mode = await startHaMode({
        settings: ha,
        env: io.env,
        logger,
        engineVersion: packageVersion(),
      });
      stop = mode.stop;
    } else if (config.mode === "demo") {
      const demo = await startDemo({ logger, base: config });
      stop = demo.stop;
    } else {
      const service = await startService({ config, logger });
      stop = service.stop;
    }
  } catch (error) {
    logger.error(
      { err: error },
      `Engine could not start: ${describeError(error)}`,
    );
    io.stderr.write(`tesla-sync run: ${describeError(error)}\n`);
    await discovery?.withdraw();
    return 1;
  }

  const signal = await (io.stopSignal ?? waitForSignal());
  logger.info({ signal }, "Stopping");
  await stop();
  await discovery?.withdraw();
  return 0;
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
