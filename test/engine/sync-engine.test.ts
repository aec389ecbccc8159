import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import type { CurrentInterval } from "../../src/amber/schemas.js";
import type { SyncResult } from "../../src/engine/types.js";
import { currentIntervals } from "../../src/standins/price-model.js";
import { validateTariff } from "../../src/tariff/validate.js";
import {
  halfHourEndAfter,
  MINUTE,
  startHarness,
  type Harness,
} from "./harness.js";

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function open(
  options: Parameters<typeof startHarness>[0] = {},
): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

/** Returns the tariff the Tesla stand-in has now. */
function powerwallTariff(h: Harness): Record<string, unknown> {
  return h.teslaStandIn.state().tariff;
}

/** Returns every rate in a tariff side's energy_charges, $/kWh. */
function rates(side: unknown): number[] {
  const charges = (
    side as {
      energy_charges: Record<string, { rates: Record<string, number> }>;
    }
  ).energy_charges;
  return Object.values(charges).flatMap((season) =>
    Object.values(season.rates),
  );
}

/** Returns the uploaded half hour containing the virtual now. */
function uploadedCurrentSlot(h: Harness) {
  const now = h.clock.now();
  return h.store.state.lastUpload?.slots.find(
    (slot) => Date.parse(slot.start) <= now && now < Date.parse(slot.end),
  );
}

/**
 * Live CurrentIntervals for now whose buy and sell are the uploaded current
 * slot's moved by `buyCents` and `sellCents`, so the move is exact.
 */
function livePush(
  h: Harness,
  buyCents: number,
  sellCents = 0,
): CurrentInterval[] {
  const slot = uploadedCurrentSlot(h);
  if (slot === undefined) {
    throw new Error("no uploaded slot contains now");
  }
  return currentIntervals(h.clock.now(), {
    intervalLength: 5,
    pattern: "calm",
  }).map((interval) =>
    interval.channelType === "general"
      ? { ...interval, perKwh: slot.buy * 100 + buyCents }
      : { ...interval, perKwh: -(slot.sell * 100 + sellCents) },
  );
}

/** Shifts the buy price 3 h ahead far enough below zero to cross it. */
function crossZeroThreeHoursAhead(h: Harness): void {
  h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 3), -40);
}

describe("SyncEngine first sync", () => {
  it("uploads a validated tariff", async () => {
    const h = await open();
    const result = await h.engine.syncNow("startup");

    expect(result.outcome).toBe("uploaded");
    expect(result.writes).toBe(1);
    expect(result.confirmed).toBe(true);
    expect(result.tariffSummary?.slots).toBe(48);
    expect(result.tariffSummary?.timeZone).toBe("Australia/Sydney");
    expect(h.tariffWrites()).toBe(1);
    expect(validateTariff(powerwallTariff(h), "strict").ok).toBe(true);
    expect(h.store.state.lastUpload?.slots).toHaveLength(48);
    expect(h.store.state.lastConfirmation?.confirmed).toBe(true);
  });

  it("labels the current slot in the site zone", async () => {
    const h = await open();
    const result = await h.engine.syncNow("startup");

    // 09:12:40 in Sydney.
    expect(result.tariffSummary?.currentLabel).toBe("PERIOD_09_00");
  });

  it("persists the upload across a reopen", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const file = JSON.parse(
      await readFile(join(h.dataDir, "engine-state.json"), "utf8"),
    ) as {
      lastUpload: { tariff: unknown };
      log: unknown[];
    };

    expect(file.lastUpload.tariff).toEqual(powerwallTariff(h));
    expect(file.log).toHaveLength(1);
  });

  it("emits sync and status events", async () => {
    const h = await open();
    const results: SyncResult[] = [];
    let statuses = 0;
    h.engine.on("sync", (result) => results.push(result));
    h.engine.on("status", () => {
      statuses += 1;
    });
    await h.engine.syncNow("manual");

    expect(results.map((result) => result.outcome)).toEqual(["uploaded"]);
    expect(statuses).toBeGreaterThan(0);
  });
});

