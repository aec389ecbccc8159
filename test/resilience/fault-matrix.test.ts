/**
 * The fault matrix. Every vendor (Amber REST, the Tesla energy API, Tesla's
 * OAuth token endpoint, AEMO) fails in each way that the stand-ins and the
 * gates can produce, for about 20 minutes of virtual time. Meanwhile the
 * engine runs as startService wires it. For each case:
 *
 * - the Powerwall keeps its last good tariff (or gets a valid new one when
 *   the failing vendor was not needed for it);
 * - no half hour was ever uploaded as 0 unless its real price was <= 0;
 * - once the fault clears, a later sync uploads (or the spike response
 *   acts) without a restart;
 * - the fault is logged at warn (error for rejected credentials) when it
 *   starts and not again on every retry or sync, and recovery is logged.
 */
import { afterEach, describe, expect, it } from "vitest";

import type { FaultKind } from "../../src/standins/faults.js";
import { sameTariff } from "../../src/engine/tariff-port.js";
import { validateTariff } from "../../src/tariff/validate.js";
import {
  AMBER_TARIFF_CODE,
  LEVEL,
  MINUTE,
  startRig,
  unexplainedZeros,
  type LogEntry,
  type Rig,
} from "./rig.js";

let rig: Rig | undefined;

afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

type Vendor = "amber" | "tesla" | "tesla-oauth" | "aemo";

/** How a fault is made: a stand-in fault kind, or the gate refusing connections. */
type Injection = { kind: FaultKind; delayMs?: number } | "refuse";

/**
 * What the engine should make of the fault: "fails" (every sync or poll
 * that needs the vendor fails until it clears) or "absorbed" (a slow
 * answer within the timeout, which is no failure at all).
 */
type Expectation = "fails" | "absorbed";

interface FaultCase {
  vendor: Vendor;
  fault: string;
  injection: Injection;
  expectation: Expectation;
}

/** The faults every vendor gets, by name. */
const FAULTS: Array<[string, Injection, Expectation]> = [
  ["timeout", { kind: "timeout" }, "fails"],
  ["connection refused", "refuse", "fails"],
  ["connection reset", { kind: "reset" }, "fails"],
  ["HTTP 500", { kind: "server-error" }, "fails"],
  ["HTTP 503", { kind: "unavailable" }, "fails"],
  ["429 with headers", { kind: "rate-limit" }, "fails"],
  ["429 without headers", { kind: "rate-limit-no-headers" }, "fails"],
  ["malformed body", { kind: "malformed-json" }, "fails"],
  ["wrong shape", { kind: "wrong-shape" }, "fails"],
  ["auth failure", { kind: "unauthorized" }, "fails"],
  ["slow response", { kind: "slow", delayMs: 150 }, "absorbed"],
];

const CASES: FaultCase[] = (["amber", "tesla", "tesla-oauth", "aemo"] as const)
  .flatMap((vendor) =>
    FAULTS.map(([fault, injection, expectation]) => ({
      vendor,
      fault,
      injection,
      expectation,
    })),
  )
  // The token endpoint shares the Tesla gate with the API, so refusing it
  // is the "tesla" case; a persistent refresh rejection has its own test.
  .filter(
    (entry) =>
      entry.vendor !== "tesla-oauth" ||
      (entry.injection !== "refuse" && entry.fault !== "auth failure"),
  );

/** Path each vendor's faults are armed for. */
const FAULT_PATHS: Record<Vendor, string> = {
  amber: "/prices",
  tesla: "/api/1/energy_sites",
  "tesla-oauth": "/oauth2/v3/token",
  aemo: "ELEC_NEM_SUMMARY",
};

