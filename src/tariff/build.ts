/**
 * Builds the rolling 24-hour Powerwall tariff from Amber prices. The
 * function is pure: the same input always gives the same tariff, slot plan
 * and warnings, and the caller logs them.
 *
 * Rules:
 * 1. Slots. The tariff has 48 half-hour periods labelled `PERIOD_HH_MM` by
 *    the site's local wall clock in its IANA zone (never Amber's fixed
 *    +10:00 `nemTime`). Each clock slot carries the next occurrence of that
 *    clock time at or after the start of the current half hour, so the slot
 *    containing `now` is priced for now and earlier clock times for
 *    tomorrow. On the day daylight saving ends, a repeated time takes its
 *    next occurrence too: the first, unless `now` is already inside the
 *    repeated hour. On the day it starts, the skipped times have no
 *    occurrence and are filled by rule 7.
 * 2. Timestamps. An Amber interval covers `[endTime - duration, endTime)` in
 *    UTC; `startTime` is ignored. A boundary therefore belongs to exactly one
 *    interval: an interval ending at 18:00 prices the 17:30 slot, and at
 *    18:00 the current interval is the one that starts then.
 * 3. Averaging. A slot's price is the time-weighted mean of the intervals
 *    covering it, so six 5-minute prices average into their half hour and a
 *    15-minute interval counts for its share. Where intervals overlap, each
 *    moment takes the settled price before the running one before the
 *    forecast, then the shorter interval, then the one later in the input,
 *    so a duplicate with another price replaces the earlier copy.
 * 4. Current half hour. It takes the live price when `live` contains a general
 *    and a feed-in CurrentInterval covering `now`; else the REST
 *    CurrentInterval covering `now` on each channel; else the mean of rule 3.
 *    Live and current intervals are priced by `perKwh`.
 * 5. Price fields. Forecast intervals use `advancedPrice[band]` when present
 *    and `perKwh` only when it is absent; actual intervals use `perKwh`.
 * 6. Units and sign. $/kWh = c/kWh / 100, rounded to 4 decimals. Buy is the
 *    general price and sell is the negated feed-in price, because Amber
 *    states feed-in as a cost (-8.3 c/kWh pays 0.083 $/kWh). Controlled-load
 *    prices are not used. Rates below 0 are clamped to 0 in the tariff,
 *    because Tesla treats negative rates as 0, and the slot plan keeps the
 *    real price in `buyActual` and `sellActual`.
 * 7. Missing prices. A slot side with no price is filled from the same clock
 *    slot of the nearest day that has one (1 day earlier, 1 later, 2
 *    earlier, … up to 7), never priced at 0. A day whose price there was
 *    an Amber spike is passed over, because a spike belongs to that day
 *    and not to the clock time, unless no other day has a price. When
 *    more than `maxFilledSlots` (default 6) of the 48 slots lack a price on
 *    either side, or a missing price cannot be filled, the build throws
 *    PricesInsufficientError naming the slots and the reason. Slots skipped
 *    by daylight saving are filled the same way and do not count toward
 *    that limit.
 * 8. Spikes. A slot's `spikeStatus` is the most severe state of the
 *    intervals behind it, with `potential` and `spike` kept apart; filled
 *    slots report `none`.
 * 9. Output. Every time field is written explicitly, each period runs Monday
 *    to Sunday (`fromDayOfWeek` 0 to `toDayOfWeek` 6), the season `Summer`
 *    covers 1/1 to 12/31, and `demand_charges` and `daily_charges` are
 *    present with zeros. Overlays run on the slot plan before the tariff is
 *    assembled, and the result must pass strict validation.
 */
import type {
  CurrentInterval,
  Interval,
  SpikeStatus,
} from "../amber/schemas.js";
import {
  ConfigError,
  PricesInsufficientError,
  TariffInvalidError,
} from "../errors.js";
import {
  priceOver,
  toChannelPoints,
  toPricePoint,
  worseSpike,
  type ChannelPoints,
  type ForecastBand,
  type PriceField,
  type PriceKind,
  type PricePoint,
  type WindowPrice,
} from "./price-points.js";
import type { TariffContentV2 } from "./schema.js";
import { assembleTariff } from "./assemble.js";
import { validateTariff } from "./validate.js";
import {
  addDays,
  formatDate,
  halfHourStart,
  ianaZone,
  instantsAt,
  isoLocal,
  isoWallTime,
  localTime,
  periodLabel,
  type LocalDate,
} from "./wall-clock.js";
import type { IANAZone } from "luxon";

