/**
 * The engine's configuration: what a YAML file (`--config FILE`) or the
 * `TESLA_SYNC_*` environment variables may set, with every default. The keys,
 * units and defaults are listed for users in docs/configuration.md, so keep the
 * two in step.
 */
import { IANAZone } from "luxon";
import { z } from "zod";

import { controlSettingsSchema } from "../controls/settings.js";
import { MIN_PASSWORD_LENGTH } from "../server/password.js";

/** Amber's public REST API. */
export const DEFAULT_AMBER_REST_URL = "https://api.amber.com.au/v1";
/** Amber's live-price WebSocket (alpha). */
export const DEFAULT_AMBER_WS_URL = "wss://api-ws.amber.com.au";
/** Teslemetry's proxy of the Fleet API, which routes to the user's region itself. */
export const DEFAULT_TESLEMETRY_URL = "https://api.teslemetry.com";
/** Tesla's OAuth token endpoint for Fleet API refresh grants. */
export const DEFAULT_FLEET_TOKEN_URL =
  "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token";
/** Fleet API base URL per region. Australia is served by "na". */
export const FLEET_REGION_URLS = {
  na: "https://fleet-api.prd.na.vn.cloud.tesla.com",
  eu: "https://fleet-api.prd.eu.vn.cloud.tesla.com",
  cn: "https://fleet-api.prd.cn.vn.cloud.tesla.cn",
} as const;
/** The zone used when neither the Powerwall nor the configuration names one. */
export const DEFAULT_TIME_ZONE = "Australia/Sydney";

const httpUrl = z
  .url({ protocol: /^https?$/ })
  .describe("an http:// or https:// URL");
const wsUrl = z.url({ protocol: /^wss?$/ }).describe("a ws:// or wss:// URL");
const secret = z.string().trim().min(1, "must not be empty");
const siteId = z
  .union([z.string().trim().min(1, "must not be empty"), z.number().int()])
  .transform((value) => String(value));

const timeZone = z.string().refine((zone) => IANAZone.isValidZone(zone), {
  message: "not an IANA time zone. Use a name such as Australia/Sydney",
});

const amberSchema = z.strictObject({
  /** Amber API token (`psk_…`), created at app.amber.com.au/developers. */
  token: secret.optional(),
  /** Amber site id, optional when the account has exactly one active site. */
  siteId: siteId.optional(),
  restUrl: httpUrl.default(DEFAULT_AMBER_REST_URL),
  wsUrl: wsUrl.default(DEFAULT_AMBER_WS_URL),
  /** Whether to use the live-price WebSocket. REST polling covers for it either way. */
  liveFeed: z.boolean().default(true),
});

const fleetSchema = z.strictObject({
  /** Client id of the user's own Tesla developer application. */
  clientId: z.string().trim().min(1, "must not be empty").optional(),
  /** First refresh token. Once it has rotated, the copy in the data directory is used. */
  refreshToken: secret.optional(),
  region: z.enum(["na", "eu", "cn"]).default("na"),
  tokenUrl: httpUrl.default(DEFAULT_FLEET_TOKEN_URL),
});

const teslaSchema = z.strictObject({
  /** "teslemetry" (a Teslemetry access token) or "fleet" (own OAuth client). */
  auth: z.enum(["teslemetry", "fleet"]).default("teslemetry"),
  /** Teslemetry access token, used when `auth` is "teslemetry". */
  token: secret.optional(),
  /** Tesla energy site id, optional when the account has exactly one energy site. */
  siteId: siteId.optional(),
  /** API base URL. The default is Teslemetry's, or the Fleet region's for "fleet". */
  baseUrl: httpUrl.optional(),
  fleet: fleetSchema.prefault({}),
});

