/**
 * Resource benchmark: the engine's own process, apart from the stand-ins.
 *
 * 1. Idle. The built CLI (`node dist/src/cli.js run --config FILE`) runs
 *    against the Amber, Tesla and AEMO stand-ins in this process. The
 *    live feed gets a push every 30 s of real time, the dashboard samples
 *    live_status every 60 s and the spike response polls AEMO every 60 s.
 *    After the startup sync the benchmark reads the resident memory from
 *    /proc/<pid>/status, then the CPU time from /proc/<pid>/stat over 60 s
 *    in which the engine only idles, and prints it as a share of one core.
 * 2. A week. A second process (this file with `--week-child`) runs the
 *    engine as startService wires it on a virtual clock for seven days,
 *    with a live price every 5 minutes handed to the engine directly, and
 *    reports its memory after the start and after each day. The stand-ins
 *    stay in this process and read the child's virtual time from a file
 *    the child rewrites before each wake.
 *
 * Both run once more with V8 heap limits (TUNED_NODE_FLAGS): the idle
 * reading with a 5 s window, the week for one day only.
 *
 * Run it on its own with `node dist/bench/resources.js` after
 * `npm run build`; `npm run bench` runs it too.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  readFileSync,
  renameSync,
  writeFileSync,
  type PathLike,
} from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { stringify } from "yaml";

import { resolveConfig } from "../src/config/load.js";
import { startService, type RunningService } from "../src/engine/service.js";
import { VirtualClock, yieldEventLoop } from "../src/engine/virtual-clock.js";
import { silentLogger } from "../src/log.js";
import type { WebServer } from "../src/server/web-server.js";
import { startAemoStandIn } from "../src/standins/aemo-server.js";
import { startAmberStandIn } from "../src/standins/amber-server.js";
import { currentIntervals } from "../src/standins/price-model.js";
import { startTeslaStandIn } from "../src/standins/tesla-server.js";
import { SOAK_START, WEEK_PATTERNS } from "./soak.js";

const AMBER_TOKEN = "psk_resources_amber_token_0123456789";
const TESLA_TOKEN = "resources-teslemetry-token-0123456789";
const DAY_MS = 24 * 3_600_000;
/** Real time the idle CPU is measured over, ms. */
const IDLE_WINDOW_MS = 60_000;
/** Real time after the startup sync before the idle memory is read, ms. */
const SETTLE_MS = 5_000;
/** Virtual time between live prices in the week run, ms. */
const WEEK_PUSH_PERIOD_MS = 5 * 60_000;

const CLI_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "src",
  "cli.js",
);

/** Memory of the engine's process at one moment, bytes. */
export interface MemoryReading {
  label: string;
  rssBytes: number;
  /** Heap in use after a forced garbage collection; absent when read from /proc. */
  heapUsedBytes?: number;
  /** Heap reserved by V8 at that moment, bytes. */
  heapTotalBytes?: number;
  /** Memory of C++ objects bound to JavaScript objects (buffers, SQLite), bytes. */
  externalBytes?: number;
}

/** Reads VmRSS of `pid` from /proc, bytes. */
function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/** Reads utime + stime of `pid` from /proc/<pid>/stat, clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name in parentheses may contain spaces; fields follow it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, so 12 and 13 here.
  return Number(fields[11]) + Number(fields[12]);
}

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
  } catch {
    // Linux on every common architecture uses 100.
    return 100;
  }
}

/** Idle figures of the CLI process. */
export interface IdleResult {
  afterStart: number;
  afterIdle: number;
  /** CPU time over the idle window as a percentage of one core. */
  cpuPercent: number;
}

/** Options of {@link measureIdle}. */
export interface IdleOptions {
  /** NODE_OPTIONS of the engine's process; default none. */
  nodeOptions?: string;
  /** Real time to idle after the memory reading, ms; default 60 000. */
  idleWindowMs?: number;
}