describe("SyncEngine materiality", () => {
  it("leaves an unchanged tariff alone", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const again = await h.engine.syncNow("manual");

    expect(again.outcome).toBe("unchanged");
    expect(again.writes).toBe(0);
    expect(h.tariffWrites()).toBe(1);
  });

  it("ignores a change below the threshold", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 2);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("unchanged");
    expect(result.reason).toBe(
      "largest change 2.00 c/kWh (buy at 15:00, 6.0 h ahead) is below its threshold of 10.00 c/kWh and 37.5 %",
    );
    expect(h.tariffWrites()).toBe(1);
  });

  it("uploads a change above the threshold", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const target = halfHourEndAfter(h.clock.now(), 6);
    const slotBuy = (): number | undefined =>
      h.store.state.lastUpload?.slots.find(
        (slot) => Date.parse(slot.end) === target,
      )?.buy;
    const before = slotBuy() ?? Number.NaN;
    await h.advance(MINUTE);
    h.amber.shifts.set(target, 15);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("uploaded");
    expect(result.urgent).toBe(false);
    expect(result.reason).toMatch(
      /buy at 15:00, 6\.0 h ahead moved 15\.00 c\/kWh/,
    );
    expect(h.tariffWrites()).toBe(2);
    expect(slotBuy()).toBeCloseTo(before + 0.15, 4);
  });

  it("logs each decision once with its reason", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.engine.syncNow("manual");
    const decisions = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Sync "));

    expect(decisions.map((entry) => entry.msg.split(":")[0])).toEqual([
      "Sync uploaded",
      "Sync unchanged",
    ]);
    expect(decisions[1]?.msg).toBe("Sync unchanged: no price changed");
  });
});

describe("SyncEngine live prices (C12)", () => {
  it("uploads the current slot when its live price moves", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(31 * MINUTE);
    const push = livePush(h, 8);
    h.engine.handleLivePrices(push);
    await h.advance(h.engine.settings.liveDebounceMs);

    const last = h.store.state.log.at(-1);
    const general = push.find((interval) => interval.channelType === "general");

    expect(last?.trigger).toBe("live-price");
    expect(last?.outcome).toBe("uploaded");
    expect(last?.reason).toMatch(
      /buy at the current half hour \(09:30\) moved 8\.00 c\/kWh/,
    );
    expect(h.tariffWrites()).toBe(2);
    expect(uploadedCurrentSlot(h)?.buy).toBeCloseTo(
      (general?.perKwh ?? 0) / 100,
      4,
    );
  });

  it.each([
    ["a small buy move", 2, 0],
    ["a small sell move", 0, -2],
  ])("ignores %s", async (_name, buyCents, sellCents) => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(31 * MINUTE);
    const amberCalls = h.amberStandIn.requests.length;
    h.engine.handleLivePrices(livePush(h, buyCents, sellCents));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
    expect(h.amberStandIn.requests).toHaveLength(amberCalls);
    expect(h.tariffWrites()).toBe(1);
  });

  it("writes a large move after the urgent spacing", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(6 * MINUTE);
    h.engine.handleLivePrices(livePush(h, 50));
    await h.advance(h.engine.settings.liveDebounceMs);
    const last = h.store.state.log.at(-1);

    expect(last?.trigger).toBe("live-price");
    expect(last?.outcome).toBe("uploaded");
    expect(h.engine.status().lastSync?.urgent).toBe(true);
    expect(h.tariffWrites()).toBe(2);
  });

  it("debounces a burst of pushes into one sync", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(31 * MINUTE);
    for (const shift of [5, 6, 7]) {
      h.engine.handleLivePrices(livePush(h, shift));
      await h.advance(2_000);
    }
    await h.advance(h.engine.settings.liveDebounceMs);

    const liveSyncs = h.store.state.log.filter(
      (entry) => entry.trigger === "live-price",
    );
    expect(liveSyncs).toHaveLength(1);
  });

  it("queues an ordinary move for the spacing", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const uploadedAt = h.clock.now();
    await h.advance(6 * MINUTE);
    const amberCalls = h.amberStandIn.requests.length;
    h.engine.handleLivePrices(livePush(h, 8));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
    expect(h.amberStandIn.requests).toHaveLength(amberCalls);
    expect(h.engine.status().deferredSyncAt).toBe(
      new Date(uploadedAt + 30 * MINUTE).toISOString(),
    );

    // The price is still up when the spacing ends.
    await h.clock.advanceTo(uploadedAt + 30 * MINUTE - 20_000);
    h.engine.handleLivePrices(livePush(h, 8));
    await h.advance(20_000);

    expect(h.tariffWrites()).toBe(2);
    expect(h.teslaStandIn.writes.at(-1)?.at).toBe(uploadedAt + 30 * MINUTE);
  });

  it("does not sync on pushes while auto-sync is off", async () => {
    const h = await open();
    await h.engine.syncNow("manual");
    h.engine.setAutoSync(false);
    await h.advance(31 * MINUTE);
    h.engine.handleLivePrices(livePush(h, 50));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
  });
});