const syncSchema = z.strictObject({
  /** Whether scheduled and live-price syncs run. Manual syncs work either way. */
  autoSync: z.boolean().default(true),
  /** Which `advancedPrice` band prices forecast slots. */
  forecastBand: z.enum(["predicted", "low", "high"]).default("predicted"),
  /** Absolute threshold for a half hour after the next one, before it grows with lead time, c/kWh. */
  minChangeCents: z.number().positive().default(4),
  /** Relative threshold for those half hours, percent of the larger rate, before growth. */
  minChangePercent: z.number().min(0).max(60).default(15),
  /** Growth of both thresholds per hour of lead time, percent. */
  thresholdGrowthPercentPerHour: z.number().min(0).max(1000).default(25),
  /** Absolute threshold for the current and the next half hour, c/kWh. */
  currentSlotMinChangeCents: z.number().positive().default(4),
  /** Relative threshold for the current and the next half hour, percent. */
  currentSlotMinChangePercent: z.number().min(0).max(60).default(15),
  /** A current-slot move at least this large is urgent, c/kWh. */
  urgentMinChangeCents: z.number().positive().default(10),
  /** Relative part of the urgent test, percent. */
  urgentMinChangePercent: z.number().min(0).max(100).default(50),
  /** Hours ahead in which sign, spike-status and ranking changes are material. */
  nearHorizonHours: z.number().min(0.5).max(24).default(6),
  /** Cheapest and dearest half hours the ranking rule watches; 0 turns the rule off. */
  rankedSlots: z.number().int().min(0).max(12).default(2),
  /** A live price this far from the uploaded current slot may trigger a sync, c/kWh. */
  livePriceThresholdCents: z.number().positive().default(2),
  /** Quiet time after a live push before the sync it triggers, seconds. */
  liveDebounceSeconds: z.number().min(0).max(120).default(10),
  /** Minimum time between two tariff writes for ordinary changes, seconds. */
  minWriteSpacingSeconds: z.number().min(60).max(3600).default(1800),
  /** Minimum time between two tariff writes for urgent changes, seconds. */
  urgentWriteSpacingSeconds: z.number().min(60).max(3600).default(300),
  /** Minimum time between writes that a manual sync may not undercut, seconds. */
  manualWriteFloorSeconds: z.number().min(10).max(3600).default(60),
  /** Delay after each 5-minute boundary before the scheduled sync, seconds. With the jitter it stays under the 300 s interval. */
  scheduleOffsetSeconds: z.number().min(0).max(230).default(35),
  /** Upper bound of the random per-install delay added to the offset, seconds. */
  scheduleJitterSeconds: z.number().min(0).max(60).default(10),
  /** Half hours without a price that may be filled from the nearest day before refusing. */
  maxFilledSlots: z.number().int().min(0).max(48).default(6),
  /** How often the Powerwall's own tariff is read back to catch outside edits, minutes. */
  siteInfoRefreshMinutes: z.number().min(5).max(1440).default(60),
  /** Tariff write attempts allowed per local day, manual ones included. */
  dailyWriteBudget: z.number().int().min(1).max(1000).default(48),
  /** Part of the daily budget kept for urgent changes. */
  urgentWriteReserve: z.number().int().min(0).max(1000).default(12),
});

/** Rejects write settings that contradict each other. */
function checkWriteSettings(
  sync: z.output<typeof syncSchema>,
  context: z.core.$RefinementCtx<z.output<typeof syncSchema>>,
): void {
  if (sync.urgentWriteReserve >= sync.dailyWriteBudget) {
    context.addIssue({
      code: "custom",
      path: ["urgentWriteReserve"],
      message: `must be less than dailyWriteBudget (${sync.dailyWriteBudget}), or ordinary changes could never be written`,
    });
  }
  if (sync.urgentWriteSpacingSeconds > sync.minWriteSpacingSeconds) {
    context.addIssue({
      code: "custom",
      path: ["urgentWriteSpacingSeconds"],
      message: `must not exceed minWriteSpacingSeconds (${sync.minWriteSpacingSeconds}), because urgent writes may go sooner than ordinary ones`,
    });
  }
}

