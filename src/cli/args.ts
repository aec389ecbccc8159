/**
 * Argument parsing shared by the `tesla-sync` subcommands, on top of
 * `node:util` parseArgs: strict options, no positionals, and every failure
 * turned into a UsageError whose message names the option and the fix.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** The command line is wrong: an unknown, missing or malformed option. Exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Output streams of a subcommand; tests pass collecting streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Parsed option values: strings for string options, booleans for flags. */
export type OptionValues = Record<string, string | boolean | undefined>;

/**
 * Parses `argv` against `options`, rejecting unknown options and positional
 * arguments. `command` names the subcommand in messages, e.g. `tariff`.
 */
export function parseCommandArgs(
  command: string,
  argv: readonly string[],
  options: ParseArgsOptionsConfig,
): OptionValues {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
    });
    return values as OptionValues;
  } catch (error) {
    const reason = (error as Error).message.replace(/\.$/, "");
    throw new UsageError(
      `${reason}; run tesla-sync ${command} --help for the options`,
    );
  }
}

/** Returns a string option, or undefined when it was not given. */
export function stringOption(
  values: OptionValues,
  name: string,
): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}
