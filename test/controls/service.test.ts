import { EventEmitter } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type { CurrentInterval } from "../../src/amber/schemas.js";
import {
  createControls,
  type Controls,
  type EngineEventsPort,
} from "../../src/controls/service.js";
import {
  controlSettingsSchema,
  loadControlSettings,
} from "../../src/controls/settings.js";
import type { SyncEngine } from "../../src/engine/sync-engine.js";
import type { SyncResult } from "../../src/engine/types.js";
import { ConfigError, TariffHeldError } from "../../src/errors.js";
import { silentLogger, type Logger } from "../../src/log.js";
import { captureLog } from "../bridge/log-capture.js";
import { currentIntervals } from "../../src/standins/price-model.js";
import { settleWith, startHarness, type Harness } from "./harness.js";

// SyncEngine must keep satisfying the port the controls listen on.
const engineFits: (engine: SyncEngine) => EngineEventsPort = (engine) => engine;
void engineFits;

const MINUTE = 60_000;

/** An engine stand-in that emits what SyncEngine emits. */
class FakeEngine extends EventEmitter implements EngineEventsPort {
  autoSync = true;
  currentSellActual = 0.1;

  status(): { slots: Array<{ sellActual: number }> } {
    return { slots: [{ sellActual: this.currentSellActual }] };
  }
}

const SYNCED: SyncResult = {
  outcome: "unchanged",
  reason: "no change",
  trigger: "schedule",
  at: "2026-01-15T02:10:00.000Z",
  writes: 0,
  tariffSummary: {
    slots: 48,
    timeZone: "Australia/Sydney",
    currentLabel: "PERIOD_13_00",
    currentBuy: 0.3,
    currentSell: 0.1,
    buyMin: 0.2,
    buyMax: 0.4,
    sellMin: 0,
    sellMax: 0.1,
    clampedSlots: 0,
    filledSlots: 0,
  },
};

let harness: Harness;
let controls: Controls | undefined;

beforeEach(async () => {
  harness = await startHarness({ start: Date.parse("2026-01-15T02:10:00Z") });
});

afterEach(async () => {
  await controls?.stop();
  controls = undefined;
  await harness.close();
});

async function start(
  settings: unknown = {},
  logger: Logger = silentLogger,
): Promise<Controls> {
  controls = await createControls({
    dataDir: harness.dataDir,
    siteId: harness.siteId,
    powerwall: harness.client,
    logger,
    clock: harness.clock,
    settings: controlSettingsSchema.parse(settings),
    prices: {
      getRegionPrice: () => Promise.reject(new Error("AEMO is not used here")),
    },
  });
  await controls.start();
  return controls;
}

function feedIn(perKwh: number): CurrentInterval[] {
  return currentIntervals(harness.clock.now(), {
    intervalLength: 5,
    pattern: "calm",
  }).map((price) =>
    price.channelType === "feedIn" ? { ...price, perKwh } : price,
  );
}

const FLAT = {
  name: "Fallback flat",
  seasons: [
    {
      name: "Year",
      from: { month: 1, day: 1 },
      to: { month: 12, day: 31 },
      periods: [
        { name: "FLAT", from: "00:00", to: "24:00", buy: 0.3, sell: 0.05 },
      ],
    },
  ],
};

