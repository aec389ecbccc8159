import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type { PriceResponse } from "../../src/amber/prices.js";
import type { CurrentInterval, Interval } from "../../src/amber/schemas.js";
import type {
  EngineEvents,
  StatusSnapshot,
  SyncResult,
} from "../../src/engine/types.js";
import { VirtualClock } from "../../src/engine/virtual-clock.js";
import { HistoryRecorder } from "../../src/history/recorder.js";
import { HistoryStore } from "../../src/history/store.js";
import { createLogger } from "../../src/log.js";
import type { LiveStatus } from "../../src/tesla/schemas.js";

/** 2025-06-16 10:02:00 in Sydney. */
const T0 = Date.UTC(2025, 5, 16, 0, 2, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SLOT_START = Date.UTC(2025, 5, 16, 0, 0, 0);

function status(overrides: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    mode: "demo",
    autoSync: true,
    amberSiteId: "01SITE",
    teslaSiteId: "1001",
    timeZone: "Australia/Sydney",
    timeZoneSource: "site_info",
    nextSyncAt: null,
    deferredSyncAt: null,
    lastSync: null,
    lastUpload: null,
    lastConfirmation: null,
    live: { state: "off" },
    counters: {
      day: "2025-06-16",
      today: {
        syncs: 4,
        uploads: 2,
        teslaWrites: 2,
        teslaCalls: 7,
        amberCalls: 5,
      },
      amber: {},
      tesla: {},
    },
    slots: [
      {
        label: "PERIOD_10_00",
        start: new Date(SLOT_START).toISOString(),
        end: new Date(SLOT_START + 30 * MINUTE).toISOString(),
        buy: 0,
        sell: 0.04,
        buyActual: -0.03,
        sellActual: 0.04,
        source: {},
        spikeStatus: "none",
        notes: [],
      },
    ],
    slotsBuiltAt: null,
    log: [],
    ...overrides,
  };
}

class FakeEngine extends EventEmitter<EngineEvents> {
  snapshot = status();

  status(): StatusSnapshot {
    return this.snapshot;
  }
}

class FakePowerwall {
  calls = 0;
  failing = false;
  reading: LiveStatus = {
    solar_power: 3000,
    battery_power: -1000,
    load_power: 1200,
    grid_power: -800,
    percentage_charged: 64,
  };

  async getLiveStatus(): Promise<LiveStatus> {
    this.calls += 1;
    if (this.failing) {
      throw new Error("connect ECONNREFUSED 127.0.0.1:1");
    }
    return this.reading;
  }
}

class FakeAmber {
  queries: Array<{ next?: number; previous?: number }> = [];

  async getCurrentPrices(
    _siteId: string,
    query: { next?: number; previous?: number },
  ): Promise<PriceResponse> {
    this.queries.push(query);
    return {
      intervals: [
        interval("ActualInterval", "general", SLOT_START - 5 * MINUTE, 21.5),
        interval("ActualInterval", "feedIn", SLOT_START - 5 * MINUTE, -6.2),
      ],
      ignoredChannelTypes: [],
    };
  }
}

function interval(
  type: Interval["type"],
  channelType: "general" | "feedIn",
  start: number,
  perKwh: number,
): CurrentInterval {
  const fields = {
    duration: 5 as const,
    spotPerKwh: perKwh,
    perKwh,
    date: "2025-06-16",
    nemTime: new Date(start + 5 * MINUTE).toISOString(),
    startTime: new Date(start + 1000).toISOString(),
    endTime: new Date(start + 5 * MINUTE).toISOString(),
    renewables: 40,
    channelType,
    spikeStatus: "none" as const,
    descriptor: "low" as const,
    estimate: true,
  };
  // Typed as the live push type; an ActualInterval only adds `estimate`.
  return { ...fields, type } as CurrentInterval;
}

function result(overrides: Partial<SyncResult> = {}): SyncResult {
  return {
    outcome: "uploaded",
    reason: "no tariff uploaded yet",
    trigger: "startup",
    at: new Date(T0).toISOString(),
    writes: 1,
    changedSlots: 48,
    confirmed: true,
    ...overrides,
  };
}

let dataDir: string;
let store: HistoryStore;
let engine: FakeEngine;
let clock: VirtualClock;
let powerwall: FakePowerwall;
let amber: FakeAmber;
let recorder: HistoryRecorder;
let logLines: Array<{ level: number; msg: string }>;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "history-recorder-"));
  store = HistoryStore.open({ dataDir });
  engine = new FakeEngine();
  clock = new VirtualClock(T0);
  powerwall = new FakePowerwall();
  amber = new FakeAmber();
  logLines = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(
        JSON.parse(chunk.toString()) as { level: number; msg: string },
      );
      callback();
    },
  });
  recorder = new HistoryRecorder({
    store,
    engine,
    clock,
    logger: createLogger({ level: "debug", destination }),
    energy: { source: powerwall, siteId: "1001", periodMs: MINUTE },
    amber: { port: amber, siteId: "01SITE", intervalLength: 5 },
  });
});

