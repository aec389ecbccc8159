/** Shared helpers for the Tesla client tests. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Clock } from "../../src/util/clock.js";

/** A clock whose time moves only by `advance` and by the sleeps it records. */
export interface ManualClock extends Clock {
  /** Every sleep requested, ms, in order. */
  sleeps: number[];
  advance(ms: number): void;
}

/** Creates a ManualClock at `startMs`; sleeps resolve at once and move time forward. */
export function manualClock(
  startMs = Date.parse("2026-01-15T02:00:00Z"),
): ManualClock {
  let now = startMs;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Creates a temporary directory and returns it with a function that removes it. */
export async function temporaryDirectory(): Promise<{
  path: string;
  remove: () => Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), "tesla-sync-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Reads a JSON fixture from test/fixtures/tesla. */
export async function readFixture(name: string): Promise<unknown> {
  const path = join(import.meta.dirname, "..", "fixtures", "tesla", name);
  return JSON.parse(await readFile(path, "utf8")) as unknown;
}