describe("SyncEngine write spacing", () => {
  it("holds an ordinary write for the spacing", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const uploadedAt = h.clock.now();
    await h.advance(MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    const early = await h.engine.syncNow("schedule");

    // Inside the urgent spacing nothing could be written, so no Amber call.
    expect(early.outcome).toBe("skipped");
    expect(early.reason).toBe("moved to 09:17:40 by the write spacing");
    expect(h.store.state.log).toHaveLength(1);

    await h.advance(4 * MINUTE);
    const waiting = h.store.state.log.at(-1);

    expect(waiting?.outcome).toBe("skipped");
    expect(waiting?.reason).toMatch(
      /moved 15\.00 c\/kWh.*, but the last write was 300 s ago and an ordinary change keeps 1800 s between writes, so the write waits until 09:42:40$/,
    );
    expect(h.tariffWrites()).toBe(1);

    await h.clock.advanceTo(uploadedAt + 30 * MINUTE);
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("uploaded");
    expect(h.tariffWrites()).toBe(2);
  });

  it("writes an urgent change after five minutes", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(5 * MINUTE);
    crossZeroThreeHoursAhead(h);
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("uploaded");
    expect(result.urgent).toBe(true);
    expect(result.reason).toMatch(
      /the real buy price at 12:00, 3\.0 h ahead crosses zero .*, so importing there now pays/,
    );
    expect(h.tariffWrites()).toBe(2);
  });

  it("lets a manual sync past the schedule spacing", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(90_000);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    const manual = await h.engine.syncNow("manual");

    expect(manual.outcome).toBe("uploaded");
    expect(h.tariffWrites()).toBe(2);
  });

  it("holds a manual sync inside the floor", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(30_000);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    const manual = await h.engine.syncNow("manual");

    expect(manual.outcome).toBe("skipped");
    expect(manual.reason).toMatch(
      /a manual sync keeps 60 s between writes, so the write waits until 09:13:40$/,
    );
    expect(h.tariffWrites()).toBe(1);

    // The manual sync is queued for the end of the floor.
    await h.advance(30_000);
    expect(h.tariffWrites()).toBe(2);
  });

  it("restarts the spacing after a manual write", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(31 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    await h.engine.syncNow("manual");
    await h.advance(MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 40);
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("skipped");
    expect(h.tariffWrites()).toBe(2);
  });

  it("keeps the spacing across a restart", async () => {
    const h = await open();
    await h.store.update((draft) => {
      draft.lastWriteAttemptAt = h.clock.now() - MINUTE;
    });
    const result = await h.engine.syncNow("startup");

    expect(result.outcome).toBe("skipped");
    expect(h.tariffWrites()).toBe(0);
  });
});