/** Starts the CLI against stand-ins, waits for its startup sync and measures it idling. */
export async function measureIdle(
  options: IdleOptions = {},
): Promise<IdleResult> {
  const idleWindowMs = options.idleWindowMs ?? IDLE_WINDOW_MS;
  const amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    intervalLength: 5,
    livePushIntervalMs: 30_000,
  });
  const tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    timeZone: "Australia/Sydney",
    rateLimit: false,
  });
  const aemo = await startAemoStandIn();
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-resources-"));
  const configPath = join(dataDir, "config.yaml");
  await writeFile(
    configPath,
    stringify({
      amber: { token: AMBER_TOKEN, restUrl: amber.restUrl, wsUrl: amber.wsUrl },
      tesla: { auth: "teslemetry", token: TESLA_TOKEN, baseUrl: tesla.url },
      dataDir,
      server: { port: 0 },
      dashboard: { password: "resources-dashboard-password" },
      log: { level: "info", format: "json" },
    }),
  );
  await writeFile(
    join(dataDir, "controls.json"),
    JSON.stringify({
      spike: { enabled: true, region: "NSW1", aemoBaseUrl: aemo.url },
    }),
  );

  const child = spawn(
    process.execPath,
    [CLI_PATH, "run", "--config", configPath],
    {
      env: {
        PATH: process.env["PATH"] ?? "",
        NODE_OPTIONS: options.nodeOptions ?? "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const pid = child.pid;
  try {
    if (pid === undefined) {
      throw new Error(`could not start ${CLI_PATH}`);
    }
    const deadline = performance.now() + 60_000;
    while (!/"msg":"Sync (uploaded|unchanged)/.test(output.join(""))) {
      if (performance.now() > deadline || child.exitCode !== null) {
        throw new Error(
          `the engine did not finish its startup sync; its output:\n${output.join("")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const afterStart = residentBytes(pid);
    const ticksBefore = cpuTicks(pid);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, idleWindowMs));
    const seconds = (performance.now() - started) / 1000;
    const ticks = cpuTicks(pid) - ticksBefore;
    return {
      afterStart,
      afterIdle: residentBytes(pid),
      cpuPercent: (100 * ticks) / clockTicksPerSecond() / seconds,
    };
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    await Promise.allSettled([amber.close(), tesla.close(), aemo.close()]);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Runs the week child against stand-ins in this process and returns its
 * memory readings. `nodeFlags` go to the child's node, e.g. V8 heap limits.
 */
export async function measureWeek(
  days = 7,
  nodeFlags: readonly string[] = [],
): Promise<MemoryReading[]> {
  const workDir = await mkdtemp(join(tmpdir(), "tesla-sync-week-"));
  const timeFile = join(workDir, "virtual-now");
  writeFileSync(timeFile, String(SOAK_START));
  let lastTime = SOAK_START;
  const now = (): number => {
    try {
      lastTime = Number(readFileSync(timeFile, "utf8"));
    } catch {
      // Between the child's write and rename the last value read is used.
    }
    return lastTime;
  };
  const amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    intervalLength: 5,
    now,
  });
  const tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    timeZone: "Australia/Sydney",
    now,
    rateLimit: false,
  });
  const aemo = await startAemoStandIn({ now });
  const settings = JSON.stringify({
    amberRestUrl: amber.restUrl,
    teslaUrl: tesla.url,
    aemoUrl: aemo.url,
    timeFile,
    days,
  });

  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      "--expose-gc",
      fileURLToPath(import.meta.url),
      "--week-child",
      settings,
    ],
    {
      env: { PATH: process.env["PATH"] ?? "" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const readings: MemoryReading[] = [];
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith("{")) {
        const reading = JSON.parse(line) as MemoryReading & {
          pattern?: string;
        };
        readings.push(reading);
        console.log(
          `week run, ${reading.label}: rss ${megabytes(reading.rssBytes)}, heap used ${megabytes(reading.heapUsedBytes ?? Number.NaN)} of ${megabytes(reading.heapTotalBytes ?? Number.NaN)} after GC, external ${megabytes(reading.externalBytes ?? Number.NaN)}`,
        );
      }
    }
  });
  const code = await new Promise<number | null>((resolve) =>
    child.once("exit", resolve),
  );
  await Promise.allSettled([amber.close(), tesla.close(), aemo.close()]);
  await rm(workDir, { recursive: true, force: true });
  if (code !== 0) {
    throw new Error(`the week run exited with code ${String(code)}`);
  }
  return readings;
}

/** Runs the engine on a virtual clock for the week, publishing the clock's time to a file. */
async function runWeekChild(argument: string): Promise<void> {
  const options = JSON.parse(argument) as {
    amberRestUrl: string;
    teslaUrl: string;
    aemoUrl: string;
    timeFile: PathLike;
    days: number;
  };
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const clock = new VirtualClock(SOAK_START);
  const publish = (): void => {
    const temporary = `${String(options.timeFile)}.tmp`;
    writeFileSync(temporary, String(clock.now()));
    renameSync(temporary, options.timeFile);
  };
  publish();

  // The engine fsyncs its state on every sync; RAM makes that free.
  const root = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dataDir = await mkdtemp(join(root, "tesla-sync-week-data-"));
  await writeFile(
    join(dataDir, "controls.json"),
    JSON.stringify({
      spike: { enabled: true, region: "NSW1", aemoBaseUrl: options.aemoUrl },
    }),
  );
  const config = resolveConfig(
    {
      amber: {
        token: AMBER_TOKEN,
        restUrl: options.amberRestUrl,
        liveFeed: false,
      },
      tesla: {
        auth: "teslemetry",
        token: TESLA_TOKEN,
        baseUrl: options.teslaUrl,
      },
      dataDir,
      server: { port: 0 },
      dashboard: { password: "resources-dashboard-password" },
    },
    {},
    "the week run configuration",
  );
  const service = await startService({ config, logger: silentLogger, clock });
  const report = (label: string): void => {
    gc();
    const memory = process.memoryUsage();
    process.stdout.write(
      `${JSON.stringify({
        label,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
      })}\n`,
    );
  };
  report("after start");

  // The clock calls this right after each wake, before the woken code
  // runs, so the stand-ins read the new time before any request.
  const settle = async (): Promise<void> => {
    publish();
    await settleService(service);
  };
  for (let day = 1; day <= options.days; day += 1) {
    const dayStart = SOAK_START + (day - 1) * DAY_MS;
    const pattern = WEEK_PATTERNS[(day - 1) % WEEK_PATTERNS.length] ?? "calm";
    for (
      let elapsed = WEEK_PUSH_PERIOD_MS;
      elapsed <= DAY_MS;
      elapsed += WEEK_PUSH_PERIOD_MS
    ) {
      await clock.advanceTo(dayStart + elapsed, { settle });
      service.engine.handleLivePrices(
        currentIntervals(clock.now(), { intervalLength: 5, pattern }),
      );
      await settle();
    }
    report(`after day ${day}`);
  }
  const stopping = service.stop();
  let stopped = false;
  void stopping.finally(() => {
    stopped = true;
  });
  while (!stopped) {
    await clock.advance(60_000, { settle });
  }
  await stopping;
  await rm(dataDir, { recursive: true, force: true });
}

async function settleService(service: RunningService): Promise<void> {
  const recorder = (service.server as Partial<WebServer> | undefined)?.recorder;
  for (let round = 0; round < 2; round += 1) {
    await yieldEventLoop(3);
    await service.engine.idle();
    await service.controls.spike.settled();
    await recorder?.idle();
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** V8 limits that keep the heap's reservation near what the engine uses. */
export const TUNED_NODE_FLAGS = [
  "--max-semi-space-size=1",
  "--max-old-space-size=64",
] as const;

/** Runs the measurements and prints them. */
export async function benchResources(): Promise<void> {
  const idle = await measureIdle();
  console.log(
    `engine process idle: rss ${megabytes(idle.afterStart)} ${SETTLE_MS / 1000} s after the startup sync, ${megabytes(idle.afterIdle)} after ${IDLE_WINDOW_MS / 1000} s idle; CPU ${idle.cpuPercent.toFixed(2)} % of one core over those ${IDLE_WINDOW_MS / 1000} s`,
  );
  const tuned = await measureIdle({
    nodeOptions: TUNED_NODE_FLAGS.join(" "),
    idleWindowMs: 5_000,
  });
  console.log(
    `engine process idle with NODE_OPTIONS="${TUNED_NODE_FLAGS.join(" ")}": rss ${megabytes(tuned.afterStart)} ${SETTLE_MS / 1000} s after the startup sync`,
  );

  const started = performance.now();
  const week = await measureWeek();
  console.log(
    `engine process over a virtual week: rss ${megabytes(week[0]?.rssBytes ?? Number.NaN)} after start, ${megabytes(week.at(-1)?.rssBytes ?? Number.NaN)} after day 7; ran in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const tunedDay = await measureWeek(1, TUNED_NODE_FLAGS);
  console.log(
    `engine process over a virtual day with ${TUNED_NODE_FLAGS.join(" ")}: rss ${megabytes(tunedDay[0]?.rssBytes ?? Number.NaN)} after start, ${megabytes(tunedDay.at(-1)?.rssBytes ?? Number.NaN)} after day 1`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const weekChild = process.argv[2] === "--week-child";
  await (weekChild ? runWeekChild(process.argv[3] ?? "{}") : benchResources());
}
