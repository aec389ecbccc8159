/**
 * Turns the configuration read over the bridge into the engine's own
 * configuration. In HA mode the accounts, site ids, forecast band and
 * auto-sync come from the integration's config entry. Everything else
 * (data directory, status server, log level, sync tunables, base URLs)
 * still comes from the `TESLA_SYNC_*` environment variables, because the
 * integration does not store those.
 */
import { resolveConfig } from "../config/load.js";
import { configFromEnv } from "../config/env.js";
import {
  configSchema,
  FLEET_REGION_URLS,
  type EngineConfig,
} from "../config/schema.js";
import { ConfigError } from "../errors.js";
import { registerSecret } from "../log.js";
import type { HaEngineConfig } from "./schemas.js";

/**
 * Whether the engine configuration has a `controls` section. Without one
 * the controls read only their own `controls.json`, so the entry's region
 * and thresholds cannot reach them.
 */
export const CONTROLS_CONFIGURABLE = "controls" in configSchema.shape;

/** A configuration the engine can start with. */
export type LiveEngineConfig = Extract<EngineConfig, { mode: "live" }>;

/**
 * Builds the engine configuration from `ha` and the environment. Throws
 * ConfigError naming the value when the merged configuration is invalid.
 */
export function engineConfigFromHa(
  ha: HaEngineConfig,
  env: Record<string, string | undefined>,
): LiveEngineConfig {
  registerSecret(ha.amber.token);
  registerSecret(ha.tesla.token);

  const base = configFromEnv(env);
  const envAmber = section(base["amber"]);
  const envTesla = section(base["tesla"]);
  const envFleet = section(envTesla["fleet"]);
  const region = envFleet["region"];
  const baseUrl =
    envTesla["baseUrl"] ??
    (ha.tesla.access_kind === "tesla_fleet"
      ? FLEET_REGION_URLS[
          region === "eu" || region === "cn" || region === "na" ? region : "na"
        ]
      : undefined);

  const merged: Record<string, unknown> = {
    ...base,
    amber: {
      ...pick(envAmber, ["restUrl", "wsUrl", "liveFeed"]),
      token: ha.amber.token,
      siteId: ha.amber.site_id,
    },
    tesla: {
      // The engine treats both HA access kinds as a bearer token it cannot
      // refresh. For tesla_fleet, HA mode passes a token provider that
      // reads HA's current token instead.
      auth: "teslemetry",
      token: ha.tesla.token,
      siteId: String(ha.tesla.energy_site_id),
      ...(baseUrl === undefined ? {} : { baseUrl }),
    },
    sync: {
      ...section(base["sync"]),
      autoSync: ha.options.auto_sync,
      forecastBand: ha.options.forecast_band,
    },
  };
  if (CONTROLS_CONFIGURABLE) {
    const controls = section(base["controls"]);
    merged["controls"] = {
      ...controls,
      spike: {
        ...section(controls["spike"]),
        enabled: ha.options.spike_response,
        region: ha.options.aemo_region,
        thresholdMwh: ha.options.spike_threshold,
      },
      curtailment: {
        ...section(controls["curtailment"]),
        enabled: ha.options.curtailment,
        thresholdCents: ha.options.curtailment_threshold,
      },
    };
  }

  const config = resolveConfig(merged, {}, "the Home Assistant configuration");
  if (config.mode !== "live") {
    throw new ConfigError(
      "The Tesla Sync config entry has no Amber or Tesla token. Reconfigure the integration under Settings > Devices & services.",
    );
  }
  return config;
}

/**
 * Returns a key of the parts of `ha` that need a new engine when they
 * change: accounts,
 * sites, the forecast band and the controls' region and thresholds. A
 * changed tesla_fleet token does not count, because the bridge's token
 * provider reads the current one anyway, and neither do the switches,
 * which apply in place.
 */
export function restartKey(ha: HaEngineConfig): string {
  return JSON.stringify({
    amber: [ha.amber.token, ha.amber.site_id],
    tesla: [
      ha.tesla.access_kind,
      ha.tesla.access_kind === "teslemetry" ? ha.tesla.token : "",
      String(ha.tesla.energy_site_id),
    ],
    band: ha.options.forecast_band,
    controls: CONTROLS_CONFIGURABLE
      ? [
          ha.options.aemo_region,
          ha.options.spike_threshold,
          ha.options.curtailment_threshold,
        ]
      : [],
  });
}

function section(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function pick(
  object: Record<string, unknown>,
  keys: readonly string[],
): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((key) => key in object).map((key) => [key, object[key]]),
  );
}