describe("SyncEngine deferral log", () => {
  /** Returns the log lines whose message starts with `prefix`. */
  function lines(h: Harness, prefix: string) {
    return h.log.entries().filter((entry) => entry.msg.startsWith(prefix));
  }

  it("logs a spacing deferral once at info", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(MINUTE);
    await h.engine.syncNow("schedule");
    await h.advance(MINUTE);
    await h.engine.syncNow("schedule");
    const deferred = lines(h, "Sync deferred by the write spacing");

    expect(deferred.map((entry) => entry.level)).toEqual([30, 20]);
    expect(deferred[0]?.msg).toMatch(/so the sync runs at 09:17:40$/);
  });

  it("logs a held ordinary write once at info", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(6 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    await h.engine.syncNow("schedule");
    await h.advance(5 * MINUTE);
    await h.engine.syncNow("schedule");
    const deferred = lines(h, "Tesla write deferred (ordinary change)");

    expect(deferred.map((entry) => entry.level)).toEqual([30, 20]);
    expect(deferred[0]?.msg).toMatch(
      /waits until 09:42:40; the scheduled syncs write it then/,
    );
  });

  it("logs a queued live-price sync once at info", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(6 * MINUTE);
    h.engine.handleLivePrices(livePush(h, 8));
    await h.advance(MINUTE);
    h.engine.handleLivePrices(livePush(h, 9));
    const deferred = lines(h, "Live price moved").filter((entry) =>
      entry.msg.includes(", but "),
    );
    const info = deferred.filter((entry) => entry.level === 30);

    expect(info).toHaveLength(1);
    expect(info[0]?.msg).toMatch(
      /waits until 09:42:40; the sync is queued for 09:42:40$/,
    );
  });
});

describe("SyncEngine daily write budget", () => {
  // 4 writes a day with 1 kept for urgent changes. At 09:12 the even spread
  // allows 2 writes for ordinary changes and 3 for urgent ones.
  const settings = {
    dailyWriteBudget: 4,
    urgentWriteReserve: 1,
    minWriteSpacingMs: MINUTE,
    urgentWriteSpacingMs: MINUTE,
  };

  it("spends the reserve only on urgent changes", async () => {
    const h = await open({ settings });
    const target = halfHourEndAfter(h.clock.now(), 6);
    await h.engine.syncNow("startup");
    await h.advance(2 * MINUTE);
    h.amber.shifts.set(target, 15);
    const second = await h.engine.syncNow("schedule");
    await h.advance(2 * MINUTE);
    h.amber.shifts.set(target, 40);
    const ordinary = await h.engine.syncNow("schedule");
    await h.advance(2 * MINUTE);
    crossZeroThreeHoursAhead(h);
    const urgent = await h.engine.syncNow("schedule");
    await h.advance(2 * MINUTE);
    h.amber.shifts.delete(halfHourEndAfter(h.clock.now(), 3));
    const urgentAgain = await h.engine.syncNow("schedule");

    expect(second.outcome).toBe("uploaded");
    expect(ordinary.outcome).toBe("skipped");
    expect(ordinary.reason).toMatch(
      /but today's 2 writes reach the daily budget's allowance of 2 by now/,
    );
    expect(urgent.outcome).toBe("uploaded");
    expect(urgentAgain.outcome).toBe("skipped");
    expect(urgentAgain.urgent).toBe(true);
    expect(h.tariffWrites()).toBe(3);
  });

  it("logs a spent budget once a day at info", async () => {
    const h = await open({ settings: { ...settings, dailyWriteBudget: 2 } });
    const target = halfHourEndAfter(h.clock.now(), 6);
    await h.engine.syncNow("startup");
    for (const shift of [15, 40, 15]) {
      await h.advance(2 * MINUTE);
      h.amber.shifts.set(target, shift);
      await h.engine.syncNow("schedule");
    }
    const notices = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Daily Tesla write budget"));

    expect(notices.map((entry) => entry.level)).toEqual([30]);
    expect(notices[0]?.msg).toMatch(/holds back ordinary changes/);
    expect(h.log.entries().filter((entry) => entry.level >= 40)).toEqual([]);
  });

  it("lets a manual sync past the budget and counts it", async () => {
    const h = await open({ settings: { ...settings, dailyWriteBudget: 2 } });
    await h.engine.syncNow("startup");
    await h.advance(2 * MINUTE);
    crossZeroThreeHoursAhead(h);
    await h.engine.syncNow("schedule");
    await h.advance(2 * MINUTE);
    h.amber.shifts.clear();
    const scheduled = await h.engine.syncNow("schedule");
    const manual = await h.engine.syncNow("manual");
    const budget = h.engine.status().writeBudget;

    expect(scheduled.outcome).toBe("skipped");
    expect(manual.outcome).toBe("uploaded");
    expect(budget).toMatchObject({
      day: "2025-06-16",
      used: 3,
      limit: 2,
      urgentReserve: 1,
      ordinaryAvailable: 0,
      urgentAvailable: 0,
    });
    expect(h.engine.status().counters.today.teslaWrites).toBe(3);
  });

  it("shows the next write times in status", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const uploadedAt = h.clock.now();
    const budget = h.engine.status().writeBudget;

    expect(budget).toEqual({
      day: "2025-06-16",
      used: 1,
      limit: 48,
      urgentReserve: 12,
      ordinaryAvailable: 13,
      urgentAvailable: 25,
      nextOrdinaryWriteAt: new Date(uploadedAt + 30 * MINUTE).toISOString(),
      nextUrgentWriteAt: new Date(uploadedAt + 5 * MINUTE).toISOString(),
    });
  });
});

