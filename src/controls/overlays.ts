/**
 * Opt-in overlays for `buildTariff`'s `options.overlays`. Each one changes
 * the tariff rates of some slots before the tariff is assembled and adds a
 * note to every slot it changes; the real prices (`buyActual`,
 * `sellActual`) stay as Amber sent them.
 *
 * - Spike protection raises buy in slots Amber flags as `spike` (and
 *   `potential`, if configured) above the highest sell of the day, so the
 *   Powerwall's optimiser never charges from the grid into a spike.
 * - Export boost adds an offset to sell, and lifts it to a minimum, in a
 *   daily time window, so the Powerwall exports then.
 * - Demand-window uplift adds to buy in a time window on chosen weekdays,
 *   so the Powerwall avoids grid import while a demand charge is measured.
 *
 * `controlOverlays(settings)` returns the enabled ones in the order they
 * must run: uplift, boost, then spike protection, which must see the
 * boosted sell prices to stay above them.
 */
import { z } from "zod";

import type { SlotOverlay, SlotPlan } from "../tariff/build.js";
import { roundRate } from "./tariff-shapes.js";

const TIME = /^(\d{1,2}):(\d{2})$/;

/** "HH:MM" from 00:00 to 24:00, parsed to minutes of the day. */
const timeOfDaySchema = z.string().transform((text, context) => {
  const match = TIME.exec(text.trim());
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (
    match === null ||
    hour > 24 ||
    minute > 59 ||
    (hour === 24 && minute !== 0)
  ) {
    context.addIssue({
      code: "custom",
      message: `"${text}" is not a time of day; use HH:MM from 00:00 to 24:00`,
    });
    return z.NEVER;
  }
  return hour * 60 + minute;
});

const price = z.number().finite();

/** Settings of the three overlays; every overlay is off by default. */
export const overlaySettingsSchema = z.strictObject({
  spikeProtection: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Also protect slots flagged `potential`; default false, because only `spike` means a spike. */
      includePotential: z.boolean().default(false),
      /** How far buy is raised above the highest sell, $/kWh; default 1.00. */
      marginPerKwh: price.min(0).default(1),
    })
    .prefault({}),
  exportBoost: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Window start, local time "HH:MM"; default 17:00. */
      from: timeOfDaySchema.prefault("17:00"),
      /** Window end, exclusive; before `from` wraps past midnight. Default 21:00. */
      to: timeOfDaySchema.prefault("21:00"),
      /** Added to sell in the window, $/kWh; default 0. */
      offsetPerKwh: price.default(0),
      /** Lowest sell in the window, $/kWh; default 0. */
      minimumPerKwh: price.min(0).default(0),
      /** Slots whose real sell price is below this are left alone, $/kWh; default none. */
      onlyAbovePerKwh: price.optional(),
    })
    .prefault({}),
  demandWindow: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Window start, local time "HH:MM"; default 14:00. */
      from: timeOfDaySchema.prefault("14:00"),
      /** Window end, exclusive; default 20:00. */
      to: timeOfDaySchema.prefault("20:00"),
      /** Weekdays the window applies to, 0 = Monday ... 6 = Sunday; default Monday to Friday. */
      days: z.array(z.number().int().min(0).max(6)).default([0, 1, 2, 3, 4]),
      /** Added to buy in the window, $/kWh; default 2.00. */
      upliftPerKwh: price.min(0).default(2),
    })
    .prefault({}),
});
/** Overlay settings as parsed: times are minutes of the day. */
export type OverlaySettings = z.output<typeof overlaySettingsSchema>;

/** A daily window in minutes of the day; `to` at or before `from` wraps past midnight. */
export interface TimeWindow {
  /** Minute of the day, 0 to 1439. */
  from: number;
  /** Minute of the day, exclusive, 0 to 1440; 0 and 1440 both mean midnight. */
  to: number;
}

/** Options of {@link spikeProtection}. */
export interface SpikeProtectionOptions {
  /** Also protect slots flagged `potential`; default false. */
  includePotential?: boolean;
  /** Margin above the highest sell, $/kWh; default 1.00. */
  marginPerKwh?: number;
}

/**
 * Raises buy in flagged slots to the highest sell of all 48 slots plus the
 * margin, when buy is lower, so buying from the grid in those slots never
 * pays for later export.
 */
export function spikeProtection(
  options: SpikeProtectionOptions = {},
): SlotOverlay {
  const margin = options.marginPerKwh ?? 1;
  const flagged = new Set<SlotPlan["spikeStatus"]>(
    options.includePotential === true ? ["spike", "potential"] : ["spike"],
  );
  return (slots) => {
    const maxSell = Math.max(0, ...slots.map((slot) => slot.sell));
    const floor = roundRate(maxSell + margin);
    return slots.map((slot) => {
      if (!flagged.has(slot.spikeStatus) || slot.buy >= floor) {
        return slot;
      }
      return {
        ...slot,
        buy: floor,
        notes: [
          ...slot.notes,
          `spike protection (${slot.spikeStatus}): buy ${formatRate(slot.buy)} -> ${formatRate(floor)} $/kWh, above the highest sell ${formatRate(maxSell)}`,
        ],
      };
    });
  };
}

