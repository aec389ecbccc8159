/**
 * `tesla-sync tariff`: builds the tariff Tesla Sync would upload from a saved
 * Amber prices response, prints its 48 half-hour slots, validates it and
 * optionally writes it as JSON. Nothing is sent anywhere.
 */
import type { Stats } from "node:fs";
import { lstat, open, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

import { DateTime, IANAZone } from "luxon";

import { parsePricesBody } from "../amber/prices.js";
import { InvalidPayloadError, TeslaSyncError } from "../errors.js";
import { DEFAULT_MAX_BODY_BYTES } from "../http/vendor-http.js";
import { buildTariff, type ForecastBand } from "../tariff/build.js";
import { renderSlotTable } from "../tariff/table.js";
import { assertValidTariff } from "../tariff/validate.js";
import { ianaZone } from "../tariff/wall-clock.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import {
  UsageError,
  parseCommandArgs,
  stringOption,
  type CommandIo,
} from "./args.js";

/** Help text of the tariff command. */
export const TARIFF_USAGE = `Usage: tesla-sync tariff --prices FILE [options]

Builds the Powerwall tariff Tesla Sync would upload from a saved Amber prices
response, prints its 48 half-hour slots and checks it. Nothing is uploaded.

Options:
  --prices FILE   JSON body of an Amber /prices or /prices/current response
                  (required)
  --zone ZONE     IANA time zone of the site (default Australia/Sydney)
  --now TIME      ISO 8601 time to build at; a time without an offset is read
                  in --zone (default: the current time)
  --band BAND     advancedPrice band for forecasts: predicted, low or high
                  (default predicted)
  --out FILE      also write the tariff_content_v2 JSON to FILE, in an
                  existing directory
  -h, --help      show this help

Exit status: 0 when the tariff is built and valid, 1 when the prices file is
unreadable or invalid or the prices are too sparse, 2 for a usage error
(unknown option, missing --prices, invalid --zone, --now or --band).`;

/** Streams and clock of the tariff command; tests pass their own. */
export interface TariffCommandIo extends CommandIo {
  /** Current time in ms, used when --now is absent; default Date.now. */
  now?: () => number;
}

const BANDS: readonly ForecastBand[] = ["predicted", "low", "high"];
const DAY_MS = 24 * 60 * 60_000;

/** The prices file cannot be used or the tariff was rejected. Exit code 1. */
class InputError extends Error {}

interface TariffArguments {
  pricesFile: string;
  zone: string;
  now: number;
  band: ForecastBand;
  outFile: string | undefined;
}

/**
 * Runs `tesla-sync tariff` with `argv` (the arguments after `tariff`) and
 * returns the exit code: 0 built and valid, 1 bad input or rejected, 2
 * usage error. Errors are one line on stderr naming the value and the fix.
 */
export async function tariffCommand(
  argv: readonly string[],
  io: TariffCommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    const values = parseCommandArgs("tariff", argv, {
      prices: { type: "string" },
      zone: { type: "string" },
      now: { type: "string" },
      band: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values["help"] === true) {
      io.stdout.write(`${TARIFF_USAGE}\n`);
      return 0;
    }
    await runTariff(checkArguments(values, io.now ?? Date.now), io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`tesla-sync tariff: ${error.message}\n`);
      return 2;
    }
    if (error instanceof InputError || error instanceof TeslaSyncError) {
      io.stderr.write(`tesla-sync tariff: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function checkArguments(
  values: ReturnType<typeof parseCommandArgs>,
  clock: () => number,
): TariffArguments {
  const pricesFile = stringOption(values, "prices");
  if (pricesFile === undefined || pricesFile === "") {
    throw new UsageError(
      "missing --prices FILE; pass the path of a saved Amber prices response body",
    );
  }

  const zone = stringOption(values, "zone") ?? "Australia/Sydney";
  if (ianaZone(zone) === undefined) {
    throw new UsageError(
      `--zone ${JSON.stringify(zone)} is not an IANA time zone name; pass the site's zone, e.g. Australia/Sydney`,
    );
  }

  const band = stringOption(values, "band") ?? "predicted";
  if (!(BANDS as readonly string[]).includes(band)) {
    throw new UsageError(
      `--band ${JSON.stringify(band)} is not valid; use predicted, low or high`,
    );
  }

  const nowText = stringOption(values, "now");
  const now = nowText === undefined ? clock() : parseNow(nowText, zone);

  return {
    pricesFile,
    zone,
    now,
    band: band as ForecastBand,
    outFile: stringOption(values, "out"),
  };
}