function inject(target: Rig, entry: FaultCase): void {
  const { vendor, injection } = entry;
  if (injection === "refuse") {
    const gate =
      vendor === "amber"
        ? target.gates.amber
        : vendor === "aemo"
          ? target.gates.aemo
          : target.gates.tesla;
    void gate.refuse();
    return;
  }
  const faults =
    vendor === "amber"
      ? target.amberStandIn.faults
      : vendor === "aemo"
        ? target.aemoStandIn.faults
        : target.teslaStandIn.faults;
  faults.arm({
    ...injection,
    count: Number.POSITIVE_INFINITY,
    pathIncludes: FAULT_PATHS[vendor],
  });
}

async function clear(target: Rig): Promise<void> {
  target.amberStandIn.faults.clear();
  target.teslaStandIn.faults.clear();
  target.aemoStandIn.faults.clear();
  await Promise.all(Object.values(target.gates).map((gate) => gate.accept()));
}

/**
 * Lines at warn or above from `since` on. A sync that the spike response
 * blocks is left out: it is the spike doing its job, not the fault.
 */
function problems(target: Rig, since: number): LogEntry[] {
  return target.log
    .entries()
    .slice(since)
    .filter(
      (entry) =>
        entry.level >= LEVEL.warn && !entry.msg.includes("TARIFF_HELD"),
    );
}

function describeEntries(entries: readonly LogEntry[]): string {
  return entries.map((entry) => `${entry.level} ${entry.msg}`).join("\n");
}

/** Makes the next sync need a vendor call that can fail, and a material upload. */
function demandWork(target: Rig, vendor: Vendor): void {
  target.amberStandIn.setPattern("volatile");
  if (vendor === "tesla-oauth") {
    target.teslaStandIn.expireAccessTokens();
  }
  if (vendor === "aemo") {
    target.aemoStandIn.setPrice("NSW1", 1_500);
  }
}

/** True once a sync (or, for AEMO, a spike poll) has failed since the fault. */
function firstFailureSeen(target: Rig, vendor: Vendor): boolean {
  if (vendor === "aemo") {
    return target.controls.spike.snapshot().lastError !== undefined;
  }
  return target.store.state.log
    .slice(1)
    .some((line) => line.outcome === "failed" || line.outcome === "uploaded");
}

/** Advances in 5-minute steps until `done` holds, at most `limitMs`. */
async function advanceUntil(
  target: Rig,
  done: () => boolean,
  limitMs: number,
): Promise<void> {
  for (let elapsed = 0; elapsed < limitMs && !done(); elapsed += 5 * MINUTE) {
    await target.advance(5 * MINUTE);
  }
}

