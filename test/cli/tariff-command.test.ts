import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { main } from "../../src/cli/main.js";
import { TARIFF_USAGE, tariffCommand } from "../../src/cli/tariff-command.js";
import { buildTariff } from "../../src/tariff/build.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { OpenApiDocument } from "../amber/openapi.js";
import { FIXTURES, SITES, at, fixtureIntervals } from "../tariff/helpers.js";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join("") };
}

async function run(
  args: readonly string[],
  now = Date.parse("2026-01-15T03:10:00Z"),
): Promise<Outcome> {
  const stdout = collector();
  const stderr = collector();
  const code = await tariffCommand(args, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    now: () => now,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function fixture(name: string): string {
  return fileURLToPath(new URL(name, FIXTURES));
}

/** Lines of `text` that are not empty. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "tariff-command-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("tariff command on fixtures", () => {
  it.each(Object.entries(SITES))("builds %s", async (name, site) => {
    const out = join(scratch, `${name}.tariff.json`);
    const result = await run([
      "--prices",
      fixture(name),
      "--zone",
      site.zone,
      "--now",
      site.now,
      "--out",
      out,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "Tariff valid (strict): 48 half-hour slots",
    );
    expect(
      lines(result.stdout).filter((line) => / PERIOD_\d\d_\d\d /.test(line)),
    ).toHaveLength(48);
    expect(result.stdout).toContain(`Wrote tariff_content_v2 to ${out}.`);

    const written: unknown = JSON.parse(await readFile(out, "utf8"));
    expect(validateTariff(written, "strict").ok).toBe(true);
    const expected = buildTariff({
      intervals: fixtureIntervals(name),
      now: at(site.now, site.zone),
      timeZone: site.zone,
      options: { band: "predicted" },
    });
    expect(written).toEqual(expected.tariff);
  });

  it("prints builder warnings on stderr", async () => {
    const result = await run([
      "--prices",
      fixture("sydney-dst-start.json"),
      "--now",
      "2026-10-03T20:00",
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      "warning: filled 4 missing price(s) from the same time on the nearest day with a price",
    );
  });

  it.each([
    ["predicted", "0.1866"],
    ["low", "0.1566"],
    ["high", "0.2266"],
  ])("uses band %s", async (band, buy) => {
    const result = await run([
      "--prices",
      fixture("site-30min.json"),
      "--now",
      "2026-01-15T14:10",
      "--band",
      band,
    ]);
    expect(result.code).toBe(0);
    const row = lines(result.stdout).find((line) =>
      line.includes("PERIOD_14_30"),
    );
    expect(row).toContain(buy);
  });

  it("reads --now in --zone", async () => {
    const sydney = await run([
      "--prices",
      fixture("site-30min.json"),
      "--now",
      "2026-01-15T14:10",
    ]);
    const utc = await run([
      "--prices",
      fixture("site-30min.json"),
      "--now",
      "2026-01-15T03:10:00Z",
    ]);
    expect(utc.stdout).toBe(sydney.stdout);
    expect(sydney.stdout).toContain("from 2026-01-15T14:00:00+11:00");
  });

  it("defaults --now to the clock", async () => {
    const result = await run(["--prices", fixture("site-30min.json")]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "from 2026-01-15T14:00:00+11:00 in Australia/Sydney",
    );
  });

  it("drops an unknown channel with a warning", async () => {
    const result = await run([
      "--prices",
      fixture("unknown-channel.json"),
      "--now",
      "2026-01-15T14:10",
    ]);
    expect(result.code).toBe(0);
    expect(lines(result.stderr)[0]).toBe(
      "warning: dropped intervals on unknown channel type(s) battery; only general and feed-in prices make the tariff",
    );
  });

  it("prints help", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${TARIFF_USAGE}\n`);
  });
});

describe("tariff command errors", () => {
  const cases: Array<[string, string[], number, string]> = [
    [
      "a missing file",
      ["--prices", "missing.json"],
      1,
      "tesla-sync tariff: cannot read --prices missing.json: file not found; pass the path of a saved Amber prices response body",
    ],
    [
      "a body that is not JSON",
      ["--prices", "@bad-not-json.json"],
      1,
      "is not valid JSON (",
    ],
    [
      "NaN in the body",
      ["--prices", "@bad-price-nan.json"],
      1,
      "is not valid JSON (",
    ],
    [
      "a body that is not an array",
      ["--prices", "@bad-not-array.json"],
      1,
      "is not a valid Amber prices body: expected an array of intervals, got an object with keys message; save the unmodified response body of /prices or /prices/current",
    ],
    [
      "a missing field",
      ["--prices", "@bad-missing-field.json"],
      1,
      "is not a valid Amber prices body: field [2].perKwh is missing (",
    ],
    [
      "a price string",
      ["--prices", "@bad-price-string.json"],
      1,
      'is not a valid Amber prices body: field [1].perKwh has the invalid value "24.3" (',
    ],
    [
      "a null price",
      ["--prices", "@bad-price-null.json"],
      1,
      "is not a valid Amber prices body: field [3].perKwh has the invalid value null (",
    ],
    [
      "an empty forecast",
      ["--prices", "@empty.json"],
      1,
      "tesla-sync tariff: Not enough prices to build a tariff: 48 of 48 half-hour slots have no price",
    ],
    [
      "history without a forecast",
      ["--prices", "@no-forecast.json", "--now", "2026-01-15T14:10"],
      1,
      "tesla-sync tariff: Not enough prices to build a tariff: 48 of 48 half-hour slots have no price, more than the 6 that may be filled. Missing: PERIOD_14_00 to PERIOD_13_30 (2026-01-15T14:00:00+11:00 to 2026-01-16T14:00:00+11:00; buy: Amber's general prices end at 2026-01-15T14:00:00+11:00;",
    ],
    [
      "an empty zone",
      ["--prices", "@site-30min.json", "--zone", ""],
      2,
      'tesla-sync tariff: --zone "" is not an IANA time zone name; pass the site\'s zone, e.g. Australia/Sydney',
    ],
    [
      "an unknown zone",
      ["--prices", "@site-30min.json", "--zone", "Mars/Olympus"],
      2,
      '--zone "Mars/Olympus" is not an IANA time zone name',
    ],
    [
      "a fixed offset zone",
      ["--prices", "@site-30min.json", "--zone", "+10:00"],
      2,
      '--zone "+10:00" is not an IANA time zone name',
    ],
    [
      "an unparsable --now",
      ["--prices", "@site-30min.json", "--now", "yesterday"],
      2,
      'tesla-sync tariff: --now "yesterday" is not an ISO 8601 time; pass one such as 2026-01-15T14:10 (read in --zone) or 2026-01-15T03:10Z',
    ],
    [
      "an unknown band",
      ["--prices", "@site-30min.json", "--band", "median"],
      2,
      'tesla-sync tariff: --band "median" is not valid; use predicted, low or high',
    ],
    [
      "no --prices",
      [],
      2,
      "tesla-sync tariff: missing --prices FILE; pass the path of a saved Amber prices response body",
    ],
    [
      "an unknown option",
      ["--price", "x.json"],
      2,
      "run tesla-sync tariff --help for the options",
    ],
    [
      "a positional argument",
      ["prices.json"],
      2,
      "run tesla-sync tariff --help for the options",
    ],
  ];

  it.each(cases)("rejects %s", async (_name, rawArgs, code, message) => {
    const args = rawArgs.map((arg) =>
      arg.startsWith("@") ? fixture(arg.slice(1)) : arg,
    );
    const result = await run(args);
    expect(result.code).toBe(code);
    expect(result.stdout).toBe("");
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(message);
  });

  it("rejects a directory", async () => {
    const result = await run(["--prices", scratch]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("it is a directory");
  });

  it("reports an unwritable --out", async () => {
    const blocker = join(scratch, "file");
    await writeFile(blocker, "x");
    const result = await run([
      "--prices",
      fixture("site-30min.json"),
      "--now",
      "2026-01-15T14:10",
      "--out",
      join(blocker, "tariff.json"),
    ]);
    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toContain(
      `tesla-sync tariff: cannot write --out ${join(blocker, "tariff.json")}: ${blocker} is not a directory`,
    );
    expect(result.stdout).toBe("");
  });
});

// Amber's published OpenAPI document, when this checkout has it nearby.
const specPath = [
  process.env["AMBER_OPENAPI_SPEC"],
  fileURLToPath(
    new URL("../../../shared/reference/amber-openapi.json", import.meta.url),
  ),
  "/work/shared/reference/amber-openapi.json",
].find((path): path is string => path !== undefined && existsSync(path));

describe.skipIf(specPath === undefined)(
  "tariff command on OpenAPI examples",
  () => {
    const spec = OpenApiDocument.load(specPath ?? "");
    const examples = [
      "ActualInterval",
      "ForecastInterval",
      "CurrentInterval",
    ].map(
      (name) =>
        [
          name,
          spec.example(spec.component(name)) as Record<string, unknown>,
        ] as const,
    );

    it.each(examples)("rejects the lone %s example", async (name, example) => {
      const file = join(scratch, `${name}.json`);
      await writeFile(file, JSON.stringify([example]));
      const endTime = String(example["endTime"]);
      const result = await run([
        "--prices",
        file,
        "--zone",
        "Australia/Brisbane",
        "--now",
        endTime,
      ]);
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain("Not enough prices to build a tariff");
    });

    it.each(examples)("builds a day of %s examples", async (name, example) => {
      const duration = Number(example["duration"]);
      const firstEnd = Date.parse(String(example["endTime"]));
      const body = dayOfExamples(name, example);

      const file = join(scratch, `${name}-day.json`);
      const out = join(scratch, `${name}-day.tariff.json`);
      await writeFile(file, JSON.stringify(body));
      const now = new Date(firstEnd - duration * 60_000).toISOString();
      const result = await run([
        "--prices",
        file,
        "--zone",
        "Australia/Brisbane",
        "--now",
        now,
        "--out",
        out,
      ]);
      expect(result.stderr).not.toContain("tesla-sync tariff:");
      expect(result.code).toBe(0);
      const written: unknown = JSON.parse(await readFile(out, "utf8"));
      expect(validateTariff(written, "strict").ok).toBe(true);
    });
  },
);

/**
 * Repeats an interval example over 24 hours and a half on the general and
 * feed-in channels: the first copy keeps the example's type, the rest are
 * forecasts (actuals for the ActualInterval example).
 */
function dayOfExamples(
  name: string,
  example: Record<string, unknown>,
): Array<Record<string, unknown>> {
  const duration = Number(example["duration"]);
  const firstEnd = Date.parse(String(example["endTime"]));
  const count = (24 * 60) / duration + 6;
  const laterType =
    name === "ActualInterval" ? "ActualInterval" : "ForecastInterval";

  return ["general", "feedIn"].flatMap((channelType) =>
    Array.from({ length: count }, (_, i) => {
      const endMs = firstEnd + i * duration * 60_000;
      const startMs = endMs - duration * 60_000 + 1000;
      const interval: Record<string, unknown> = {
        ...example,
        channelType,
        type: i === 0 ? example["type"] : laterType,
        endTime: new Date(endMs).toISOString().replace(".000Z", "Z"),
        startTime: new Date(startMs).toISOString().replace(".000Z", "Z"),
      };
      if (interval["type"] !== "CurrentInterval") {
        delete interval["estimate"];
      }
      return interval;
    }),
  );
}

describe("main", () => {
  async function runMain(args: string[]): Promise<Outcome> {
    const stdout = collector();
    const stderr = collector();
    const code = await main(args, {
      stdout: stdout.stream,
      stderr: stderr.stream,
    });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  }

  it("prints help", async () => {
    const result = await runMain(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: tesla-sync <command> [options]");
  });

  it("rejects a missing command", async () => {
    const result = await runMain([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("tesla-sync: missing command");
  });

  it("rejects an unknown command", async () => {
    const result = await runMain(["sync"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'tesla-sync: unknown command "sync"; run tesla-sync --help for the commands\n',
    );
  });

  it("routes tariff", async () => {
    const result = await runMain(["tariff", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${TARIFF_USAGE}\n`);
  });

  it("routes run", async () => {
    const result = await runMain(["run", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: tesla-sync run");
  });
});
