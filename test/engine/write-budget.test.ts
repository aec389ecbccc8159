import { describe, expect, it } from "vitest";

import { DEFAULT_ENGINE_SETTINGS } from "../../src/engine/settings.js";
import {
  checkWrite,
  dayProgress,
  nextWriteAt,
  ordinaryAllowance,
  urgentAllowance,
  type WriteKind,
} from "../../src/engine/write-budget.js";

const POLICY = DEFAULT_ENGINE_SETTINGS;
const ZONE = "Australia/Sydney";
const MINUTE = 60_000;
/** Midnight starting Monday 2025-06-16 in Sydney (AEST, UTC+10). */
const MIDNIGHT = Date.UTC(2025, 5, 15, 14, 0);

function at(hours: number): number {
  return MIDNIGHT + hours * 3_600_000;
}

function check(
  kind: WriteKind,
  now: number,
  lastWriteAt: number | undefined,
  usedToday: number,
) {
  return checkWrite(
    POLICY,
    {
      kind,
      now,
      lastWriteAt,
      usedToday,
      progress: dayProgress(now, ZONE),
    },
    (ms) => new Date(ms).toISOString(),
  );
}

describe("dayProgress", () => {
  it.each([
    ["an ordinary day", MIDNIGHT, 24],
    // Daylight saving starts on 2025-10-05 and ends on 2025-04-06 in Sydney.
    ["the day DST starts", Date.UTC(2025, 9, 4, 14, 0), 23],
    ["the day DST ends", Date.UTC(2025, 3, 5, 13, 0), 25],
  ])("measures %s", (_name, start, hours) => {
    const progress = dayProgress(start + 3_600_000, ZONE);

    expect(progress.start).toBe(start);
    expect(progress.end - progress.start).toBe(hours * 3_600_000);
    expect(progress.fraction).toBeCloseTo(1 / hours, 9);
  });

  it("names the local date", () => {
    expect(dayProgress(at(23.99), ZONE).day).toBe("2025-06-16");
    expect(dayProgress(at(24), ZONE).day).toBe("2025-06-17");
  });
});

describe("allowances", () => {
  it.each([
    [0, 1, 13],
    [0.01, 1, 13],
    [0.25, 9, 21],
    [0.5, 18, 30],
    [0.99, 36, 48],
    [1, 36, 48],
  ])(
    "at fraction %f allow %i ordinary and %i urgent",
    (fraction, ordinary, urgent) => {
      expect(ordinaryAllowance(POLICY, fraction)).toBe(ordinary);
      expect(urgentAllowance(POLICY, fraction)).toBe(urgent);
    },
  );
});

describe("checkWrite spacing", () => {
  it.each([
    ["ordinary", 29, false],
    ["ordinary", 30, true],
    ["urgent", 4, false],
    ["urgent", 5, true],
    ["manual", 0.5, false],
    ["manual", 1, true],
  ] as const)("%s write %f min after the last", (kind, minutes, allowed) => {
    const now = at(12);
    const result = check(kind, now, now - minutes * MINUTE, 0);

    expect(result.allowed).toBe(allowed);
    if (!result.allowed) {
      expect(result.limit).toBe("spacing");
    }
  });

  it("says when the write may go", () => {
    const now = at(12);
    const result = check("ordinary", now, now - 10 * MINUTE, 0);

    expect(result).toEqual({
      allowed: false,
      limit: "spacing",
      retryAt: now + 20 * MINUTE,
      reason: `the last write was 600 s ago and an ordinary change keeps 1800 s between writes, so the write waits until ${new Date(now + 20 * MINUTE).toISOString()}`,
    });
  });

  it("lets the first write go", () => {
    expect(check("ordinary", at(0), undefined, 0).allowed).toBe(true);
  });
});

describe("checkWrite budget", () => {
  it.each([
    // At 06:00 ordinary changes may have used 9 and urgent ones 21.
    ["ordinary", 6, 8, true],
    ["ordinary", 6, 9, false],
    ["urgent", 6, 9, true],
    ["urgent", 6, 20, true],
    ["urgent", 6, 21, false],
    ["manual", 6, 60, true],
    // At the end of the day the whole budget is open to urgent changes.
    ["ordinary", 23.9, 36, false],
    ["urgent", 23.9, 47, true],
    ["urgent", 23.9, 48, false],
  ] as const)("%s write at %f h with %i used", (kind, hours, used, allowed) => {
    const result = check(kind, at(hours), undefined, used);

    expect(result.allowed).toBe(allowed);
    if (!result.allowed) {
      expect(result.limit).toBe("budget");
    }
  });

  it("names the allowance and when it grows", () => {
    const result = check("ordinary", at(6), undefined, 9);

    expect(result.allowed).toBe(false);
    if (!result.allowed) {
      // The tenth ordinary write opens once 9/36 of the day has passed.
      expect(result.retryAt).toBe(at(6) + 1);
      expect(result.reason).toMatch(
        /^today's 9 writes reach the daily budget's allowance of 9 by now \(36 a day spread over the day for ordinary changes, with 12 of the 48 kept for urgent ones\)/,
      );
    }
  });

  it("waits for the next day when the budget is spent", () => {
    const result = check("urgent", at(23.9), undefined, 48);

    expect(result.allowed).toBe(false);
    if (!result.allowed) {
      expect(result.retryAt).toBe(at(24));
    }
  });
});

describe("nextWriteAt", () => {
  it.each([
    ["ordinary", 10, 0, at(12) + 20 * MINUTE],
    ["urgent", 10, 0, at(12)],
    ["urgent", 2, 0, at(12) + 3 * MINUTE],
    // Just after 12:00 the spread allows 19 ordinary writes; the 20th opens at 12:40.
    ["ordinary", 60, 19, at(12) + 40 * MINUTE + 1],
  ] as const)(
    "puts the next %s write %i min after a write with %i used",
    (kind, minutesAgo, used, expected) => {
      const now = at(12);
      const next = nextWriteAt(
        POLICY,
        {
          now,
          lastWriteAt: now - minutesAgo * MINUTE,
          usedToday: used,
          progress: dayProgress(now, ZONE),
        },
        kind,
      );

      expect(next).toBe(expected);
    },
  );
});