afterEach(async () => {
  await recorder.stop();
  store.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("history recorder", () => {
  it("records a sync with counters", () => {
    recorder.start();
    engine.emit("sync", result());

    const [row] = store.syncs(0, T0 + 1, 10);
    expect(row?.outcome).toBe("uploaded");
    expect(row?.reason).toBe("no tariff uploaded yet");
    expect(row?.counters.teslaCalls).toBe(7);
    expect(row?.confirmed).toBe(true);
  });

  it("records the price a sync used", () => {
    recorder.start();
    engine.emit("sync", result());

    const [row] = store.prices(0, T0 + HOUR);
    expect(row?.start).toBe(SLOT_START);
    expect(row?.buy).toBe(-0.03);
    expect(row?.tariffBuy).toBe(0);
    expect(row?.quality).toBe("estimate");
  });

  it("skips the tariff of a refused sync", () => {
    recorder.start();
    engine.emit("sync", result({ outcome: "refused", writes: 0 }));

    expect(store.prices(0, T0 + HOUR)).toEqual([]);
    expect(store.syncs(0, T0 + 1, 10)).toHaveLength(1);
  });

  it("records live pushes as one row", () => {
    recorder.start();
    engine.emit("prices", [
      interval("CurrentInterval", "general", SLOT_START, -2.5),
      interval("CurrentInterval", "feedIn", SLOT_START, 3.1),
    ]);

    const [row] = store.prices(SLOT_START, SLOT_START + 1);
    expect(row?.buy).toBeCloseTo(-0.025);
    expect(row?.sell).toBeCloseTo(-0.031);
    expect(row?.tariffBuy).toBe(0);
    expect(row?.tariffSell).toBe(0.04);
  });

  it("backfills a day of settled prices", async () => {
    recorder.start();
    await clock.advance(0);

    expect(amber.queries).toEqual([{ previous: 288, next: 0 }]);
    const [row] = store.prices(0, T0);
    expect(row?.quality).toBe("actual");
    expect(row?.buy).toBeCloseTo(0.215);
    expect(row?.sell).toBeCloseTo(0.062);
  });

  it("refreshes the last hour hourly", async () => {
    recorder.start();
    await clock.advance(0);
    await clock.advance(HOUR);

    expect(amber.queries).toEqual([
      { previous: 288, next: 0 },
      { previous: 12, next: 0 },
    ]);
  });

  it("samples energy every period", async () => {
    recorder.start();
    await clock.advance(0);
    await clock.advance(10 * MINUTE);

    expect(powerwall.calls).toBe(11);
    const total = store
      .energyIntervals(0, T0 + HOUR)
      .reduce((sum, part) => sum + part.solarWh, 0);
    expect(total).toBeCloseTo(500);
    expect(store.latestEnergySample()?.batteryPercent).toBe(64);
  });

  it("warns once for repeated read failures", async () => {
    powerwall.failing = true;
    recorder.start();
    await clock.advance(0);
    await clock.advance(3 * MINUTE);
    powerwall.failing = false;
    await clock.advance(MINUTE);

    const warnings = logLines.filter((line) => line.level === 40);
    const recovered = logLines.filter(
      (line) => line.level === 30 && line.msg.includes("works again"),
    );
    expect(powerwall.calls).toBe(5);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/live_status/);
    expect(recovered).toHaveLength(1);
  });

  it("stops sampling on stop", async () => {
    recorder.start();
    await clock.advance(0);
    await recorder.stop();
    await clock.advance(5 * MINUTE);

    expect(powerwall.calls).toBe(1);
    expect(clock.pendingSleeps).toBe(0);
  });

  it("prunes old rows hourly", async () => {
    store.recordSync({
      at: T0 - 40 * 24 * HOUR,
      trigger: "schedule",
      outcome: "unchanged",
      reason: "old",
      writes: 0,
      changedSlots: 0,
      confirmed: null,
      counters: {
        syncs: 1,
        uploads: 0,
        teslaWrites: 0,
        teslaCalls: 0,
        amberCalls: 1,
      },
    });
    recorder.start();
    await clock.advance(0);

    expect(store.syncs(0, T0, 10)).toEqual([]);
  });
});
