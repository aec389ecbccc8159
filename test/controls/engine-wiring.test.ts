import { afterEach, describe, expect, it } from "vitest";

import { startDemo, type RunningDemo } from "../../src/demo/demo.js";
import { VirtualClock } from "../../src/engine/virtual-clock.js";
import { silentLogger } from "../../src/log.js";

const MINUTE = 60_000;

let demo: RunningDemo | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

/** Starts the real engine and the Amber and Tesla stand-ins on a clock that moves only in the test. */
async function start(): Promise<{ demo: RunningDemo; clock: VirtualClock }> {
  const clock = new VirtualClock(Date.parse("2026-01-15T02:07:00Z"));
  demo = await startDemo({
    logger: silentLogger,
    port: 0,
    clock,
    livePushIntervalMs: 3_600_000,
  });
  return { demo, clock };
}

describe("controls in the engine", () => {
  it("sync cannot overwrite force", async () => {
    const { demo: running, clock } = await start();
    const { controls, engine } = running.service;
    await controls.force.start("discharge", 30);
    // New Amber prices, so the sync has a material change to upload.
    running.amber.setPattern("negative-midday");
    await clock.advance(2 * MINUTE, { settle: () => engine.idle() });

    const result = await engine.syncNow("manual");

    expect(result.outcome).toBe("skipped");
    expect(result.writes).toBe(0);
    expect(result.heldBy).toBe("force");
    expect(result.reason).toContain("force discharge holds the tariff until");
    expect(running.tesla.state().tariff["name"]).toBe(
      "Force discharge until 13:37",
    );
  });

  it("sync resumes after force", async () => {
    const { demo: running, clock } = await start();
    const { controls, engine } = running.service;
    await controls.force.start("charge", 30);
    await controls.force.cancel();
    await clock.advance(2 * MINUTE, { settle: () => engine.idle() });

    const result = await engine.syncNow("manual");

    expect(["uploaded", "unchanged"]).toContain(result.outcome);
    expect(controls.arbiter.tariffOverride()).toBeUndefined();
    expect(running.tesla.state().settings.backupReservePercent).not.toBe(100);
  });

  it("controls start idle in the demo", async () => {
    const { demo: running } = await start();

    const snapshot = running.service.controls.snapshot();

    expect(snapshot.spike.enabled).toBe(false);
    expect(snapshot.curtailment.enabled).toBe(false);
    expect(snapshot.force.state).toBe("idle");
    expect(snapshot.arbiter.claims).toEqual([]);
  });
});