describe("createControls", () => {
  it("logs its start in words", async () => {
    const log = captureLog();
    await start({}, log.logger);

    const started = log.find("Price-event controls started", "info");

    expect(started).toHaveLength(1);
    expect(started[0]?.msg).toBe(
      "Price-event controls started: spike response off, solar curtailment off. The Amber sync sets the tariff.",
    );
    expect(started[0]).not.toHaveProperty("tariffHeldBy");
  });

  it("guard blocks sync uploads while held", async () => {
    const running = await start();
    const guarded = running.guardTariffWrites(harness.client);
    await running.force.start("discharge", 30);
    harness.clearWrites();

    const blocked = guarded.setTariff(
      String(harness.siteId),
      harness.standIn.state().tariff,
    );

    await expect(blocked).rejects.toBeInstanceOf(TariffHeldError);
    await expect(blocked).rejects.toThrow(
      "force charge/discharge controls the tariff",
    );
    expect(harness.writes()).toEqual([]);
  });

  it("guard passes when free", async () => {
    const running = await start();
    const guarded = running.guardTariffWrites(harness.client);

    await guarded.setTariff(
      String(harness.siteId),
      harness.standIn.state().tariff,
    );

    expect(harness.writes()).toEqual(["tariff:Stand-in TOU"]);
  });

  it("live prices drive curtailment", async () => {
    const running = await start({ curtailment: { enabled: true } });
    const engine = new FakeEngine();
    running.attach(engine);

    engine.emit("prices", feedIn(4));
    await running.curtailment.settled();

    expect(harness.writes()).toEqual(["export:never"]);
  });

  it("sync results drive curtailment", async () => {
    const running = await start({ curtailment: { enabled: true } });
    const engine = new FakeEngine();
    running.attach(engine);
    engine.currentSellActual = -0.04;

    engine.emit("sync", SYNCED);
    await running.curtailment.settled();

    expect(running.curtailment.snapshot().lastPrice?.feedInCents).toBe(4);
    expect(harness.writes()).toEqual(["export:never"]);
  });

  it("curtailment off by default", async () => {
    const running = await start();
    const engine = new FakeEngine();
    running.attach(engine);

    engine.emit("prices", feedIn(4));
    await running.curtailment.settled();

    expect(harness.writes()).toEqual([]);
    expect(running.spike.snapshot().enabled).toBe(false);
  });

  it("uploads the fallback when prices stop", async () => {
    const running = await start();
    const engine = new FakeEngine();
    running.attach(engine);
    await running.customSchedule.setFallback(FLAT);
    const settle = settleWith(() => running.customSchedule.settled());

    await harness.clock.advance(29 * MINUTE, { settle });
    const early = harness.writes();
    await harness.clock.advance(5 * MINUTE, { settle });

    expect(early).toEqual([]);
    expect(harness.writes()).toEqual(["tariff:Fallback flat"]);
  });

  it("no fallback while prices arrive", async () => {
    const running = await start();
    const engine = new FakeEngine();
    running.attach(engine);
    await running.customSchedule.setFallback(FLAT);
    const settle = settleWith(() => running.customSchedule.settled());

    for (let step = 0; step < 8; step += 1) {
      await harness.clock.advance(5 * MINUTE, { settle });
      engine.emit("sync", SYNCED);
    }

    expect(harness.writes()).toEqual([]);
  });

  it("no fallback with auto-sync off", async () => {
    const running = await start();
    const engine = new FakeEngine();
    engine.autoSync = false;
    running.attach(engine);
    await running.customSchedule.setFallback(FLAT);

    await harness.clock.advance(60 * MINUTE, {
      settle: settleWith(() => running.customSchedule.settled()),
    });

    expect(harness.writes()).toEqual([]);
  });

  it("restart keeps the guard", async () => {
    const first = await start();
    await first.force.start("charge", 60);
    await first.stop();
    controls = undefined;

    const second = await start();
    const guarded = second.guardTariffWrites(harness.client);

    await expect(
      guarded.setTariff(String(harness.siteId), {}),
    ).rejects.toBeInstanceOf(TariffHeldError);
    expect(second.snapshot().force.state).toBe("active");
  });

  it("settings switch a control on", async () => {
    const running = await start({ spike: { enabled: true, region: "SA1" } });

    expect(running.spike.snapshot()).toMatchObject({
      enabled: true,
      region: "SA1",
    });
  });

  it("overlays follow settings", async () => {
    const running = await start({
      overlays: { spikeProtection: { enabled: true } },
    });

    expect(running.overlays()).toHaveLength(1);
  });
});

describe("loadControlSettings", () => {
  it("defaults without a file", async () => {
    const settings = await loadControlSettings(harness.dataDir);

    expect(settings.spike.enabled).toBeUndefined();
    expect(settings.spike.thresholdMwh).toBe(300);
    expect(settings.curtailment.thresholdCents).toBe(1);
    expect(settings.customSchedule.fallbackMinutes).toBe(30);
  });

  it("names the bad key", async () => {
    await writeFile(
      join(harness.dataDir, "controls.json"),
      JSON.stringify({ spike: { region: "WA1" } }),
    );

    const attempt = loadControlSettings(harness.dataDir);

    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow("spike.region");
  });
});