describe("SyncEngine refusals and failures", () => {
  it("refuses a manual sync on short prices (C1)", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const good = h.store.state.lastUpload;
    h.amberStandIn.setForecastHours(12);
    await h.advance(2 * MINUTE);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("refused");
    expect(result.reason).toMatch(/keeps its current tariff/);
    expect(result.writes).toBe(0);
    expect(h.tariffWrites()).toBe(1);
    expect(h.store.state.lastUpload).toEqual(good);
    expect(powerwallTariff(h)).toEqual(good?.tariff);
    expect(rates(powerwallTariff(h)).length).toBeGreaterThan(48);
  });

  it("fetches /prices when the forecast is short", async () => {
    const h = await open();
    h.amberStandIn.setForecastHours(20);
    await h.engine.syncNow("startup");

    const paths = h.amberStandIn.requests.map((request) => request.path);
    expect(paths.some((path) => path.endsWith("/prices/current"))).toBe(true);
    expect(paths.some((path) => path.endsWith("/prices"))).toBe(true);
  });

  it("records result false as failed (C14)", async () => {
    const h = await open();
    h.teslaStandIn.faults.arm({
      kind: "result-false",
      reason: "Tariff schedule rejected by test",
      pathIncludes: "time_of_use_settings",
    });
    const result = await h.engine.syncNow("startup");

    expect(result.outcome).toBe("failed");
    expect(result.reason).toMatch(/Tariff schedule rejected by test/);
    expect(result.writes).toBe(1);
    expect(h.store.state.lastUpload).toBeUndefined();
    expect(
      h.store.state.counters[h.engine.status().counters.day]?.uploads,
    ).toBe(0);
  });

  it("keeps the last good tariff after result false", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const good = h.store.state.lastUpload;
    await h.advance(31 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    h.teslaStandIn.faults.arm({
      kind: "result-false",
      reason: "busy",
      pathIncludes: "time_of_use_settings",
    });
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("failed");
    expect(h.store.state.lastUpload).toEqual(good);
  });

  it.each([
    ["server-error" as const],
    ["unavailable" as const],
    ["rate-limit" as const],
    ["rate-limit-no-headers" as const],
    ["malformed-json" as const],
  ])("keeps the last tariff on Amber %s", async (kind) => {
    const h = await open();
    await h.engine.syncNow("startup");
    const good = h.store.state.lastUpload;
    h.amberStandIn.faults.arm({ kind, count: 1 });
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("failed");
    expect(result.reason).toMatch(/could not fetch Amber prices/);
    expect(result.writes).toBe(0);
    expect(h.tariffWrites()).toBe(1);
    expect(h.store.state.lastUpload).toEqual(good);
  });

  it("warns once for repeated failures", async () => {
    const h = await open();
    h.amberStandIn.faults.arm({ kind: "server-error", count: 3 });
    await h.engine.syncNow("manual");
    await h.engine.syncNow("manual");
    await h.engine.syncNow("manual");
    await h.engine.syncNow("manual");
    const entries = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Sync failed"));
    const recovered = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Recovered"));

    expect(entries.filter((entry) => entry.level === 40)).toHaveLength(1);
    expect(entries.filter((entry) => entry.level === 20)).toHaveLength(2);
    expect(recovered).toHaveLength(1);
  });

  it("fails without a zone when site_info is unreachable", async () => {
    const h = await open();
    h.teslaStandIn.faults.arm({
      kind: "server-error",
      pathIncludes: "site_info",
    });
    const result = await h.engine.syncNow("startup");

    expect(result.outcome).toBe("failed");
    expect(result.reason).toMatch(/site_info/);
    expect(h.tariffWrites()).toBe(0);
  });
});