export type { ForecastBand, PriceField } from "./price-points.js";

/** Kind of source a slot's price came from. */
export type SlotSourceKind = PriceKind | "live" | "filled";

/** Origin of one side (buy or sell) of a slot's price. */
export interface SlotSource {
  kind: SlotSourceKind;
  /** Amber field the price was read from. */
  field: PriceField;
  /** Number of Amber intervals that made up the price. */
  intervals: number;
  /** For `filled` prices: the local start (ISO 8601) of the slot the price was copied from. */
  filledFrom?: string;
}

/** One half-hour slot of the built tariff, with the real prices behind it. */
export interface SlotPlan {
  /** Tariff period label, `PERIOD_HH_MM`. */
  label: string;
  /**
   * Local start, ISO 8601 with offset. A time skipped by daylight saving has
   * no offset because it never occurs.
   */
  start: string;
  /** Local end, ISO 8601, exclusive. */
  end: string;
  /** Buy rate written to the tariff, $/kWh, at least 0. */
  buy: number;
  /** Sell rate written to the tariff, $/kWh, at least 0. */
  sell: number;
  /** Real buy price, $/kWh, before clamping; may be negative. */
  buyActual: number;
  /** Real sell price (negated feed-in), $/kWh, before clamping; negative when exporting costs money. */
  sellActual: number;
  source: { buy: SlotSource; sell: SlotSource };
  /** Amber's spike state for the slot; only `spike` means a spike is happening. */
  spikeStatus: SpikeStatus;
  /** Human-readable remarks: fills, clamps, partial coverage, overlay changes. */
  notes: string[];
}

/**
 * A change applied to the 48 slots before the tariff is assembled, such as
 * spike protection. It returns the slots in the same order with the same
 * labels and records each change in the slot's `notes`.
 */
export type SlotOverlay = (slots: SlotPlan[]) => SlotPlan[];

/** Options of `buildTariff`. */
export interface BuildTariffOptions {
  /** `advancedPrice` band used for forecast intervals. */
  band: ForecastBand;
  /** Largest number of the 48 slots that may be filled for lack of a price; default 6. */
  maxFilledSlots?: number;
  /** Rule for filling a missing price; only `nearest-day` exists (the default). */
  fallback?: "nearest-day";
  /** Tariff name shown in the Tesla app; default "Amber rolling 24 h (Tesla Sync)". */
  name?: string;
  /** Tariff plan code; default "TESLA_SYNC_AMBER_24H". */
  code?: string;
  /** Slot overlays, applied in order. */
  overlays?: SlotOverlay[];
}

/** Input of `buildTariff`. */
export interface BuildTariffInput {
  /** REST intervals in any mix of 5/15/30 minutes, kinds and channels. */
  intervals: readonly Interval[];
  /** Latest live-price push (general and feed-in CurrentInterval), if any. */
  live?: readonly CurrentInterval[];
  /** Time of the build in ms since the epoch. */
  now: number;
  /** IANA zone of the site (`site_info.installation_time_zone`). */
  timeZone: string;
  options: BuildTariffOptions;
}

/** Output of `buildTariff`. */
export interface BuildTariffResult {
  /** The tariff, valid in strict mode. */
  tariff: TariffContentV2;
  /** The 48 slots in time order, starting with the current half hour. */
  slots: SlotPlan[];
  /** Things the caller should log once: ignored input, fills, clamps. */
  warnings: string[];
}

/** Default largest number of slots that may be filled before a build is rejected. */
export const DEFAULT_MAX_FILLED_SLOTS = 6;

/** Days either side searched for a price to fill a slot. */
const FILL_SEARCH_DAYS = 7;
const SLOT_MS = 30 * 60_000;
const SLOT_COUNT = 48;

type Side = "buy" | "sell";

interface SidePrice {
  /** Amber's price in c/kWh (feed-in as a cost). */
  cents: number;
  source: SlotSource;
  spikeStatus: SpikeStatus;
  notes: string[];
}

