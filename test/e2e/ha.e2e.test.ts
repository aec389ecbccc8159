/**
 * End to end against a real Home Assistant: a fresh config directory with
 * the tesla_sync integration, onboarding and a long-lived token through
 * HA's own APIs, the config flow pointed at the Amber and Tesla stand-ins,
 * then the engine (`node dist/src/cli.js run`) in HA mode. It checks the
 * entities, the auto-sync switch, the sync-now button and service, the
 * force and spike test actions with their Tesla writes and bus events, an HA
 * restart (entities return and update within seconds), and that no token
 * appears in HA's log, the engine's log or the diagnostics download.
 *
 * Run it with `bash scripts/test-e2e.sh`; without that script's
 * environment the suite is skipped.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

import type { HaConnection } from "../../src/bridge/connection.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import {
  command,
  connectWebSocket,
  e2eEnvironment,
  flowStep,
  freePort,
  getStates,
  HassProcess,
  ManagedProcess,
  onboard,
  registryEntries,
  waitFor,
  waitForHttp,
  type HaState,
  type OnboardingTokens,
} from "./harness.js";

const environment = e2eEnvironment();
const REPO = join(import.meta.dirname, "..", "..");

/** Limit for HA to start, ms; HA's first start writes its storage and is the slowest. */
const HA_START_MS = 180_000;
/** Limit for entities to come back after HA is running again (C13: within seconds), ms. */
const REREGISTER_MS = 30_000;
/** The engine's minimum spacing of scheduled and live-price writes, ordinary and urgent, seconds (the lowest value allowed). */
const WRITE_SPACING_S = 60;
/** The engine's floor between a manual sync's writes, seconds (its minimum allowed value). */
const MANUAL_FLOOR_S = 10;

const secrets = {
  amberToken: `psk_e2e_${randomBytes(16).toString("hex")}`,
  teslaToken: `e2e-teslemetry-${randomBytes(16).toString("hex")}`,
  password: `pw-${randomBytes(12).toString("hex")}`,
};

let amber: AmberStandIn;
let tesla: TeslaStandIn;
let hass: HassProcess;
let engine: ManagedProcess;
let baseUrl: string;
let onboarding: OnboardingTokens;
let longLivedToken: string;
let entryId: string;
let ws: HaConnection | undefined;

function step(message: string): void {
  console.log(`[e2e ${new Date().toISOString()}] ${message}`);
}

function tariffWrites(): Array<{ at: number }> {
  return tesla.writes.filter(
    (write) => write.endpoint === "time_of_use_settings",
  );
}

async function socket(): Promise<HaConnection> {
  if (ws === undefined || !ws.connected) {
    ws?.close();
    ws = await connectWebSocket(baseUrl, longLivedToken);
  }
  return ws;
}

/** Maps each entity key to its entity id through the unique id `<entry_id>_<key>`. */
async function entityIds(): Promise<Map<string, string>> {
  const entries = await registryEntries(await socket(), "tesla_sync");
  return new Map(
    entries
      .filter((entry) => entry.unique_id.startsWith(`${entryId}_`))
      .map((entry) => [
        entry.unique_id.slice(entryId.length + 1),
        entry.entity_id,
      ]),
  );
}

async function stateOf(key: string): Promise<HaState | undefined> {
  const id = (await entityIds()).get(key);
  return (await getStates(await socket())).find(
    (state) => state.entity_id === id,
  );
}

/**
 * Waits until the engine has run a sync, so it answers service calls. HA
 * shows `unknown` or `unavailable` for `sync_status` before that.
 */
async function untilEngineRuns(): Promise<void> {
  await waitForState(
    "sync_status",
    (state) => !["unknown", "unavailable"].includes(state.state),
    90_000,
  );
}

async function waitForState(
  key: string,
  accept: (state: HaState) => boolean,
  timeoutMs: number,
): Promise<HaState> {
  return waitFor(
    `${key} to reach the expected state`,
    async () => {
      const state = await stateOf(key);
      return state !== undefined && accept(state) ? state : undefined;
    },
    timeoutMs,
  );
}

