/**
 * Hostile input to `tesla-sync tariff`: unreadable, oversized and endless
 * prices files, `--now` times that do not exist or occur twice, awkward
 * `--out` paths, and a standard output that closes early or fails. The last
 * group runs the real entry point in a child process, bundled with esbuild.
 */
import { execFileSync, spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { tariffCommand } from "../../src/cli/tariff-command.js";
import { validateTariff } from "../../src/tariff/validate.js";
import { FIXTURES } from "../tariff/helpers.js";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const PRICES = fileURLToPath(new URL("site-30min.json", FIXTURES));
const IS_ROOT = process.getuid?.() === 0;

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

async function run(args: readonly string[]): Promise<Outcome> {
  const stdout = collector();
  const stderr = collector();
  const code = await tariffCommand(args, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    now: () => Date.parse("2026-01-15T03:10:00Z"),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** Lines of `text` that are not empty and not warnings. */
function errorLines(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("warning:"));
}

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "tariff-adversarial-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("prices files that cannot be used", () => {
  it("names a path through a file", async () => {
    const file = join(scratch, "plain");
    await writeFile(file, "[]");
    const result = await run(["--prices", join(file, "prices.json")]);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([
      `tesla-sync tariff: cannot read --prices ${join(file, "prices.json")}: ENOTDIR: not a directory, open '${join(file, "prices.json")}'; pass the path of a saved Amber prices response body`,
    ]);
  });

  it("treats a dangling link as not found", async () => {
    const link = join(scratch, "dangling.json");
    await symlink(join(scratch, "nowhere.json"), link);
    const result = await run(["--prices", link]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `cannot read --prices ${link}: file not found;`,
    );
  });

  it.skipIf(IS_ROOT)("reports a file without read permission", async () => {
    const file = join(scratch, "secret.json");
    await writeFile(file, "[]");
    await chmod(file, 0o000);
    const result = await run(["--prices", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot read --prices ${file}: `);
    expect(result.stderr).toContain("EACCES");
  });

  it("rejects a 50 MB file by its size", async () => {
    const file = join(scratch, "huge.json");
    await writeFile(file, "");
    await truncate(file, 50 * 1024 * 1024);
    const result = await run(["--prices", file]);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([
      `tesla-sync tariff: cannot read --prices ${file}: it is larger than 16 MiB, the most the engine accepts from Amber; pass a saved response body of /prices or /prices/current`,
    ]);
  });

  it("stops reading an endless device", async () => {
    const result = await run(["--prices", "/dev/zero"]);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([
      "tesla-sync tariff: cannot read --prices /dev/zero: it is larger than 16 MiB, the most the engine accepts from Amber; pass a saved response body of /prices or /prices/current",
    ]);
  });

  it("reads a file that starts with a byte order mark", async () => {
    // Windows PowerShell 5 saves UTF-8 with a byte order mark.
    const file = join(scratch, "bom.json");
    await writeFile(file, `\uFEFF${await readFile(PRICES, "utf8")}`);
    const result = await run(["--prices", file, "--now", "2026-01-15T14:10"]);
    expect(errorLines(result.stderr)).toEqual([]);
    expect(result.code).toBe(0);
  });

  it("reads a file just under the limit", async () => {
    const file = join(scratch, "padded.json");
    const body = await readFile(PRICES, "utf8");
    await writeFile(file, body + " ".repeat(16 * 1024 * 1024 - body.length));
    const result = await run(["--prices", file, "--now", "2026-01-15T14:10"]);
    expect(result.code).toBe(0);
  });
});

describe("--now and --zone", () => {
  it.each([
    ["Australia/Perth", "2026-01-15T14:00:00+08:00"],
    ["Australia/Adelaide", "2026-01-15T14:00:00+10:30"],
    ["Australia/Lord_Howe", "2026-01-15T14:00:00+11:00"],
  ])("reads a time without offset in %s", async (zone, start) => {
    const result = await run([
      "--prices",
      PRICES,
      "--zone",
      zone,
      "--now",
      "2026-01-15T14:10",
    ]);
    expect(result.stdout).toContain(`from ${start} in ${zone}`);
  });

  it("rejects a time skipped by daylight saving", async () => {
    const result = await run(["--prices", PRICES, "--now", "2026-10-04T02:30"]);
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      'tesla-sync tariff: --now "2026-10-04T02:30" does not occur in Australia/Sydney, because daylight saving skips it; pass a time that occurs, or add an offset such as 2026-10-04T02:30+10:00',
    ]);
  });

  it("rejects a time that occurs twice", async () => {
    const result = await run(["--prices", PRICES, "--now", "2026-04-05T02:30"]);
    expect(result.code).toBe(2);
    expect(errorLines(result.stderr)).toEqual([
      'tesla-sync tariff: --now "2026-04-05T02:30" occurs twice in Australia/Sydney as daylight saving ends; add the offset, 2026-04-05T02:30+11:00 or 2026-04-05T02:30+10:00',
    ]);
  });

  it.each(["+11:00", "+10:00"])(
    "accepts a repeated time with offset %s",
    async (offset) => {
      const result = await run([
        "--prices",
        PRICES,
        "--now",
        `2026-04-05T02:30${offset}`,
      ]);
      expect(result.stderr).not.toContain("--now");
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("Not enough prices");
    },
  );

  it("accepts a time with offset in any zone", async () => {
    const result = await run([
      "--prices",
      PRICES,
      "--zone",
      "Australia/Perth",
      "--now",
      "2026-01-15T14:10+11:00",
    ]);
    expect(result.stdout).toContain("from 2026-01-15T11:00:00+08:00");
  });

  it.each([" Australia/Sydney", "Australia/Sydney ", "UTC+10"])(
    "rejects --zone %j",
    async (zone) => {
      const result = await run(["--prices", PRICES, "--zone", zone]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `--zone ${JSON.stringify(zone)} is not an IANA time zone name`,
      );
    },
  );
});

describe("--out paths", () => {
  it("rejects a missing directory", async () => {
    const out = join(scratch, "new", "deeper", "tariff.json");
    const result = await run([
      "--prices",
      PRICES,
      "--now",
      "2026-01-15T14:10",
      "--out",
      out,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(errorLines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(
      `the directory ${join(scratch, "new", "deeper")} does not exist`,
    );
    await expect(lstat(join(scratch, "new"))).rejects.toThrow(/ENOENT/);
  });

  it("writes into an existing directory", async () => {
    const out = join(scratch, "tariff.json");
    const result = await run([
      "--prices",
      PRICES,
      "--now",
      "2026-01-15T14:10",
      "--out",
      out,
    ]);
    expect(result.code).toBe(0);
    const written: unknown = JSON.parse(await readFile(out, "utf8"));
    expect(validateTariff(written, "strict").ok).toBe(true);
  });

  it("reports a directory as --out", async () => {
    const out = join(scratch, "is-a-directory");
    await mkdir(out);
    const result = await run([
      "--prices",
      PRICES,
      "--now",
      "2026-01-15T14:10",
      "--out",
      out,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(errorLines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(
      `cannot write --out ${out}: it is a directory; pass a file path such as ${join(out, "tariff.json")}`,
    );
  });

  it("writes through a link without replacing it", async () => {
    const link = join(scratch, "null-link");
    await symlink("/dev/null", link);
    const result = await run([
      "--prices",
      PRICES,
      "--now",
      "2026-01-15T14:10",
      "--out",
      link,
    ]);
    expect(result.code).toBe(0);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
  });

  it("writes into a named pipe", async () => {
    const fifo = join(scratch, "tariff.fifo");
    execFileSync("mkfifo", [fifo]);
    const reader = spawn("cat", [fifo]);
    let received = "";
    reader.stdout.on("data", (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => reader.on("close", resolve));
    try {
      const result = await run([
        "--prices",
        PRICES,
        "--now",
        "2026-01-15T14:10",
        "--out",
        fifo,
      ]);
      expect(result.code).toBe(0);
      expect((await lstat(fifo)).isFIFO()).toBe(true);
      await closed;
      expect(validateTariff(JSON.parse(received), "strict").ok).toBe(true);
    } finally {
      reader.kill();
    }
  });

  it.skipIf(IS_ROOT)("reports a read-only directory", async () => {
    const directory = join(scratch, "read-only");
    await mkdir(directory);
    await chmod(directory, 0o555);
    const out = join(directory, "tariff.json");
    const result = await run([
      "--prices",
      PRICES,
      "--now",
      "2026-01-15T14:10",
      "--out",
      out,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot write --out ${out}: `);
  });
});

describe("standard output of the real command", () => {
  let cli = "";
  beforeAll(async () => {
    cli = join(scratch, "cli.mjs");
    await build({
      entryPoints: [
        fileURLToPath(new URL("../../src/cli.ts", import.meta.url)),
      ],
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      outfile: cli,
      logLevel: "silent",
    });
    // Let the bundle resolve the project's packages.
    await symlink(
      fileURLToPath(new URL("../../node_modules", import.meta.url)),
      join(scratch, "node_modules"),
    );
  });

  /** Runs the bundled CLI with `stdout` as the child's standard output. */
  function spawnCli(
    args: readonly string[],
    stdout: "pipe" | number,
    closeEarly = false,
  ): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], {
        stdio: ["ignore", stdout, "pipe"],
      });
      if (closeEarly) {
        child.stdout?.destroy();
      }
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });
  }

  it("exits 0 when the reader closes early", async () => {
    const out = join(scratch, "closed-early.json");
    const result = await spawnCli(
      ["tariff", "--prices", PRICES, "--now", "2026-01-15T14:10", "--out", out],
      "pipe",
      true,
    );
    expect(errorLines(result.stderr)).toEqual([]);
    expect(result.code).toBe(0);
    const written: unknown = JSON.parse(await readFile(out, "utf8"));
    expect(validateTariff(written, "strict").ok).toBe(true);
  });

  it("reports a full output device in one line", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const result = await spawnCli(
        ["tariff", "--prices", PRICES, "--now", "2026-01-15T14:10"],
        full,
      );
      expect(result.code).toBe(1);
      expect(errorLines(result.stderr)).toEqual([
        "tesla-sync: cannot write to standard output: ENOSPC: no space left on device, write",
      ]);
    } finally {
      closeSync(full);
    }
  });
});
