/**
 * The soak benchmark's CI variant: 12 virtual hours in three 4-hour periods
 * instead of a week, with a live-price push, a live_status sample and an
 * AEMO poll every 5 minutes. It checks what a leak would break. The heap
 * stays flat from the first period to the last, and the virtual sleeps and
 * listeners do not grow. The engine leaves no timer, server or socket
 * behind when it stops, no day exceeds the write budget and nothing is
 * logged at error.
 */
import { existsSync } from "node:fs";

import { beforeAll, describe, expect, it } from "vitest";

import {
  exposeGarbageCollector,
  runSoak,
  withinBaseline,
  type SoakResult,
} from "../../bench/soak.js";

/** Heap growth from the first to the last period that still counts as flat, bytes. */
const HEAP_GROWTH_LIMIT = 4 * 1024 * 1024;

let result: SoakResult;

beforeAll(async () => {
  result = await runSoak({
    days: 3,
    dayMs: 4 * 3_600_000,
    pushPeriodMs: 5 * 60_000,
    energySampleSeconds: 300,
    spikePollSeconds: 300,
    // The engine fsyncs its state on every sync; RAM makes that free.
    ...(existsSync("/dev/shm") ? { dataRoot: "/dev/shm" } : {}),
    collectGarbage: exposeGarbageCollector(),
  });
}, 170_000);

describe("soak", () => {
  it("keeps the heap flat", () => {
    const first = result.days[0];
    const last = result.days.at(-1);

    expect(result.days).toHaveLength(3);
    expect(
      (last?.heapUsedBytes ?? Infinity) - (first?.heapUsedBytes ?? 0),
    ).toBeLessThan(HEAP_GROWTH_LIMIT);
  });

  it("keeps sleeps and listeners steady", () => {
    const sleeps = result.days.map((day) => day.pendingSleeps);
    const listeners = result.days.map((day) => day.listeners);

    // A sync waiting for the write spacing may add one sleep at a period's end.
    expect(Math.max(...sleeps) - Math.min(...sleeps)).toBeLessThanOrEqual(1);
    expect(new Set(listeners).size).toBe(1);
    expect(result.pendingSleepsAfterStop).toBe(0);
  });

  it("leaves no timers or servers", () => {
    expect(result.handlesAfterStop["Timeout"] ?? 0).toBeLessThanOrEqual(
      result.handlesBefore["Timeout"] ?? 0,
    );
    expect(result.handlesAfterStop["TCPServerWrap"] ?? 0).toBeLessThanOrEqual(
      result.handlesBefore["TCPServerWrap"] ?? 0,
    );
    expect(withinBaseline(result.handlesSettled, result.handlesBefore)).toBe(
      true,
    );
  });

  it("stays within the write budget", () => {
    const dates = Object.entries(result.writesPerDate);

    expect(dates.length).toBeGreaterThan(0);
    for (const [, writes] of dates) {
      expect(writes).toBeLessThanOrEqual(result.dailyWriteBudget);
    }
  });

  it("delivers every push", () => {
    expect(result.days.map((day) => day.lostPushes)).toEqual([0, 0, 0]);
  });

  it("logs no error", () => {
    expect(
      result.warnings.filter((line) => line.includes('"level":50')),
    ).toEqual([]);
  });
});
