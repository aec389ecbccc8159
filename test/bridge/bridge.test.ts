import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  HaBridge,
  InvalidServiceRequestError,
  type BridgeHandlers,
  type BridgeStatus,
} from "../../src/bridge/bridge.js";
import { HaConnection } from "../../src/bridge/connection.js";
import {
  ENGINE_FEATURES,
  getConfigMessage,
  type EntityDeclaration,
} from "../../src/bridge/messages.js";
import {
  haConfigSchema,
  type EntityCommand,
  type HaEngineConfig,
} from "../../src/bridge/schemas.js";
import { registerSecret } from "../../src/log.js";
import {
  FAKE_ENTRY_ID,
  SECOND_RELEASE_FEATURES,
  startFakeHa,
  type FakeHa,
  type ReceivedFrame,
} from "./fake-ha.js";
import { captureLog, type CapturedLog } from "./log-capture.js";
import { useTimerFakes } from "./timers.js";

const ENTITIES: EntityDeclaration[] = [
  {
    key: "general_price",
    platform: "sensor",
    device: "amber_site",
    translation_key: "general_price",
    state_class: "measurement",
    unit: "$/kWh",
  },
  {
    key: "sync_status",
    platform: "sensor",
    device: "engine",
    translation_key: "sync_status",
    device_class: "enum",
    options: ["uploaded", "unchanged", "refused", "failed"],
  },
  {
    key: "auto_sync",
    platform: "switch",
    device: "engine",
    translation_key: "auto_sync",
    entity_category: "config",
  },
  {
    key: "sync_now",
    platform: "button",
    device: "engine",
    translation_key: "sync_now",
  },
];

interface Recorded {
  configs: Array<{ config: HaEngineConfig; reason: string }>;
  commands: EntityCommand[];
  services: Array<{ service: string; data: Record<string, unknown> }>;
}

let fake: FakeHa;
let log: CapturedLog;
let connection: HaConnection;
let bridge: HaBridge;
let recorded: Recorded;
let serviceAnswer: (service: string) => Promise<Record<string, unknown>>;
let handlers: BridgeHandlers;

beforeEach(async () => {
  useTimerFakes();
  fake = await startFakeHa();
  log = captureLog();
  recorded = { configs: [], commands: [], services: [] };
  serviceAnswer = () =>
    Promise.resolve({ outcome: "uploaded", reason: "buy price changed" });
  handlers = {
    onConfig: (config, reason) => {
      recorded.configs.push({ config, reason });
    },
    onCommand: (command) => {
      recorded.commands.push(command);
    },
    onServiceCall: (service, data) => {
      recorded.services.push({ service, data });
      return serviceAnswer(service);
    },
  };
  // The heartbeat has its own tests; here it would only add pings.
  connection = new HaConnection({
    wsUrl: fake.url,
    token: fake.token,
    logger: log.logger,
    heartbeatIntervalMs: 3_600_000,
  });
  bridge = new HaBridge({
    connection,
    engineVersion: "0.1.0",
    logger: log.logger,
    handlers,
  });
  bridge.declare(ENTITIES);
});

afterEach(async () => {
  bridge.stop();
  await fake.stop();
  vi.useRealTimers();
});

function statusReached(state: BridgeStatus["state"]): Promise<BridgeStatus> {
  if (bridge.status.state === state) {
    return Promise.resolve(bridge.status);
  }
  return new Promise((resolve) => {
    const onStatus = (status: BridgeStatus): void => {
      if (status.state === state) {
        bridge.off("status", onStatus);
        resolve(status);
      }
    };
    bridge.on("status", onStatus);
  });
}

async function startConnected(): Promise<void> {
  const connected = statusReached("connected");
  await bridge.start();
  await connected;
  await roundTrip();
}

/** Moves time past the retry delay and resolves once the bridge waits again. */
async function retryOnce(): Promise<void> {
  const since = log.lines.length;
  await vi.advanceTimersByTimeAsync(10_000);
  await log.waitFor("Waiting for Home Assistant", since);
}

/** Resolves once the fake has every frame sent before it. */
async function roundTrip(): Promise<void> {
  await connection.send(getConfigMessage(), haConfigSchema);
}

