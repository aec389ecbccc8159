/**
 * Assembly of `tariff_content_v2` from 48 half-hour slots: one period label
 * per half hour, Monday to Sunday, with every time field written out.
 */
import type { TariffContentV2 } from "./schema.js";

/** The slot fields assembly reads: label `PERIOD_HH_MM` and rates in $/kWh. */
export interface AssemblySlot {
  label: string;
  buy: number;
  sell: number;
}

/** Tariff metadata. */
export interface AssemblyNames {
  name: string;
  code: string;
  /** Retailer shown in the Tesla app; default "Amber Electric". */
  utility?: string;
  /** ISO 4217 currency; default "AUD". */
  currency?: string;
}

/**
 * Season that carries the periods. The Tesla app has been reported to
 * misbehave when a tariff's seasons were not named Summer and Winter, so the
 * full-year season is `Summer` and `Winter` stays as an empty shell.
 */
export const YEAR_SEASON = "Summer";
const SHELL_SEASON = "Winter";

type Seasons = TariffContentV2["seasons"];
type TouPeriods = Seasons[string]["tou_periods"];

/**
 * Builds the tariff from slots whose labels are `PERIOD_HH_MM`, in any
 * order. Labels are written in clock order from 00:00.
 */
export function assembleTariff(
  slots: readonly AssemblySlot[],
  names: AssemblyNames,
): TariffContentV2 {
  const ordered = [...slots].sort(
    (a, b) => labelMinute(a.label) - labelMinute(b.label),
  );

  const touPeriods: TouPeriods = {};
  const buyRates: Record<string, number> = {};
  const sellRates: Record<string, number> = {};
  for (const slot of ordered) {
    const start = labelMinute(slot.label);
    const end = (start + 30) % (24 * 60);
    touPeriods[slot.label] = {
      periods: [
        {
          fromDayOfWeek: 0,
          toDayOfWeek: 6,
          fromHour: Math.floor(start / 60),
          fromMinute: start % 60,
          toHour: Math.floor(end / 60),
          toMinute: end % 60,
        },
      ],
    };
    buyRates[slot.label] = slot.buy;
    sellRates[slot.label] = slot.sell;
  }

  const utility = names.utility ?? "Amber Electric";
  const currency = names.currency ?? "AUD";
  const side = (rates: Record<string, number>) => ({
    name: names.name,
    utility,
    code: names.code,
    currency,
    daily_charges: [{ name: "Charge", amount: 0 }],
    demand_charges: {
      ALL: { rates: { ALL: 0 } },
      [YEAR_SEASON]: { rates: {} },
      [SHELL_SEASON]: { rates: {} },
    },
    energy_charges: {
      ALL: { rates: { ALL: 0 } },
      [YEAR_SEASON]: { rates },
      [SHELL_SEASON]: { rates: {} },
    },
    seasons: seasons(touPeriods),
  });

  return {
    version: 1,
    ...side(buyRates),
    sell_tariff: side(sellRates),
  };
}

function seasons(touPeriods: TouPeriods): Seasons {
  return {
    [YEAR_SEASON]: {
      fromMonth: 1,
      fromDay: 1,
      toMonth: 12,
      toDay: 31,
      tou_periods: structuredClone(touPeriods),
    },
    [SHELL_SEASON]: {
      fromMonth: 0,
      fromDay: 0,
      toMonth: 0,
      toDay: 0,
      tou_periods: {},
    },
  };
}

/** Minute of day encoded in a `PERIOD_HH_MM` label. */
function labelMinute(label: string): number {
  const match = /^PERIOD_(\d{2})_(\d{2})$/.exec(label);
  if (match === null) {
    throw new RangeError(
      `slot label "${label}" is not PERIOD_HH_MM; overlays must keep the labels they were given`,
    );
  }
  return Number(match[1]) * 60 + Number(match[2]);
}