describe("SyncEngine Tesla access", () => {
  it("refreshes an expired Fleet token mid-run (C2)", async () => {
    const h = await open({ teslaAuth: "fleet" });
    await h.engine.syncNow("startup");
    const grantsBefore = h.teslaStandIn.tokenGrants();
    h.teslaStandIn.expireAccessTokens();
    await h.advance(31 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    const result = await h.engine.syncNow("schedule");
    const stored = JSON.parse(
      await readFile(join(h.dataDir, "tesla-tokens.json"), "utf8"),
    ) as {
      refreshToken: string;
    };

    expect(result.outcome).toBe("uploaded");
    expect(h.teslaStandIn.tokenGrants()).toBe(grantsBefore + 1);
    expect(stored.refreshToken).toBe(h.teslaStandIn.currentRefreshToken());
  });

  it("confirms the upload by reading it back", async () => {
    const h = await open();
    const result = await h.engine.syncNow("startup");
    const reads = h.teslaStandIn.requests.filter((request) =>
      request.path.endsWith("/site_info"),
    );

    expect(result.confirmed).toBe(true);
    expect(reads).toHaveLength(2);
  });

  it("reports a read-back that fails", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(31 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 15);
    h.teslaStandIn.faults.arm({
      kind: "malformed-json",
      pathIncludes: "site_info",
    });
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("uploaded");
    expect(result.confirmed).toBe(false);
    expect(h.store.state.lastConfirmation?.confirmed).toBe(false);
    expect(h.store.state.lastConfirmation?.detail).toMatch(
      /could not read site_info back/,
    );
  });

  it("uploads again after an edit in the Tesla app", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(61 * MINUTE);
    const edited = structuredClone(h.teslaStandIn.state().tariff) as {
      energy_charges: Record<string, { rates: Record<string, number> }>;
    };
    for (const season of Object.values(edited.energy_charges)) {
      for (const label of Object.keys(season.rates)) {
        season.rates[label] = label === "ALL" ? 0 : 0.99;
      }
    }
    await h.tesla.setTariff(String(h.teslaStandIn.siteId), edited);
    const result = await h.engine.syncNow("schedule");

    expect(result.outcome).toBe("uploaded");
    expect(result.reason).toMatch(/Powerwall's current tariff/);
  });
});

describe("SyncEngine negative prices (C9)", () => {
  it("logs the clamp once per upload", async () => {
    const h = await open({
      pattern: "negative-midday",
      start: Date.UTC(2025, 5, 16, 0, 12, 40),
    });
    const result = await h.engine.syncNow("startup");
    await h.engine.syncNow("manual");
    const clampLines = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Clamped "));
    const negative = h.engine
      .status()
      .slots.filter((slot) => slot.buyActual < 0 || slot.sellActual < 0);

    expect(result.outcome).toBe("uploaded");
    expect(result.tariffSummary?.clampedSlots).toBeGreaterThan(0);
    expect(clampLines).toHaveLength(1);
    expect(negative.length).toBe(result.tariffSummary?.clampedSlots);
    expect(rates(powerwallTariff(h)).every((rate) => rate >= 0)).toBe(true);
  });

  it("lists only negative prices in the clamp line", async () => {
    const h = await open({
      pattern: "negative-midday",
      start: Date.UTC(2025, 5, 16, 0, 12, 40),
    });
    await h.engine.syncNow("startup");
    const line = h.log
      .entries()
      .find((entry) => entry.msg.startsWith("Clamped "));
    const expected: string[] = [];
    for (const slot of h.engine.status().slots) {
      if (slot.buyActual !== undefined && slot.buyActual < 0) {
        expected.push(
          `buy ${slot.label} (${String(Math.round(slot.buyActual * 1000) / 10)} c/kWh)`,
        );
      }
      if (slot.sellActual !== undefined && slot.sellActual < 0) {
        expected.push(
          `sell ${slot.label} (${String(Math.round(slot.sellActual * 1000) / 10)} c/kWh)`,
        );
      }
    }
    const listed = line?.msg.split(": ").at(-1)?.split(", ") ?? [];

    expect(expected.length).toBeGreaterThan(0);
    expect(line?.msg).toContain(
      `Clamped ${String(expected.length)} negative prices`,
    );
    expect(listed).toEqual(expected);
    expect(listed.every((entry) => entry.includes("(-"))).toBe(true);
  });
});