function updatesSince(mark: number): ReceivedFrame[] {
  return fake.received
    .slice(mark)
    .filter((frame) => frame.type === "tesla_sync/update");
}

describe("HaBridge session", () => {
  it("runs the session in protocol order", async () => {
    bridge.setState("general_price", 0.123, { descriptor: "low" });

    await startConnected();
    await fake.nextFrame("tesla_sync/update", 0);

    const types = fake.received
      .map((frame) => frame.type)
      .filter((type) => type !== "supported_features");
    expect(types[0]).toBe("get_config");
    expect(types.filter((type) => type !== "get_config")).toEqual([
      "tesla_sync/hello",
      "tesla_sync/config",
      "tesla_sync/subscribe_commands",
      "tesla_sync/register",
      "tesla_sync/update",
    ]);
    const hello = fake.framesOf("tesla_sync/hello")[0];
    expect(hello).toMatchObject({ protocol: 1, engine_version: "0.1.0" });
    expect(hello).not.toHaveProperty("entry_id");
    expect(fake.framesOf("tesla_sync/register")[0]?.["entities"]).toEqual(
      ENTITIES,
    );
    expect(fake.framesOf("tesla_sync/update")[0]?.["updates"]).toEqual([
      { key: "general_price", state: 0.123, attributes: { descriptor: "low" } },
    ]);
    expect(recorded.configs).toHaveLength(1);
    expect(recorded.configs[0]?.reason).toBe("session");
    expect(recorded.configs[0]?.config.amber.site_id).toBe(
      "01F5A5CRKMZ5BCX9P1S4V990AM",
    );
    expect(bridge.status).toMatchObject({
      state: "connected",
      entryId: FAKE_ENTRY_ID,
    });
  });

  it.each([
    {
      name: "protocol_unsupported error",
      reply: {
        error: {
          code: "protocol_unsupported",
          message: "Protocol version 1 is not supported",
        },
      },
    },
    {
      name: "protocol 2 result",
      reply: {
        result: {
          protocol: 2,
          integration_version: "9.0.0",
          entry_id: FAKE_ENTRY_ID,
          features: [],
        },
      },
    },
  ])("rejects a version mismatch: $name", async ({ reply }) => {
    fake.handle("tesla_sync/hello", () => reply);
    const failed = statusReached("failed");

    await bridge.start();
    const status = await failed;
    await vi.advanceTimersByTimeAsync(60_000);
    await roundTrip();

    expect(status.state === "failed" ? status.reason : "").toMatch(/protocol/);
    expect(fake.framesOf("tesla_sync/hello")).toHaveLength(1);
    expect(fake.framesOf("tesla_sync/config")).toHaveLength(0);
    expect(log.find("protocol", "error")).toHaveLength(1);
  });

  it("waits for HA to be RUNNING", async () => {
    fake.state = "STARTING";
    const waiting = statusReached("waiting-for-ha");

    await bridge.start();
    await waiting;
    await roundTrip();
    expect(fake.framesOf("tesla_sync/hello")).toHaveLength(0);
    const connected = statusReached("connected");
    fake.state = "RUNNING";
    fake.fireBusEvent("homeassistant_started", {});
    await connected;

    expect(
      fake.framesOf("subscribe_events").map((frame) => frame["event_type"]),
    ).toEqual(["homeassistant_started", "component_loaded"]);
    expect(fake.framesOf("tesla_sync/hello")).toHaveLength(1);
  });

  it("waits for the integration, warning once", async () => {
    fake.components = ["http", "websocket_api"];
    const waiting = statusReached("waiting-for-integration");

    await bridge.start();
    await waiting;
    await retryOnce();
    await retryOnce();
    const connected = statusReached("connected");
    fake.components = ["http", "websocket_api", "tesla_sync"];
    fake.fireBusEvent("component_loaded", { component: "tesla_sync" });
    await connected;

    expect(fake.framesOf("get_config").length).toBeGreaterThanOrEqual(3);
    expect(log.find("not loaded in Home Assistant", "warn")).toHaveLength(1);
  });

  it("retries hello while no entry is loaded", async () => {
    let answered = 0;
    fake.handle("tesla_sync/hello", () => {
      answered += 1;
      if (answered < 3) {
        return {
          error: {
            code: "entry_not_loaded",
            message: "No Tesla Sync config entry is loaded",
          },
        };
      }
      return {
        result: {
          protocol: 1,
          integration_version: "0.1.0",
          entry_id: FAKE_ENTRY_ID,
          features: [
            "config",
            "register",
            "update",
            "subscribe_commands",
            "command_result",
            "fire_event",
            "auth_failed",
            "set_options",
          ],
        },
      };
    });
    const waiting = statusReached("waiting-for-integration");
    await bridge.start();
    await waiting;
    const connected = statusReached("connected");

    await retryOnce();
    await vi.advanceTimersByTimeAsync(10_000);
    await connected;

    expect(fake.framesOf("tesla_sync/hello")).toHaveLength(3);
    expect(log.find("no loaded config entry", "warn")).toHaveLength(1);
  });

  it("stops on invalid auth with a clear error", async () => {
    const target = new HaConnection({
      wsUrl: fake.url,
      token: "bad-token-0000000",
      logger: log.logger,
    });
    const other = new HaBridge({
      connection: target,
      engineVersion: "0.1.0",
      logger: log.logger,
      handlers: {
        onConfig: () => undefined,
        onCommand: () => undefined,
        onServiceCall: () => Promise.resolve({}),
      },
    });

    await expect(other.start()).rejects.toThrow(/rejected the access token/);

    expect(other.status.state).toBe("failed");
    other.stop();
  });
});

