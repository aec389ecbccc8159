import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { AemoClient } from "../../src/aemo/client.js";
import type { PowerwallWrites } from "../../src/controls/powerwall.js";
import type {
  ClaimHolder,
  ControlArbiter,
} from "../../src/controls/precedence.js";
import {
  SpikeResponse,
  type SpikeEndedEvent,
  type SpikeStartedEvent,
} from "../../src/controls/spike.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import {
  startAemoStandIn,
  type AemoStandIn,
} from "../../src/standins/aemo-server.js";
import { validateTariff } from "../../src/tariff/validate.js";
import {
  rateOf,
  settleWith,
  startHarness,
  USER_TARIFF_NAME,
  withSiteInfo,
  type Harness,
} from "./harness.js";

const FIVE_MINUTES = 5 * 60_000;
const SPIKE_NAME = (price: number): string =>
  `tariff:Spike response NSW1 ${price} $/MWh`;

let harness: Harness;
let aemo: AemoStandIn;
let started: SpikeStartedEvent[];
let ended: SpikeEndedEvent[];

beforeEach(async () => {
  harness = await startHarness({
    settings: { operationMode: "self_consumption" },
  });
  aemo = await startAemoStandIn({
    now: () => harness.clock.now(),
    prices: { NSW1: 90 },
  });
  started = [];
  ended = [];
});

afterEach(async () => {
  await aemo.close();
  await harness.close();
});

function spikeResponse(
  options: {
    arbiter?: ControlArbiter;
    powerwall?: PowerwallWrites;
    enabled?: boolean;
  } = {},
): SpikeResponse {
  const spike = new SpikeResponse({
    region: "NSW1",
    siteId: harness.siteId,
    powerwall: options.powerwall ?? harness.powerwall,
    prices: new AemoClient({
      baseUrl: aemo.url,
      logger: silentLogger,
      clock: harness.clock,
      maxAttempts: 1,
    }),
    arbiter: options.arbiter ?? harness.arbiter,
    dataDir: harness.dataDir,
    logger: silentLogger,
    clock: harness.clock,
    enabled: options.enabled ?? true,
  });
  spike.on("spike_started", (event) => started.push(event));
  spike.on("spike_ended", (event) => ended.push(event));
  return spike;
}

/** Loads a new instance from the state file, as after a restart, and resumes it. */
async function restarted(
  arbiter: ControlArbiter = harness.restartArbiter(),
): Promise<SpikeResponse> {
  const spike = spikeResponse({ arbiter });
  await spike.load();
  await spike.resume();
  return spike;
}

/** Sets the AEMO price, moves to the next dispatch interval and polls. */
async function nextInterval(
  spike: SpikeResponse,
  priceMwh: number,
): Promise<void> {
  aemo.setPrice("NSW1", priceMwh);
  await harness.clock.advance(FIVE_MINUTES);
  await spike.poll();
}

async function stateFile(): Promise<Record<string, unknown>> {
  const text = await readFile(join(harness.dataDir, "spike-NSW1.json"), "utf8");
  return JSON.parse(text) as Record<string, unknown>;
}

/** A stand-in for a higher control (force) that holds the tariff. */
function forceHolder(): ClaimHolder {
  return {
    id: "force",
    kind: "force",
    onPreempted: async () => undefined,
    onResumed: async () => undefined,
  };
}

