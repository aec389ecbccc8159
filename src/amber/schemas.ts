/**
 * Zod schemas for Amber Electric's public API (v1). They accept both
 * published specifications: the 1.0 spec, which has no `advancedPrice` or
 * `intervalLength`, and the 2.0.0 spec, which adds them. Prices are c/kWh
 * including GST, and every channel is a cost to the customer, so a feed-in
 * `perKwh` of -8.3 means the household is paid 8.3 c/kWh.
 */
import { z } from "zod";

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });
const price = z.number().finite();

export const CHANNEL_TYPES = ["general", "controlledLoad", "feedIn"] as const;
export const channelTypeSchema = z.enum(CHANNEL_TYPES);
export type ChannelType = z.infer<typeof channelTypeSchema>;

export const spikeStatusSchema = z.enum(["none", "potential", "spike"]);
export type SpikeStatus = z.infer<typeof spikeStatusSchema>;

/**
 * Amber retired `negative` in favour of `extremelyLow` and may add more, so
 * an unknown descriptor is kept as text rather than rejecting the response.
 */
export const priceDescriptorSchema = z.string().min(1);
export type PriceDescriptor =
  | "negative"
  | "extremelyLow"
  | "veryLow"
  | "low"
  | "neutral"
  | "high"
  | "spike";

export const channelSchema = z.object({
  identifier: z.string(),
  type: channelTypeSchema,
  tariff: z.string(),
});

export const siteSchema = z.object({
  id: z.string().min(1),
  nmi: z.string().min(10).max(11),
  channels: z.array(channelSchema),
  network: z.string(),
  status: z.enum(["pending", "active", "closed"]),
  activeFrom: isoDate.optional(),
  closedOn: isoDate.optional(),
  /** Billing interval in minutes; absent from the 1.0 spec, where it is 30. */
  intervalLength: z.literal([5, 30]).optional(),
});
export type Site = z.infer<typeof siteSchema>;

export const sitesResponseSchema = z.array(siteSchema);

export const tariffInformationSchema = z.object({
  period: z.enum(["offPeak", "shoulder", "solarSponge", "peak"]).optional(),
  season: z
    .enum([
      "default",
      "summer",
      "autumn",
      "winter",
      "spring",
      "nonSummer",
      "holiday",
      "weekend",
      "weekendHoliday",
      "weekday",
    ])
    .optional(),
  block: z.number().min(1).max(2).optional(),
  demandWindow: z.boolean().optional(),
});

/** Amber's own prediction band for a forecast, c/kWh including network fees. */
export const advancedPriceSchema = z.object({
  low: price,
  predicted: price,
  high: price,
});
export type AdvancedPrice = z.infer<typeof advancedPriceSchema>;

/** Possible NEM spot price range in c/kWh, sent when prices are volatile. */
export const rangeSchema = z.object({ min: price, max: price });

const intervalFields = {
  duration: z.literal([5, 15, 30]),
  spotPerKwh: price,
  perKwh: price,
  date: isoDate,
  /** End of the interval in NEM time (UTC+10 all year). */
  nemTime: isoDateTime,
  /** Start in UTC, one second past the boundary. */
  startTime: isoDateTime,
  /** End in UTC, on the boundary. */
  endTime: isoDateTime,
  renewables: z.number().finite(),
  channelType: channelTypeSchema,
  tariffInformation: tariffInformationSchema.nullable().optional(),
  spikeStatus: spikeStatusSchema,
  descriptor: priceDescriptorSchema,
};

/** Maximum span of any Amber interval (the `duration` enum is 5, 15 or 30 minutes), ms. */
const MAX_SPAN_MS = 30 * 60_000;

/**
 * Checks that `startTime` comes before `endTime` and at most 30 minutes
 * earlier. The live price is matched to the clock by these two fields, so a
 * reversed or stretched span would apply one price to the wrong minutes.
 * NOTE: the span is not checked against `duration`, because the examples in
 * Amber's own OpenAPI document pair a 30-minute span with duration 5.
 */
function checkSpan(
  interval: { startTime: string; endTime: string },
  context: z.core.$RefinementCtx,
): void {
  const spanMs = Date.parse(interval.endTime) - Date.parse(interval.startTime);
  if (!(spanMs > 0 && spanMs <= MAX_SPAN_MS)) {
    context.addIssue({
      code: "custom",
      path: ["startTime"],
      message: `startTime ${interval.startTime} must be before endTime ${interval.endTime} and at most 30 minutes earlier`,
    });
  }
}

export const actualIntervalSchema = z
  .object({
    type: z.literal("ActualInterval"),
    ...intervalFields,
  })
  .superRefine(checkSpan);

export const forecastIntervalSchema = z
  .object({
    type: z.literal("ForecastInterval"),
    ...intervalFields,
    range: rangeSchema.nullable().optional(),
    advancedPrice: advancedPriceSchema.nullable().optional(),
  })
  .superRefine(checkSpan);

export const currentIntervalSchema = z
  .object({
    type: z.literal("CurrentInterval"),
    ...intervalFields,
    range: rangeSchema.nullable().optional(),
    advancedPrice: advancedPriceSchema.nullable().optional(),
    estimate: z.boolean(),
  })
  .superRefine(checkSpan);

export const intervalSchema = z.discriminatedUnion("type", [
  actualIntervalSchema,
  forecastIntervalSchema,
  currentIntervalSchema,
]);
export type Interval = z.infer<typeof intervalSchema>;
export type CurrentInterval = z.infer<typeof currentIntervalSchema>;
export type ForecastInterval = z.infer<typeof forecastIntervalSchema>;

/** A price list as `/prices` and `/prices/current` return it, in Amber's order. */
export const intervalListSchema = z.array(intervalSchema);

/** Metered usage for one interval and channel (`GET /sites/{id}/usage`). */
export const usageSchema = z.object({
  type: z.literal("Usage"),
  ...intervalFields,
  /** Meter channel identifier, such as "E1". */
  channelIdentifier: z.string(),
  /** Energy in kWh; negative for generation or export. */
  kwh: z.number().finite(),
  quality: z.enum(["estimated", "billable"]),
  /** Cost in cents including GST. */
  cost: z.number().finite(),
});
export type Usage = z.infer<typeof usageSchema>;

export const usageResponseSchema = z.array(usageSchema);

export const renewableDescriptorSchema = z.enum([
  "best",
  "great",
  "ok",
  "notGreat",
  "worst",
]);

const renewableFields = {
  duration: z.literal([5, 15, 30]),
  date: isoDate,
  nemTime: isoDateTime,
  startTime: isoDateTime,
  endTime: isoDateTime,
  /** Share of renewables in the state's grid, in percent. */
  renewables: z.number().finite(),
  descriptor: renewableDescriptorSchema,
};

/** Grid renewables for one interval (`GET /state/{state}/renewables/current`). */
export const renewableSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ActualRenewable"), ...renewableFields }),
  z.object({ type: z.literal("CurrentRenewable"), ...renewableFields }),
  z.object({ type: z.literal("ForecastRenewable"), ...renewableFields }),
]);
export type Renewable = z.infer<typeof renewableSchema>;

export const renewablesResponseSchema = z.array(renewableSchema);