describe("SyncEngine Tesla auth retry (C11)", () => {
  it("survives one rejected token", async () => {
    const h = await open({ teslaAttempts: 3 });
    h.teslaStandIn.faults.arm({
      kind: "unauthorized",
      pathIncludes: "time_of_use_settings",
    });
    const pending = h.engine.syncNow("startup");
    let settled = false;
    void pending.finally(() => {
      settled = true;
    });
    while (!settled) {
      await h.clock.advance(1_000);
    }
    const result = await pending;

    expect(result.outcome).toBe("uploaded");
    expect(h.tariffWrites()).toBe(1);
  });
});

describe("SyncEngine time zones (C3)", () => {
  it.each([
    ["Australia/Adelaide", "Australia/Adelaide", "site_info"],
    ["", "Australia/Brisbane", "config"],
  ])("keys slots by zone %s", async (served, expected, source) => {
    const h = await open({
      timeZone: served,
      settings: { fallbackTimeZone: "Australia/Brisbane" },
    });
    const result = await h.engine.syncNow("startup");

    expect(result.tariffSummary?.timeZone).toBe(expected);
    expect(h.engine.status().timeZoneSource).toBe(source);
  });

  it("falls back to Sydney with one warning", async () => {
    const h = await open({ timeZone: "" });
    await h.engine.syncNow("startup");
    await h.engine.syncNow("manual");
    const warnings = h.log
      .entries()
      .filter(
        (entry) =>
          entry.level === 40 && entry.msg.includes("installation_time_zone"),
      );

    expect(h.engine.status().timeZone).toBe("Australia/Sydney");
    expect(h.engine.status().timeZoneSource).toBe("default");
    expect(warnings).toHaveLength(1);
  });
});

describe("SyncEngine scheduling", () => {
  it("syncs each interval once started", async () => {
    const h = await open();
    await h.engine.start();
    await h.advance(15 * MINUTE);
    const scheduled = h.store.state.log
      .filter((entry) => entry.trigger === "schedule")
      .map((entry) => new Date(entry.at).toISOString());

    expect(h.store.state.log[0]?.trigger).toBe("startup");
    // The first tick falls inside the urgent spacing after the startup
    // write, so it moves to the end of it instead of fetching twice. The
    // others run on the scheduler's grid.
    expect(scheduled).toEqual([
      "2025-06-15T23:17:40.000Z",
      "2025-06-15T23:20:35.000Z",
      "2025-06-15T23:25:35.000Z",
    ]);
  });

  it("does nothing on schedule while auto-sync is off", async () => {
    const h = await open({ settings: { autoSync: false } });
    const startup = await h.engine.start();
    await h.advance(15 * MINUTE);
    const amberCalls = h.amberStandIn.requests.length;
    const manual = await h.engine.syncNow("manual");

    expect(startup.outcome).toBe("skipped");
    expect(amberCalls).toBe(0);
    expect(manual.outcome).toBe("uploaded");
  });

  it("counts calls and writes per day", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.engine.syncNow("manual");
    const status = h.engine.status();

    expect(status.counters.day).toBe("2025-06-16");
    expect(status.counters.today).toMatchObject({
      syncs: 2,
      uploads: 1,
      teslaWrites: 1,
      amberCalls: 2,
    });
    expect(status.counters.today.teslaCalls).toBe(3);
    expect(
      Object.values(status.counters.amber).reduce((a, b) => a + b, 0),
    ).toBe(2);
    expect(status.slots).toHaveLength(48);
  });
});