describe("fault matrix", () => {
  it.each(CASES)(
    "$vendor $fault",
    async (entry) => {
      const target = await startRig({
        teslaAuth: entry.vendor === "tesla-oauth" ? "fleet" : "teslemetry",
        spike: entry.vendor === "aemo",
      });
      rig = target;
      await target.start();
      expect(target.tariffWrites).toHaveLength(1);
      const good = target.teslaStandIn.state().tariff;
      const mark = target.log.entries().length;

      inject(target, entry);
      demandWork(target, entry.vendor);
      await advanceUntil(
        target,
        () => firstFailureSeen(target, entry.vendor),
        15 * MINUTE,
      );
      await target.advance(MINUTE);
      const earlyProblems = problems(target, mark);
      // Two more syncs (or polls) that meet the fault.
      await target.advance(10 * MINUTE);
      const faultProblems = problems(target, mark);
      const duringFault = target.teslaStandIn.state().tariff;

      // The Powerwall keeps the last good tariff, or has a valid new one
      // that the failing vendor was not needed for.
      if (entry.vendor === "aemo") {
        expect(duringFault["code"]).toBe(
          entry.expectation === "fails"
            ? AMBER_TARIFF_CODE
            : "TESLA_SYNC:SPIKE",
        );
      } else if (entry.expectation === "fails") {
        expect(duringFault).toEqual(good);
      } else {
        expect(validateTariff(duringFault, "strict").ok).toBe(true);
        expect(duringFault).not.toEqual(good);
      }

      // Logged when it starts, not again on every retry or sync.
      if (entry.expectation === "fails") {
        expect(earlyProblems.length).toBeGreaterThan(0);
      } else {
        expect(describeEntries(faultProblems)).toBe("");
      }
      expect(describeEntries(faultProblems)).toBe(
        describeEntries(earlyProblems),
      );
      const messages = faultProblems.map((line) => line.msg);
      expect(new Set(messages).size).toBe(messages.length);

      // Recovery without a restart.
      const clearedAt = target.clock.now();
      const recoveryMark = target.log.entries().length;
      await clear(target);
      if (entry.vendor === "aemo") {
        await advanceUntil(
          target,
          () => target.controls.spike.snapshot().state === "active",
          20 * MINUTE,
        );
        expect(target.controls.spike.snapshot().state).toBe("active");
        expect(target.teslaStandIn.state().tariff["code"]).toBe(
          "TESLA_SYNC:SPIKE",
        );
      } else {
        await advanceUntil(
          target,
          () => (target.store.state.lastUpload?.at ?? 0) > clearedAt,
          40 * MINUTE,
        );
        const upload = target.store.state.lastUpload;
        expect(upload?.at ?? 0).toBeGreaterThan(clearedAt);
        expect(
          upload !== undefined &&
            sameTariff(upload.tariff, target.teslaStandIn.state().tariff),
        ).toBe(true);
      }
      if (entry.expectation === "fails") {
        const recovered = target.log
          .entries()
          .slice(recoveryMark)
          .filter(
            (line) =>
              line.level === LEVEL.info &&
              /recovered|succeed again|reachable again/i.test(line.msg),
          );
        expect(recovered.length).toBeGreaterThan(0);
      }

      // No half hour went up as 0 because its price was unknown.
      const amberWrites = target.tariffWrites.filter(
        (write) => write.tariff["code"] === AMBER_TARIFF_CODE,
      );
      expect(amberWrites.length).toBeGreaterThan(0);
      expect(amberWrites.flatMap(unexplainedZeros)).toEqual([]);
    },
    60_000,
  );
});

describe("token refresh rejections", () => {
  it("recovers from one rejection", async () => {
    const target = await startRig({ teslaAuth: "fleet", spike: false });
    rig = target;
    await target.start();
    const mark = target.log.entries().length;

    target.teslaStandIn.faults.arm({
      kind: "unauthorized",
      count: 1,
      pathIncludes: FAULT_PATHS["tesla-oauth"],
    });
    demandWork(target, "tesla-oauth");
    await target.advance(10 * MINUTE);
    const lines = target.log.entries().slice(mark);

    expect(target.store.state.log.at(-1)?.outcome).toBe("uploaded");
    expect(lines.filter((line) => line.level >= LEVEL.error)).toEqual([]);
    expect(
      lines.filter((line) => line.level === LEVEL.warn).map((line) => line.msg),
    ).toEqual(["Tesla rejected the token refresh; retrying once"]);
  });

  it("stops refreshing a rejected token", async () => {
    const target = await startRig({ teslaAuth: "fleet", spike: false });
    rig = target;
    await target.start();
    const good = target.teslaStandIn.state().tariff;
    const mark = target.log.entries().length;
    const grantRequests = (): number =>
      target.teslaStandIn.requests.filter((request) =>
        request.path.endsWith(FAULT_PATHS["tesla-oauth"]),
      ).length;
    const grantsBefore = grantRequests();

    target.teslaStandIn.faults.arm({
      kind: "unauthorized",
      count: Number.POSITIVE_INFINITY,
      pathIncludes: FAULT_PATHS["tesla-oauth"],
    });
    demandWork(target, "tesla-oauth");
    await target.advance(30 * MINUTE);
    const errors = target.log
      .entries()
      .slice(mark)
      .filter((line) => line.level >= LEVEL.error)
      .map((line) => line.msg);

    // Two grant requests (the rejection and its one retry), then none.
    expect(grantRequests() - grantsBefore).toBe(2);
    expect(target.teslaStandIn.state().tariff).toEqual(good);
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors).size).toBe(errors.length);
  });
});