async function callService(
  domain: string,
  service: string,
  data: Record<string, unknown>,
  returnResponse = false,
): Promise<unknown> {
  return command(await socket(), {
    type: "call_service",
    domain,
    service,
    service_data: data,
    ...(returnResponse ? { return_response: true } : {}),
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `seconds` have passed since the last tariff write. */
async function waitSinceLastWrite(seconds: number): Promise<void> {
  const last = tariffWrites().at(-1);
  if (last !== undefined) {
    await sleep(Math.max(0, last.at + seconds * 1000 - Date.now()));
  }
}

function writeConfiguration(port: number): void {
  if (environment === undefined) {
    return;
  }
  const config = join(environment.dir, "config");
  mkdirSync(config, { recursive: true });
  writeFileSync(
    join(config, "configuration.yaml"),
    [
      "homeassistant:",
      "  name: Tesla Sync E2E",
      "  time_zone: Australia/Sydney",
      "  country: AU",
      "  currency: AUD",
      "  unit_system: metric",
      "  latitude: -33.87",
      "  longitude: 151.21",
      "  elevation: 0",
      "http:",
      "  server_host: 127.0.0.1",
      `  server_port: ${port}`,
      "api:",
      "config:",
      "onboarding:",
      "diagnostics:",
      "logger:",
      "  default: info",
      "  logs:",
      "    custom_components.tesla_sync: debug",
      "tesla_sync_e2e:",
      `  amber_api_url: ${amber.restUrl}`,
      `  teslemetry_api_url: ${tesla.url}`,
      "",
    ].join("\n"),
  );
}

function startEngine(port: number, dataDir: string): void {
  if (environment === undefined) {
    return;
  }
  engine = new ManagedProcess("engine", join(environment.dir, "pids"));
  engine.start(process.execPath, [join(REPO, "dist", "src", "cli.js"), "run"], {
    logPath: join(environment.dir, "engine.log"),
    cwd: REPO,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      TESLA_SYNC_HA_URL: baseUrl,
      TESLA_SYNC_HA_TOKEN: longLivedToken,
      TESLA_SYNC_AMBER_REST_URL: amber.restUrl,
      TESLA_SYNC_AMBER_WS_URL: amber.wsUrl,
      TESLA_SYNC_TESLA_BASE_URL: tesla.url,
      TESLA_SYNC_DATA_DIR: dataDir,
      TESLA_SYNC_HOST: "127.0.0.1",
      TESLA_SYNC_PORT: String(port),
      TESLA_SYNC_LOG_FORMAT: "json",
      TESLA_SYNC_LOG_LEVEL: "debug",
      TESLA_SYNC_MIN_WRITE_SPACING_SECONDS: String(WRITE_SPACING_S),
      TESLA_SYNC_URGENT_WRITE_SPACING_SECONDS: String(WRITE_SPACING_S),
      TESLA_SYNC_MANUAL_WRITE_FLOOR_SECONDS: String(MANUAL_FLOOR_S),
      TESLA_SYNC_LIVE_DEBOUNCE_SECONDS: "0",
      // Every price change counts, so that each step's stimulus (a new
      // price pattern, a live push) leads to an upload whatever the time
      // of day and the seeded noise of the stand-in's prices.
      TESLA_SYNC_LIVE_PRICE_THRESHOLD_CENTS: "0.01",
      TESLA_SYNC_MIN_CHANGE_CENTS: "0.01",
      TESLA_SYNC_MIN_CHANGE_PERCENT: "0",
      TESLA_SYNC_CURRENT_SLOT_MIN_CHANGE_CENTS: "0.01",
      TESLA_SYNC_CURRENT_SLOT_MIN_CHANGE_PERCENT: "0",
    },
  });
}

describe.skipIf(environment === undefined)("Home Assistant end to end", () => {
  beforeAll(async () => {
    if (environment === undefined) {
      return;
    }
    amber = await startAmberStandIn({
      token: secrets.amberToken,
      pattern: "calm",
      intervalLength: 5,
      rateLimit: 10_000,
    });
    tesla = await startTeslaStandIn({
      authMode: "teslemetry",
      token: secrets.teslaToken,
      rateLimit: false,
    });
    const haPort = await freePort();
    baseUrl = `http://127.0.0.1:${haPort}`;
    writeConfiguration(haPort);

    step(`starting Home Assistant on ${baseUrl}`);
    hass = new HassProcess(environment);
    hass.launch();
    await waitForHttp(baseUrl, HA_START_MS);

    step("onboarding the owner and creating a long-lived token");
    onboarding = await onboard(baseUrl, secrets.password);
    const first = await connectWebSocket(baseUrl, onboarding.accessToken);
    longLivedToken = z.string().parse(
      await command(first, {
        type: "auth/long_lived_access_token",
        client_name: "Tesla Sync e2e",
        lifespan: 1,
      }),
    );
    first.close();

    step("adding the Tesla Sync integration through its config flow");
    const user = await flowStep(baseUrl, longLivedToken, "", {
      handler: "tesla_sync",
      show_advanced_options: false,
    });
    expect(user.step_id).toBe("user");
    const menu = await flowStep(
      baseUrl,
      longLivedToken,
      `/${user.flow_id ?? ""}`,
      { amber_token: secrets.amberToken },
    );
    expect(menu).toMatchObject({ type: "menu", step_id: "tesla" });
    const teslemetry = await flowStep(
      baseUrl,
      longLivedToken,
      `/${user.flow_id ?? ""}`,
      { next_step_id: "teslemetry" },
    );
    expect(teslemetry.step_id).toBe("teslemetry");
    const settings = await flowStep(
      baseUrl,
      longLivedToken,
      `/${user.flow_id ?? ""}`,
      { tesla_token: secrets.teslaToken },
    );
    expect(settings.step_id).toBe("settings");
    const created = await flowStep(
      baseUrl,
      longLivedToken,
      `/${user.flow_id ?? ""}`,
      { forecast_band: "predicted", auto_sync: true },
    );
    expect(created.type).toBe("create_entry");
    entryId = created.result?.entry_id ?? "";

    step("starting the engine in HA mode");
    startEngine(await freePort(), join(environment.dir, "engine-data"));
  }, HA_START_MS + 120_000);

  afterAll(async () => {
    ws?.close();
    await engine?.stop(15_000);
    await hass?.stop(60_000);
    await amber?.close();
    await tesla?.close();
  }, 120_000);

  it("registers entities with states and units", async () => {
    await waitForState(
      "sync_status",
      (state) => state.state === "uploaded",
      90_000,
    );
    await waitForState(
      "battery_level",
      (state) => Number.isFinite(Number(state.state)),
      30_000,
    );
    await waitForState(
      "general_price",
      (state) => Number.isFinite(Number(state.state)),
      30_000,
    );
    const ids = await entityIds();
    const states = new Map(
      (await getStates(await socket())).map((state) => [
        state.entity_id,
        state,
      ]),
    );
    const get = (key: string): HaState => {
      const state = states.get(ids.get(key) ?? "");
      if (state === undefined) {
        throw new Error(`no state for ${key}`);
      }
      return state;
    };

    for (const key of [
      "general_price",
      "feed_in_price",
      "general_forecast",
      "uploaded_buy_price",
    ]) {
      expect(get(key).attributes["unit_of_measurement"], key).toBe("$/kWh");
      expect(get(key).attributes["state_class"], key).toBe("measurement");
      expect(Number.isFinite(Number(get(key).state)), key).toBe(true);
    }
    const forecasts = z
      .array(
        z
          .object({
            start_time: z.string(),
            end_time: z.string(),
            per_kwh: z.number(),
          })
          .loose(),
      )
      .parse(get("general_forecast").attributes["forecasts"]);
    expect(forecasts.length).toBeGreaterThan(0);
    expect([
      "extremely_low",
      "very_low",
      "low",
      "neutral",
      "high",
      "spike",
    ]).toContain(get("price_descriptor").state);
    expect(get("renewables").attributes["unit_of_measurement"]).toBe("%");
    expect(["on", "off"]).toContain(get("price_spike").state);

    expect(get("battery_level").attributes).toMatchObject({
      device_class: "battery",
      unit_of_measurement: "%",
    });
    for (const key of [
      "solar_power",
      "grid_power",
      "battery_power",
      "home_power",
    ]) {
      expect(get(key).attributes, key).toMatchObject({
        device_class: "power",
        unit_of_measurement: "W",
        state_class: "measurement",
      });
    }
    for (const key of [
      "solar_energy",
      "grid_import_energy",
      "grid_export_energy",
      "battery_charge_energy",
      "battery_discharge_energy",
      "home_energy",
    ]) {
      expect(get(key).attributes, key).toMatchObject({
        device_class: "energy",
        unit_of_measurement: "kWh",
        state_class: "total_increasing",
      });
      expect(Number.isFinite(Number(get(key).state)), key).toBe(true);
    }

    expect(get("uploaded_buy_price").attributes["buy"]).toHaveLength(48);
    expect(get("uploaded_buy_price").attributes["sell"]).toHaveLength(48);
    expect(get("last_sync").attributes["device_class"]).toBe("timestamp");
    expect(Number.isNaN(Date.parse(get("last_sync").state))).toBe(false);
    expect(get("next_sync").attributes["device_class"]).toBe("timestamp");
    expect(get("sync_status").state).toBe("uploaded");
    expect(get("auto_sync").state).toBe("on");
    expect(get("forecast_band").state).toBe("predicted");
    expect(get("forecast_band").attributes["options"]).toEqual([
      "predicted",
      "low",
      "high",
    ]);
    expect(Number(get("tesla_api_calls").state)).toBeGreaterThan(0);
    const registry = await registryEntries(await socket(), "tesla_sync");
    expect(
      registry.find((entry) => entry.entity_id === ids.get("tesla_api_calls"))
        ?.entity_category,
    ).toBe("diagnostic");
    expect(ids.has("sync_now")).toBe(true);
    // The startup sync; a scheduled one may have followed on a slow run.
    expect(tariffWrites().length).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it("stops uploads while auto-sync is off", async () => {
    await callService("switch", "turn_off", {
      entity_id: (await entityIds()).get("auto_sync"),
    });
    await waitForState("auto_sync", (state) => state.state === "off", 15_000);
    const before = tariffWrites().length;
    const startupWrite = tariffWrites().at(-1)?.at ?? Date.now();

    step(
      "auto-sync off: changing prices and pushing live prices past the write spacing",
    );
    amber.setPattern("volatile");
    expect(amber.liveConnectionCount()).toBeGreaterThan(0);
    while (Date.now() < startupWrite + (WRITE_SPACING_S + 5) * 1000) {
      amber.pushLivePrices();
      await sleep(5_000);
    }

    expect(tariffWrites()).toHaveLength(before);
  }, 180_000);

  it("uploads on live prices once auto-sync is on", async () => {
    const before = tariffWrites().length;

    await callService("switch", "turn_on", {
      entity_id: (await entityIds()).get("auto_sync"),
    });
    await waitForState("auto_sync", (state) => state.state === "on", 15_000);
    await waitFor(
      "an upload after auto-sync was turned on",
      () => {
        amber.pushLivePrices();
        return tariffWrites().length > before ? true : undefined;
      },
      30_000,
      2_000,
    );

    expect(tariffWrites().length).toBeGreaterThan(before);

    // Off again, so no scheduled sync interleaves with the manual ones below.
    await callService("switch", "turn_off", {
      entity_id: (await entityIds()).get("auto_sync"),
    });
    await waitForState("auto_sync", (state) => state.state === "off", 15_000);
  }, 60_000);

  it("uploads when the sync-now button is pressed", async () => {
    const before = tariffWrites().length;
    amber.setPattern("negative-midday");

    await callService("button", "press", {
      entity_id: (await entityIds()).get("sync_now"),
    });
    await waitFor(
      "an upload after the button press",
      () => (tariffWrites().length > before ? true : undefined),
      MANUAL_FLOOR_S * 1000 + 20_000,
    );

    expect(tariffWrites().length).toBe(before + 1);
  }, 60_000);

  it("returns the upload from the sync_now service", async () => {
    await waitSinceLastWrite(MANUAL_FLOOR_S + 1);
    const before = tariffWrites().length;
    amber.setPattern("spike");

    const result = z
      .object({
        response: z.looseObject({ outcome: z.string(), reason: z.string() }),
      })
      .parse(await callService("tesla_sync", "sync_now", {}, true));

    expect(result.response.outcome).toBe("uploaded");
    expect(result.response.reason.length).toBeGreaterThan(0);
    expect(tariffWrites()).toHaveLength(before + 1);
  }, 60_000);

  it(
    "re-registers within seconds after HA restarts",
    async () => {
      const lastSync = await stateOf("sync_status");
      step("restarting Home Assistant");
      ws?.close();
      ws = undefined;
      await hass.stop(60_000);
      hass.launch();
      await waitForHttp(baseUrl, HA_START_MS);
      await waitFor(
        "Home Assistant to be RUNNING",
        async () => {
          const config = z
            .object({ state: z.string() })
            .loose()
            .parse(await command(await socket(), { type: "get_config" }));
          return config.state === "RUNNING" ? true : undefined;
        },
        HA_START_MS,
      );
      const running = Date.now();
      step(
        "Home Assistant is running again; waiting for the engine to re-register",
      );

      const back = await waitForState(
        "sync_status",
        (state) => state.state !== "unavailable",
        REREGISTER_MS,
      );
      const elapsed = Date.now() - running;
      step(`entities available again ${elapsed} ms after RUNNING`);
      expect(back.state).toBe(lastSync?.state);
      await waitForState(
        "general_price",
        (state) => Number.isFinite(Number(state.state)),
        REREGISTER_MS,
      );

      amber.setPattern("calm");
      amber.pushLivePrices();
      await waitFor(
        "general_price to update after the restart",
        async () => {
          amber.pushLivePrices();
          const state = await stateOf("general_price");
          return state !== undefined && Date.parse(state.last_updated) > running
            ? true
            : undefined;
        },
        REREGISTER_MS,
        2_000,
      );
    },
    HA_START_MS * 2,
  );

  it("force_charge writes and cancel_force restores", async () => {
    await untilEngineRuns();
    const before = tesla.writes.length;

    const started = z
      .object({
        response: z.looseObject({
          state: z.string(),
          direction: z.string(),
          ends_at: z.string(),
        }),
      })
      .parse(
        await callService("tesla_sync", "force_charge", { duration: 30 }, true),
      );

    expect(started.response.state).toBe("active");
    expect(started.response.direction).toBe("charge");
    const forceWrites = tesla.writes.slice(before);
    step(
      `force_charge writes: ${forceWrites.map((write) => write.endpoint).join(", ")}`,
    );
    expect(forceWrites.length).toBeGreaterThan(0);
    expect(forceWrites.map((write) => write.endpoint)).toContain(
      "time_of_use_settings",
    );

    const cancelled = z
      .object({ response: z.looseObject({ state: z.string() }) })
      .parse(await callService("tesla_sync", "cancel_force", {}, true));

    expect(cancelled.response.state).toBe("idle");
    const restoreWrites = tesla.writes.slice(before + forceWrites.length);
    step(
      `cancel_force writes: ${restoreWrites.map((write) => write.endpoint).join(", ")}`,
    );
    expect(restoreWrites.map((write) => write.endpoint)).toContain(
      "time_of_use_settings",
    );
  }, 90_000);

  it("spike_test fires the spike events", async () => {
    await untilEngineRuns();
    const events: Array<{ type: string; data: Record<string, unknown> }> = [];
    const busEvent = z.object({
      event_type: z.string(),
      data: z.record(z.string(), z.unknown()),
    });
    const connection = await socket();
    const unsubscribes = await Promise.all(
      ["tesla_sync_spike_started", "tesla_sync_spike_ended"].map((type) =>
        connection.subscribe(
          { type: "subscribe_events", event_type: type },
          (event) => {
            const parsed = busEvent.parse(event);
            events.push({ type: parsed.event_type, data: parsed.data });
          },
        ),
      ),
    );

    try {
      await callService("tesla_sync", "spike_test", { price_mwh: 1500 });
      const started = await waitFor(
        "tesla_sync_spike_started on HA's bus",
        () => events.find((event) => event.type === "tesla_sync_spike_started"),
        30_000,
      );
      expect(started.data).toMatchObject({
        price: 1500,
        simulated: true,
        entry_id: entryId,
      });

      await callService("tesla_sync", "spike_test_end", {});
      const ended = await waitFor(
        "tesla_sync_spike_ended on HA's bus",
        () => events.find((event) => event.type === "tesla_sync_spike_ended"),
        30_000,
      );
      expect(ended.data).toMatchObject({
        reason: "simulation_ended",
        simulated: true,
        entry_id: entryId,
      });
    } finally {
      for (const unsubscribe of unsubscribes) {
        await unsubscribe();
      }
    }
  }, 90_000);

  it("keeps every token out of logs and diagnostics", async () => {
    if (environment === undefined) {
      return;
    }
    const response = await fetch(
      `${baseUrl}/api/diagnostics/config_entry/${entryId}`,
      {
        headers: { Authorization: `Bearer ${longLivedToken}` },
      },
    );
    expect(response.status).toBe(200);
    const diagnostics = await response.text();
    const logs = [
      join(environment.dir, "config", "home-assistant.log"),
      join(environment.dir, "hass-output.log"),
      join(environment.dir, "engine.log"),
    ].filter((path) => existsSync(path));
    expect(logs).toHaveLength(3);
    const tokens = {
      amber: secrets.amberToken,
      tesla: secrets.teslaToken,
      password: secrets.password,
      "HA access token": onboarding.accessToken,
      "HA refresh token": onboarding.refreshToken,
      "HA long-lived token": longLivedToken,
    };

    for (const [name, token] of Object.entries(tokens)) {
      expect(diagnostics.includes(token), `${name} in the diagnostics`).toBe(
        false,
      );
      for (const path of logs) {
        expect(
          readFileSync(path, "utf8").includes(token),
          `${name} in ${path}`,
        ).toBe(false);
      }
    }
    expect(diagnostics).toContain("REDACTED");
    expect(readFileSync(join(environment.dir, "engine.log"), "utf8")).toContain(
      "Connected to the Tesla Sync integration",
    );
  }, 60_000);

  it("stops the engine cleanly on SIGTERM", async () => {
    const code = await engine.stop(15_000);

    expect(code).toBe(0);
  }, 30_000);
});
