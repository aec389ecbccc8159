/**
 * Zod schemas of Tesla's `tariff_content_v2`, the time-of-use tariff a
 * Powerwall optimises against. The top level is the buy tariff and
 * `sell_tariff` has the same shape for export prices. Rates are $/kWh
 * (energy) and $/kW (demand), day of week 0 is Monday, and a period's end is
 * exclusive, with `toHour: 0, toMinute: 0` meaning midnight.
 *
 * Two modes:
 * - strict: tariffs this engine writes. Every time field and every metadata
 *   key is present, and unknown keys are rejected.
 * - lenient: tariffs read back from a Powerwall. Time and month fields equal
 *   to zero may be omitted (they read as 0), a period may end at hour 24,
 *   metadata keys and `sell_tariff` may be missing, and unknown keys are kept.
 *
 * The schemas check shape and types. Ranges, coverage, season tiling and the
 * link between labels and rates are checked by `validateTariff`.
 */
import { z } from "zod";

const integer = z.number().int();
const rate = z.number();

// ---------------------------------------------------------------- strict

const strictPeriodSchema = z.strictObject({
  fromDayOfWeek: integer,
  toDayOfWeek: integer,
  fromHour: integer,
  fromMinute: integer,
  toHour: integer,
  toMinute: integer,
});

const strictSeasonSchema = z.strictObject({
  fromMonth: integer,
  fromDay: integer,
  toMonth: integer,
  toDay: integer,
  tou_periods: z.record(
    z.string(),
    z.strictObject({ periods: z.array(strictPeriodSchema) }),
  ),
});

const strictChargesSchema = z.record(
  z.string(),
  z.strictObject({ rates: z.record(z.string(), rate) }),
);

const strictDailyChargeSchema = z.strictObject({
  name: z.string(),
  amount: rate,
});

/** Keys Tesla's example tariff carries besides the charges; optional in both modes. */
const optionalTeslaKeys = {
  monthly_minimum_bill: z.number().optional(),
  min_applicable_demand: z.number().optional(),
  max_applicable_demand: z.number().optional(),
  monthly_charges: z.number().optional(),
  daily_demand_charges: z.record(z.string(), z.unknown()).optional(),
};

const strictSideFields = {
  name: z.string(),
  utility: z.string(),
  code: z.string(),
  currency: z.string().min(1),
  daily_charges: z.array(strictDailyChargeSchema),
  demand_charges: strictChargesSchema,
  energy_charges: strictChargesSchema,
  seasons: z.record(z.string(), strictSeasonSchema),
  ...optionalTeslaKeys,
};

const strictSellTariffSchema = z.strictObject({
  version: integer.optional(),
  ...strictSideFields,
});

/** `tariff_content_v2` as this engine writes it. */
export const strictTariffSchema = z.strictObject({
  version: integer,
  ...strictSideFields,
  sell_tariff: strictSellTariffSchema,
});

// --------------------------------------------------------------- lenient

const omittedZero = integer.default(0);

const lenientPeriodSchema = z.looseObject({
  fromDayOfWeek: omittedZero,
  toDayOfWeek: omittedZero,
  fromHour: omittedZero,
  fromMinute: omittedZero,
  toHour: omittedZero,
  toMinute: omittedZero,
});

const lenientSeasonSchema = z.looseObject({
  fromMonth: omittedZero,
  fromDay: omittedZero,
  toMonth: omittedZero,
  toDay: omittedZero,
  tou_periods: z
    .record(
      z.string(),
      z.looseObject({ periods: z.array(lenientPeriodSchema) }),
    )
    .default({}),
});

const lenientChargesSchema = z.record(
  z.string(),
  z.looseObject({ rates: z.record(z.string(), rate).default({}) }),
);

const lenientDailyChargeSchema = z.looseObject({
  name: z.string().default(""),
  amount: rate.default(0),
});

const lenientSideFields = {
  name: z.string().optional(),
  utility: z.string().optional(),
  code: z.string().optional(),
  currency: z.string().optional(),
  daily_charges: z.array(lenientDailyChargeSchema).default([]),
  demand_charges: lenientChargesSchema.default({}),
  energy_charges: lenientChargesSchema,
  seasons: z.record(z.string(), lenientSeasonSchema),
  ...optionalTeslaKeys,
};

const lenientSellTariffSchema = z.looseObject({
  version: integer.optional(),
  ...lenientSideFields,
});

/** `tariff_content_v2` as a Powerwall returns it in `site_info`. */
export const lenientTariffSchema = z.looseObject({
  version: integer.optional(),
  ...lenientSideFields,
  sell_tariff: lenientSellTariffSchema.optional(),
});

/** A tariff in the exact form this engine writes and uploads. */
export type TariffContentV2 = z.output<typeof strictTariffSchema>;

/**
 * A tariff as parsed in lenient mode, with omitted time fields filled in as
 * 0. Every `TariffContentV2` is also a `TariffContentV2Lenient`, so code that
 * only reads prices (expansion, comparison) accepts this wider type.
 */
export type TariffContentV2Lenient = z.output<typeof lenientTariffSchema>;

/**
 * One side of a tariff: the buy tariff (the top level, whose extra
 * `sell_tariff` key this type ignores) or `sell_tariff`.
 */
export type TariffSide = z.output<typeof lenientSellTariffSchema>;

/** A season: an inclusive month/day range and its labelled time periods. */
export type TariffSeason = TariffSide["seasons"][string];

/** One weekday run and time-of-day window of a labelled period. */
export type TariffPeriod =
  TariffSeason["tou_periods"][string]["periods"][number];

/** Season name to `{ rates: label -> price }`. */
export type TariffCharges = TariffSide["energy_charges"];

/** Validation mode: `strict` for tariffs this engine writes, `lenient` for read-back. */
export type TariffMode = "strict" | "lenient";
