/**
 * Plain builders for every command the engine sends to Home Assistant: the
 * `tesla_sync/*` commands of the bridge protocol (docs/bridge-protocol.md,
 * version 1) and the few core commands the bridge needs. Each builder only
 * returns the frame without its `id`, which the connection adds.
 *
 * HA rejects any key a command schema does not list (`invalid_format`), so
 * the builders never add optional keys that are unset.
 */

/** The protocol version this engine speaks. */
export const PROTOCOL_VERSION = 1;

/** Entity platforms the integration can host. */
export type EntityPlatform =
  "sensor" | "binary_sensor" | "switch" | "button" | "select" | "number";

/** The three devices every entity belongs to. */
export type DeviceKey = "amber_site" | "powerwall" | "engine";

/** One entity as `tesla_sync/register` declares it. */
export interface EntityDeclaration {
  /** Stable id within the entry, `[a-z0-9_]{1,64}`; part of the unique id. */
  key: string;
  platform: EntityPlatform;
  device: DeviceKey;
  /** Name key in the integration's translations. */
  translation_key: string;
  /** A device class of the platform, as HA names it. */
  device_class?: string;
  /** Sensors only. */
  state_class?: "measurement" | "total" | "total_increasing";
  /** Unit of measurement (sensors and numbers). */
  unit?: string;
  /** Sensors only, 0-6. */
  suggested_display_precision?: number;
  entity_category?: "config" | "diagnostic";
  /** Allowed values, for selects and enum sensors. */
  options?: string[];
  /** Range and step, for numbers. */
  min?: number;
  max?: number;
  step?: number;
  /** False creates the entity disabled; the integration's default is true. */
  enabled_default?: boolean;
}

/** Name and details of a device in `tesla_sync/register`. */
export interface DeviceDetails {
  name?: string;
  model?: string;
  sw_version?: string;
  hw_version?: string;
}

/** A state value: `null` shows `unknown` in HA. */
export type StateValue = number | string | boolean | null;

/** One item of `tesla_sync/update`. */
export interface StateUpdate {
  key: string;
  /** Left out for buttons, which take no state. */
  state?: StateValue;
  /** Replaces the entity's extra attributes as a whole; left out keeps them. */
  attributes?: Record<string, unknown>;
}

/** Bus events the integration fires for the engine. */
export type BridgeEventType =
  | "tesla_sync_tariff_uploaded"
  | "tesla_sync_spike_started"
  | "tesla_sync_spike_ended"
  | "tesla_sync_curtailment_changed";

/** Options of the config entry that `tesla_sync/set_options` may write. */
export interface EntryOptions {
  forecast_band: "predicted" | "low" | "high";
  auto_sync: boolean;
  spike_response: boolean;
  aemo_region: "NSW1" | "QLD1" | "VIC1" | "SA1" | "TAS1";
  /** $/MWh, 0 to 20000. */
  spike_threshold: number;
  curtailment: boolean;
  /** c/kWh, -100 to 100. */
  curtailment_threshold: number;
}

/**
 * The kind of a failed service call, sent as `error_code` only when the
 * integration lists `command_error_code`: `invalid_request` for wrong user
 * input, `failed` when the engine tried and failed.
 */
export type ServiceErrorCode = "invalid_request" | "failed";

/** The response to a `service_call` command. */
export type ServiceOutcome =
  | { success: true; response: Record<string, unknown> }
  | { success: false; error: string; errorCode?: ServiceErrorCode };

/** Action groups this engine handles, listed in `subscribe_commands` `features`. */
export const ENGINE_FEATURES = [
  "force",
  "custom_schedule",
  "spike_test",
] as const;

/** A frame to send, before the connection adds its `id`. */
export interface OutgoingMessage {
  type: string;
  [field: string]: unknown;
}

/** `get_config`: HA's state (`RUNNING` ...) and its loaded components. */
export function getConfigMessage(): OutgoingMessage {
  return { type: "get_config" };
}

/** `subscribe_events` for one event type. */
export function subscribeEventsMessage(eventType: string): OutgoingMessage {
  return { type: "subscribe_events", event_type: eventType };
}

/** `tesla_sync/hello`: opens the session; `entryId` only when several entries are loaded. */
export function helloMessage(
  engineVersion: string,
  entryId?: string,
): OutgoingMessage {
  return {
    type: "tesla_sync/hello",
    protocol: PROTOCOL_VERSION,
    engine_version: engineVersion,
    ...(entryId === undefined ? {} : { entry_id: entryId }),
  };
}

/** `tesla_sync/config`: reads the entry's configuration, secrets included. */
export function configMessage(entryId: string): OutgoingMessage {
  return { type: "tesla_sync/config", entry_id: entryId };
}

/**
 * `tesla_sync/subscribe_commands`: the channel for commands from HA.
 * `features` is sent only when given, because an integration without the
 * `engine_features` feature rejects the field.
 */
export function subscribeCommandsMessage(
  entryId: string,
  features?: readonly string[],
): OutgoingMessage {
  return {
    type: "tesla_sync/subscribe_commands",
    entry_id: entryId,
    ...(features === undefined ? {} : { features: [...features] }),
  };
}

/** `tesla_sync/register`: declares every entity the engine provides. */
export function registerMessage(
  entryId: string,
  entities: readonly EntityDeclaration[],
  devices?: Partial<Record<DeviceKey, DeviceDetails>>,
): OutgoingMessage {
  return {
    type: "tesla_sync/register",
    entry_id: entryId,
    entities: entities.map((entity) => ({ ...entity })),
    ...(devices === undefined ? {} : { devices }),
  };
}

/** `tesla_sync/update`: a batch of state updates. */
export function updateMessage(
  entryId: string,
  updates: readonly StateUpdate[],
): OutgoingMessage {
  return {
    type: "tesla_sync/update",
    entry_id: entryId,
    updates: updates.map((update) => ({ ...update })),
  };
}

/** `tesla_sync/command_result`: the response to a `service_call`, by its request id. */
export function commandResultMessage(
  entryId: string,
  requestId: string,
  outcome: ServiceOutcome,
): OutgoingMessage {
  return {
    type: "tesla_sync/command_result",
    entry_id: entryId,
    request_id: requestId,
    ...(outcome.success
      ? { success: true, response: outcome.response }
      : {
          success: false,
          error: outcome.error,
          ...(outcome.errorCode === undefined
            ? {}
            : { error_code: outcome.errorCode }),
        }),
  };
}

/** `tesla_sync/fire_event`: fires an event on HA's bus for automations. */
export function fireEventMessage(
  entryId: string,
  eventType: BridgeEventType,
  data: Record<string, unknown>,
): OutgoingMessage {
  return {
    type: "tesla_sync/fire_event",
    entry_id: entryId,
    event_type: eventType,
    data,
  };
}

/** `tesla_sync/auth_failed`: requests HA's reauthentication flow for a vendor. */
export function authFailedMessage(
  entryId: string,
  vendor: "amber" | "tesla",
): OutgoingMessage {
  return { type: "tesla_sync/auth_failed", entry_id: entryId, vendor };
}

/** `tesla_sync/set_options`: writes changed settings into the entry's options. */
export function setOptionsMessage(
  entryId: string,
  options: Partial<EntryOptions>,
): OutgoingMessage {
  return { type: "tesla_sync/set_options", entry_id: entryId, options };
}