describe("HaBridge states", () => {
  it("coalesces updates within 250 ms", async () => {
    await startConnected();
    const mark = fake.received.length;

    bridge.setState("general_price", 0.1);
    bridge.setState("sync_status", "uploaded");
    bridge.setState("general_price", 0.2);
    await vi.advanceTimersByTimeAsync(249);
    await roundTrip();
    expect(updatesSince(mark)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await fake.nextFrame("tesla_sync/update", mark);
    await roundTrip();

    const updates = updatesSince(mark);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.["updates"]).toEqual([
      { key: "general_price", state: 0.2 },
      { key: "sync_status", state: "uploaded" },
    ]);
  });

  it("skips a state that did not change", async () => {
    await startConnected();
    bridge.setState("sync_status", "uploaded");
    await vi.advanceTimersByTimeAsync(250);
    await roundTrip();
    const mark = fake.received.length;

    bridge.setState("sync_status", "uploaded");
    await vi.advanceTimersByTimeAsync(250);
    await roundTrip();

    expect(updatesSince(mark)).toHaveLength(0);
  });

  it("ignores states of undeclared keys", async () => {
    await startConnected();
    const mark = fake.received.length;

    bridge.setState("solar_pwr", 12);
    await vi.advanceTimersByTimeAsync(250);
    await roundTrip();

    expect(updatesSince(mark)).toHaveLength(0);
  });

  it("sends a rejected batch one by one", async () => {
    fake.handle("tesla_sync/update", (frame) => {
      const updates = frame["updates"] as Array<{ key: string }>;
      if (updates.some((update) => update.key === "sync_status")) {
        return {
          error: {
            code: "invalid_state",
            message: "Entity 'sync_status': state 'maybe' is not one of [...]",
          },
        };
      }
      return { result: { updated: updates.length } };
    });
    await startConnected();
    const mark = fake.received.length;

    bridge.setState("general_price", 0.3);
    bridge.setState("sync_status", "maybe");
    await vi.advanceTimersByTimeAsync(250);
    await fake.nextFrame("tesla_sync/update", mark);
    await vi.waitFor(() => {
      expect(updatesSince(mark)).toHaveLength(3);
    });

    const singles = updatesSince(mark)
      .slice(1)
      .map((frame) => frame["updates"]);
    expect(singles).toEqual([
      [{ key: "general_price", state: 0.3 }],
      [{ key: "sync_status", state: "maybe" }],
    ]);
    expect(log.find("rejected the state of sync_status", "warn")).toHaveLength(
      1,
    );
  });

  it("keeps secrets out of update frames", async () => {
    registerSecret("psk_secret_in_reason_000111");
    await startConnected();
    const mark = fake.received.length;

    bridge.setState("sync_status", "failed", {
      reason: "Amber rejected psk_secret_in_reason_000111",
    });
    await vi.advanceTimersByTimeAsync(250);
    const frame = await fake.nextFrame("tesla_sync/update", mark);

    expect(JSON.stringify(frame)).not.toContain("psk_secret_in_reason_000111");
    expect(JSON.stringify(frame)).toContain("[redacted]");
  });

  it("re-registers after HA restarts", async () => {
    bridge.setState("general_price", 0.1);
    await startConnected();
    const disconnected = statusReached("connecting");
    await fake.stop();
    await disconnected;

    bridge.setState("general_price", 0.4);
    bridge.setState("sync_status", "unchanged");
    await fake.listen();
    const mark = fake.received.length;
    const connected = statusReached("connected");
    await vi.advanceTimersByTimeAsync(1);
    await connected;
    await roundTrip();

    const types = fake.received.slice(mark).map((frame) => frame.type);
    expect(types).toContain("tesla_sync/hello");
    expect(types).toContain("tesla_sync/register");
    expect(updatesSince(mark)[0]?.["updates"]).toEqual([
      { key: "general_price", state: 0.4 },
      { key: "sync_status", state: "unchanged" },
    ]);
    expect(fake.connections).toBe(2);
  });

  it("sends registered entities again when the list changes", async () => {
    await startConnected();
    const mark = fake.received.length;

    bridge.declare(ENTITIES.slice(0, 2));
    await fake.nextFrame("tesla_sync/register", mark);

    expect(fake.framesOf("tesla_sync/register").at(-1)?.["entities"]).toEqual(
      ENTITIES.slice(0, 2),
    );
  });
});

