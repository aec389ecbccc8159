/**
 * The `TESLA_SYNC_*` environment variables and the configuration key each
 * one sets. Values arrive as text and are converted here, so an invalid
 * number or boolean is reported against the variable's own name.
 */
import { ConfigError } from "../errors.js";

/** Type of a variable's value; a "list" is comma-separated text. */
type ValueKind = "string" | "integer" | "number" | "boolean" | "list";

/** One environment variable: its name, the dotted configuration key and the value type. */
export interface EnvVariable {
  name: string;
  key: string;
  kind: ValueKind;
}

/** Every environment variable the engine reads, in documentation order. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: "TESLA_SYNC_AMBER_TOKEN", key: "amber.token", kind: "string" },
  { name: "TESLA_SYNC_AMBER_SITE_ID", key: "amber.siteId", kind: "string" },
  { name: "TESLA_SYNC_AMBER_REST_URL", key: "amber.restUrl", kind: "string" },
  { name: "TESLA_SYNC_AMBER_WS_URL", key: "amber.wsUrl", kind: "string" },
  {
    name: "TESLA_SYNC_AMBER_LIVE_FEED",
    key: "amber.liveFeed",
    kind: "boolean",
  },
  { name: "TESLA_SYNC_TESLA_AUTH", key: "tesla.auth", kind: "string" },
  { name: "TESLA_SYNC_TESLA_TOKEN", key: "tesla.token", kind: "string" },
  { name: "TESLA_SYNC_TESLA_SITE_ID", key: "tesla.siteId", kind: "string" },
  { name: "TESLA_SYNC_TESLA_BASE_URL", key: "tesla.baseUrl", kind: "string" },
  {
    name: "TESLA_SYNC_FLEET_CLIENT_ID",
    key: "tesla.fleet.clientId",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_FLEET_REFRESH_TOKEN",
    key: "tesla.fleet.refreshToken",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_FLEET_REGION",
    key: "tesla.fleet.region",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_FLEET_TOKEN_URL",
    key: "tesla.fleet.tokenUrl",
    kind: "string",
  },
  { name: "TESLA_SYNC_DATA_DIR", key: "dataDir", kind: "string" },
  { name: "TESLA_SYNC_TIME_ZONE", key: "timeZone", kind: "string" },
  { name: "TESLA_SYNC_AUTO_SYNC", key: "sync.autoSync", kind: "boolean" },
  {
    name: "TESLA_SYNC_FORECAST_BAND",
    key: "sync.forecastBand",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_MIN_CHANGE_CENTS",
    key: "sync.minChangeCents",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_MIN_CHANGE_PERCENT",
    key: "sync.minChangePercent",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_THRESHOLD_GROWTH_PERCENT_PER_HOUR",
    key: "sync.thresholdGrowthPercentPerHour",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_CURRENT_SLOT_MIN_CHANGE_CENTS",
    key: "sync.currentSlotMinChangeCents",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_CURRENT_SLOT_MIN_CHANGE_PERCENT",
    key: "sync.currentSlotMinChangePercent",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_URGENT_MIN_CHANGE_CENTS",
    key: "sync.urgentMinChangeCents",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_URGENT_MIN_CHANGE_PERCENT",
    key: "sync.urgentMinChangePercent",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_NEAR_HORIZON_HOURS",
    key: "sync.nearHorizonHours",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_RANKED_SLOTS",
    key: "sync.rankedSlots",
    kind: "integer",
  },
  {
    name: "TESLA_SYNC_LIVE_PRICE_THRESHOLD_CENTS",
    key: "sync.livePriceThresholdCents",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_LIVE_DEBOUNCE_SECONDS",
    key: "sync.liveDebounceSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_MIN_WRITE_SPACING_SECONDS",
    key: "sync.minWriteSpacingSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_URGENT_WRITE_SPACING_SECONDS",
    key: "sync.urgentWriteSpacingSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_MANUAL_WRITE_FLOOR_SECONDS",
    key: "sync.manualWriteFloorSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_SCHEDULE_OFFSET_SECONDS",
    key: "sync.scheduleOffsetSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_SCHEDULE_JITTER_SECONDS",
    key: "sync.scheduleJitterSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_MAX_FILLED_SLOTS",
    key: "sync.maxFilledSlots",
    kind: "integer",
  },
  {
    name: "TESLA_SYNC_SITE_INFO_REFRESH_MINUTES",
    key: "sync.siteInfoRefreshMinutes",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_DAILY_WRITE_BUDGET",
    key: "sync.dailyWriteBudget",
    kind: "integer",
  },
  {
    name: "TESLA_SYNC_URGENT_WRITE_RESERVE",
    key: "sync.urgentWriteReserve",
    kind: "integer",
  },
  {
    name: "TESLA_SYNC_SPIKE_ENABLED",
    key: "controls.spike.enabled",
    kind: "boolean",
  },
  {
    name: "TESLA_SYNC_SPIKE_REGION",
    key: "controls.spike.region",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_SPIKE_THRESHOLD_MWH",
    key: "controls.spike.thresholdMwh",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_CURTAILMENT_ENABLED",
    key: "controls.curtailment.enabled",
    kind: "boolean",
  },
  {
    name: "TESLA_SYNC_CURTAILMENT_THRESHOLD_CENTS",
    key: "controls.curtailment.thresholdCents",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_SPIKE_PROTECTION_ENABLED",
    key: "controls.overlays.spikeProtection.enabled",
    kind: "boolean",
  },
  {
    name: "TESLA_SYNC_EXPORT_BOOST_ENABLED",
    key: "controls.overlays.exportBoost.enabled",
    kind: "boolean",
  },
  {
    name: "TESLA_SYNC_DEMAND_WINDOW_ENABLED",
    key: "controls.overlays.demandWindow.enabled",
    kind: "boolean",
  },
  { name: "TESLA_SYNC_HOST", key: "server.host", kind: "string" },
  { name: "TESLA_SYNC_PORT", key: "server.port", kind: "integer" },
  {
    name: "TESLA_SYNC_DASHBOARD_PASSWORD",
    key: "dashboard.password",
    kind: "string",
  },
  { name: "TESLA_SYNC_INGRESS", key: "dashboard.ingress", kind: "boolean" },
  {
    name: "TESLA_SYNC_INGRESS_PORT",
    key: "dashboard.ingressPort",
    kind: "integer",
  },
  {
    name: "TESLA_SYNC_INGRESS_HOST",
    key: "dashboard.ingressHost",
    kind: "string",
  },
  {
    name: "TESLA_SYNC_INGRESS_ALLOWED_ADDRESSES",
    key: "dashboard.ingressAllowedAddresses",
    kind: "list",
  },
  {
    name: "TESLA_SYNC_ENERGY_SAMPLE_SECONDS",
    key: "dashboard.energySampleSeconds",
    kind: "number",
  },
  {
    name: "TESLA_SYNC_HISTORY_DAYS",
    key: "dashboard.historyDays",
    kind: "integer",
  },
  { name: "TESLA_SYNC_LOG_LEVEL", key: "log.level", kind: "string" },
  { name: "TESLA_SYNC_LOG_FORMAT", key: "log.format", kind: "string" },
];

/**
 * `TESLA_SYNC_*` variables read outside the configuration: HA mode's
 * connection settings, the Supervisor address that tests override, and
 * the variables of the add-on's run script and the repository's scripts.
 */
