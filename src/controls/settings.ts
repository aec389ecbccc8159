/**
 * Settings of the price-event controls: the `controls:` key of the main
 * configuration, with `controls.json` in the data directory merged over it
 * (all keys optional in both). With neither, the defaults apply: every
 * control off, so nothing is written and AEMO is never polled until the
 * user turns a control on.
 *
 * The `enabled` switches are optional, and when set they win at every start.
 * When left out, each control keeps the switch last set through its
 * `enable()`/`disable()` (the HA switch or the dashboard). That switch lives
 * in the control's own state file and is off the first time.
 */
import { join } from "node:path";

import { z } from "zod";

import { AEMO_VISUALISATIONS_URL } from "../aemo/client.js";
import { nemRegionSchema } from "../aemo/schemas.js";
import { ConfigError } from "../errors.js";
import { readJsonFile } from "../util/atomic-file.js";
import { overlaySettingsSchema } from "./overlays.js";

/** File name of the settings inside the data directory. */
export const CONTROL_SETTINGS_FILE = "controls.json";

/** Schema of `controls.json`. */
export const controlSettingsSchema = z.strictObject({
  spike: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** NEM region watched; default NSW1. */
      region: nemRegionSchema.default("NSW1"),
      /** Price at or above which a spike starts, $/MWh; default 300. */
      thresholdMwh: z.number().min(0).max(20_000).default(300),
      /** Fraction below the threshold that ends a spike; default 0.1 (10 %). */
      exitMargin: z.number().min(0).lt(1).default(0.1),
      /** Consecutive 5-minute intervals below the exit level that end a spike; default 2. */
      exitIntervals: z.number().int().min(1).max(12).default(2),
      /** Time between AEMO polls, seconds; default 60. */
      pollSeconds: z.number().min(15).max(600).default(60),
      /** AEMO visualisation API host; default AEMO's public host. */
      aemoBaseUrl: z
        .url({ protocol: /^https?$/ })
        .default(AEMO_VISUALISATIONS_URL),
    })
    .prefault({}),
  curtailment: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** Curtail when export earns less than this, c/kWh; default 1. */
      thresholdCents: z.number().min(-100).max(100).default(1),
      /** Extra earnings before the user's rule comes back, c/kWh; default 0.5. */
      hysteresisCents: z.number().min(0).max(50).default(0.5),
    })
    .prefault({}),
  customSchedule: z
    .strictObject({
      /** Minutes without Amber prices before the fallback schedule is uploaded; default 30. */
      fallbackMinutes: z.number().min(5).max(1440).default(30),
    })
    .prefault({}),
  force: z
    .strictObject({
      /** Maximum force duration, minutes; default 720. */
      maxMinutes: z.number().int().min(1).max(1440).default(720),
    })
    .prefault({}),
  overlays: overlaySettingsSchema.prefault({}),
});
/** Parsed control settings. */
export type ControlSettings = z.output<typeof controlSettingsSchema>;

/**
 * Reads `controls.json` from `dataDir` and merges it over `configured` (the
 * `controls:` key of the main configuration), key by key. The file wins
 * because it is the place for settings changed while running. Defaults
 * fill the rest. Throws ConfigError naming the key.
 */
export async function loadControlSettings(
  dataDir: string,
  configured: Record<string, unknown> = {},
): Promise<ControlSettings> {
  const path = join(dataDir, CONTROL_SETTINGS_FILE);
  const raw = (await readJsonFile(path)) ?? {};
  const merged = isPlainObject(raw) ? mergeSettings(configured, raw) : raw;
  const result = controlSettingsSchema.safeParse(merged);
  if (result.success) {
    return result.data;
  }
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
  );
  throw new ConfigError(
    `${path} is invalid: ${problems.join("; ")}. Fix those keys or remove the file for the defaults.`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Returns `base` with `override` merged in; values in `override` win. */
function mergeSettings(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = result[key];
    result[key] =
      isPlainObject(existing) && isPlainObject(value)
        ? mergeSettings(existing, value)
        : value;
  }
  return result;
}
