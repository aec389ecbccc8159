import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { startHaMode, type HaMode } from "../../src/bridge/ha-mode.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import {
  FIRST_RELEASE_FEATURES,
  SECOND_RELEASE_FEATURES,
  startFakeHa,
  type FakeHa,
  type ReceivedFrame,
} from "./fake-ha.js";
import { captureLog, type CapturedLog } from "./log-capture.js";

const AMBER_TOKEN = "psk_control_services_amber_0123456789";
const TESLA_TOKEN = "control-services-teslemetry-token-0123";

const TWO_RATES = {
  name: "Two rates",
  seasons: [
    {
      name: "All year",
      from: { month: 1, day: 1 },
      to: { month: 12, day: 31 },
      periods: [
        { name: "ON_PEAK", from: "15:00", to: "21:00", buy: 0.52, sell: 0.08 },
        { name: "OFF_PEAK", from: "21:00", to: "15:00", buy: 0.22, sell: 0.04 },
      ],
    },
  ],
};

let fake: FakeHa;
let amber: AmberStandIn;
let tesla: TeslaStandIn;
let log: CapturedLog;
let dataDir: string;
let mode: HaMode | undefined;
let requests = 0;

beforeEach(async () => {
  fake = await startFakeHa();
  fake.features = SECOND_RELEASE_FEATURES;
  amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: "calm",
    rateLimit: 1000,
  });
  tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    rateLimit: false,
  });
  log = captureLog();
  dataDir = await mkdtemp(join(tmpdir(), "control-services-"));
  fake.handle("tesla_sync/config", () => ({
    result: {
      amber: {
        token: AMBER_TOKEN,
        site_id: amber.sites[0]?.id,
        nmi: amber.sites[0]?.nmi,
      },
      tesla: {
        access_kind: "teslemetry",
        token: TESLA_TOKEN,
        energy_site_id: tesla.siteId,
      },
      options: { forecast_band: "predicted", auto_sync: true },
    },
  }));
});