interface DraftSlot {
  minuteOfDay: number;
  label: string;
  /** Local date of the occurrence, or the date it would have had when skipped. */
  date: LocalDate;
  /** Start in ms; undefined when daylight saving skips this time on `date`. */
  startMs: number | undefined;
  buy: SidePrice | undefined;
  sell: SidePrice | undefined;
  notes: string[];
}

/**
 * Builds the tariff for the 24 hours from the current half hour. Throws
 * PricesInsufficientError when prices are too sparse (rule 7), ConfigError
 * for an invalid zone or option, and TariffInvalidError when an overlay
 * breaks the slot plan.
 */
export function buildTariff(input: BuildTariffInput): BuildTariffResult {
  const zone = checkInput(input);
  const { options } = input;
  const warnings: string[] = [];

  const points = toChannelPoints(input.intervals, options.band, warnings);
  const live = liveForNow(input.live, input.now, options.band, warnings);
  const currentStart = halfHourStart(input.now, zone);

  const drafts = placeSlots(currentStart, zone);
  drafts.forEach((draft, index) => {
    if (draft.startMs === undefined) {
      draft.notes.push(
        `${draft.label.slice(7).replace("_", ":")} does not occur on ${formatDate(draft.date)} because daylight saving starts`,
      );
      return;
    }
    const isCurrent = index === 0;
    draft.buy = isCurrent
      ? priceCurrent(
          points.general,
          live?.general,
          input.now,
          draft.startMs,
          zone,
        )
      : priceWindow(points.general, draft.startMs);
    draft.sell = isCurrent
      ? priceCurrent(
          points.feedIn,
          live?.feedIn,
          input.now,
          draft.startMs,
          zone,
        )
      : priceWindow(points.feedIn, draft.startMs);
  });

  rejectIfTooSparse(drafts, points, options, zone);
  fillMissing(drafts, points, zone, warnings);

  let slots = drafts.map((draft) => toSlotPlan(draft, zone));
  reportClamps(slots, warnings);
  slots = applyOverlays(slots, options.overlays ?? []);

  const tariff = assembleTariff(slots, {
    name: options.name ?? "Amber rolling 24 h (Tesla Sync)",
    code: options.code ?? "TESLA_SYNC_AMBER_24H",
  });
  const validation = validateTariff(tariff, "strict");
  if (!validation.ok) {
    throw new TariffInvalidError(validation.problems);
  }
  return { tariff: validation.tariff, slots, warnings };
}

function checkInput(input: BuildTariffInput): IANAZone {
  const zone = ianaZone(input.timeZone);
  if (zone === undefined) {
    throw new ConfigError(
      `Time zone "${input.timeZone}" is not a valid IANA zone name; pass the site's installation_time_zone, or a fallback such as Australia/Sydney when the site reports none.`,
    );
  }
  if (!Number.isFinite(input.now)) {
    throw new ConfigError(
      `now ${String(input.now)} is not a time; pass milliseconds since the epoch.`,
    );
  }
  const { band, maxFilledSlots, fallback } = input.options;
  if (band !== "predicted" && band !== "low" && band !== "high") {
    throw new ConfigError(
      `Forecast band "${String(band)}" is not valid; use predicted, low or high.`,
    );
  }
  if (
    maxFilledSlots !== undefined &&
    (!Number.isInteger(maxFilledSlots) ||
      maxFilledSlots < 0 ||
      maxFilledSlots > SLOT_COUNT)
  ) {
    throw new ConfigError(
      `maxFilledSlots ${maxFilledSlots} is not valid; use a whole number from 0 to 48.`,
    );
  }
  if (fallback !== undefined && fallback !== "nearest-day") {
    throw new ConfigError(
      `Fallback "${String(fallback)}" is not valid; use nearest-day.`,
    );
  }
  return zone;
}

// ------------------------------------------------------------ placement

