/**
 * Zod schemas for every frame Home Assistant sends to the engine: the
 * results of the bridge commands, the command events of the integration's
 * subscription, HA's error objects and the core results the bridge reads.
 *
 * Results use non-strict objects: a newer integration may add keys to a
 * result, and the engine ignores what it does not know. Command events are
 * a union on `command`; an unknown command fails to parse and is ignored.
 */
import { z } from "zod";

/** HA's error object in a failed result frame. */
export const haErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
});
export type HaError = z.infer<typeof haErrorSchema>;

/** The part of `get_config` the bridge reads. */
export const haConfigSchema = z.object({
  state: z.string(),
  components: z.array(z.string()),
  version: z.string(),
});
export type HaConfig = z.infer<typeof haConfigSchema>;

/** A `component_loaded` bus event. */
export const componentLoadedEventSchema = z.object({
  event_type: z.literal("component_loaded"),
  data: z.object({ component: z.string() }),
});

/** Result of `tesla_sync/hello`. */
export const helloResultSchema = z.object({
  protocol: z.number().int(),
  integration_version: z.string(),
  entry_id: z.string().min(1),
  features: z.array(z.string()),
});
export type HelloResult = z.infer<typeof helloResultSchema>;

const energySiteId = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+$/, "must be a number"),
]);

/** Options as `tesla_sync/config` returns them; defaults as the protocol lists them. */
export const entryOptionsSchema = z.object({
  forecast_band: z.enum(["predicted", "low", "high"]).default("predicted"),
  auto_sync: z.boolean().default(true),
  spike_response: z.boolean().default(false),
  aemo_region: z.enum(["NSW1", "QLD1", "VIC1", "SA1", "TAS1"]).default("NSW1"),
  spike_threshold: z.number().min(0).max(20_000).default(300),
  curtailment: z.boolean().default(false),
  curtailment_threshold: z.number().min(-100).max(100).default(1),
});

/** Result of `tesla_sync/config`: the entry's configuration, secrets included. */
export const engineConfigSchema = z.object({
  amber: z.object({
    token: z.string().min(1),
    site_id: z.string().min(1),
    nmi: z.string().nullable().optional(),
  }),
  tesla: z.discriminatedUnion("access_kind", [
    z.object({
      access_kind: z.literal("teslemetry"),
      token: z.string().min(1),
      energy_site_id: energySiteId,
    }),
    z.object({
      access_kind: z.literal("tesla_fleet"),
      token: z.string().min(1),
      /** Unix seconds; null when HA's tesla_fleet entry has no expiry. */
      token_expires_at: z.number().nullable().optional(),
      energy_site_id: energySiteId,
    }),
  ]),
  options: entryOptionsSchema.prefault({}),
});
export type HaEngineConfig = z.infer<typeof engineConfigSchema>;

/** Result of `tesla_sync/register`. */
export const registerResultSchema = z.object({
  registered: z.number().int(),
});

/** Result of `tesla_sync/update`. */
export const updateResultSchema = z.object({ updated: z.number().int() });

/** Result of commands whose result is `null` (subscribe, command_result, fire_event ...). */
export const emptyResultSchema = z.unknown();

const entityKey = z.string().regex(/^[a-z0-9_]{1,64}$/);

/** A command event from `tesla_sync/subscribe_commands`. */
export const commandEventSchema = z.discriminatedUnion("command", [
  z.object({
    command: z.literal("switch_set"),
    key: entityKey,
    value: z.boolean(),
  }),
  z.object({ command: z.literal("button_press"), key: entityKey }),
  z.object({
    command: z.literal("select_set"),
    key: entityKey,
    value: z.string(),
  }),
  z.object({
    command: z.literal("number_set"),
    key: entityKey,
    value: z.number().finite(),
  }),
  z.object({
    command: z.literal("service_call"),
    request_id: z.string().min(1).max(64),
    service: z.string().min(1),
    data: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({ command: z.literal("config_changed") }),
  // Sent by the integration when its entry unloads (reload or removal).
  z.object({ command: z.literal("entry_unloaded") }),
]);
export type CommandEvent = z.infer<typeof commandEventSchema>;

/** A switch, select or number change, or a button press. */
export type EntityCommand = Extract<
  CommandEvent,
  { command: "switch_set" | "button_press" | "select_set" | "number_set" }
>;
