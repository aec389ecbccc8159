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
import { startFakeHa, type FakeHa, type ReceivedFrame } from "./fake-ha.js";
import { captureLog, type CapturedLog } from "./log-capture.js";

const AMBER_TOKEN = "psk_ha_mode_test_amber_0123456789";
const TESLA_TOKEN = "ha-mode-test-teslemetry-token-0123";

let fake: FakeHa;
let amber: AmberStandIn;
let tesla: TeslaStandIn;
let log: CapturedLog;
let dataDir: string;
let mode: HaMode | undefined;

beforeEach(async () => {
  fake = await startFakeHa();
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
  dataDir = await mkdtemp(join(tmpdir(), "ha-mode-"));
  fake.handle("tesla_sync/config", () => ({
    result: entryConfig(AMBER_TOKEN),
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

function entryConfig(
  amberToken: string,
  options: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    amber: {
      token: amberToken,
      site_id: amber.sites[0]?.id,
      nmi: amber.sites[0]?.nmi,
    },
    tesla: {
      access_kind: "teslemetry",
      token: TESLA_TOKEN,
      energy_site_id: tesla.siteId,
    },
    options: { forecast_band: "predicted", auto_sync: true, ...options },
  };
}

async function start(): Promise<HaMode> {
  mode = await startHaMode({
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
  return mode;
}

/** Every state the fake received for `key`, oldest first. */
function statesOf(key: string): ReceivedFrame[] {
  return fake
    .framesOf("tesla_sync/update")
    .flatMap((frame) => frame["updates"] as ReceivedFrame[])
    .filter((update) => update["key"] === key);
}

async function untilRunning(target: HaMode): Promise<void> {
  await vi.waitFor(
    () => {
      expect(target.service).toBeDefined();
    },
    { timeout: 15_000, interval: 50 },
  );
}

describe("HA mode", () => {
  it("starts the engine from the config entry", async () => {
    const target = await start();
    await untilRunning(target);

    await vi.waitFor(() => {
      expect(statesOf("sync_status").at(-1)?.["state"]).toBe("uploaded");
    });
    expect(
      tesla.writes.filter((write) => write.endpoint === "time_of_use_settings"),
    ).toHaveLength(1);
    const registered = fake.framesOf("tesla_sync/register")[0]?.[
      "entities"
    ] as Array<{ key: string }>;
    expect(registered.map((entity) => entity.key)).toContain("general_price");
    expect(registered.map((entity) => entity.key)).toContain(
      "grid_import_energy",
    );
    await vi.waitFor(() => {
      expect(typeof statesOf("general_price").at(-1)?.["state"]).toBe("number");
      expect(typeof statesOf("battery_level").at(-1)?.["state"]).toBe("number");
    });
    expect(statesOf("auto_sync").at(-1)?.["state"]).toBe(true);
    expect(statesOf("forecast_band").at(-1)?.["state"]).toBe("predicted");
  });

  it("fires an event for the startup upload", async () => {
    const target = await start();
    await untilRunning(target);

    const event = await fake.nextFrame("tesla_sync/fire_event", 0);

    expect(event["event_type"]).toBe("tesla_sync_tariff_uploaded");
    expect(event["data"]).toMatchObject({ trigger: "startup", periods: 48 });
    expect(event["data"]).toHaveProperty(
      "reason",
      expect.stringContaining("read-back confirmed"),
    );
  });

  it("answers sync_now with the result", async () => {
    const target = await start();
    await untilRunning(target);
    const mark = fake.received.length;

    fake.pushCommand({
      command: "service_call",
      request_id: "req-1",
      service: "sync_now",
      data: {},
    });
    const answer = await fake.nextFrame("tesla_sync/command_result", mark);

    expect(answer["success"]).toBe(true);
    expect(answer["response"]).toMatchObject({
      outcome: "unchanged",
      engine_outcome: "unchanged",
      trigger: "service",
    });
  });

  it("answers preview_tariff with 48 slots", async () => {
    const target = await start();
    await untilRunning(target);
    const mark = fake.received.length;

    fake.pushCommand({
      command: "service_call",
      request_id: "req-2",
      service: "preview_tariff",
      data: { forecast_band: "high" },
    });
    const answer = await fake.nextFrame("tesla_sync/command_result", mark);

    expect(answer["success"]).toBe(true);
    const response = answer["response"] as Record<string, unknown>;
    expect(response["band"]).toBe("high");
    expect(response["slots"]).toHaveLength(48);
    expect(typeof response["would_upload"]).toBe("boolean");
    const first = (response["slots"] as Array<Record<string, unknown>>)[0];
    expect(typeof first?.["powerwall_buy"]).toBe("number");
    expect(typeof first?.["buy"]).toBe("number");
  });

  it("applies and saves the auto-sync switch", async () => {
    const target = await start();
    await untilRunning(target);
    const mark = fake.received.length;

    fake.pushCommand({ command: "switch_set", key: "auto_sync", value: false });
    const saved = await fake.nextFrame("tesla_sync/set_options", mark);

    expect(saved["options"]).toEqual({ auto_sync: false });
    expect(target.service?.engine.autoSync).toBe(false);
    await vi.waitFor(() => {
      expect(statesOf("auto_sync").at(-1)?.["state"]).toBe(false);
    });
  });

  it("reports a rejected Amber token", async () => {
    fake.handle("tesla_sync/config", () => ({
      result: entryConfig("psk_wrong_token_000000000000"),
    }));
    const target = await start();

    const report = await fake.nextFrame("tesla_sync/auth_failed", 0);

    expect(report["vendor"]).toBe("amber");
    expect(target.service).toBeUndefined();
    await vi.waitFor(() => {
      expect(target.waitingPageUrl).toBeDefined();
    });
    const response = await fetch(`${target.waitingPageUrl ?? ""}/api/status`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { state: string; reason: string };
    expect(body.state).toBe("engine-failed");
    expect(log.text()).not.toContain("psk_wrong_token_000000000000");
  });

  it("registers the control entities", async () => {
    const target = await start();
    await untilRunning(target);

    await vi.waitFor(() => {
      const last = fake.framesOf("tesla_sync/register").at(-1);
      const keys = (last?.["entities"] as Array<{ key: string }>).map(
        (entity) => entity.key,
      );
      expect(keys).toContain("curtailment_threshold");
      expect(keys).toContain("general_price");
    });
    await vi.waitFor(() => {
      expect(statesOf("curtailment").at(-1)?.["state"]).toBe(false);
      expect(statesOf("aemo_region").at(-1)?.["state"]).toBe("NSW1");
    });
  });

  it("switches curtailment and saves it", async () => {
    const target = await start();
    await untilRunning(target);
    const mark = fake.received.length;

    fake.pushCommand({
      command: "switch_set",
      key: "curtailment",
      value: true,
    });
    const saved = await fake.nextFrame("tesla_sync/set_options", mark);

    expect(saved["options"]).toEqual({ curtailment: true });
    expect(target.service?.controls.curtailment.snapshot().enabled).toBe(true);
    await vi.waitFor(() => {
      expect(statesOf("curtailment").at(-1)?.["state"]).toBe(true);
    });
  });

  it.each([
    { key: "spike_threshold", value: 450, saved: { spike_threshold: 450 } },
    {
      key: "curtailment_threshold",
      value: -2.5,
      saved: { curtailment_threshold: -2.5 },
    },
  ])("saves the $key number", async ({ key, value, saved }) => {
    const target = await start();
    await untilRunning(target);
    const mark = fake.received.length;

    fake.pushCommand({ command: "number_set", key, value });
    const frame = await fake.nextFrame("tesla_sync/set_options", mark);

    expect(frame["options"]).toEqual(saved);
  });

  it("stops through an unbound stop", async () => {
    const target = await start();
    await untilRunning(target);
    const { stop } = target;

    await stop();

    expect(target.service).toBeUndefined();
    expect(target.bridge.status.state).toBe("stopped");
  });

  it("shows the waiting page until the integration loads", async () => {
    fake.components = ["http"];
    const target = await start();
    await vi.waitFor(() => {
      expect(target.bridge.status.state).toBe("waiting-for-integration");
    });

    const response = await fetch(`${target.waitingPageUrl ?? ""}/`);
    const page = await response.text();

    expect(response.status).toBe(200);
    expect(page).toContain("not loaded in Home Assistant");
    expect(target.service).toBeUndefined();
  });
});