/** Places the 48 clock slots at their next occurrence, in time order from the current half hour. */
function placeSlots(currentStart: number, zone: IANAZone): DraftSlot[] {
  const current = localTime(currentStart, zone);
  const today = current.date;
  const tomorrow = addDays(today, 1);

  const placed: Array<{ draft: DraftSlot; sortKey: number }> = [];
  let lastKey = currentStart;
  for (let k = 0; k < SLOT_COUNT; k++) {
    const minuteOfDay = (current.minuteOfDay + k * 30) % (24 * 60);
    const candidates = [
      ...instantsAt(today, minuteOfDay, zone).map((ms) => ({
        ms,
        date: today,
      })),
      ...instantsAt(tomorrow, minuteOfDay, zone).map((ms) => ({
        ms,
        date: tomorrow,
      })),
    ].filter((candidate) => candidate.ms >= currentStart);
    const next = candidates[0];
    const sortKey = next?.ms ?? lastKey + 1;
    lastKey = sortKey;
    const draft: DraftSlot = {
      minuteOfDay,
      label: periodLabel(minuteOfDay),
      date:
        next?.date ?? (minuteOfDay >= current.minuteOfDay ? today : tomorrow),
      startMs: next?.ms,
      buy: undefined,
      sell: undefined,
      notes: [],
    };
    placed.push({ draft, sortKey });
  }
  placed.sort((a, b) => a.sortKey - b.sortKey);
  return placed.map(({ draft }) => draft);
}

// -------------------------------------------------------------- pricing

interface LivePair {
  general: PricePoint;
  feedIn: PricePoint;
}

function liveForNow(
  live: readonly CurrentInterval[] | undefined,
  now: number,
  band: ForecastBand,
  warnings: string[],
): LivePair | undefined {
  if (live === undefined || live.length === 0) {
    return undefined;
  }
  let general: PricePoint | undefined;
  let feedIn: PricePoint | undefined;
  live.forEach((interval, order) => {
    const point = toPricePoint(interval, band, order);
    if (point === undefined || point.startMs > now || point.endMs <= now) {
      return;
    }
    if (interval.channelType === "general") {
      general = point;
    } else if (interval.channelType === "feedIn") {
      feedIn = point;
    }
  });
  if (general === undefined || feedIn === undefined) {
    warnings.push(
      `live prices ignored: they hold no general and feed-in pair covering ${new Date(now).toISOString()}; the current half hour uses the REST prices`,
    );
    return undefined;
  }
  return { general, feedIn };
}

function priceCurrent(
  points: readonly PricePoint[],
  live: PricePoint | undefined,
  now: number,
  slotStart: number,
  zone: IANAZone,
): SidePrice | undefined {
  if (live !== undefined) {
    return pointPrice(live, "live", zone);
  }
  let current: PricePoint | undefined;
  for (const point of points) {
    if (point.kind === "current" && point.startMs <= now && point.endMs > now) {
      if (current === undefined || point.order > current.order) {
        current = point;
      }
    }
  }
  if (current !== undefined) {
    return pointPrice(current, "current", zone);
  }
  return priceWindow(points, slotStart);
}

function pointPrice(
  point: PricePoint,
  kind: "live" | "current",
  zone: IANAZone,
): SidePrice {
  const minutes = (point.endMs - point.startMs) / 60_000;
  return {
    cents: point.cents,
    source: { kind, field: point.field, intervals: 1 },
    spikeStatus: point.spikeStatus,
    notes: [
      `${kind} ${minutes}-minute price from ${isoLocal(point.startMs, zone)}`,
    ],
  };
}

function priceWindow(
  points: readonly PricePoint[],
  startMs: number,
): SidePrice | undefined {
  const window = priceOver(points, startMs, startMs + SLOT_MS);
  if (window === undefined) {
    return undefined;
  }
  return {
    cents: window.cents,
    source: {
      kind: window.kind,
      field: window.field,
      intervals: window.intervals,
    },
    spikeStatus: window.spikeStatus,
    notes: windowNotes(window),
  };
}

function windowNotes(window: WindowPrice): string[] {
  const notes: string[] = [];
  const coveredMinutes = Math.round(window.coveredMs / 60_000);
  if (coveredMinutes < 30) {
    notes.push(`prices cover ${coveredMinutes} of 30 minutes`);
  }
  const kinds = Object.entries(window.msByKind);
  if (kinds.length > 1) {
    notes.push(
      `mixed: ${kinds.map(([kind, ms]) => `${Math.round(ms / 60_000)} min ${kind}`).join(", ")}`,
    );
  }
  return notes;
}

// ------------------------------------------------------- missing prices

function missingSides(draft: DraftSlot): Side[] {
  const sides: Side[] = [];
  if (draft.buy === undefined) sides.push("buy");
  if (draft.sell === undefined) sides.push("sell");
  return sides;
}