describe("SpikeResponse", () => {
  it("ignores prices below threshold", async () => {
    const spike = spikeResponse();

    await nextInterval(spike, 299.99);

    expect(harness.writes()).toEqual([]);
    expect(spike.snapshot().state).toBe("idle");
    expect(started).toEqual([]);
  });

  it("enters at the threshold", async () => {
    const spike = spikeResponse();

    await nextInterval(spike, 300);

    expect(harness.writes()).toEqual([SPIKE_NAME(300), "mode:autonomous"]);
    expect(spike.snapshot().state).toBe("active");
    expect(started).toMatchObject([
      { region: "NSW1", price: 300, responding: true, simulated: false },
    ]);
  });

  it("uploads a strict, exporting tariff", async () => {
    const spike = spikeResponse();

    await nextInterval(spike, 1_500);

    const tariff = harness.standIn.state().tariff;
    // Now is 13:12 in Sydney: the window covers 13:00 to 15:00.
    expect(validateTariff(tariff, "strict").ok).toBe(true);
    expect(rateOf(tariff, "sell", "PERIOD_13_00")).toBe(1.5);
    expect(rateOf(tariff, "sell", "PERIOD_15_00")).toBe(1.5);
    expect(rateOf(tariff, "sell", "PERIOD_15_30")).toBe(0);
    expect(rateOf(tariff, "buy", "PERIOD_13_30")).toBe(1.5);
    expect(rateOf(tariff, "buy", "PERIOD_18_00")).toBe(0.3);
    expect(harness.standIn.state().settings.operationMode).toBe("autonomous");
  });

  it("sells at least the minimum", async () => {
    const spike = spikeResponse();

    await nextInterval(spike, 400);

    expect(rateOf(harness.standIn.state().tariff, "sell", "PERIOD_13_30")).toBe(
      1,
    );
  });

  it("restores after two intervals below exit", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 2_000);
    harness.clearWrites();

    await nextInterval(spike, 250);
    const afterOne = spike.snapshot().state;
    await nextInterval(spike, 100);

    expect(afterOne).toBe("active");
    expect(harness.writes()).toEqual([
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
    expect(harness.standIn.state().tariff["name"]).toBe(USER_TARIFF_NAME);
    expect(spike.snapshot().state).toBe("idle");
    expect(ended).toMatchObject([
      {
        region: "NSW1",
        price: 100,
        peakPriceMwh: 2_000,
        reason: "price-fell",
        durationMs: 2 * FIVE_MINUTES,
      },
    ]);
  });

  it.each([
    ["between exit and threshold resets", [250, 280, 250], "active"],
    ["exactly the exit level is not below", [250, 270], "active"],
    ["two below in a row end it", [280, 269.99, 150], "idle"],
  ])("hysteresis: %s", async (_name, prices, expected) => {
    const spike = spikeResponse();
    await nextInterval(spike, 800);

    for (const price of prices) {
      await nextInterval(spike, price);
    }

    expect(spike.snapshot().state).toBe(expected);
  });

  it("counts one interval once", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 800);
    await nextInterval(spike, 100);

    await harness.clock.advance(60_000);
    await spike.poll();
    await harness.clock.advance(60_000);
    await spike.poll();

    expect(spike.snapshot().state).toBe("active");
    expect(spike.snapshot().spike?.belowCount).toBe(1);
  });

  it("revised price resets the count", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 800);
    await nextInterval(spike, 100);

    aemo.setPrice("NSW1", 500, { firm: true });
    await harness.clock.advance(60_000);
    await spike.poll();
    await nextInterval(spike, 100);

    expect(spike.snapshot().state).toBe("active");
    expect(spike.snapshot().spike?.belowCount).toBe(1);
  });

  it("refreshes the window hourly", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 800);
    harness.clearWrites();

    for (let interval = 0; interval < 12; interval += 1) {
      await nextInterval(spike, 800);
    }

    // 13:12 + 60 min = 14:12: the new window runs 14:00 to 16:00.
    expect(harness.writes()).toEqual([SPIKE_NAME(800)]);
    expect(rateOf(harness.standIn.state().tariff, "sell", "PERIOD_16_00")).toBe(
      1,
    );
    expect(rateOf(harness.standIn.state().tariff, "sell", "PERIOD_13_30")).toBe(
      0,
    );
  });

  it("names the peak price", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 800);
    await nextInterval(spike, 5_000);
    harness.clearWrites();

    await harness.clock.advance(60 * 60_000);
    await spike.poll();

    expect(harness.writes()).toEqual([SPIKE_NAME(5_000)]);
    expect(rateOf(harness.standIn.state().tariff, "sell", "PERIOD_14_30")).toBe(
      5,
    );
  });

  it("saves state before writing", async () => {
    const seen: unknown[] = [];
    const watching: PowerwallWrites = {
      getSiteInfo: (site) => harness.client.getSiteInfo(site),
      setTariff: async (site, tariff) => {
        seen.push((await stateFile())["state"]);
        await harness.client.setTariff(site, tariff);
      },
      setOperationMode: (site, mode) =>
        harness.client.setOperationMode(site, mode),
      setExportRule: (site, rule) => harness.client.setExportRule(site, rule),
      setBackupReserve: (site, percent) =>
        harness.client.setBackupReserve(site, percent),
      setGridCharging: (site, allowed) =>
        harness.client.setGridCharging(site, allowed),
    };
    const spike = spikeResponse({ powerwall: watching });

    await nextInterval(spike, 900);
    await nextInterval(spike, 10);
    await nextInterval(spike, 10);

    expect(seen).toEqual(["entering", "restoring"]);
  });

  it("keeps the saved tariff in the file", async () => {
    const spike = spikeResponse();

    await nextInterval(spike, 900);
    const file = await stateFile();

    expect(file["state"]).toBe("active");
    expect(file["saved"]).toMatchObject({
      operationMode: "self_consumption",
      tariff: { name: USER_TARIFF_NAME },
    });
  });

  it("retries a failed upload next poll", async () => {
    const spike = spikeResponse();
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "time_of_use_settings",
    });

    await nextInterval(spike, 900);
    const afterFailure = spike.snapshot();
    await nextInterval(spike, 900);

    expect(afterFailure.state).toBe("entering");
    expect(afterFailure.lastError).toContain("500");
    expect(harness.writes()).toEqual([SPIKE_NAME(900), "mode:autonomous"]);
    expect(spike.snapshot().state).toBe("active");
    expect(started).toHaveLength(1);
  });

  it("rejected write keeps saved tariff", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 900);
    harness.standIn.faults.arm({
      kind: "result-false",
      pathIncludes: "time_of_use_settings",
      reason: "tariff rejected",
    });

    await nextInterval(spike, 10);
    await nextInterval(spike, 10);
    const afterFailure = spike.snapshot();
    await nextInterval(spike, 10);

    expect(afterFailure.state).toBe("restoring");
    expect(afterFailure.lastError).toContain("tariff rejected");
    expect(harness.standIn.state().tariff["name"]).toBe(USER_TARIFF_NAME);
    expect(spike.snapshot().state).toBe("idle");
  });

  it("keeps state when AEMO fails", async () => {
    const spike = spikeResponse();
    aemo.faults.arm({ kind: "unavailable" });

    await nextInterval(spike, 900);

    expect(harness.writes()).toEqual([]);
    expect(spike.snapshot().lastError).toContain("503");
  });

  it("skips a site with no tariff", async () => {
    const noTariff = withSiteInfo(harness.client, (info) => ({
      ...info,
      tariff_content_v2: null,
    }));
    const spike = spikeResponse({ powerwall: noTariff });

    await nextInterval(spike, 900);

    expect(harness.writes()).toEqual([]);
    expect(spike.snapshot().lastError).toContain("no tariff_content_v2");
  });

  it("polls on its own schedule", async () => {
    const spike = spikeResponse();
    aemo.setPrice("NSW1", 700);
    spike.start();
    await settleWith(() => spike.settled())();

    aemo.setPrice("NSW1", 20);
    await harness.clock.advance(11 * 60_000, {
      settle: settleWith(() => spike.settled()),
    });
    await spike.stop();

    expect(harness.writes()).toEqual([
      SPIKE_NAME(700),
      "mode:autonomous",
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
  });

  it("stays idle while disabled", async () => {
    const spike = spikeResponse({ enabled: false });

    await nextInterval(spike, 5_000);

    expect(harness.writes()).toEqual([]);
    expect(spike.snapshot().enabled).toBe(false);
  });

  it("disable restores at once", async () => {
    const spike = spikeResponse();
    await nextInterval(spike, 900);
    harness.clearWrites();

    await spike.disable();
    await nextInterval(spike, 900);

    expect(harness.writes()).toEqual([
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
    expect(ended).toMatchObject([{ reason: "disabled" }]);
    expect(spike.snapshot().state).toBe("idle");
  });

  it("enable takes effect next poll", async () => {
    const spike = spikeResponse({ enabled: false });

    await spike.enable();
    await nextInterval(spike, 900);

    expect(harness.writes()).toEqual([SPIKE_NAME(900), "mode:autonomous"]);
  });
});

describe("SpikeResponse test mode", () => {
  it("simulates and ends", async () => {
    const spike = spikeResponse();

    await spike.simulate(1_200);
    await nextInterval(spike, 10);
    await nextInterval(spike, 10);
    const during = spike.snapshot();
    await spike.endSimulation();

    expect(during.state).toBe("active");
    expect(during.simulated).toBe(true);
    expect(harness.writes()).toEqual([
      SPIKE_NAME(1_200),
      "mode:autonomous",
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
    expect(started).toMatchObject([{ price: 1_200, simulated: true }]);
    expect(ended).toMatchObject([
      { reason: "simulation-ended", simulated: true },
    ]);
  });

  it("rejects a price below threshold", async () => {
    const spike = spikeResponse();

    await expect(spike.simulate(100)).rejects.toBeInstanceOf(ConfigError);
    expect(harness.writes()).toEqual([]);
  });

  it("survives a restart", async () => {
    const first = spikeResponse();
    await first.simulate(1_200);

    const second = await restarted();
    await nextInterval(second, 10);
    await nextInterval(second, 10);
    const during = second.snapshot().state;
    await second.endSimulation();

    expect(during).toBe("active");
    expect(second.snapshot().state).toBe("idle");
    expect(harness.standIn.state().tariff["name"]).toBe(USER_TARIFF_NAME);
  });
});

describe("SpikeResponse restart", () => {
  it("idle: writes nothing", async () => {
    const first = spikeResponse();
    await nextInterval(first, 100);

    const second = await restarted();

    expect(second.snapshot().state).toBe("idle");
    expect(harness.writes()).toEqual([]);
  });

  it("entering: finishes the upload", async () => {
    const first = spikeResponse();
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "time_of_use_settings",
    });
    await nextInterval(first, 900);

    const second = await restarted();

    expect(harness.writes()).toEqual([SPIKE_NAME(900), "mode:autonomous"]);
    expect(second.snapshot().state).toBe("active");
    expect(harness.arbiter.writer("tariff")).toBe("spike:NSW1");
  });

  it("active: resumes and restores later", async () => {
    const first = spikeResponse();
    await nextInterval(first, 900);
    harness.clearWrites();

    const second = await restarted();
    const afterResume = harness.writes();
    await nextInterval(second, 10);
    await nextInterval(second, 10);

    expect(afterResume).toEqual([]);
    expect(harness.writes()).toEqual([
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
    expect(ended).toMatchObject([{ peakPriceMwh: 900 }]);
  });

  it("restoring: finishes the restore", async () => {
    const first = spikeResponse();
    await nextInterval(first, 900);
    await nextInterval(first, 10);
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "time_of_use_settings",
    });
    await nextInterval(first, 10);
    harness.clearWrites();

    const second = await restarted();

    expect(harness.writes()).toEqual([
      `tariff:${USER_TARIFF_NAME}`,
      "mode:self_consumption",
    ]);
    expect(second.snapshot().state).toBe("idle");
    expect(harness.arbiter.writer("tariff")).toBeUndefined();
    expect(ended).toHaveLength(1);
  });

  it("suspended: waits for the holder", async () => {
    const first = spikeResponse();
    await nextInterval(first, 900);
    const force = forceHolder();
    await harness.arbiter.claim(force, ["tariff"]);
    harness.clearWrites();

    const arbiter = harness.restartArbiter();
    arbiter.register(force, ["tariff"]);
    const second = await restarted(arbiter);
    await nextInterval(second, 900);
    const whileHeld = harness.writes();
    await arbiter.release("force");

    expect(whileHeld).toEqual([]);
    expect(harness.writes()).toEqual([SPIKE_NAME(900), "mode:autonomous"]);
    expect(second.snapshot().state).toBe("active");
  });

  it("corrupt file: starts idle", async () => {
    const first = spikeResponse();
    await nextInterval(first, 900);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(harness.dataDir, "spike-NSW1.json"), "{ not json");
    harness.clearWrites();

    const second = await restarted();

    expect(second.snapshot().state).toBe("idle");
    expect(harness.writes()).toEqual([]);
  });
});