/**
 * Parses --now. A time without an offset is read in `zone` and must occur
 * there exactly once. A time that daylight saving skips or repeats is a
 * usage error that requests an offset, rather than a guess.
 */
function parseNow(text: string, zone: string): number {
  const parsed = DateTime.fromISO(text, { zone });
  if (!parsed.isValid) {
    throw new UsageError(
      `--now ${JSON.stringify(text)} is not an ISO 8601 time; pass one such as 2026-01-15T14:10 (read in --zone) or 2026-01-15T03:10Z`,
    );
  }
  if (/T.*(?:Z|[+-]\d\d(?::?\d\d)?)$/i.test(text)) {
    return parsed.toMillis();
  }

  // The wall time read as UTC, then each offset in force within a day of
  // it tried in turn: the instants where the zone's clock shows that time.
  const iana = IANAZone.create(zone);
  const wall = DateTime.fromISO(text, { zone: "UTC" }).toMillis();
  const offsets = [
    ...new Set([-DAY_MS, 0, DAY_MS].map((shift) => iana.offset(wall + shift))),
  ];
  const instants = offsets
    .map((offset) => wall - offset * 60_000)
    .filter((instant, index) => iana.offset(instant) === offsets[index])
    .sort((a, b) => a - b);
  const [first, second] = instants;
  if (first === undefined) {
    const before = formatOffset(iana.offset(wall - DAY_MS));
    throw new UsageError(
      `--now ${JSON.stringify(text)} does not occur in ${zone}, because daylight saving skips it; pass a time that occurs, or add an offset such as ${text}${before}`,
    );
  }
  if (second !== undefined) {
    const earlier = formatOffset(iana.offset(first));
    const later = formatOffset(iana.offset(second));
    throw new UsageError(
      `--now ${JSON.stringify(text)} occurs twice in ${zone} as daylight saving ends; add the offset, ${text}${earlier} or ${text}${later}`,
    );
  }
  return first;
}

/** Formats an offset in minutes as ISO 8601 text, e.g. 630 as `+10:30`. */
function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const hours = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, "0");
  const rest = String(Math.abs(minutes) % 60).padStart(2, "0");
  return `${sign}${hours}:${rest}`;
}

async function runTariff(args: TariffArguments, io: CommandIo): Promise<void> {
  const body = await readPricesBody(args.pricesFile);

  let parsed;
  try {
    parsed = parsePricesBody(body);
  } catch (error) {
    if (error instanceof InvalidPayloadError) {
      throw new InputError(
        `${args.pricesFile} is not a valid Amber prices body: ${payloadDetail(error)}; save the unmodified response body of /prices or /prices/current`,
      );
    }
    throw error;
  }
  if (parsed.ignoredChannelTypes.length > 0) {
    io.stderr.write(
      `warning: dropped intervals on unknown channel type(s) ${parsed.ignoredChannelTypes.join(", ")}; only general and feed-in prices make the tariff\n`,
    );
  }

  const result = buildTariff({
    intervals: parsed.intervals,
    now: args.now,
    timeZone: args.zone,
    options: { band: args.band },
  });
  for (const warning of result.warnings) {
    io.stderr.write(`warning: ${warning}\n`);
  }

  const tariff = assertValidTariff(result.tariff, "strict");
  // Write the file before printing, so a closed pipe on stdout cannot lose it.
  if (args.outFile !== undefined) {
    await writeTariffFile(args.outFile, tariff);
  }

  io.stdout.write(renderSlotTable(result.slots));
  io.stdout.write(
    `\nTariff valid (strict): 48 half-hour slots from ${result.slots[0]?.start ?? "?"} in ${args.zone}, forecast band ${args.band}.\n`,
  );
  if (args.outFile !== undefined) {
    io.stdout.write(`Wrote tariff_content_v2 to ${args.outFile}.\n`);
  }
}