// NOTE: a site without a feed-in channel gets no feed-in prices from Amber,
// so every build for it is rejected here. Pricing its sell side at 0 needs
// an explicit option, because the builder cannot tell that from a data gap.
function rejectIfTooSparse(
  drafts: readonly DraftSlot[],
  points: ChannelPoints,
  options: BuildTariffOptions,
  zone: IANAZone,
): void {
  const limit = options.maxFilledSlots ?? DEFAULT_MAX_FILLED_SLOTS;
  const missing = drafts.filter(
    (draft) => draft.startMs !== undefined && missingSides(draft).length > 0,
  );
  if (missing.length <= limit) {
    return;
  }
  throw new PricesInsufficientError(
    `Not enough prices to build a tariff: ${missing.length} of 48 half-hour slots have no price, more than the ${limit} that may be filled. Missing: ${describeMissing(missing, points, zone)}. Fetch prices covering the next 24 hours and try again; the Powerwall keeps its current tariff.`,
  );
}

function describeMissing(
  missing: readonly DraftSlot[],
  points: ChannelPoints,
  zone: IANAZone,
): string {
  const runs: Array<{ first: DraftSlot; last: DraftSlot; why: string }> = [];
  for (const draft of missing) {
    const why = missingSides(draft)
      .map(
        (side) =>
          `${side}: ${whyMissing(side, points, draft.startMs ?? 0, zone)}`,
      )
      .join("; ");
    const run = runs.at(-1);
    if (
      run !== undefined &&
      run.why === why &&
      run.last.startMs !== undefined &&
      run.last.startMs + SLOT_MS === draft.startMs
    ) {
      run.last = draft;
    } else {
      runs.push({ first: draft, last: draft, why });
    }
  }
  return runs
    .map(({ first, last, why }) => {
      const from = isoLocal(first.startMs ?? 0, zone);
      const to = isoLocal((last.startMs ?? 0) + SLOT_MS, zone);
      const labels =
        first === last ? first.label : `${first.label} to ${last.label}`;
      return `${labels} (${from} to ${to}; ${why})`;
    })
    .join(", ");
}

function whyMissing(
  side: Side,
  points: ChannelPoints,
  startMs: number,
  zone: IANAZone,
): string {
  const channel = side === "buy" ? "general" : "feed-in";
  const list = side === "buy" ? points.general : points.feedIn;
  if (list.length === 0) {
    return `Amber sent no ${channel} prices`;
  }
  const lastEnd = Math.max(...list.map((point) => point.endMs));
  const firstStart = Math.min(...list.map((point) => point.startMs));
  if (startMs >= lastEnd) {
    return `Amber's ${channel} prices end at ${isoLocal(lastEnd, zone)}`;
  }
  if (startMs + SLOT_MS <= firstStart) {
    return `Amber's ${channel} prices start at ${isoLocal(firstStart, zone)}`;
  }
  return `Amber's ${channel} prices have a gap here`;
}

/** Fills each missing side from the same clock slot of the nearest day with a price (rule 7). */
function fillMissing(
  drafts: DraftSlot[],
  points: ChannelPoints,
  zone: IANAZone,
  warnings: string[],
): void {
  const filled: string[] = [];
  const unfillable: string[] = [];
  for (const draft of drafts) {
    for (const side of missingSides(draft)) {
      const price = findNearestDay(
        draft,
        side === "buy" ? points.general : points.feedIn,
        zone,
      );
      if (price === undefined) {
        unfillable.push(`${draft.label} ${side}`);
        continue;
      }
      draft[side] = price;
      filled.push(`${draft.label} ${side}`);
    }
  }

  if (unfillable.length > 0) {
    throw new PricesInsufficientError(
      `Not enough prices to build a tariff: no day within ${FILL_SEARCH_DAYS} days of the slot has a price to fill ${unfillable.join(", ")}. Fetch prices covering the next 24 hours (and the past day, for filling) and try again; the Powerwall keeps its current tariff.`,
    );
  }
  if (filled.length > 0) {
    warnings.push(
      `filled ${filled.length} missing price(s) from the same time on the nearest day with a price: ${filled.join(", ")}`,
    );
  }
}

