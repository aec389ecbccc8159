import { describe, expect, it } from "vitest";

import {
  AuthError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { retryDelayMs, withRetry } from "../../src/http/retry.js";
import { parseRetryAfter } from "../../src/http/vendor-http.js";
import type { Clock } from "../../src/util/clock.js";

function recordingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => 0,
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}

const options = { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 5000 };

describe("withRetry", () => {
  it("honours a 429 retry hint exactly", async () => {
    const clock = recordingClock();
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls === 1) {
          throw new RateLimitedError("amber", 42_000, "limited");
        }
        return "ok";
      },
      { ...options, clock, random: () => 0.5 },
    );

    expect(result).toBe("ok");
    expect(clock.waits).toEqual([42_000]);
  });

  it("backs off exponentially up to the cap", async () => {
    const clock = recordingClock();
    await expect(
      withRetry(
        async () => {
          throw new UpstreamUnavailableError("tesla", 503, "down");
        },
        { ...options, clock, random: () => 1 },
      ),
    ).rejects.toBeInstanceOf(UpstreamUnavailableError);

    expect(clock.waits).toEqual([1000, 2000, 4000]);
  });

  it("does not retry an auth failure", async () => {
    const clock = recordingClock();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new AuthError("amber", "bad token");
        },
        { ...options, clock },
      ),
    ).rejects.toBeInstanceOf(AuthError);

    expect(calls).toBe(1);
    expect(clock.waits).toEqual([]);
  });
});

describe("retryDelayMs", () => {
  it.each([
    [1, 0, 500],
    [1, 1, 1000],
    [3, 1, 4000],
    [10, 1, 5000],
  ])("attempt %i with random %d waits %i ms", (attempt, random, expected) => {
    const error = new UpstreamUnavailableError("amber", 500, "x");
    expect(retryDelayMs(error, attempt, options, () => random)).toBe(expected);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it.each<[Record<string, string>, number | undefined]>([
    [{ "retry-after": "30" }, 30_000],
    [{ "retry-after": "Thu, 01 Jan 2026 00:01:00 GMT" }, 60_000],
    [{ "ratelimit-reset": "120" }, 120_000],
    [{ "retry-after": "soon" }, undefined],
    [{}, undefined],
  ])("reads %o as %s ms", (headers, expected) => {
    expect(parseRetryAfter(headers, now)).toBe(expected);
  });
});
