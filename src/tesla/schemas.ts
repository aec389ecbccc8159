/**
 * Zod schemas for the Tesla Fleet API energy-site endpoints, which Teslemetry
 * proxies with identical paths and bodies. Every body is wrapped in
 * `{response: …}`. Objects are loose: Tesla adds fields with new firmware,
 * and an unknown key must never fail a sync. Powers are watts and energies
 * watt-hours. Signs follow Tesla: `grid_power` > 0 imports, `battery_power`
 * > 0 discharges.
 */
import { z } from "zod";

/** Wraps a payload schema in Tesla's `{response: …}` envelope. */
export function envelope<T extends z.ZodType>(payload: T) {
  return z.looseObject({ response: payload });
}

const finite = z.number().finite();

/** Operation modes accepted by `POST …/operation` as `default_real_mode`. */
export const OPERATION_MODES = [
  "self_consumption",
  "autonomous",
  "backup",
] as const;
export const operationModeSchema = z.enum(OPERATION_MODES);
/** `autonomous` is Time-Based Control and `self_consumption` is Self-Powered in the Tesla app. */
export type OperationMode = z.infer<typeof operationModeSchema>;

/** Export rules accepted by `POST …/grid_import_export` as `customer_preferred_export_rule`. */
export const EXPORT_RULES = ["never", "pv_only", "battery_ok"] as const;
export const exportRuleSchema = z.enum(EXPORT_RULES);
/** `never` blocks all export, `pv_only` exports solar only, `battery_ok` lets the battery export too. */
export type ExportRule = z.infer<typeof exportRuleSchema>;

// ---------------------------------------------------------------- products

const energyComponentsSchema = z.looseObject({
  battery: z.boolean().optional(),
  solar: z.boolean().optional(),
  grid: z.boolean().optional(),
  load_meter: z.boolean().optional(),
  battery_type: z.string().optional(),
  solar_type: z.string().optional(),
  market_type: z.string().optional(),
});

/** One energy site in `GET /api/1/products`. */
export const energySiteProductSchema = z.looseObject({
  energy_site_id: z.number().int().nonnegative(),
  /** "battery" for a Powerwall site, "solar" for a solar-only site. */
  resource_type: z.string(),
  site_name: z.string().optional(),
  /** Site id as text (e.g. "STE…"), distinct from `energy_site_id`. */
  id: z.string().optional(),
  gateway_id: z.string().optional(),
  asset_site_id: z.string().optional(),
  percentage_charged: finite.optional(),
  energy_left: finite.optional(),
  total_pack_energy: finite.optional(),
  components: energyComponentsSchema.optional(),
});
export type EnergySiteProduct = z.infer<typeof energySiteProductSchema>;

/**
 * `GET /api/1/products`, reduced to its energy sites. Vehicles share the
 * list; any entry without `energy_site_id` is skipped unchecked, but an
 * entry that has one must be a valid energy site.
 */
export const productsResponseSchema = envelope(
  z.array(z.unknown()).transform((products, context) => {
    const sites: EnergySiteProduct[] = [];
    products.forEach((product, index) => {
      if (
        product === null ||
        typeof product !== "object" ||
        !("energy_site_id" in product)
      ) {
        return;
      }
      const parsed = energySiteProductSchema.safeParse(product);
      if (parsed.success) {
        sites.push(parsed.data);
        return;
      }
      for (const issue of parsed.error.issues) {
        context.addIssue({
          code: "custom",
          message: issue.message,
          path: [index, ...issue.path],
        });
      }
    });
    return sites;
  }),
);

// ---------------------------------------------------------------- site_info

const siteComponentsSchema = energyComponentsSchema.extend({
  backup: z.boolean().optional(),
  tou_capable: z.boolean().optional(),
  storm_mode_capable: z.boolean().optional(),
  /** Absent on some VPP or retailer-managed sites; see `non_export_configured`. */
  customer_preferred_export_rule: z.string().optional(),
  non_export_configured: z.boolean().optional(),
  /** Inverted flag: true means grid charging is blocked. */
  disallow_charge_from_grid_with_solar_installed: z.boolean().optional(),
  edit_setting_energy_exports: z.boolean().optional(),
  edit_setting_grid_charging: z.boolean().optional(),
  batteries: z.array(z.looseObject({})).optional(),
  gateways: z.array(z.looseObject({})).optional(),
});

/**
 * `GET /api/1/energy_sites/{id}/site_info`. `tariff_content_v2` stays an
 * opaque object here, because the tariff module parses and validates it.
 */
