import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { IntervalScheduler, nextRunTime } from "../../src/engine/scheduler.js";
import { VirtualClock } from "../../src/engine/virtual-clock.js";
import { systemClock } from "../../src/util/clock.js";

const MINUTE = 60_000;
/** 2025-06-16 10:02:10 UTC, between two 5-minute boundaries. */
const START = Date.UTC(2025, 5, 16, 10, 2, 10);

describe("nextRunTime", () => {
  it.each([
    [
      "mid interval",
      Date.UTC(2025, 5, 16, 10, 2, 10),
      Date.UTC(2025, 5, 16, 10, 5, 35),
    ],
    [
      "before the offset",
      Date.UTC(2025, 5, 16, 10, 5, 10),
      Date.UTC(2025, 5, 16, 10, 5, 35),
    ],
    [
      "exactly at a run",
      Date.UTC(2025, 5, 16, 10, 5, 35),
      Date.UTC(2025, 5, 16, 10, 10, 35),
    ],
    [
      "just after a run",
      Date.UTC(2025, 5, 16, 10, 5, 36),
      Date.UTC(2025, 5, 16, 10, 10, 35),
    ],
    [
      "across midnight",
      Date.UTC(2025, 5, 16, 23, 58, 0),
      Date.UTC(2025, 5, 17, 0, 0, 35),
    ],
  ])("finds the next run %s", (_name, now, expected) => {
    expect(nextRunTime(now, 5 * MINUTE, 35_000)).toBe(expected);
  });
});

describe("IntervalScheduler with fake timers", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: START });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires at boundary plus offset plus jitter", async () => {
    const ticks: number[] = [];
    const scheduler = new IntervalScheduler({
      clock: systemClock,
      offsetMs: 35_000,
      jitterMs: 10_000,
      random: () => 0.5,
      onTick: (at) => {
        ticks.push(at);
      },
    });
    scheduler.start();

    expect(scheduler.delayMs).toBe(40_000);
    expect(scheduler.nextRunAt).toBe(Date.UTC(2025, 5, 16, 10, 5, 40));

    await vi.advanceTimersByTimeAsync(Date.UTC(2025, 5, 16, 10, 5, 39) - START);
    expect(ticks).toEqual([]);

    await vi.advanceTimersByTimeAsync(1_000);
    expect(ticks).toEqual([Date.UTC(2025, 5, 16, 10, 5, 40)]);
    expect(Date.now()).toBe(Date.UTC(2025, 5, 16, 10, 5, 40));

    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(ticks).toEqual([
      Date.UTC(2025, 5, 16, 10, 5, 40),
      Date.UTC(2025, 5, 16, 10, 10, 40),
      Date.UTC(2025, 5, 16, 10, 15, 40),
    ]);

    await scheduler.stop();
  });

  it.each([
    [0, 35_000],
    [0.999, 44_990],
  ])("keeps jitter %s within bounds", (random, delay) => {
    const scheduler = new IntervalScheduler({
      clock: systemClock,
      random: () => random,
      onTick: () => undefined,
    });
    expect(scheduler.delayMs).toBe(delay);
  });

  it("stops firing once stopped", async () => {
    const onTick = vi.fn();
    const scheduler = new IntervalScheduler({
      clock: systemClock,
      random: () => 0,
      onTick,
    });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(4 * MINUTE);
    expect(onTick).toHaveBeenCalledTimes(1);

    await scheduler.stop();
    await vi.advanceTimersByTimeAsync(60 * MINUTE);

    expect(onTick).toHaveBeenCalledTimes(1);
    expect(scheduler.running).toBe(false);
    expect(scheduler.nextRunAt).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps running after a failing tick", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const scheduler = new IntervalScheduler({
      clock: systemClock,
      random: () => 0,
      onTick: () => {
        calls += 1;
        throw new Error(`tick ${calls} failed`);
      },
      onError: (error) => errors.push(error),
    });
    scheduler.start();
    await vi.advanceTimersByTimeAsync(15 * MINUTE);
    await scheduler.stop();

    expect(calls).toBe(3);
    expect(errors).toHaveLength(3);
  });

  it("rejects an offset longer than the interval", () => {
    expect(
      () =>
        new IntervalScheduler({
          clock: systemClock,
          offsetMs: 5 * MINUTE,
          onTick: () => undefined,
        }),
    ).toThrow(RangeError);
  });
});

describe("IntervalScheduler with a virtual clock", () => {
  it("runs a day of intervals", async () => {
    const clock = new VirtualClock(Date.UTC(2025, 5, 16, 0, 0, 0));
    const ticks: number[] = [];
    const scheduler = new IntervalScheduler({
      clock,
      random: () => 0,
      onTick: (at) => {
        ticks.push(at);
      },
    });
    scheduler.start();
    await clock.advance(24 * 60 * MINUTE);
    await scheduler.stop();

    expect(ticks).toHaveLength(288);
    expect(ticks[0]).toBe(Date.UTC(2025, 5, 16, 0, 0, 35));
    expect(
      ticks.every(
        (at, index) =>
          index === 0 || at - (ticks[index - 1] ?? 0) === 5 * MINUTE,
      ),
    ).toBe(true);
    expect(clock.pendingSleeps).toBe(0);
  });
});