async function writeTariffFile(file: string, tariff: unknown): Promise<void> {
  const text = `${JSON.stringify(tariff, null, 2)}\n`;
  try {
    const entry = await lstatOrUndefined(file);
    if (entry?.isDirectory() === true) {
      throw new InputError(
        `cannot write --out ${file}: it is a directory; pass a file path such as ${join(file, "tariff.json")}`,
      );
    }
    if (entry === undefined) {
      await checkParentDirectory(file);
    }
    if (entry === undefined || entry.isFile()) {
      await writeFileAtomic(file, text, 0o644);
    } else {
      // A link, device or pipe (such as /dev/stdout) is written through in
      // place, because renaming a new file over it would replace it.
      await writeFile(file, text);
    }
  } catch (error) {
    if (error instanceof InputError) {
      throw error;
    }
    const reason = (error as Error).message.replace(/\.$/, "");
    throw new InputError(
      `cannot write --out ${file}: ${reason}; pass a path in a writable directory`,
    );
  }
}

/**
 * Rejects an --out path whose directory is missing or is not a directory,
 * so a typo in the path does not create directories silently.
 */
async function checkParentDirectory(file: string): Promise<void> {
  const parent = dirname(resolve(file));
  let entry;
  try {
    entry = await stat(parent);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new InputError(
        `cannot write --out ${file}: the directory ${parent} does not exist; create it first or pass a path in an existing directory`,
      );
    }
    throw error;
  }
  if (!entry.isDirectory()) {
    throw new InputError(
      `cannot write --out ${file}: ${parent} is not a directory; pass a path in an existing directory`,
    );
  }
}

/** Returns the entry at `file`, or undefined when there is none (or its parent is a file). */
async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return undefined;
    }
    throw error;
  }
}

async function readPricesBody(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readLimited(file, DEFAULT_MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof InputError) {
      throw error;
    }
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "file not found"
        : code === "EISDIR"
          ? "it is a directory"
          : (error as Error).message;
    throw new InputError(
      `cannot read --prices ${file}: ${reason}; pass the path of a saved Amber prices response body`,
    );
  }
  // Editors and Windows PowerShell 5 may save UTF-8 with a byte order
  // mark, which JSON.parse rejects as an unexpected token.
  if (text.startsWith("\uFEFF")) {
    text = text.slice(1);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(
      `${file} is not valid JSON (${(error as Error).message}); save the raw body of the Amber response`,
    );
  }
}

/**
 * Reads `file` as UTF-8, rejecting it once it passes `limit` bytes. The
 * limit is checked while reading, so a device or pipe that never ends
 * (such as /dev/zero) is stopped too.
 */
async function readLimited(file: string, limit: number): Promise<string> {
  const tooLarge = new InputError(
    `cannot read --prices ${file}: it is larger than ${limit / 1024 / 1024} MiB, the most the engine accepts from Amber; pass a saved response body of /prices or /prices/current`,
  );
  const handle = await open(file, "r");
  try {
    const info = await handle.stat();
    if (info.isFile() && info.size > limit) {
      throw tooLarge;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        break;
      }
      total += bytesRead;
      if (total > limit) {
        throw tooLarge;
      }
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    await handle.close();
  }
}

/** Extracts the part of the parser's message that names the field, without its advice for the engine. */
function payloadDetail(error: InvalidPayloadError): string {
  const match =
    /^Amber sent an invalid [^:]+: (.*?)(?:\. The last good prices are kept\.)?$/s.exec(
      error.message,
    );
  return match?.[1] ?? `${error.path}: ${error.message}`;
}