describe("HaBridge commands", () => {
  it.each([
    { command: "switch_set", key: "auto_sync", value: false },
    { command: "button_press", key: "sync_now" },
  ])("relays $command", async (event) => {
    await startConnected();

    fake.pushCommand(event);
    await vi.waitFor(() => {
      expect(recorded.commands).toHaveLength(1);
    });

    expect(recorded.commands[0]).toEqual(event);
  });

  it("ignores commands for undeclared keys and unknown kinds", async () => {
    await startConnected();

    fake.pushCommand({
      command: "switch_set",
      key: "curtailment",
      value: true,
    });
    fake.pushCommand({ command: "self_destruct" });
    fake.pushCommand({ command: "button_press", key: "sync_now" });
    await vi.waitFor(() => {
      expect(recorded.commands).toHaveLength(1);
    });

    expect(recorded.commands[0]).toEqual({
      command: "button_press",
      key: "sync_now",
    });
  });

  it("answers a service call with its response", async () => {
    await startConnected();
    const mark = fake.received.length;

    fake.pushCommand({
      command: "service_call",
      request_id: "8c1f6a0d",
      service: "sync_now",
      data: {},
    });
    const answer = await fake.nextFrame("tesla_sync/command_result", mark);

    expect(recorded.services).toEqual([{ service: "sync_now", data: {} }]);
    expect(answer).toMatchObject({
      entry_id: FAKE_ENTRY_ID,
      request_id: "8c1f6a0d",
      success: true,
      response: { outcome: "uploaded", reason: "buy price changed" },
    });
  });

  it("fails a service call whose handler throws", async () => {
    serviceAnswer = () =>
      Promise.reject(
        new Error(
          "Amber returned no forecast; the Powerwall keeps its last tariff",
        ),
      );
    await startConnected();
    const mark = fake.received.length;

    fake.pushCommand({
      command: "service_call",
      request_id: "3e0b9f1c",
      service: "preview_tariff",
      data: { forecast_band: "low" },
    });
    const answer = await fake.nextFrame("tesla_sync/command_result", mark);

    expect(answer).toMatchObject({
      request_id: "3e0b9f1c",
      success: false,
      error: "Amber returned no forecast; the Powerwall keeps its last tariff",
    });
    expect(answer).not.toHaveProperty("response");
    expect(recorded.services[0]?.data).toEqual({ forecast_band: "low" });
  });

  it("reads the config again on config_changed", async () => {
    await startConnected();

    fake.pushCommand({ command: "config_changed" });
    await vi.waitFor(() => {
      expect(recorded.configs).toHaveLength(2);
    });

    expect(recorded.configs[1]?.reason).toBe("changed");
    expect(fake.framesOf("tesla_sync/config")).toHaveLength(2);
  });

  it("opens a new session after the entry unloads", async () => {
    await startConnected();
    const waiting = statusReached("waiting-for-integration");

    fake.pushCommand({ command: "entry_unloaded" });
    await waiting;
    const connected = statusReached("connected");
    await vi.advanceTimersByTimeAsync(10_000);
    await connected;

    expect(fake.framesOf("tesla_sync/hello")).toHaveLength(2);
  });

  it("sends set_options and fire_event with the entry id", async () => {
    await startConnected();

    await bridge.setOptions({ auto_sync: false });
    await bridge.fireEvent("tesla_sync_tariff_uploaded", {
      reason: "no tariff uploaded yet",
      periods: 48,
    });

    expect(fake.framesOf("tesla_sync/set_options")[0]).toMatchObject({
      entry_id: FAKE_ENTRY_ID,
      options: { auto_sync: false },
    });
    expect(fake.framesOf("tesla_sync/fire_event")[0]).toMatchObject({
      entry_id: FAKE_ENTRY_ID,
      event_type: "tesla_sync_tariff_uploaded",
      data: { reason: "no tariff uploaded yet", periods: 48 },
    });
  });
});

