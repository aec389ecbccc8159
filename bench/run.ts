/**
 * Benchmark: prints the Tesla writes and Amber calls of one simulated day
 * on a volatile and on a calm price pattern with the engine's memory after
 * each, then the tariff build time. The days run first so that the memory
 * figures are not inflated by the build loop's garbage. Run with `npm run bench`;
 * the recorded numbers and the machine are in docs/benchmarks.md.
 */
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import { generateIntervals } from "../src/standins/price-model.js";
import { buildTariff } from "../src/tariff/build.js";
import { benchLatency } from "./latency.js";
import { benchResources } from "./resources.js";
import { simulateDay } from "./simulated-day.js";
import { benchSoak } from "./soak.js";

const BUILD_RUNS = 300;
/** Monday 2025-06-16 00:00:20 in Sydney. */
const DAY_START = Date.UTC(2025, 5, 15, 14, 0, 20);

function exposeGarbageCollector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as unknown;
  return typeof gc === "function"
    ? () => (gc as () => void)()
    : () => undefined;
}

function percentile(sorted: readonly number[], fraction: number): number {
  const index = Math.min(
    sorted.length - 1,
    Math.ceil(fraction * sorted.length) - 1,
  );
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function benchBuild(): { median: number; p95: number; intervals: number } {
  const now = Date.UTC(2025, 5, 16, 7, 12, 40);
  const intervals = generateIntervals({
    now,
    intervalLength: 5,
    pattern: "volatile",
  });
  const times: number[] = [];
  for (let run = 0; run < BUILD_RUNS + 20; run += 1) {
    const started = performance.now();
    buildTariff({
      intervals,
      now,
      timeZone: "Australia/Sydney",
      options: { band: "predicted" },
    });
    const elapsed = performance.now() - started;
    if (run >= 20) {
      times.push(elapsed);
    }
  }
  times.sort((a, b) => a - b);
  return {
    median: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    intervals: intervals.length,
  };
}

async function main(): Promise<void> {
  const collectGarbage = exposeGarbageCollector();
  const atStart = process.memoryUsage();
  console.log(
    `Tesla Sync benchmark: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"})`,
  );

  console.log(
    `memory at start: rss ${megabytes(atStart.rss)}, heap used ${megabytes(atStart.heapUsed)}`,
  );

  for (const pattern of ["volatile", "calm"] as const) {
    const started = performance.now();
    const day = await simulateDay(pattern, DAY_START, collectGarbage);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const outcomes = Object.entries(day.outcomes)
      .map(([outcome, count]) => `${outcome} ${count}`)
      .join(", ");
    console.log(
      `simulated day, ${pattern}: ${day.tariffWrites} Tesla tariff writes (${day.urgentUploads} urgent), ${day.teslaCalls} Tesla calls, ${day.amberCalls} Amber REST calls, ${day.syncs} recorded syncs (${outcomes}); ran in ${seconds} s`,
    );
    console.log(
      `memory after the ${pattern} day: rss ${megabytes(day.rss)}, heap used ${megabytes(day.heapUsed)}`,
    );
  }

  const build = benchBuild();
  console.log(
    `tariff build (5-minute site, ${build.intervals} intervals, ${BUILD_RUNS} runs after 20 warm-up): median ${build.median.toFixed(2)} ms, p95 ${build.p95.toFixed(2)} ms`,
  );

  collectGarbage();
  const after = process.memoryUsage();
  console.log(
    `memory after the build runs: rss ${megabytes(after.rss)}, heap used ${megabytes(after.heapUsed)}`,
  );
}

await main();
// Resilience and resources (docs/benchmarks.md): push-to-upload latency,
// the engine process's memory and idle CPU, and a week-long soak.
await benchLatency();
await benchResources();
await benchSoak();
