import { execFile } from "node:child_process";
import { mkdtemp, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const script = join(import.meta.dirname, "../../addon/run.sh");

/** What the stand-in cli.js saw: its arguments and the variables the script set. */
interface Launch {
  args: string[];
  env: Record<string, string | undefined>;
  stderr: string;
}

let workDir: string;

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), "tesla-sync-run-"));
  // A stand-in for the built engine that reports how it was started.
  await mkdir(join(workDir, "app/dist/src"), { recursive: true });
  await writeFile(
    join(workDir, "app/dist/src/cli.js"),
    `const keys = ${JSON.stringify([
      "TESLA_SYNC_LOG_LEVEL",
      "LOG_LEVEL",
      "TESLA_SYNC_LOG_FORMAT",
      "TESLA_SYNC_DATA_DIR",
      "TESLA_SYNC_INGRESS_PORT",
      "TESLA_SYNC_PORT",
      "TESLA_SYNC_HOST",
      "TESLA_SYNC_DASHBOARD_PASSWORD",
      "SUPERVISOR_TOKEN",
    ])};
    const env = Object.fromEntries(keys.map((key) => [key, process.env[key]]));
    process.stdout.write(JSON.stringify({ args: process.argv.slice(2), env }));`,
  );
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function launch(
  options: Record<string, unknown> | undefined,
  extraEnv: Record<string, string> = {},
): Promise<Launch> {
  const optionsFile = join(workDir, "options.json");
  if (options !== undefined) {
    await writeFile(optionsFile, JSON.stringify(options));
  }
  const result = await run("bash", [script], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      TESLA_SYNC_OPTIONS_FILE: optionsFile,
      TESLA_SYNC_APP_DIR: join(workDir, "app"),
      ...extraEnv,
    },
  });
  const parsed = JSON.parse(result.stdout) as Omit<Launch, "stderr">;
  return { ...parsed, stderr: result.stderr };
}

describe("addon/run.sh", () => {
  it("is executable", async () => {
    const mode = (await stat(script)).mode;
    expect(mode & 0o111).not.toBe(0);
  });

  it("starts the engine's run command", async () => {
    const started = await launch(
      { log_level: "info" },
      { SUPERVISOR_TOKEN: "t0k3n-abcdef" },
    );
    expect(started.args).toEqual(["run"]);
    expect(started.env["TESLA_SYNC_DATA_DIR"]).toBe("/data");
    expect(started.env["TESLA_SYNC_INGRESS_PORT"]).toBe("8099");
    expect(started.env["TESLA_SYNC_LOG_FORMAT"]).toBe("pretty");
    expect(started.env["SUPERVISOR_TOKEN"]).toBe("t0k3n-abcdef");
  });

  it.each([
    ["trace", "trace"],
    ["debug", "debug"],
    ["info", "info"],
    ["warning", "warn"],
    ["error", "error"],
    ["fatal", "fatal"],
  ])("maps log_level %s to %s", async (option, expected) => {
    const started = await launch({ log_level: option });
    expect(started.env["TESLA_SYNC_LOG_LEVEL"]).toBe(expected);
    expect(started.env["LOG_LEVEL"]).toBe(expected);
  });

  it("falls back to info for an unknown level", async () => {
    const started = await launch({ log_level: "loud" });
    expect(started.env["TESLA_SYNC_LOG_LEVEL"]).toBe("info");
    expect(started.stderr).toContain("log_level 'loud' is not one of");
  });

  it("uses info without an options file", async () => {
    const started = await launch(undefined);
    expect(started.env["TESLA_SYNC_LOG_LEVEL"]).toBe("info");
  });

  it("stops on an unreadable options file", async () => {
    await writeFile(join(workDir, "options.json"), "{not json");
    await expect(
      run("bash", [script], {
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          TESLA_SYNC_OPTIONS_FILE: join(workDir, "options.json"),
          TESLA_SYNC_APP_DIR: join(workDir, "app"),
        },
      }),
    ).rejects.toMatchObject({ code: 1 });
  });

  it("keeps the dashboard on loopback without a password", async () => {
    const started = await launch({ log_level: "info" });
    expect(started.env["TESLA_SYNC_HOST"]).toBe("127.0.0.1");
    expect(started.env["TESLA_SYNC_PORT"]).toBe("5001");
    expect(started.env["TESLA_SYNC_DASHBOARD_PASSWORD"]).toBeUndefined();
  });

  it("opens the dashboard with a password", async () => {
    const started = await launch({
      log_level: "info",
      dashboard_password: "correct horse",
    });
    expect(started.env["TESLA_SYNC_HOST"]).toBe("0.0.0.0");
    expect(started.env["TESLA_SYNC_DASHBOARD_PASSWORD"]).toBe("correct horse");
  });

  it("warns without SUPERVISOR_TOKEN", async () => {
    const started = await launch({ log_level: "info" });
    expect(started.stderr).toContain("SUPERVISOR_TOKEN is not set");
  });

  it("never prints the token or the password", async () => {
    const started = await launch(
      { log_level: "debug", dashboard_password: "correct horse" },
      { SUPERVISOR_TOKEN: "t0k3n-abcdef" },
    );
    expect(started.stderr).not.toContain("t0k3n-abcdef");
    expect(started.stderr).not.toContain("correct horse");
  });
});