function findNearestDay(
  draft: DraftSlot,
  points: readonly PricePoint[],
  zone: IANAZone,
): SidePrice | undefined {
  let spiked: SidePrice | undefined;
  for (let distance = 1; distance <= FILL_SEARCH_DAYS; distance++) {
    for (const offset of [-distance, distance]) {
      const date = addDays(draft.date, offset);
      for (const startMs of instantsAt(date, draft.minuteOfDay, zone)) {
        const window = priceOver(points, startMs, startMs + SLOT_MS);
        if (window === undefined) {
          continue;
        }
        const from = isoLocal(startMs, zone);
        const isSpike = window.spikeStatus === "spike";
        const price: SidePrice = {
          cents: window.cents,
          source: {
            kind: "filled",
            field: window.field,
            intervals: window.intervals,
            filledFrom: from,
          },
          spikeStatus: "none",
          notes: [
            isSpike
              ? `no price for this slot; filled from ${from}, during an Amber price spike, because no other day within ${FILL_SEARCH_DAYS} days has a price for this time`
              : `no price for this slot; filled from ${from}, the same time on the nearest day with a price`,
          ],
        };
        if (!isSpike) {
          return price;
        }
        spiked ??= price;
      }
    }
  }
  return spiked;
}

// ------------------------------------------------------------ slot plan

/**
 * Converts c/kWh to $/kWh rounded to 4 decimals, halves away from zero,
 * without a negative zero. The small nudge keeps values such as 24.335,
 * stored in binary just below the half, rounding the way they read.
 */
function toDollars(cents: number): number {
  const units = Math.round(Math.abs(cents * 100) + 1e-7);
  const dollars = (Math.sign(cents) * units) / 10_000;
  return dollars === 0 ? 0 : dollars;
}

function toSlotPlan(draft: DraftSlot, zone: IANAZone): SlotPlan {
  const { buy, sell } = draft;
  if (buy === undefined || sell === undefined) {
    throw new Error(`slot ${draft.label} reached the plan without a price`);
  }
  const buyActual = toDollars(buy.cents);
  const sellActual = toDollars(-sell.cents);
  const notes = [...draft.notes];
  for (const note of buy.notes) {
    notes.push(
      sell.notes.includes(note) ? `buy and sell: ${note}` : `buy: ${note}`,
    );
  }
  for (const note of sell.notes) {
    if (!buy.notes.includes(note)) {
      notes.push(`sell: ${note}`);
    }
  }
  if (buyActual < 0) {
    notes.push(`buy ${buyActual.toFixed(4)} $/kWh clamped to 0 in the tariff`);
  }
  if (sellActual < 0) {
    notes.push(
      `sell ${sellActual.toFixed(4)} $/kWh (exporting costs money) clamped to 0 in the tariff`,
    );
  }

  const endMinute = draft.minuteOfDay + 30;
  return {
    label: draft.label,
    start:
      draft.startMs === undefined
        ? isoWallTime(draft.date, draft.minuteOfDay)
        : isoLocal(draft.startMs, zone),
    end:
      draft.startMs === undefined
        ? isoWallTime(draft.date, endMinute)
        : isoLocal(draft.startMs + SLOT_MS, zone),
    buy: Math.max(0, buyActual),
    sell: Math.max(0, sellActual),
    buyActual,
    sellActual,
    source: { buy: buy.source, sell: sell.source },
    spikeStatus: worseSpike(buy.spikeStatus, sell.spikeStatus),
    notes,
  };
}

function reportClamps(slots: readonly SlotPlan[], warnings: string[]): void {
  const buy = slots.filter((slot) => slot.buyActual < 0).length;
  const sell = slots.filter((slot) => slot.sellActual < 0).length;
  if (buy + sell > 0) {
    warnings.push(
      `clamped ${buy} buy and ${sell} sell price(s) below 0 $/kWh to 0 in the tariff, because Tesla treats negative rates as 0; the slot plan keeps the real prices`,
    );
  }
}

function applyOverlays(
  slots: SlotPlan[],
  overlays: readonly SlotOverlay[],
): SlotPlan[] {
  let current = slots;
  overlays.forEach((overlay, index) => {
    const labels = current.map((slot) => slot.label);
    const next = overlay(current.map((slot) => structuredClone(slot)));
    const sameLabels =
      next.length === labels.length &&
      next.every((slot, i) => slot.label === labels[i]);
    if (!sameLabels) {
      throw new TariffInvalidError([
        `overlay ${index} returned ${next.length} slots or changed their labels or order; an overlay must return the 48 slots it was given, in order`,
      ]);
    }
    current = next;
  });
  return current;
}
