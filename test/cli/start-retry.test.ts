import { describe, expect, it } from "vitest";

import { startWithRetry } from "../../src/cli/start-retry.js";
import {
  AuthError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { ManualClock } from "../amber/manual-clock.js";
import { captureLog } from "../bridge/log-capture.js";

const unreachable = (): UpstreamUnavailableError =>
  new UpstreamUnavailableError(
    "amber",
    undefined,
    "amber request GET /sites failed (ECONNREFUSED); it will be retried.",
  );

/** A start that fails with each error of `failures` in turn, then returns "running". */
function failingStart(failures: Error[]): {
  start: () => Promise<string>;
  calls: () => number;
} {
  let calls = 0;
  return {
    start: () => {
      const failure = failures[calls];
      calls += 1;
      return failure === undefined
        ? Promise.resolve("running")
        : Promise.reject(failure);
    },
    calls: () => calls,
  };
}

/** Advances `clock` through every wait until `work` settles. */
async function settle<T>(work: Promise<T>, clock: ManualClock): Promise<T> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  while (!settled) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advanceToNext();
  }
  return done;
}

describe("startWithRetry", () => {
  it("retries until the start succeeds", async () => {
    const clock = new ManualClock(0);
    const attempts = failingStart([unreachable(), unreachable()]);

    const result = await settle(
      startWithRetry({
        start: attempts.start,
        logger: captureLog().logger,
        stopSignal: new Promise(() => undefined),
        advice: () => "Check the URL.",
        clock,
        random: () => 1,
      }),
      clock,
    );

    expect(result).toBe("running");
    expect(attempts.calls()).toBe(3);
    expect(clock.sleeps).toEqual([15_000, 30_000]);
  });

  it("caps the wait", async () => {
    const clock = new ManualClock(0);
    const attempts = failingStart(Array.from({ length: 7 }, unreachable));

    await settle(
      startWithRetry({
        start: attempts.start,
        logger: captureLog().logger,
        stopSignal: new Promise(() => undefined),
        advice: () => "",
        clock,
        random: () => 1,
      }),
      clock,
    );

    expect(clock.sleeps.slice(-3)).toEqual([240_000, 300_000, 300_000]);
  });

  it("logs the first failure once", async () => {
    const clock = new ManualClock(0);
    const log = captureLog();
    const attempts = failingStart([
      unreachable(),
      unreachable(),
      unreachable(),
    ]);

    await settle(
      startWithRetry({
        start: attempts.start,
        logger: log.logger,
        stopSignal: new Promise(() => undefined),
        advice: () => "Check amber.restUrl.",
        clock,
        random: () => 1,
      }),
      clock,
    );

    const warnings = log.find("could not start", "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe(
      "The engine could not start: UPSTREAM_UNAVAILABLE: amber request GET /sites failed (ECONNREFUSED); it will be retried. Check amber.restUrl. Trying again in 15 s.",
    );
    expect(log.find("could not start", "debug")).toHaveLength(3);
    expect(log.find("started after 4 attempts", "info")).toHaveLength(1);
  });

  it("honours a rate limit's wait", async () => {
    const clock = new ManualClock(0);
    const attempts = failingStart([
      new RateLimitedError("tesla", 42_000, "tesla rate-limited GET /x."),
    ]);

    await settle(
      startWithRetry({
        start: attempts.start,
        logger: captureLog().logger,
        stopSignal: new Promise(() => undefined),
        advice: () => "",
        clock,
      }),
      clock,
    );

    expect(clock.sleeps).toEqual([42_000]);
  });

  it("rethrows a failure a person must fix", async () => {
    const clock = new ManualClock(0);
    const rejected = new AuthError("amber", "amber rejected the token.");
    const attempts = failingStart([rejected]);

    const result = startWithRetry({
      start: attempts.start,
      logger: captureLog().logger,
      stopSignal: new Promise(() => undefined),
      advice: () => "",
      clock,
    });

    await expect(result).rejects.toBe(rejected);
    expect(attempts.calls()).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it("stops waiting on a stop signal", async () => {
    const clock = new ManualClock(0);
    const attempts = failingStart([unreachable(), unreachable()]);
    let stop: (signal: string) => void = () => undefined;
    const stopSignal = new Promise<string>((resolve) => {
      stop = resolve;
    });

    const result = startWithRetry({
      start: attempts.start,
      logger: captureLog().logger,
      stopSignal,
      advice: () => "",
      clock,
    });
    while (clock.pending() === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    stop("SIGTERM");

    expect(await result).toBeUndefined();
    expect(attempts.calls()).toBe(1);
  });
});