describe("HaBridge second-release features", () => {
  /** Replaces the bridge with one that handles the three action groups. */
  function useEngineFeatures(): void {
    bridge.stop();
    connection = new HaConnection({
      wsUrl: fake.url,
      token: fake.token,
      logger: log.logger,
      heartbeatIntervalMs: 3_600_000,
    });
    bridge = new HaBridge({
      connection,
      engineVersion: "0.1.0",
      logger: log.logger,
      handlers,
      features: ENGINE_FEATURES,
    });
    bridge.declare(ENTITIES);
  }

  async function failedAnswer(error: Error): Promise<ReceivedFrame> {
    serviceAnswer = () => Promise.reject(error);
    await startConnected();
    const mark = fake.received.length;
    fake.pushCommand({
      command: "service_call",
      request_id: "7a3c9e5b",
      service: "spike_test",
      data: { price_mwh: 100 },
    });
    return fake.nextFrame("tesla_sync/command_result", mark);
  }

  it("lists features with engine_features", async () => {
    fake.features = SECOND_RELEASE_FEATURES;
    useEngineFeatures();

    await startConnected();

    const subscribe = fake.framesOf("tesla_sync/subscribe_commands")[0];
    expect(subscribe?.["features"]).toEqual([
      "force",
      "custom_schedule",
      "spike_test",
    ]);
  });

  it("omits features without engine_features", async () => {
    useEngineFeatures();

    await startConnected();

    const subscribe = fake.framesOf("tesla_sync/subscribe_commands")[0];
    expect(subscribe).toBeDefined();
    expect(subscribe).not.toHaveProperty("features");
    expect(bridge.status.state).toBe("connected");
  });

  it("sends invalid_request for invalid input", async () => {
    fake.features = SECOND_RELEASE_FEATURES;
    useEngineFeatures();

    const answer = await failedAnswer(
      new InvalidServiceRequestError(
        "Simulated spike price 100 $/MWh is below the threshold of 300 $/MWh; use at least the threshold.",
      ),
    );

    expect(answer).toMatchObject({
      request_id: "7a3c9e5b",
      success: false,
      error_code: "invalid_request",
    });
    expect(answer["error"]).toContain("below the threshold");
  });

  it("sends failed for other errors", async () => {
    fake.features = SECOND_RELEASE_FEATURES;
    useEngineFeatures();

    const answer = await failedAnswer(new Error("Tesla rejected the write"));

    expect(answer["success"]).toBe(false);
    expect(answer["error_code"]).toBe("failed");
    expect(answer["error"]).toBe("Tesla rejected the write");
  });

  it("omits error_code without command_error_code", async () => {
    useEngineFeatures();

    const answer = await failedAnswer(
      new InvalidServiceRequestError("price below the threshold"),
    );

    expect(answer["success"]).toBe(false);
    expect(answer).not.toHaveProperty("error_code");
  });
});
