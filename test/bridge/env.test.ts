import { describe, expect, it } from "vitest";

import {
  engineConfigFromHa,
  restartKey,
} from "../../src/bridge/engine-config.js";
import {
  haSettingsFromEnv,
  SUPERVISOR_WS_URL,
  websocketUrl,
} from "../../src/bridge/env.js";
import { engineConfigSchema } from "../../src/bridge/schemas.js";
import { FLEET_REGION_URLS } from "../../src/config/schema.js";
import { ConfigError } from "../../src/errors.js";
import { scrubText } from "../../src/log.js";
import { fakeEngineConfig } from "./fake-ha.js";

describe("haSettingsFromEnv", () => {
  it("returns nothing without HA settings", () => {
    expect(
      haSettingsFromEnv({ TESLA_SYNC_AMBER_TOKEN: "psk_x" }),
    ).toBeUndefined();
  });

  it("connects standalone with URL and token", () => {
    const settings = haSettingsFromEnv({
      TESLA_SYNC_HA_URL: "http://homeassistant.local:8123",
      TESLA_SYNC_HA_TOKEN: "llat-0123456789abcdef",
      SUPERVISOR_TOKEN: "supervisor-token-0123",
    });

    expect(settings).toMatchObject({
      kind: "standalone",
      wsUrl: "ws://homeassistant.local:8123/api/websocket",
      token: "llat-0123456789abcdef",
      entryId: undefined,
    });
    expect(scrubText("token llat-0123456789abcdef")).toBe("token [redacted]");
  });

  it("connects through the Supervisor as an add-on", () => {
    const settings = haSettingsFromEnv({
      SUPERVISOR_TOKEN: "supervisor-token-4567",
      TESLA_SYNC_HA_ENTRY_ID: "01JD5W9V4K0Q7Z3YB6T1N8M2PX",
    });

    expect(settings).toMatchObject({
      kind: "addon",
      wsUrl: SUPERVISOR_WS_URL,
      entryId: "01JD5W9V4K0Q7Z3YB6T1N8M2PX",
    });
  });

  it.each([
    [{ TESLA_SYNC_HA_URL: "http://ha:8123" }, /TESLA_SYNC_HA_TOKEN is missing/],
    [{ TESLA_SYNC_HA_TOKEN: "llat-abcdef" }, /TESLA_SYNC_HA_URL is missing/],
    [
      { TESLA_SYNC_HA_URL: "ha:8123:x", TESLA_SYNC_HA_TOKEN: "llat-abcdef" },
      /must start with http/,
    ],
    [
      { TESLA_SYNC_HA_URL: "not a url", TESLA_SYNC_HA_TOKEN: "llat-abcdef" },
      /is not a URL/,
    ],
  ])("rejects %o", (env, message) => {
    expect(() => haSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => haSettingsFromEnv(env)).toThrow(message);
  });

  it.each([
    ["http://ha.local:8123", "ws://ha.local:8123/api/websocket"],
    ["https://ha.example.org/", "wss://ha.example.org/api/websocket"],
    ["http://10.0.0.2:8123/ha", "ws://10.0.0.2:8123/ha/api/websocket"],
    ["ws://supervisor/core/websocket", "ws://supervisor/core/websocket"],
    ["wss://ha.example.org", "wss://ha.example.org/api/websocket"],
  ])("derives the WebSocket URL of %s", (address, expected) => {
    expect(websocketUrl(address)).toBe(expected);
  });
});

describe("engineConfigFromHa", () => {
  const teslemetry = engineConfigSchema.parse(
    fakeEngineConfig({ options: { forecast_band: "high", auto_sync: false } }),
  );

  it("takes accounts and options from HA and the rest from env", () => {
    const config = engineConfigFromHa(teslemetry, {
      TESLA_SYNC_DATA_DIR: "/data",
      TESLA_SYNC_PORT: "8099",
      TESLA_SYNC_AMBER_TOKEN: "psk_env_token_ignored",
      TESLA_SYNC_AUTO_SYNC: "true",
      TESLA_SYNC_MIN_CHANGE_CENTS: "1.5",
    });

    expect(config.mode).toBe("live");
    expect(config.amberToken).toBe("psk_fake_amber_token_0123456789");
    expect(config.amber.siteId).toBe("01F5A5CRKMZ5BCX9P1S4V990AM");
    expect(config.teslaAccess).toEqual({
      kind: "teslemetry",
      token: "fake-teslemetry-token-0123",
    });
    expect(config.tesla.siteId).toBe("1689999999999999");
    expect(config.sync.forecastBand).toBe("high");
    expect(config.sync.autoSync).toBe(false);
    expect(config.sync.minChangeCents).toBe(1.5);
    expect(config.dataDir).toBe("/data");
    expect(config.server.port).toBe(8099);
  });

  it("uses the Fleet API host for tesla_fleet", () => {
    const fleet = engineConfigSchema.parse({
      ...fakeEngineConfig(),
      tesla: {
        access_kind: "tesla_fleet",
        token: "eyJhbGciOi-fleet",
        token_expires_at: 1767225600,
        energy_site_id: 42,
      },
    });

    const config = engineConfigFromHa(fleet, {});

    expect(config.teslaBaseUrl).toBe(FLEET_REGION_URLS.na);
  });

  it("restarts only for accounts, sites and band", () => {
    const autoSyncOnly = engineConfigSchema.parse(
      fakeEngineConfig({ options: { forecast_band: "high", auto_sync: true } }),
    );
    const otherBand = engineConfigSchema.parse(
      fakeEngineConfig({ options: { forecast_band: "low", auto_sync: false } }),
    );

    expect(restartKey(autoSyncOnly)).toBe(restartKey(teslemetry));
    expect(restartKey(otherBand)).not.toBe(restartKey(teslemetry));
  });
});
