/**
 * The entity catalogue the engine registers with Home Assistant. Keys equal
 * the integration's translation keys (docs/bridge-protocol.md lists them),
 * so every entity gets a translated name.
 *
 * Units follow HA's rules: prices are plain `$/kWh` measurements, because
 * HA's `monetary` device class needs an ISO 4217 currency unit and state
 * class `total`. Powers are in W, and energy totals are `total_increasing`
 * kWh, which the Energy Dashboard accepts.
 *
 * The spike-response and curtailment entities are a separate list,
 * {@link controlEntities}, registered only when the engine runs those
 * controls.
 */
import type { EntityDeclaration } from "./messages.js";

/** Amber's price descriptors as the `price_descriptor` enum sensor shows them. */
export const PRICE_DESCRIPTORS = [
  "extremely_low",
  "very_low",
  "low",
  "neutral",
  "high",
  "spike",
] as const;

/** States of the `sync_status` enum sensor. */
export const SYNC_STATUSES = [
  "uploaded",
  "unchanged",
  "refused",
  "failed",
] as const;

/** Options of the `forecast_band` select. */
export const FORECAST_BANDS = ["predicted", "low", "high"] as const;

/** NEM regions of the `aemo_region` select. */
export const AEMO_REGIONS = ["NSW1", "QLD1", "VIC1", "SA1", "TAS1"] as const;

const PRICE = {
  platform: "sensor",
  device: "amber_site",
  state_class: "measurement",
  unit: "$/kWh",
  suggested_display_precision: 4,
} as const;

const POWER = {
  platform: "sensor",
  device: "powerwall",
  device_class: "power",
  state_class: "measurement",
  unit: "W",
  suggested_display_precision: 0,
} as const;

const ENERGY = {
  platform: "sensor",
  device: "powerwall",
  device_class: "energy",
  state_class: "total_increasing",
  unit: "kWh",
  suggested_display_precision: 2,
} as const;

function entity(
  key: string,
  fields: Omit<EntityDeclaration, "key" | "translation_key">,
): EntityDeclaration {
  return { key, translation_key: key, ...fields };
}

/** Entities fed by Amber prices, the Powerwall's live status and the sync engine. */
export function coreEntities(): EntityDeclaration[] {
  return [
    entity("general_price", PRICE),
    entity("feed_in_price", PRICE),
    entity("general_forecast", PRICE),
    entity("feed_in_forecast", PRICE),
    entity("price_descriptor", {
      platform: "sensor",
      device: "amber_site",
      device_class: "enum",
      options: [...PRICE_DESCRIPTORS],
    }),
    entity("renewables", {
      platform: "sensor",
      device: "amber_site",
      state_class: "measurement",
      unit: "%",
      suggested_display_precision: 0,
    }),
    entity("price_spike", { platform: "binary_sensor", device: "amber_site" }),

    entity("battery_level", {
      platform: "sensor",
      device: "powerwall",
      device_class: "battery",
      state_class: "measurement",
      unit: "%",
      suggested_display_precision: 0,
    }),
    entity("solar_power", POWER),
    entity("grid_power", POWER),
    entity("battery_power", POWER),
    entity("home_power", POWER),
    entity("solar_energy", ENERGY),
    entity("grid_import_energy", ENERGY),
    entity("grid_export_energy", ENERGY),
    entity("battery_charge_energy", ENERGY),
    entity("battery_discharge_energy", ENERGY),
    entity("home_energy", ENERGY),

    entity("uploaded_buy_price", {
      platform: "sensor",
      device: "engine",
      state_class: "measurement",
      unit: "$/kWh",
      suggested_display_precision: 4,
    }),
    entity("last_sync", {
      platform: "sensor",
      device: "engine",
      device_class: "timestamp",
    }),
    entity("next_sync", {
      platform: "sensor",
      device: "engine",
      device_class: "timestamp",
    }),
    entity("sync_status", {
      platform: "sensor",
      device: "engine",
      device_class: "enum",
      options: [...SYNC_STATUSES],
    }),
    entity("tesla_api_calls", {
      platform: "sensor",
      device: "engine",
      state_class: "total_increasing",
      entity_category: "diagnostic",
    }),
    entity("auto_sync", {
      platform: "switch",
      device: "engine",
      entity_category: "config",
    }),
    entity("sync_now", { platform: "button", device: "engine" }),
    entity("forecast_band", {
      platform: "select",
      device: "engine",
      entity_category: "config",
      options: [...FORECAST_BANDS],
    }),
  ];
}

/**
 * Entities of the price-event controls: AEMO spike response and solar
 * curtailment, with their switches, region select and thresholds.
 */
export function controlEntities(): EntityDeclaration[] {
  return [
    entity("aemo_price", {
      platform: "sensor",
      device: "engine",
      state_class: "measurement",
      unit: "$/MWh",
      suggested_display_precision: 2,
    }),
    entity("aemo_spike", { platform: "binary_sensor", device: "engine" }),
    entity("curtailment_active", {
      platform: "binary_sensor",
      device: "engine",
    }),
    entity("spike_response", {
      platform: "switch",
      device: "engine",
      entity_category: "config",
    }),
    entity("curtailment", {
      platform: "switch",
      device: "engine",
      entity_category: "config",
    }),
    entity("aemo_region", {
      platform: "select",
      device: "engine",
      entity_category: "config",
      options: [...AEMO_REGIONS],
    }),
    entity("spike_threshold", {
      platform: "number",
      device: "engine",
      entity_category: "config",
      unit: "$/MWh",
      min: 0,
      max: 20_000,
      step: 10,
    }),
    entity("curtailment_threshold", {
      platform: "number",
      device: "engine",
      entity_category: "config",
      unit: "c/kWh",
      min: -100,
      max: 100,
      step: 0.1,
    }),
  ];
}
