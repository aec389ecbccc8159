import { afterEach, describe, expect, it } from "vitest";

import { createControls, type Controls } from "../../src/controls/service.js";
import { controlSettingsSchema } from "../../src/controls/settings.js";
import type { TariffHold } from "../../src/engine/types.js";
import { TariffHeldError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { currentIntervals } from "../../src/standins/price-model.js";
import { MINUTE, startHarness, type Harness } from "./harness.js";

let harness: Harness | undefined;
let controls: Controls | undefined;

afterEach(async () => {
  await controls?.stop();
  controls = undefined;
  await harness?.close();
  harness = undefined;
});

/** Returns a hold that the test switches on and off, on at first. */
function switchableHold(hold: TariffHold) {
  let active = true;
  return {
    controls: {
      overlays: () => [],
      tariffHold: () => (active ? hold : undefined),
    },
    set: (on: boolean) => {
      active = on;
    },
  };
}

/** Real controls on the harness's Powerwall, attached to its engine. */
async function attachControls(h: Harness, settings: unknown = {}) {
  controls = await createControls({
    dataDir: h.dataDir,
    siteId: h.teslaStandIn.siteId,
    powerwall: h.tesla,
    logger: silentLogger,
    clock: h.clock,
    settings: controlSettingsSchema.parse(settings),
    prices: {
      getRegionPrice: () => Promise.reject(new Error("AEMO is not used here")),
    },
  });
  controls.attach(h.engine);
  await controls.start();
  return controls;
}

/** Returns the buy rates of the last tariff the Tesla stand-in accepted, by period label. */
function writtenBuyRates(h: Harness): Record<string, number> {
  const write = h.teslaStandIn.writes
    .filter((entry) => entry.endpoint === "time_of_use_settings")
    .at(-1);
  const body = write?.body as {
    tou_settings: {
      tariff_content_v2: {
        energy_charges: Record<string, { rates: Record<string, number> }>;
      };
    };
  };
  return Object.assign(
    {},
    ...Object.values(body.tou_settings.tariff_content_v2.energy_charges).map(
      (season) => season.rates,
    ),
  ) as Record<string, number>;
}

describe("SyncEngine tariff hold", () => {
  const hold: TariffHold = {
    holder: "force",
    description: "force charge",
    until: Date.UTC(2025, 5, 15, 23, 42, 40),
    endCondition: "it is cancelled",
  };

  it("skips the upload while a control holds the tariff", async () => {
    const held = switchableHold(hold);
    const h = (harness = await startHarness({ controls: held.controls }));
    const result = await h.engine.syncNow("startup");
    const entries = h.log.entries();

    expect(result.outcome).toBe("skipped");
    expect(result.reason).toBe(
      "the force charge holds the tariff until 09:42:40, so the Amber tariff is not uploaded",
    );
    expect(result.heldBy).toBe("force");
    expect(result.writes).toBe(0);
    expect(result.tariffSummary?.slots).toBe(48);
    expect(h.tariffWrites()).toBe(0);
    expect(h.store.state.lastWriteAttemptAt).toBeUndefined();
    expect(h.engine.status().counters.today.teslaWrites).toBe(0);
    expect(h.store.state.log.at(-1)?.outcome).toBe("skipped");
    expect(entries.filter((entry) => entry.level >= 40)).toEqual([]);
    expect(
      entries.find((entry) => entry.msg.startsWith("Sync skipped"))?.level,
    ).toBe(30);
  });

  it.each([
    [
      { ...hold, until: undefined, endCondition: "the schedule is cleared" },
      /holds the tariff until the schedule is cleared,/,
    ],
    [hold, /holds the tariff until 09:42:40,/],
  ])("names when the hold ends", async (value, reason) => {
    const h = (harness = await startHarness({
      controls: switchableHold(value).controls,
    }));
    const result = await h.engine.syncNow("manual");

    expect(result.reason).toMatch(reason);
    expect(h.engine.status().tariffHold).toEqual({
      holder: value.holder,
      description: value.description,
      until:
        value.until === undefined ? null : new Date(value.until).toISOString(),
      endCondition: value.endCondition,
    });
  });

  it("logs a continuing hold at debug", async () => {
    const held = switchableHold(hold);
    const h = (harness = await startHarness({ controls: held.controls }));
    await h.engine.syncNow("manual");
    await h.engine.syncNow("manual");
    const levels = h.log
      .entries()
      .filter((entry) => entry.msg.startsWith("Sync skipped"))
      .map((entry) => entry.level);

    expect(levels).toEqual([30, 20]);
  });

  it("uploads and rereads site_info once released", async () => {
    const held = switchableHold(hold);
    const h = (harness = await startHarness({ controls: held.controls }));
    await h.engine.syncNow("startup");
    held.set(false);
    const reads = (): number =>
      h.teslaStandIn.requests.filter((request) =>
        request.path.endsWith("/site_info"),
      ).length;
    const before = reads();
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("uploaded");
    // One read for what the control left, one to confirm the upload.
    expect(reads() - before).toBe(2);
  });

  it("ignores live pushes while held", async () => {
    const held = switchableHold(hold);
    const h = (harness = await startHarness({ controls: held.controls }));
    await h.engine.syncNow("startup");
    held.set(false);
    await h.engine.syncNow("manual");
    held.set(true);
    await h.advance(31 * MINUTE);
    const slot = h.store.state.lastUpload?.slots.find(
      (candidate) =>
        Date.parse(candidate.start) <= h.clock.now() &&
        h.clock.now() < Date.parse(candidate.end),
    );
    const amberCalls = h.amberStandIn.requests.length;
    h.engine.handleLivePrices(
      currentIntervals(h.clock.now(), {
        intervalLength: 5,
        pattern: "calm",
      }).map((interval) =>
        interval.channelType === "general"
          ? { ...interval, perKwh: (slot?.buy ?? 0) * 100 + 50 }
          : interval,
      ),
    );
    await h.advance(h.engine.settings.liveDebounceMs);

    expect(h.amberStandIn.requests).toHaveLength(amberCalls);
    expect(h.tariffWrites()).toBe(1);
  });

  it("skips when a control claims the tariff during the sync", async () => {
    const h = (harness = await startHarness({
      wrapTesla: (port) => ({
        getSiteInfo: (siteId) => port.getSiteInfo(siteId),
        counters: () => port.counters(),
        setTariff: () =>
          Promise.reject(
            new TariffHeldError(
              "the force charge/discharge controls the tariff, so the Amber tariff is not uploaded until it ends",
            ),
          ),
      }),
    }));
    const result = await h.engine.syncNow("startup");

    expect(result.outcome).toBe("skipped");
    expect(result.writes).toBe(0);
    expect(result.reason).toMatch(
      /force charge\/discharge controls the tariff/,
    );
    expect(h.store.state.lastWriteAttemptAt).toBeUndefined();
    expect(h.log.entries().filter((entry) => entry.level >= 40)).toEqual([]);
  });
});

describe("SyncEngine with the price-event controls", () => {
  it("skips while force charge runs", async () => {
    const h = (harness = await startHarness());
    const running = await attachControls(h);
    await h.engine.syncNow("startup");
    await running.force.start("charge", 30);
    const forceWrites = h.tariffWrites();
    await h.advance(6 * MINUTE);
    const result = await h.engine.syncNow("manual");

    expect(result.outcome).toBe("skipped");
    expect(result.heldBy).toBe("force");
    expect(result.reason).toBe(
      "the force charge holds the tariff until 09:42:40, so the Amber tariff is not uploaded",
    );
    expect(h.tariffWrites()).toBe(forceWrites);
  });

  it("uploads the demand-window uplift", async () => {
    const h = (harness = await startHarness());
    await attachControls(h, {
      overlays: {
        demandWindow: {
          enabled: true,
          from: "14:00",
          to: "20:00",
          days: [0, 1, 2, 3, 4, 5, 6],
          upliftPerKwh: 2,
        },
      },
    });
    const result = await h.engine.syncNow("startup");
    const rates = writtenBuyRates(h);
    const slots = h.engine.status().slots;
    const inWindow = slots.find((slot) => slot.label === "PERIOD_14_00");
    const outside = slots.find((slot) => slot.label === "PERIOD_10_00");

    expect(result.outcome).toBe("uploaded");
    expect(inWindow?.buy).toBeCloseTo(
      Math.max(0, inWindow?.buyActual ?? Number.NaN) + 2,
      4,
    );
    expect(rates["PERIOD_14_00"]).toBeCloseTo(inWindow?.buy ?? 0, 4);
    expect(
      inWindow?.notes.some((note) => note.startsWith("demand window:")),
    ).toBe(true);
    expect(rates["PERIOD_10_00"]).toBeCloseTo(outside?.buy ?? 0, 4);
    expect(
      outside?.notes.some((note) => note.startsWith("demand window:")),
    ).toBe(false);
  });

  it("uploads spike protection over an Amber spike", async () => {
    const h = (harness = await startHarness({
      pattern: "spike",
      // 16:12 in Sydney: the spike runs from 18:00 to 19:00 NEM time.
      start: Date.UTC(2025, 5, 16, 6, 12, 40),
    }));
    await attachControls(h, {
      overlays: { spikeProtection: { enabled: true, marginPerKwh: 1 } },
    });
    await h.engine.syncNow("startup");
    const rates = writtenBuyRates(h);
    const slots = h.engine.status().slots;
    const spiked = slots.filter((slot) => slot.spikeStatus === "spike");
    const maxSell = Math.max(...slots.map((slot) => slot.sell));

    expect(spiked.length).toBeGreaterThan(0);
    for (const slot of spiked) {
      expect(slot.buy).toBeGreaterThanOrEqual(maxSell + 1 - 1e-4);
      expect(rates[slot.label]).toBeCloseTo(slot.buy, 4);
      expect(
        slot.notes.some((note) => note.startsWith("spike protection")),
      ).toBe(true);
    }
  });
});