/** Options of {@link exportBoost}. */
export interface ExportBoostOptions {
  window: TimeWindow;
  /** Added to sell, $/kWh; default 0. */
  offsetPerKwh?: number;
  /** Lowest sell after the offset, $/kWh; default 0. */
  minimumPerKwh?: number;
  /** Slots whose real sell is below this are left alone, $/kWh; default none. */
  onlyAbovePerKwh?: number;
}

/** Sets sell to max(sell + offset, minimum) in slots that start inside the window. */
export function exportBoost(options: ExportBoostOptions): SlotOverlay {
  const offset = options.offsetPerKwh ?? 0;
  const minimum = options.minimumPerKwh ?? 0;
  return (slots) =>
    slots.map((slot) => {
      if (!inWindow(slot, options.window)) {
        return slot;
      }
      if (
        options.onlyAbovePerKwh !== undefined &&
        slot.sellActual < options.onlyAbovePerKwh
      ) {
        return slot;
      }
      const sell = roundRate(Math.max(0, slot.sell + offset, minimum));
      if (sell === slot.sell) {
        return slot;
      }
      return {
        ...slot,
        sell,
        notes: [
          ...slot.notes,
          `export boost: sell ${formatRate(slot.sell)} -> ${formatRate(sell)} $/kWh`,
        ],
      };
    });
}

/** Options of {@link demandWindowUplift}. */
export interface DemandWindowOptions {
  window: TimeWindow;
  /** Weekdays, 0 = Monday ... 6 = Sunday, of the slot's local start. */
  days: readonly number[];
  /** Added to buy, $/kWh. */
  upliftPerKwh: number;
}

/** Adds the uplift to buy in slots that start inside the window on one of the days. */
export function demandWindowUplift(options: DemandWindowOptions): SlotOverlay {
  const days = new Set(options.days);
  return (slots) =>
    slots.map((slot) => {
      if (
        options.upliftPerKwh === 0 ||
        !inWindow(slot, options.window) ||
        !days.has(localWeekday(slot))
      ) {
        return slot;
      }
      const buy = roundRate(slot.buy + options.upliftPerKwh);
      return {
        ...slot,
        buy,
        notes: [
          ...slot.notes,
          `demand window: buy ${formatRate(slot.buy)} -> ${formatRate(buy)} $/kWh (+${formatRate(options.upliftPerKwh)})`,
        ],
      };
    });
}

/** Returns the enabled overlays in the order they must run: uplift, boost, spike protection. */
export function controlOverlays(settings: OverlaySettings): SlotOverlay[] {
  const overlays: SlotOverlay[] = [];
  if (settings.demandWindow.enabled) {
    overlays.push(
      demandWindowUplift({
        window: {
          from: settings.demandWindow.from,
          to: settings.demandWindow.to,
        },
        days: settings.demandWindow.days,
        upliftPerKwh: settings.demandWindow.upliftPerKwh,
      }),
    );
  }
  if (settings.exportBoost.enabled) {
    overlays.push(
      exportBoost({
        window: {
          from: settings.exportBoost.from,
          to: settings.exportBoost.to,
        },
        offsetPerKwh: settings.exportBoost.offsetPerKwh,
        minimumPerKwh: settings.exportBoost.minimumPerKwh,
        ...(settings.exportBoost.onlyAbovePerKwh === undefined
          ? {}
          : { onlyAbovePerKwh: settings.exportBoost.onlyAbovePerKwh }),
      }),
    );
  }
  if (settings.spikeProtection.enabled) {
    overlays.push(
      spikeProtection({
        includePotential: settings.spikeProtection.includePotential,
        marginPerKwh: settings.spikeProtection.marginPerKwh,
      }),
    );
  }
  return overlays;
}

/** True when the slot's local start time lies in the window. */
function inWindow(slot: SlotPlan, window: TimeWindow): boolean {
  const minute = localMinute(slot);
  const to = window.to === 0 ? 1440 : window.to;
  if (window.from < to) {
    return minute >= window.from && minute < to;
  }
  return minute >= window.from || minute < to;
}

/**
 * Minute of the day of the slot's start, read from the wall-clock digits of
 * its ISO time, which is local to the site (also for times skipped by
 * daylight saving, which carry no offset).
 */
function localMinute(slot: SlotPlan): number {
  const match = /T(\d{2}):(\d{2})/.exec(slot.start);
  return match === null ? -1 : Number(match[1]) * 60 + Number(match[2]);
}

/** Weekday of the slot's local start date, 0 = Monday ... 6 = Sunday. */
function localWeekday(slot: SlotPlan): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(slot.start);
  if (match === null) {
    return -1;
  }
  const sundayFirst = new Date(
    Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])),
  ).getUTCDay();
  return (sundayFirst + 6) % 7;
}

function formatRate(value: number): string {
  return value.toFixed(4);
}