const OTHER_VARIABLES: ReadonlySet<string> = new Set([
  "TESLA_SYNC_HA_URL",
  "TESLA_SYNC_HA_TOKEN",
  "TESLA_SYNC_HA_ENTRY_ID",
  "TESLA_SYNC_SUPERVISOR_URL",
  "TESLA_SYNC_OPTIONS_FILE",
  "TESLA_SYNC_APP_DIR",
  "TESLA_SYNC_CACHE",
  "TESLA_SYNC_SKIP_BUILD",
  "TESLA_SYNC_KEEP_SCREENSHOTS",
]);

/** Prefix of the end-to-end test's variables. */
const OTHER_PREFIX = "TESLA_SYNC_E2E_";

/**
 * Returns the `TESLA_SYNC_*` variables set in `env` that nothing reads,
 * sorted, each with the closest known name when one is within three edits
 * (a likely typo).
 */
export function unknownEnvVariables(
  env: Record<string, string | undefined>,
): Array<{ name: string; suggestion: string | undefined }> {
  const known = [
    ...ENV_VARIABLES.map((variable) => variable.name),
    ...OTHER_VARIABLES,
  ];
  return Object.keys(env)
    .filter(
      (name) =>
        name.startsWith("TESLA_SYNC_") &&
        !name.startsWith(OTHER_PREFIX) &&
        !known.includes(name),
    )
    .sort()
    .map((name) => ({ name, suggestion: closest(name, known) }));
}

function closest(
  name: string,
  candidates: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution =
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(
        Math.min(
          (previous[j] ?? 0) + 1,
          (current[j - 1] ?? 0) + 1,
          substitution,
        ),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Returns the environment variable that sets `key`, if there is one. */
export function envNameForKey(key: string): string | undefined {
  return ENV_VARIABLES.find((variable) => variable.key === key)?.name;
}

/**
 * Builds a nested configuration object from the `TESLA_SYNC_*` variables in
 * `env`. Empty values count as unset, so `TESLA_SYNC_PORT=` keeps the default.
 */
export function configFromEnv(
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const variable of ENV_VARIABLES) {
    const raw = env[variable.name];
    if (raw === undefined || raw.trim() === "") {
      continue;
    }
    setPath(result, variable.key, convert(variable, raw.trim()));
  }
  return result;
}

function convert(variable: EnvVariable, raw: string): unknown {
  switch (variable.kind) {
    case "string":
      return raw;
    case "list":
      return raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    case "boolean": {
      const lower = raw.toLowerCase();
      if (["true", "1", "yes", "on"].includes(lower)) {
        return true;
      }
      if (["false", "0", "no", "off"].includes(lower)) {
        return false;
      }
      throw new ConfigError(
        `${variable.name}="${raw}" is not a boolean. Set it to true or false.`,
      );
    }
    case "integer":
    case "number": {
      const value = Number(raw);
      const valid =
        Number.isFinite(value) &&
        (variable.kind === "number" || Number.isInteger(value));
      if (!valid) {
        throw new ConfigError(
          `${variable.name}="${raw}" is not ${variable.kind === "integer" ? "a whole number" : "a number"}. Set it to a plain number such as 5001.`,
        );
      }
      return value;
    }
  }
}

/** Sets `object.a.b.c` for the key "a.b.c", creating the levels in between. */
function setPath(
  object: Record<string, unknown>,
  key: string,
  value: unknown,
): void {
  const parts = key.split(".");
  let level = object;
  for (const part of parts.slice(0, -1)) {
    const next = level[part];
    if (next !== null && typeof next === "object" && !Array.isArray(next)) {
      level = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      level[part] = created;
      level = created;
    }
  }
  const last = parts[parts.length - 1];
  if (last !== undefined) {
    level[last] = value;
  }
}