const serverSchema = z.strictObject({
  /**
   * Address the status server binds to. Loopback by default because the
   * server has no login yet: anyone who can reach it can start a sync.
   */
  host: z.string().trim().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(5001),
});

const dashboardSchema = z.strictObject({
  /**
   * Password of the standalone dashboard, at least 8 characters. Without
   * one, a live engine generates a password at first start and prints it
   * once; the demo runs without login, on 127.0.0.1 only.
   */
  password: secret
    .min(
      MIN_PASSWORD_LENGTH,
      `must be at least ${MIN_PASSWORD_LENGTH} characters long`,
    )
    .optional(),
  /** Serve Home Assistant's ingress panel; default on when SUPERVISOR_TOKEN is set. */
  ingress: z.boolean().optional(),
  /** Port of the ingress listener, the add-on's `ingress_port`. */
  ingressPort: z.number().int().min(0).max(65535).default(8099),
  /** Address the ingress listener binds to. */
  ingressHost: z.string().trim().min(1).default("0.0.0.0"),
  /** Client addresses the ingress listener answers; the Supervisor's by default. */
  ingressAllowedAddresses: z
    .array(z.string().trim().min(1))
    .min(1)
    .default(["172.30.32.2"]),
  /** Lifetime of a dashboard login, hours. */
  sessionHours: z.number().positive().max(720).default(12),
  /** Time between live_status readings for the energy flow and history, seconds; 0 turns them off. */
  energySampleSeconds: z
    .number()
    .min(0)
    .max(3600)
    .refine((seconds) => seconds === 0 || seconds >= 30, {
      message: "must be 0 (off) or at least 30 seconds",
    })
    .default(60),
  /** Days of price, energy and sync history kept. */
  historyDays: z.number().int().min(1).max(3650).default(30),
});

const logSchema = z.strictObject({
  level: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  /** "pretty" at a terminal, "json" otherwise when not set. */
  format: z.enum(["pretty", "json"]).optional(),
});

/** Schema of the whole configuration after the file and environment are merged. */
export const configSchema = z.strictObject({
  amber: amberSchema.prefault({}),
  tesla: teslaSchema.prefault({}),
  /** Directory for state that survives a restart (tariffs, tokens, counters). */
  dataDir: z.string().trim().min(1).default("./data"),
  /** Zone used when the Powerwall reports no `installation_time_zone`. */
  timeZone: timeZone.optional(),
  sync: syncSchema.prefault({}).superRefine(checkWriteSettings),
  /**
   * Settings of the price-event controls, with the keys of `controls.json`
   * (docs/controls.md). They are checked here but kept as written, because
   * `controls.json` in the data directory is merged over them at start.
   */
  controls: z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((controls, context) => {
      const result = controlSettingsSchema.safeParse(controls);
      for (const issue of result.error?.issues ?? []) {
        context.addIssue({
          code: "custom",
          path: issue.path,
          message: issue.message,
        });
      }
    }),
  server: serverSchema.prefault({}),
  dashboard: dashboardSchema.prefault({}),
  log: logSchema.prefault({}),
});

/** Configuration as parsed, before the mode is decided. */
export type ParsedConfig = z.output<typeof configSchema>;

/** Tesla access for one of the two supported kinds. */
export type TeslaAccess =
  | { kind: "teslemetry"; token: string }
  | { kind: "fleet"; clientId: string; refreshToken: string; tokenUrl: string };

/**
 * A configuration the engine can run with. "demo" means no account was
 * configured: the engine runs against the loopback stand-ins.
 */
export type EngineConfig = ParsedConfig &
  (
    | { mode: "demo" }
    | {
        mode: "live";
        amberToken: string;
        teslaAccess: TeslaAccess;
        /** Resolved Tesla API base URL. */
        teslaBaseUrl: string;
      }
  );
