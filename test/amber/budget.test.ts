import { describe, expect, it } from "vitest";

import { RequestBudget } from "../../src/amber/budget.js";
import { RateLimitedError } from "../../src/errors.js";
import { drive, ManualClock } from "./manual-clock.js";

const WINDOW = 300_000;

function setup(options: { limit?: number; random?: () => number } = {}): {
  clock: ManualClock;
  budget: RequestBudget;
  starts: number[];
  request: () => Promise<void>;
} {
  const clock = new ManualClock(0);
  const budget = new RequestBudget({
    clock,
    limit: options.limit ?? 3,
    windowMs: WINDOW,
    random: options.random ?? (() => 0),
  });
  const starts: number[] = [];
  const request = (): Promise<void> =>
    budget.run(async () => {
      starts.push(clock.now());
    });
  return { clock, budget, starts, request };
}

function rateLimited(retryAfterMs: number | undefined): () => Promise<never> {
  return async () => {
    throw new RateLimitedError("amber", retryAfterMs, "HTTP 429");
  };
}

/** Returns the largest number of starts within any window of `windowMs`. */
function maxInWindow(starts: number[], windowMs: number): number {
  let max = 0;
  for (let i = 0; i < starts.length; i += 1) {
    const from = starts[i] ?? 0;
    const count = starts.filter((t) => t >= from && t < from + windowMs).length;
    max = Math.max(max, count);
  }
  return max;
}

describe("RequestBudget", () => {
  it("sends up to the limit at once", async () => {
    const { clock, budget, starts, request } = setup();
    await drive(
      Promise.all([request(), request(), request()]),
      clock,
      () => true,
    );

    expect(starts).toEqual([0, 0, 0]);
    expect(budget.stats().waits).toBe(0);
  });

  it("waits for the oldest to leave the window", async () => {
    const { clock, budget, starts, request } = setup();
    const all = Promise.all([request(), request(), request(), request()]);
    await drive(all, clock, () => true);

    expect(starts).toEqual([0, 0, 0, WINDOW]);
    expect(budget.stats()).toMatchObject({
      sent: 4,
      waits: 1,
      waitedMs: WINDOW,
      inWindow: 1,
      inFlight: 0,
    });
  });

  it("keeps 100 queued calls under 45 per 300 s", async () => {
    const { clock, budget, starts, request } = setup({ limit: 45 });
    const all = Promise.all(Array.from({ length: 100 }, () => request()));
    await drive(all, clock, () => true);

    expect(starts).toHaveLength(100);
    expect(maxInWindow(starts, WINDOW)).toBe(45);
    expect(starts[99]).toBe(2 * WINDOW);
    expect(budget.stats().sent).toBe(100);
    expect(budget.stats().waits).toBe(55);
  });

  it("keeps arrival order", async () => {
    const { clock, budget } = setup({ limit: 1 });
    const order: number[] = [];
    const calls = [1, 2, 3, 4].map((n) =>
      budget.run(async () => {
        order.push(n);
      }),
    );
    await drive(Promise.all(calls), clock, () => true);

    expect(order).toEqual([1, 2, 3, 4]);
  });

  it("pauses everyone until the given reset", async () => {
    const { clock, budget, starts, request } = setup({ limit: 10 });
    const limited = budget.run(rateLimited(42_000));
    await expect(limited).rejects.toBeInstanceOf(RateLimitedError);
    const after = Promise.all([request(), request()]);
    await drive(after, clock, () => true);

    expect(starts).toEqual([42_000, 42_000]);
    expect(budget.stats().rateLimited).toBe(1);
  });

  it.each([
    [0, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]],
    [1, [12_500, 25_000, 50_000, 100_000, 200_000, 300_000, 300_000]],
  ])("backs off without a header (random %d)", (random, expected) => {
    const { budget } = setup({ random: () => random });
    const pauses = expected.map(() => budget.noteRateLimited(undefined));

    expect(pauses).toEqual(expected);
  });

  it("applies the backoff as a pause", async () => {
    const { clock, budget, starts, request } = setup({ limit: 10 });
    await expect(budget.run(rateLimited(undefined))).rejects.toThrow();
    await drive(request(), clock, () => true);

    expect(starts).toEqual([10_000]);
    expect(budget.stats().pausedUntil).toBeUndefined();
  });

  it("resets the backoff after a success", async () => {
    const { clock, budget, request } = setup({ limit: 10 });
    budget.noteRateLimited(undefined);
    budget.noteRateLimited(undefined);
    await drive(request(), clock, () => true);

    expect(budget.noteRateLimited(undefined)).toBe(10_000);
  });

  it("pauses when no requests remain", async () => {
    const { clock, budget, starts, request } = setup({ limit: 10 });
    budget.noteHeaders({
      "ratelimit-remaining": "0",
      "ratelimit-reset": "120",
    });
    await drive(request(), clock, () => true);

    expect(starts).toEqual([120_000]);
  });

  it.each([
    [{ "ratelimit-remaining": "3", "ratelimit-reset": "120" }],
    [{ "ratelimit-reset": "120" }],
    [{ "ratelimit-remaining": "0" }],
    [{}],
  ])("ignores headers %o", async (headers) => {
    const { clock, budget, starts, request } = setup({ limit: 10 });
    budget.noteHeaders(headers);
    await drive(request(), clock, () => true);

    expect(starts).toEqual([0]);
  });

  it("lets an aborted wait go", async () => {
    const { clock, budget, starts, request } = setup({ limit: 1 });
    await request();
    const controller = new AbortController();
    const aborted = budget.run(async () => undefined, controller.signal);
    const later = request();
    controller.abort(new Error("stopped"));

    await expect(aborted).rejects.toThrow("stopped");
    await drive(later, clock, () => true);
    expect(starts).toEqual([0, WINDOW]);
  });

  it("counts in-flight requests", async () => {
    const { budget } = setup();
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = budget.run(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
          started();
        }),
    );
    await new Promise<void>((resolve) => (started = resolve));
    const during = budget.stats().inFlight;
    release();
    await running;

    expect(during).toBe(1);
    expect(budget.stats().inFlight).toBe(0);
  });

  it.each([0, -1, 1.5])("rejects limit %d", (limit) => {
    expect(() => new RequestBudget({ limit })).toThrow(RangeError);
  });
});