export const siteInfoSchema = z.looseObject({
  id: z.string(),
  site_name: z.string().optional(),
  /**
   * IANA zone the Powerwall reads its tariff in. Tesla sends an empty
   * string for some sites, and absent becomes "" too, so callers check one
   * value before falling back to a configured zone.
   */
  installation_time_zone: z.string().default(""),
  /** Kept as text, because new firmware may report a mode this engine does not write. */
  default_real_mode: z.string().optional(),
  backup_reserve_percent: finite.min(0).max(100).optional(),
  components: siteComponentsSchema.default({}),
  /** Older firmware reports these two settings at the top level instead of under components. */
  customer_preferred_export_rule: z.string().optional(),
  disallow_charge_from_grid_with_solar_installed: z.boolean().optional(),
  tariff_content_v2: z.record(z.string(), z.unknown()).nullish(),
  /** Firmware version, e.g. "24.44.1 8a6e4b0c". */
  version: z.string().optional(),
  nameplate_power: finite.optional(),
  nameplate_energy: finite.optional(),
  battery_count: finite.optional(),
  user_settings: z.looseObject({}).optional(),
  tou_settings: z.looseObject({}).optional(),
});
export type SiteInfo = z.infer<typeof siteInfoSchema>;

export const siteInfoResponseSchema = envelope(siteInfoSchema);

/** The settings a controller reads back from site_info, with Tesla's quirks resolved. */
export interface SiteSettings {
  /** Undefined when the site reports a mode outside OPERATION_MODES or none. */
  operationMode: OperationMode | undefined;
  backupReservePercent: number | undefined;
  /**
   * The export rule. When the site reports none but sets
   * `non_export_configured`, this is "never". Undefined when neither is known.
   */
  exportRule: ExportRule | undefined;
  /** Whether the battery may charge from the grid; the inverse of Tesla's flag. */
  gridChargingAllowed: boolean | undefined;
}

/** Reads the operation mode, reserve, export rule and grid charging from site_info. */
export function readSiteSettings(info: SiteInfo): SiteSettings {
  const mode = operationModeSchema.safeParse(info.default_real_mode);
  const rawRule =
    info.components.customer_preferred_export_rule ??
    info.customer_preferred_export_rule;
  const rule = exportRuleSchema.safeParse(rawRule);
  const disallow =
    info.components.disallow_charge_from_grid_with_solar_installed ??
    info.disallow_charge_from_grid_with_solar_installed;

  let exportRule: ExportRule | undefined;
  if (rule.success) {
    exportRule = rule.data;
  } else if (info.components.non_export_configured === true) {
    exportRule = "never";
  }

  return {
    operationMode: mode.success ? mode.data : undefined,
    backupReservePercent: info.backup_reserve_percent,
    exportRule,
    gridChargingAllowed: disallow === undefined ? undefined : !disallow,
  };
}

// ---------------------------------------------------------------- live_status

/** `GET /api/1/energy_sites/{id}/live_status`: instantaneous powers (W) and charge. */
export const liveStatusSchema = z.looseObject({
  solar_power: finite,
  /** > 0 discharging, < 0 charging. */
  battery_power: finite,
  load_power: finite,
  /** > 0 importing, < 0 exporting. */
  grid_power: finite,
  generator_power: finite.optional(),
  grid_services_power: finite.optional(),
  percentage_charged: finite.min(0).max(100),
  /** Wh; absent in some responses (HA core's recorded fixture has none). */
  energy_left: finite.optional(),
  /** Wh; absent on some hardware. */
  total_pack_energy: finite.optional(),
  /** "Active", "Inactive" or "Unknown"; kept as text for values added later. */
  grid_status: z.string().optional(),
  /** "on_grid", "off_grid_intentional", "off_grid_unintentional" or "island_status_unknown". */
  island_status: z.string().optional(),
  storm_mode_active: z.boolean().optional(),
  backup_capable: z.boolean().optional(),
  /** Site-local ISO 8601 time of the reading. */
  timestamp: z.string().optional(),
  wall_connectors: z.array(z.looseObject({})).optional(),
});
export type LiveStatus = z.infer<typeof liveStatusSchema>;

export const liveStatusResponseSchema = envelope(liveStatusSchema);

// ---------------------------------------------------------------- writes

/** Write outcome as `{result, reason}`; `result: false` means Tesla did not apply it. */
export const writeResultSchema = z.looseObject({
  result: z.boolean(),
  reason: z.string().nullish(),
});

/** Write outcome as `{code, message}`, e.g. `{code: 201, message: "Updated"}`. */
export const writeCodeSchema = z.looseObject({
  code: z.number().int(),
  message: z.string().nullish(),
});

/** Response of every energy-site POST. */
export const writeResponseSchema = envelope(
  z.union([writeResultSchema, writeCodeSchema]),
);
export type WriteResponse = z.infer<typeof writeResponseSchema>;

/** Error body of the Fleet API and Tesla's OAuth server, e.g. `{error: "invalid_grant"}`. */
export const fleetErrorSchema = z.looseObject({
  error: z.string(),
  error_description: z.string().nullish(),
});

// ---------------------------------------------------------------- OAuth

/**
 * Tesla's response to a refresh-token grant. Only `access_token` is
 * required: by the time this arrives the refresh token sent is spent, so a
 * field of an odd type must not make the engine drop the rotated one.
 */
export const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  /** The rotated refresh token; the one sent is no longer valid. */
  refresh_token: z.string().min(1).optional(),
  /**
   * Access-token lifetime in seconds. Read by `tokenLifetimeSeconds`,
   * which also takes a numeric string and replaces anything else with
   * 28800 (8 h).
   */
  expires_in: z.unknown().optional(),
  token_type: z.string().optional(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;
