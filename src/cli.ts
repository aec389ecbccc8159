#!/usr/bin/env node
/**
 * Command-line entry point: `tesla-sync tariff …` builds and checks a
 * tariff from saved Amber prices, `tesla-sync run …` runs the engine.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

import type { CommandIo } from "./cli/args.js";
import { tariffCommand } from "./cli/tariff-command.js";

/** Top-level help text. */
export const USAGE = `Usage: tesla-sync <command> [options]

Commands:
  run      run the sync engine and its status server (the demo when no
           account is configured)
  tariff   build and check a tariff from a saved Amber prices response

Run tesla-sync <command> --help for the options of a command.`;

/**
 * Runs the command named by `argv[0]` with the rest of `argv` and returns
 * the exit code: 0 success, 1 failure, 2 usage error.
 */
export async function main(
  argv: readonly string[],
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "tariff":
      return tariffCommand(rest, io);
    case "run": {
      // Loaded on demand so that `tariff` does not load the whole engine.
      const { runCommand } = await import("./cli/run-command.js");
      return runCommand(rest, { ...io, env: process.env });
    }
    case "-h":
    case "--help":
    case "help":
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case undefined:
      io.stderr.write(`tesla-sync: missing command\n\n${USAGE}\n`);
      return 2;
    default:
      io.stderr.write(
        `tesla-sync: unknown command ${JSON.stringify(command)}; run tesla-sync --help for the commands\n`,
      );
      return 2;
  }
}

/** True when this module is the script node was started with, also through an npm bin link. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) {
    return false;
  }
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A reader that stops early (`| head`) closes the pipe; that is not an
  // error. Any other write failure (a full disk) is one line and exit 1.
  let outputFailed = false;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" || outputFailed) {
      return;
    }
    outputFailed = true;
    process.stderr.write(
      `tesla-sync: cannot write to standard output: ${error.message}\n`,
    );
    process.exitCode = 1;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = outputFailed ? 1 : code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
