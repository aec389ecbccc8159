/**
 * The narrow view of a Powerwall that the controls need. TeslaClient
 * satisfies it, so production code passes the real client and tests pass
 * the same client pointed at the Tesla stand-in.
 */
import { z } from "zod";

import {
  readSiteSettings,
  type ExportRule,
  type OperationMode,
  type SiteInfo,
} from "../tesla/schemas.js";

export type { ExportRule, OperationMode, SiteInfo } from "../tesla/schemas.js";

/** Site id as TeslaClient takes it. */
export type SiteId = number | string;

/** The reads and writes the controls make on one energy site. */
export interface PowerwallWrites {
  /** Reads site_info: current tariff, operation mode, reserve and export rule. */
  getSiteInfo(siteId: SiteId): Promise<SiteInfo>;
  /** Uploads a `tariff_content_v2` object. */
  setTariff(
    siteId: SiteId,
    tariffContentV2: Record<string, unknown>,
  ): Promise<void>;
  setOperationMode(siteId: SiteId, mode: OperationMode): Promise<void>;
  setExportRule(siteId: SiteId, rule: ExportRule): Promise<void>;
  /** Backup reserve, percent 0 to 100. */
  setBackupReserve(siteId: SiteId, percent: number): Promise<void>;
  /** Allows or blocks charging the battery from the grid. */
  setGridCharging(siteId: SiteId, allowed: boolean): Promise<void>;
}

/** A tariff as stored in the controls' state files: an opaque JSON object. */
export const savedTariffSchema = z.record(z.string(), z.unknown());

/** The settings a control saves before it changes them, so it can put them back. */
export const savedSiteStateSchema = z.object({
  /** The `tariff_content_v2` the site had; undefined when it reported none. */
  tariff: savedTariffSchema.optional(),
  operationMode: z
    .enum(["self_consumption", "autonomous", "backup"])
    .optional(),
  /** Percent 0 to 100. */
  backupReservePercent: z.number().min(0).max(100).optional(),
  gridChargingAllowed: z.boolean().optional(),
});
/** Settings saved from site_info before a control changed them. */
export type SavedSiteState = z.infer<typeof savedSiteStateSchema>;

/** Copies the settings a control may change out of `info`. */
export function captureSiteState(info: SiteInfo): SavedSiteState {
  const settings = readSiteSettings(info);
  const tariff = info.tariff_content_v2;
  return {
    ...(tariff === null || tariff === undefined
      ? {}
      : { tariff: structuredClone(tariff) }),
    ...(settings.operationMode === undefined
      ? {}
      : { operationMode: settings.operationMode }),
    ...(settings.backupReservePercent === undefined
      ? {}
      : { backupReservePercent: settings.backupReservePercent }),
    ...(settings.gridChargingAllowed === undefined
      ? {}
      : { gridChargingAllowed: settings.gridChargingAllowed }),
  };
}

/** Returns the site's time zone from site_info, or `fallback` when it reports none. */
export function siteTimeZone(info: SiteInfo, fallback: string): string {
  const zone = info.installation_time_zone.trim();
  return zone === "" ? fallback : zone;
}