afterEach(async () => {
  await mode?.stop();
  mode = undefined;
  await fake.stop();
  await amber.close();
  await tesla.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function startRunning(): Promise<HaMode> {
  const started = await startHaMode({
    settings: {
      kind: "standalone",
      wsUrl: fake.url,
      token: fake.token,
      entryId: undefined,
      authHint: "",
    },
    env: {
      TESLA_SYNC_AMBER_REST_URL: amber.restUrl,
      TESLA_SYNC_AMBER_LIVE_FEED: "false",
      TESLA_SYNC_TESLA_BASE_URL: tesla.url,
      TESLA_SYNC_DATA_DIR: dataDir,
      TESLA_SYNC_PORT: "0",
    },
    logger: log.logger,
    engineVersion: "0.1.0-test",
  });
  mode = started;
  await vi.waitFor(
    () => {
      expect(started.service).toBeDefined();
    },
    { timeout: 15_000, interval: 50 },
  );
  return started;
}

/** Sends a service call and returns the engine's command_result frame. */
async function call(
  service: string,
  data: Record<string, unknown> = {},
): Promise<ReceivedFrame> {
  requests += 1;
  const requestId = `req-${requests}`;
  const mark = fake.received.length;
  fake.pushCommand({
    command: "service_call",
    request_id: requestId,
    service,
    data,
  });
  const answer = await fake.nextFrame("tesla_sync/command_result", mark);
  expect(answer["request_id"]).toBe(requestId);
  return answer;
}

function responseOf(answer: ReceivedFrame): Record<string, unknown> {
  expect(answer["error"]).toBeUndefined();
  expect(answer["success"]).toBe(true);
  return answer["response"] as Record<string, unknown>;
}

function firedEvents(type: string): Array<Record<string, unknown>> {
  return fake
    .framesOf("tesla_sync/fire_event")
    .filter((frame) => frame["event_type"] === type)
    .map((frame) => frame["data"] as Record<string, unknown>);
}

describe("control services", () => {
  it("lists the action groups on subscribe", async () => {
    await startRunning();

    const subscribe = fake.framesOf("tesla_sync/subscribe_commands")[0];
    expect(subscribe?.["features"]).toEqual([
      "force",
      "custom_schedule",
      "spike_test",
    ]);
  });

  it("omits features for a first-release integration", async () => {
    fake.features = FIRST_RELEASE_FEATURES;
    await startRunning();

    const subscribe = fake.framesOf("tesla_sync/subscribe_commands")[0];
    expect(subscribe).toBeDefined();
    expect(subscribe).not.toHaveProperty("features");
  });

  it("force_charge writes and cancel_force restores", async () => {
    await startRunning();
    const writesBefore = tesla.writes.length;

    const started = responseOf(await call("force_charge", { duration: 30 }));

    expect(started["state"]).toBe("active");
    expect(started["direction"]).toBe("charge");
    expect(started["ends_at"]).toMatch(/^\d{4}-\d\d-\d\dT.*\+00:00$/);
    const forceWrites = tesla.writes.length - writesBefore;
    expect(forceWrites).toBeGreaterThan(0);

    const cancelled = responseOf(await call("cancel_force"));

    expect(cancelled).toEqual({ state: "idle" });
    expect(tesla.writes.length - writesBefore).toBeGreaterThan(forceWrites);
  });

  it("force_discharge reports the direction", async () => {
    await startRunning();

    const started = responseOf(await call("force_discharge", { duration: 5 }));

    expect(started["state"]).toBe("active");
    expect(started["direction"]).toBe("discharge");
  });

  it("cancel_force without a force succeeds", async () => {
    await startRunning();
    const writesBefore = tesla.writes.length;

    const answer = responseOf(await call("cancel_force"));

    expect(answer).toEqual({ state: "idle" });
    expect(tesla.writes.length).toBe(writesBefore);
  });

  it.each([
    ["beyond the limit", { duration: 721 }, "out of range"],
    ["missing", {}, "needs duration"],
    ["not whole minutes", { duration: 7.5 }, "needs duration"],
  ])("force_charge rejects a duration %s", async (_case, data, text) => {
    await startRunning();
    const writesBefore = tesla.writes.length;

    const answer = await call("force_charge", data);

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("invalid_request");
    expect(answer["error"]).toContain(text);
    expect(tesla.writes.length).toBe(writesBefore);
  });

  it("set_custom_schedule stores without uploading", async () => {
    await startRunning();
    const writesBefore = tesla.writes.length;

    const answer = responseOf(
      await call("set_custom_schedule", { schedule: TWO_RATES }),
    );

    expect(answer).toEqual({ name: "Two rates", applied: false });
    expect(tesla.writes.length).toBe(writesBefore);
  });

  it("set_custom_schedule rejects a quarter-hour time", async () => {
    await startRunning();
    const schedule = structuredClone(TWO_RATES);
    const periods = schedule.seasons[0]?.periods ?? [];
    periods[1] = {
      ...periods[1],
      name: "OFF_PEAK",
      to: "15:15",
      from: "21:00",
      buy: 0.22,
      sell: 0.04,
    };

    const answer = await call("set_custom_schedule", { schedule });

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("invalid_request");
    expect(answer["error"]).toContain("Custom schedule is invalid");
    expect(answer["error"]).toContain("seasons[0].periods[1].to");
  });

  it("set_custom_schedule rejects a gap", async () => {
    await startRunning();
    const schedule = structuredClone(TWO_RATES);
    const periods = schedule.seasons[0]?.periods ?? [];
    periods[1] = {
      name: "OFF_PEAK",
      from: "22:00",
      to: "15:00",
      buy: 0.22,
      sell: 0.04,
    };

    const answer = await call("set_custom_schedule", { schedule });

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("invalid_request");
    expect(answer["error"]).toContain("Custom schedule is invalid");
  });

  it("apply_custom_schedule without a schedule is invalid", async () => {
    await startRunning();

    const answer = await call("apply_custom_schedule");

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("invalid_request");
    expect(answer["error"]).toContain("set_custom_schedule");
  });

  it("applies, replaces and clears a schedule", async () => {
    await startRunning();
    responseOf(await call("set_custom_schedule", { schedule: TWO_RATES }));
    const writesBefore = tesla.writes.length;

    const applied = responseOf(await call("apply_custom_schedule"));

    expect(applied).toEqual({ name: "Two rates", state: "applied" });
    expect(tesla.writes.length).toBeGreaterThan(writesBefore);

    const replaced = responseOf(
      await call("set_custom_schedule", {
        schedule: { ...TWO_RATES, name: "Replaced" },
      }),
    );
    expect(replaced).toEqual({ name: "Replaced", applied: true });

    const cleared = responseOf(await call("clear_custom_schedule"));
    expect(cleared).toEqual({ state: "off" });
  });

  it("spike_test rejects a price below the threshold", async () => {
    await startRunning();

    const answer = await call("spike_test", { price_mwh: 100 });

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("invalid_request");
    expect(answer["error"]).toContain("below the threshold of 300 $/MWh");
  });

  it("spike_test and spike_test_end fire events", async () => {
    await startRunning();

    const started = responseOf(await call("spike_test", { price_mwh: 1500 }));

    expect(started["simulated"]).toBe(true);
    expect(started["price_mwh"]).toBe(1500);
    expect(typeof started["state"]).toBe("string");
    await vi.waitFor(() => {
      expect(firedEvents("tesla_sync_spike_started")).toHaveLength(1);
    });
    expect(firedEvents("tesla_sync_spike_started")[0]).toMatchObject({
      region: "NSW1",
      price: 1500,
      threshold: 300,
      simulated: true,
    });

    const ended = responseOf(await call("spike_test_end"));

    expect(ended["simulated"]).toBe(false);
    await vi.waitFor(() => {
      expect(firedEvents("tesla_sync_spike_ended")).toHaveLength(1);
    });
    expect(firedEvents("tesla_sync_spike_ended")[0]).toMatchObject({
      simulated: true,
      reason: "simulation_ended",
      peak_price: 1500,
    });
  });

  it("spike_test_end without a test succeeds", async () => {
    await startRunning();

    const answer = responseOf(await call("spike_test_end"));

    expect(answer["simulated"]).toBe(false);
    expect(firedEvents("tesla_sync_spike_ended")).toHaveLength(0);
  });
});
