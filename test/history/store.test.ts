import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { StateStoreError } from "../../src/errors.js";
import {
  HISTORY_FILE_NAME,
  HistoryStore,
  type PricePoint,
  type SyncRecord,
} from "../../src/history/store.js";

const T0 = Date.UTC(2025, 5, 16, 0, 0, 0);
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

let dataDir: string;
let store: HistoryStore | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "history-store-"));
});

afterEach(async () => {
  store?.close();
  store = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

function open(retentionDays?: number): HistoryStore {
  store = HistoryStore.open({
    dataDir,
    ...(retentionDays === undefined ? {} : { retentionDays }),
  });
  return store;
}

function price(start: number, overrides: Partial<PricePoint> = {}): PricePoint {
  return {
    start,
    minutes: 5,
    buy: 0.25,
    sell: 0.08,
    quality: "estimate",
    tariffBuy: 0.25,
    tariffSell: 0.08,
    spikeStatus: "none",
    ...overrides,
  };
}

function sync(at: number, overrides: Partial<SyncRecord> = {}): SyncRecord {
  return {
    at,
    trigger: "schedule",
    outcome: "uploaded",
    reason: "no tariff uploaded yet",
    writes: 1,
    changedSlots: 48,
    confirmed: true,
    counters: {
      syncs: 1,
      uploads: 1,
      teslaWrites: 1,
      teslaCalls: 3,
      amberCalls: 2,
    },
    ...overrides,
  };
}

describe("history store", () => {
  it("survives close and reopen", () => {
    const first = open();
    first.recordPrices([price(T0, { buy: -0.05, tariffBuy: 0 })]);
    first.recordEnergySample({
      at: T0,
      solarW: 3000,
      gridW: -500,
      batteryW: -1000,
      homeW: 1500,
      batteryPercent: 55,
    });
    first.addEnergy([
      {
        start: T0,
        solarWh: 250,
        gridImportWh: 0,
        gridExportWh: 40,
        batteryChargeWh: 80,
        batteryDischargeWh: 0,
        homeWh: 125,
        coveredMs: 5 * MINUTE,
      },
    ]);
    first.recordSync(sync(T0));
    first.close();

    const second = open();
    expect(second.prices(T0, T0 + 1)).toEqual([
      price(T0, { buy: -0.05, tariffBuy: 0 }),
    ]);
    expect(second.latestEnergySample()?.solarW).toBe(3000);
    expect(second.energyIntervals(T0, T0 + 1)[0]?.gridExportWh).toBe(40);
    expect(second.syncs(0, T0 + 1, 10)).toEqual([sync(T0)]);
  });

  it("keeps an actual price over an estimate", () => {
    const history = open();
    history.recordPrices([price(T0, { buy: 0.3, quality: "actual" })]);
    history.recordPrices([price(T0, { buy: 0.9, quality: "estimate" })]);

    const [row] = history.prices(T0, T0 + 1);
    expect(row?.buy).toBe(0.3);
    expect(row?.quality).toBe("actual");
  });

  it("replaces an estimate with an actual price", () => {
    const history = open();
    history.recordPrices([price(T0, { buy: 0.9 })]);
    history.recordPrices([
      price(T0, { buy: 0.3, quality: "actual", tariffBuy: null }),
    ]);

    const [row] = history.prices(T0, T0 + 1);
    expect(row?.buy).toBe(0.3);
    expect(row?.quality).toBe("actual");
    expect(row?.tariffBuy).toBe(0.25);
  });

  it("adds energy into one interval", () => {
    const history = open();
    const part = {
      start: T0,
      solarWh: 10,
      gridImportWh: 1,
      gridExportWh: 2,
      batteryChargeWh: 3,
      batteryDischargeWh: 4,
      homeWh: 5,
      coveredMs: 3 * MINUTE,
    };
    history.addEnergy([part]);
    history.addEnergy([part]);

    const [row] = history.energyIntervals(T0, T0 + 1);
    expect(row?.solarWh).toBe(20);
    expect(row?.homeWh).toBe(10);
    expect(row?.coveredMs).toBe(5 * MINUTE);
  });

  it("returns syncs newest first with a limit", () => {
    const history = open();
    for (let index = 0; index < 5; index += 1) {
      history.recordSync(
        sync(T0 + index * MINUTE, { reason: `sync ${index}` }),
      );
    }

    const rows = history.syncs(0, T0 + DAY, 2);
    expect(rows.map((row) => row.reason)).toEqual(["sync 4", "sync 3"]);
  });

  it("prunes rows past the retention", () => {
    const history = open(30);
    const now = T0 + 40 * DAY;
    history.recordPrices([price(T0), price(now - DAY)]);
    history.recordSync(sync(T0));
    history.recordSync(sync(now - DAY));

    const removed = history.prune(now);

    expect(removed.prices).toBe(1);
    expect(removed.syncs).toBe(1);
    expect(history.prices(0, now).map((row) => row.start)).toEqual([now - DAY]);
    expect(history.syncs(0, now, 10)).toHaveLength(1);
  });

  it.each([[0], [-1], [Number.NaN]])("rejects retention %s", (days) => {
    expect(() => HistoryStore.open({ dataDir, retentionDays: days })).toThrow(
      RangeError,
    );
  });

  it("reports a damaged file", async () => {
    await writeFile(
      join(dataDir, HISTORY_FILE_NAME),
      "not a database ".repeat(100),
    );

    expect(() => HistoryStore.open({ dataDir })).toThrow(StateStoreError);
    expect(() => HistoryStore.open({ dataDir })).toThrow(/move it aside/);
  });
});
