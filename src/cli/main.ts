/**
 * The command line: `tesla-sync tariff …` builds and checks a tariff from
 * saved Amber prices, `tesla-sync run …` runs the engine. src/cli.ts loads
 * this module once it has checked the Node.js version.
 */
import type { CommandIo } from "./args.js";
import { tariffCommand } from "./tariff-command.js";

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
      const { runCommand } = await import("./run-command.js");
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

/**
 * Runs `main` with `argv` on the process's own streams and sets
 * `process.exitCode` from its result.
 */
export async function runCli(argv: readonly string[]): Promise<void> {
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
  try {
    const code = await main(argv);
    process.exitCode = outputFailed ? 1 : code;
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}
