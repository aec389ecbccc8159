import { describe, expect, it } from "vitest";

import { VirtualClock } from "../../src/engine/virtual-clock.js";
import { silentLogger } from "../../src/log.js";
import { LoginLimiter } from "../../src/server/login-limiter.js";

const T0 = Date.UTC(2025, 5, 16, 0, 0, 0);

function limiter(clock: VirtualClock): LoginLimiter {
  return new LoginLimiter({ clock, logger: silentLogger });
}

function fail(target: LoginLimiter, address: string, times: number): void {
  for (let attempt = 0; attempt < times; attempt += 1) {
    target.recordFailure(address);
  }
}

describe("login limiter", () => {
  it("allows four failures freely", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 4);

    expect(target.check("192.0.2.1")).toEqual({ allowed: true });
  });

  it("locks after the fifth failure", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 5);

    expect(target.check("192.0.2.1")).toEqual({
      allowed: false,
      retryAfterMs: 1000,
      scope: "address",
    });
  });

  it.each([
    [5, 1000],
    [6, 2000],
    [7, 4000],
    [10, 32_000],
    [40, 15 * 60_000],
  ])("locks %i failures for %i ms", (failures, lockMs) => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", failures);

    const check = target.check("192.0.2.1");
    expect(check.allowed).toBe(false);
    expect(check.allowed ? 0 : check.retryAfterMs).toBe(lockMs);
  });

  it("unlocks when the lock ends", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 6);
    clock.set(T0 + 2000);

    expect(target.check("192.0.2.1").allowed).toBe(true);
  });

  it("keeps addresses apart", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 5);

    expect(target.check("192.0.2.2").allowed).toBe(true);
  });

  it("clears an address on success", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 4);
    target.recordSuccess("192.0.2.1");
    fail(target, "192.0.2.1", 4);

    expect(target.check("192.0.2.1").allowed).toBe(true);
  });

  it("locks every address after 50 failures", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    for (let index = 0; index < 50; index += 1) {
      target.recordFailure(`198.51.100.${index}`);
    }

    const check = target.check("203.0.113.9");
    expect(check.allowed).toBe(false);
    expect(check.allowed ? "" : check.scope).toBe("global");
  });

  it("forgets failures after a quiet day", () => {
    const clock = new VirtualClock(T0);
    const target = limiter(clock);
    fail(target, "192.0.2.1", 4);
    clock.set(T0 + 24 * 3_600_000);
    target.recordFailure("192.0.2.1");

    expect(target.check("192.0.2.1").allowed).toBe(true);
  });
});
