/**
 * Zod schemas for AEMO's ELEC_NEM_SUMMARY report, the JSON feed behind the
 * NEM dashboard at visualisations.aemo.com.au. It is an undocumented web-app
 * API, so rows are loose objects: only the fields the spike response reads
 * are checked, and AEMO may add more.
 *
 * Units and times: `PRICE` is the regional reference price in $/MWh,
 * excluding GST. `SETTLEMENTDATE` is NEM time (UTC+10 all year, no daylight
 * saving) without an offset, and it marks the END of the 5-minute dispatch
 * interval.
 */
import { z } from "zod";

/** The five NEM regions. */
export const NEM_REGIONS = ["NSW1", "QLD1", "VIC1", "SA1", "TAS1"] as const;
export const nemRegionSchema = z.enum(NEM_REGIONS);
/** A NEM region id as AEMO writes it in `REGIONID`. */
export type NemRegion = z.infer<typeof nemRegionSchema>;

/** NEM time is a fixed UTC+10 offset. */
export const NEM_UTC_OFFSET = "+10:00";

const NEM_LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/;
const WITH_OFFSET =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses a `SETTLEMENTDATE` into epoch milliseconds. A value without an
 * offset is NEM time; one with an offset is taken as written.
 */
export const settlementDateSchema = z.string().transform((text, context) => {
  let iso: string | undefined;
  if (NEM_LOCAL_TIME.test(text)) {
    iso = `${text}${NEM_UTC_OFFSET}`;
  } else if (WITH_OFFSET.test(text)) {
    iso = text;
  }
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  if (!Number.isFinite(ms)) {
    context.addIssue({
      code: "custom",
      message: `"${text}" is not a NEM time such as 2025-06-02T18:10:00`,
    });
    return z.NEVER;
  }
  return ms;
});

/** One region's row of `ELEC_NEM_SUMMARY`. */
export const nemSummaryRowSchema = z.looseObject({
  REGIONID: z.string().min(1),
  /** End of the dispatch interval, parsed to epoch ms. */
  SETTLEMENTDATE: settlementDateSchema,
  /** Regional reference price, $/MWh excluding GST; negative prices are real. */
  PRICE: z.number().finite(),
  /** "FIRM" once the price is final, "NOT FIRM" while AEMO may still revise it. */
  PRICE_STATUS: z.string().optional(),
  APCFLAG: z.number().optional(),
  MARKETSUSPENDEDFLAG: z.number().optional(),
  TOTALDEMAND: z.number().optional(),
  NETINTERCHANGE: z.number().optional(),
  SCHEDULEDGENERATION: z.number().optional(),
  SEMISCHEDULEDGENERATION: z.number().optional(),
  /** A JSON document inside a string; not parsed here. */
  INTERCONNECTORFLOWS: z.string().optional(),
});
export type NemSummaryRow = z.infer<typeof nemSummaryRowSchema>;

/** Body of `GET /aemo/apps/api/report/ELEC_NEM_SUMMARY`. */
export const nemSummaryResponseSchema = z.looseObject({
  ELEC_NEM_SUMMARY: z.array(nemSummaryRowSchema),
});
export type NemSummaryResponse = z.infer<typeof nemSummaryResponseSchema>;
