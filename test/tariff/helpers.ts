/** Builders of Amber intervals and small tariffs for the tariff tests. */
import { readFileSync } from "node:fs";

import { DateTime } from "luxon";

import { parsePricesBody } from "../../src/amber/prices.js";
import type {
  AdvancedPrice,
  ChannelType,
  CurrentInterval,
  Interval,
  SpikeStatus,
} from "../../src/amber/schemas.js";
import type { TariffContentV2 } from "../../src/tariff/schema.js";

export const FIXTURES = new URL("../fixtures/amber-prices/", import.meta.url);

/** Zone and build time of each site fixture. */
export const SITES = JSON.parse(
  readFileSync(new URL("sites.json", FIXTURES), "utf8"),
) as Record<string, { zone: string; now: string }>;

/** Parsed intervals of a fixture file. */
export function fixtureIntervals(name: string): Interval[] {
  const body: unknown = JSON.parse(
    readFileSync(new URL(name, FIXTURES), "utf8"),
  );
  return parsePricesBody(body).intervals;
}

/** Milliseconds of a local ISO time in `zone`. */
export function at(iso: string, zone = "Australia/Sydney"): number {
  return DateTime.fromISO(iso, { zone }).toMillis();
}

export interface IntervalSpec {
  type?: Interval["type"];
  channelType?: ChannelType;
  /** End of the interval, any ISO text with an offset. */
  end: string;
  duration?: 5 | 15 | 30;
  perKwh: number;
  advancedPrice?: AdvancedPrice | null;
  spikeStatus?: SpikeStatus;
}

/** An Amber interval shaped like the API sends it: end-marked, start one second past the boundary. */
export function interval(spec: IntervalSpec): Interval {
  const duration = spec.duration ?? 30;
  const endMs = Date.parse(spec.end);
  const startMs = endMs - duration * 60_000;
  const base = {
    date: DateTime.fromMillis(startMs, { zone: "UTC+10" }).toISODate() ?? "",
    duration,
    startTime: new Date(startMs + 1000).toISOString().replace(".000Z", "Z"),
    endTime: new Date(endMs).toISOString().replace(".000Z", "Z"),
    nemTime:
      DateTime.fromMillis(endMs, { zone: "UTC+10" }).toFormat(
        "yyyy-MM-dd'T'HH:mm:ss",
      ) + "+10:00",
    perKwh: spec.perKwh,
    spotPerKwh: spec.perKwh / 2,
    renewables: 40,
    channelType: spec.channelType ?? "general",
    spikeStatus: spec.spikeStatus ?? "none",
    descriptor: "neutral",
    tariffInformation: null,
  };
  switch (spec.type ?? "ForecastInterval") {
    case "ActualInterval":
      return { type: "ActualInterval", ...base };
    case "CurrentInterval":
      return {
        type: "CurrentInterval",
        ...base,
        estimate: true,
        range: null,
        advancedPrice: spec.advancedPrice ?? null,
      };
    default:
      return {
        type: "ForecastInterval",
        ...base,
        range: null,
        advancedPrice: spec.advancedPrice ?? null,
      };
  }
}

/** A live-feed CurrentInterval. */
export function liveInterval(
  spec: Omit<IntervalSpec, "type">,
): CurrentInterval {
  return interval({
    ...spec,
    type: "CurrentInterval",
    duration: spec.duration ?? 5,
  }) as CurrentInterval;
}

/**
 * General and feed-in intervals of `minutes` length from `startMs` for
 * `count` intervals, priced by `price(i)` (general c/kWh) and feed-in
 * `-(price(i) / 2)`. The first is a CurrentInterval when `current` is set.
 */
export function series(options: {
  startMs: number;
  count: number;
  minutes?: 5 | 30;
  price: (index: number) => number;
  feedIn?: (index: number) => number;
  type?: Interval["type"];
  current?: boolean;
}): Interval[] {
  const minutes = options.minutes ?? 30;
  const result: Interval[] = [];
  for (const channelType of ["general", "feedIn"] as const) {
    for (let i = 0; i < options.count; i++) {
      const endMs = options.startMs + (i + 1) * minutes * 60_000;
      const general = options.price(i);
      const perKwh =
        channelType === "general"
          ? general
          : (options.feedIn?.(i) ?? -general / 2);
      result.push(
        interval({
          type:
            options.current === true && i === 0
              ? "CurrentInterval"
              : (options.type ?? "ForecastInterval"),
          channelType,
          end: new Date(endMs).toISOString(),
          duration: minutes,
          perKwh,
        }),
      );
    }
  }
  return result;
}

/**
 * A valid two-label tariff (OFF_PEAK 0:00-17:00 and 21:00-0:00, ON_PEAK
 * 17:00-21:00, every day, all year) written in strict form.
 */
export function twoRateTariff(): TariffContentV2 {
  const periods = {
    OFF_PEAK: {
      periods: [
        {
          fromDayOfWeek: 0,
          toDayOfWeek: 6,
          fromHour: 0,
          fromMinute: 0,
          toHour: 17,
          toMinute: 0,
        },
        {
          fromDayOfWeek: 0,
          toDayOfWeek: 6,
          fromHour: 21,
          fromMinute: 0,
          toHour: 0,
          toMinute: 0,
        },
      ],
    },
    ON_PEAK: {
      periods: [
        {
          fromDayOfWeek: 0,
          toDayOfWeek: 6,
          fromHour: 17,
          fromMinute: 0,
          toHour: 21,
          toMinute: 0,
        },
      ],
    },
  };
  const side = (offPeak: number, onPeak: number) => ({
    name: "Two rates",
    utility: "Test",
    code: "TEST:TWO",
    currency: "AUD",
    daily_charges: [{ name: "Charge", amount: 0 }],
    demand_charges: { ALL: { rates: { ALL: 0 } }, Year: { rates: {} } },
    energy_charges: {
      ALL: { rates: { ALL: 0 } },
      Year: { rates: { OFF_PEAK: offPeak, ON_PEAK: onPeak } },
    },
    seasons: {
      Year: {
        fromMonth: 1,
        fromDay: 1,
        toMonth: 12,
        toDay: 31,
        tou_periods: structuredClone(periods),
      },
    },
  });
  return { version: 1, ...side(0.182, 0.441), sell_tariff: side(0.05, 0.15) };
}

/** The `tariff_content_v2` of the recorded multi-season site_info (a Tesla fixture). */
export function recordedTariff(): Record<string, unknown> {
  const siteInfo = JSON.parse(
    readFileSync(
      new URL("../fixtures/tesla/site_info_multi_season.json", import.meta.url),
      "utf8",
    ),
  ) as { response: { tariff_content_v2: Record<string, unknown> } };
  return siteInfo.response.tariff_content_v2;
}
