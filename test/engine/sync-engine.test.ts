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

/** Live CurrentIntervals for now with the general price moved by `shiftCents`. */
function livePush(
  h: Harness,
  shiftCents: number,
  feedInShiftCents = 0,
): CurrentInterval[] {
  return currentIntervals(h.clock.now(), {
    intervalLength: 5,
    pattern: "calm",
  }).map((interval) => {
    const shift =
      interval.channelType === "general" ? shiftCents : feedInShiftCents;
    return { ...interval, perKwh: interval.perKwh + shift };
  });
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
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 0.2);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("unchanged");
    expect(result.reason).toMatch(
      /largest change 0\.20 c\/kWh .*below the 0\.50 c\/kWh threshold/,
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
    h.amber.shifts.set(target, 0.8);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("uploaded");
    expect(result.reason).toMatch(/0\.80 c\/kWh/);
    expect(h.tariffWrites()).toBe(2);
    expect(slotBuy()).toBeCloseTo(before + 0.008, 4);
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
  it("re-syncs when the current slot moves", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(6 * MINUTE);
    const push = livePush(h, 6);
    h.engine.handleLivePrices(push);
    await h.advance(h.engine.settings.liveDebounceMs);

    const last = h.store.state.log.at(-1);
    const general = push.find((interval) => interval.channelType === "general");
    const currentBuy = h.store.state.lastUpload?.slots.find(
      (slot) =>
        Date.parse(slot.start) <= h.clock.now() &&
        h.clock.now() < Date.parse(slot.end),
    )?.buy;

    expect(last?.trigger).toBe("live-price");
    expect(last?.outcome).toBe("uploaded");
    expect(h.tariffWrites()).toBe(2);
    expect(currentBuy).toBeCloseTo(
      Math.max(0, (general?.perKwh ?? 0) / 100),
      4,
    );
  });

  it("ignores a live move below the threshold", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const before = h.store.state.lastUpload?.slots[0]?.buy ?? 0;
    const push = livePush(h, 0);
    const general = push.find((interval) => interval.channelType === "general");
    const offset = before * 100 - (general?.perKwh ?? 0) + 1;
    h.engine.handleLivePrices(livePush(h, offset));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
    expect(h.tariffWrites()).toBe(1);
  });

  it("debounces a burst of pushes into one sync", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(6 * MINUTE);
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

  it("waits for the spacing after a recent write", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const uploadedAt = h.clock.now();
    const amberCalls = h.amberStandIn.requests.length;
    h.engine.handleLivePrices(livePush(h, 8));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
    expect(h.amberStandIn.requests).toHaveLength(amberCalls);
    expect(h.engine.status().deferredSyncAt).toBe(
      new Date(uploadedAt + 5 * MINUTE).toISOString(),
    );

    await h.advance(5 * MINUTE);
    expect(h.tariffWrites()).toBe(2);
    expect(h.teslaStandIn.writes.at(-1)?.at).toBe(uploadedAt + 5 * MINUTE);
  });

  it("does not sync on pushes while auto-sync is off", async () => {
    const h = await open();
    await h.engine.syncNow("manual");
    h.engine.setAutoSync(false);
    await h.advance(6 * MINUTE);
    h.engine.handleLivePrices(livePush(h, 9));
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.store.state.log).toHaveLength(1);
  });
});

describe("SyncEngine write spacing", () => {
  it("holds a scheduled write for five minutes", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    const uploadedAt = h.clock.now();
    await h.advance(MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
    const blocked = await h.engine.syncNow("schedule");

    expect(blocked.outcome).toBe("skipped");
    expect(blocked.reason).toBe("moved to 09:17:40 by the write spacing");
    expect(h.store.state.log).toHaveLength(1);
    expect(h.tariffWrites()).toBe(1);

    await h.advance(4 * MINUTE);
    expect(h.tariffWrites()).toBe(2);
    expect(h.teslaStandIn.writes.at(-1)?.at).toBe(uploadedAt + 5 * MINUTE);
  });

  it("lets a manual sync past the schedule spacing", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(90_000);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
    const manual = await h.engine.syncNow("manual");

    expect(manual.outcome).toBe("uploaded");
    expect(h.tariffWrites()).toBe(2);
  });

  it("holds a manual sync inside the floor", async () => {
    const h = await open();
    await h.engine.syncNow("startup");
    await h.advance(30_000);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
    const manual = await h.engine.syncNow("manual");

    expect(manual.outcome).toBe("skipped");
    expect(manual.reason).toMatch(/60 s spacing/);
    expect(h.tariffWrites()).toBe(1);
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
    await h.advance(5 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
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
    await h.advance(6 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
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
    await h.advance(6 * MINUTE);
    h.amber.shifts.set(halfHourEndAfter(h.clock.now(), 6), 3);
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
    // Each tick falls inside the spacing after the previous write, so it
    // moves to the end of the spacing instead of fetching twice.
    expect(scheduled).toEqual([
      "2025-06-15T23:17:40.000Z",
      "2025-06-15T23:22:40.000Z",
      "2025-06-15T23:27:40.000Z",
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
