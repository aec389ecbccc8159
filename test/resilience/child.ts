/**
 * Runs the built engine (`node dist/src/cli.js run`) as a child process
 * with a clean environment, so its mode comes from the configuration the
 * test gives it and nothing from the test's environment leaks in. Its JSON
 * log lines are collected from stdout.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

import type { LogEntry } from "./rig.js";

/** Repository root; vitest runs with it as the working directory. */
const ROOT = process.cwd();
/** The CLI entry point that `npm run build` writes. */
export const CLI_PATH = join(ROOT, "dist", "src", "cli.js");

/**
 * Compiles the engine with tsc when any source file under src/ is newer
 * than its compiled file in dist/, or has none. The dashboard's browser
 * bundle is not rebuilt, because the engine serves without it (with a
 * warning) and these tests do not load the page's scripts.
 */
export function ensureBuilt(): void {
  const stale = sourceFiles(join(ROOT, "src")).some((source) => {
    const compiled = join(
      ROOT,
      "dist",
      relative(ROOT, source).replace(/\.ts$/, ".js"),
    );
    try {
      return statSync(compiled).mtimeMs < statSync(source).mtimeMs;
    } catch {
      return true;
    }
  });
  if (stale) {
    execFileSync(
      process.execPath,
      [
        join(ROOT, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        "tsconfig.json",
      ],
      { cwd: ROOT, stdio: "pipe" },
    );
  }
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      // The dashboard's browser code has its own build (`.mts` files).
      return entry.name === "client" ? [] : sourceFiles(path);
    }
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** A running engine process. */
export interface EngineProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The stdout lines that parse as JSON log entries. */
  entries(): LogEntry[];
  /** Resolves with the first log entry matching `match`, polling every 20 ms; rejects after `timeoutMs`. */
  waitForEntry(
    match: (entry: LogEntry) => boolean,
    timeoutMs?: number,
  ): Promise<LogEntry>;
  /** Resolves with the exit code (or the signal name) once the process ended. */
  readonly exited: Promise<number | string>;
  /** Sends SIGKILL and waits for the process to end. */
  kill(): Promise<void>;
}

/**
 * Starts `tesla-sync run` from dist/, with `--config configPath` when
 * given. The environment holds only PATH, LOG_FORMAT=json and `env`, so no
 * TESLA_SYNC_* variable or HA token of the test's own environment leaks in.
 */
export function spawnEngine(
  configPath: string | undefined,
  env: Record<string, string> = {},
): EngineProcess {
  const args =
    configPath === undefined
      ? [CLI_PATH, "run"]
      : [CLI_PATH, "run", "--config", configPath];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${CLI_PATH}`);
  }
  const chunks: string[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });

  const output = (): string => chunks.join("");
  const entries = (): LogEntry[] =>
    output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as LogEntry];
        } catch {
          return [];
        }
      });

  return {
    child,
    pid,
    output,
    entries,
    exited,
    async waitForEntry(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = entries().find(match);
        if (found !== undefined) {
          return found;
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `the engine exited before the expected log line; its output:\n${output()}`,
          );
        }
        if (Date.now() > deadline) {
          throw new Error(
            `no expected log line within ${timeoutMs} ms; the engine's output:\n${output()}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
      }
      await exited;
    },
  };
}

/** Polls `condition` every 20 ms until it holds; rejects after `timeoutMs` with `what`. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits for the engine's "Dashboard at …" log line and returns the dashboard's base URL. */
export async function dashboardUrl(
  engine: EngineProcess,
  timeoutMs = 30_000,
): Promise<string> {
  const entry = await engine.waitForEntry(
    (candidate) =>
      candidate.msg.startsWith("Dashboard at") &&
      typeof candidate["url"] === "string",
    timeoutMs,
  );
  return String(entry["url"]);
}

/** The fields of a sync result that the crash tests read. */
export interface ManualSyncResult {
  outcome: string;
  reason: string;
  writes: number;
}

/**
 * Logs in to the dashboard at `url` with `password` and runs a manual sync
 * through `POST /api/sync`; returns its result.
 */
export async function manualSync(
  url: string,
  password: string,
): Promise<ManualSyncResult> {
  const login = await fetch(`${url}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ password }),
  });
  if (!login.ok) {
    throw new Error(`dashboard login failed with HTTP ${login.status}`);
  }
  const cookie = login.headers
    .getSetCookie()
    .map((line) => line.split(";")[0] ?? "")
    .join("; ");
  const dashboard = (await (
    await fetch(`${url}/api/dashboard`, { headers: { Cookie: cookie } })
  ).json()) as { access?: { csrfToken?: string | null } };
  const sync = await fetch(`${url}/api/sync`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Cookie: cookie,
      "X-CSRF-Token": dashboard.access?.csrfToken ?? "",
    },
    body: "{}",
  });
  if (!sync.ok) {
    throw new Error(`manual sync failed with HTTP ${sync.status}`);
  }
  return (await sync.json()) as ManualSyncResult;
}
