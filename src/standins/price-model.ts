/**
 * Deterministic synthetic Amber prices for tests, the demo and the
 * benchmark. The same options always give the same intervals.
 *
 * The model prices every 5-minute NEM slot from a daily shape in NEM time
 * (UTC+10): about 20 c/kWh overnight, cheap around solar noon and a 35-60 c
 * evening peak. Each pattern then changes that shape, and seeded noise is
 * added. Longer intervals average their 5-minute slots. Forecasts carry a
 * seeded error that grows with lead time, which makes the current interval
 * of a 30-minute site drift towards its final price as the half hour passes.
 *
 * Output follows Amber's conventions: c/kWh including GST, every channel a
 * cost to the customer (a feed-in `perKwh` of -8.3 means the household is
 * paid 8.3 c), `startTime` one second after the boundary, and `nemTime` at
 * the interval end in +10:00.
 */
import type {
  ChannelType,
  CurrentInterval,
  Interval,
  PriceDescriptor,
  SpikeStatus,
} from "../amber/schemas.js";

/** Named price shapes for a day. */
export const PRICE_PATTERNS = [
  "calm",
  "volatile",
  "negative-midday",
  "spike",
] as const;
export type PricePattern = (typeof PRICE_PATTERNS)[number];

/** Options shared by every generator. */
export interface PriceModelOptions {
  /** The site's billing interval in minutes. */
  intervalLength: 5 | 30;
  pattern: PricePattern;
  /** Seed for the noise; default 1. */
  seed?: number;
  /** Channels to price, in Amber's response order; default general and feedIn. */
  channels?: readonly ChannelType[];
}

/** Options for generateIntervals. */
export interface GenerateIntervalsOptions extends PriceModelOptions {
  /** The moment that decides which intervals are actual, current or forecast, in epoch ms. */
  now: number;
  /** Forecast horizon in hours; default 24. The last interval ends at or after now + hoursAhead. */
  hoursAhead?: number;
  /** Hours of actual intervals before the current one; default 1. */
  hoursBack?: number;
}

/** Options for intervalsBetween. */
export interface IntervalsBetweenOptions extends PriceModelOptions {
  /** The moment that decides which intervals are actual, current or forecast, in epoch ms. */
  now: number;
  /** Start of the range in epoch ms; intervals starting before it are left out. */
  startMs: number;
  /** End of the range in epoch ms; intervals starting at or after it are left out. */
  endMs: number;
}

const MINUTE_MS = 60_000;
const FIVE_MINUTES_MS = 5 * MINUTE_MS;
const HALF_HOUR_MS = 30 * MINUTE_MS;
const HOUR_MS = 60 * MINUTE_MS;
const NEM_OFFSET_MS = 10 * HOUR_MS;

/** Minimum span of 5-minute forecasts on a 5-minute site before 30-minute ones start, in ms. */
const FIVE_MINUTE_FORECAST_MS = HOUR_MS;
/** Age after which a 5-minute current price is confirmed (estimate false). */
const CONFIRMATION_DELAY_MS = 45_000;

const DEFAULT_CHANNELS: readonly ChannelType[] = ["general", "feedIn"];

/**
 * Generates Amber-shaped intervals around `now`: `hoursBack` of actual
 * intervals, the current one and forecasts covering at least `hoursAhead`.
 * A 5-minute site gets 5-minute intervals up to the first half-hour boundary
 * at least an hour after the current interval, then 30-minute ones, as
 * Amber returns them. Channels follow each other in Amber's order.
 */
export function generateIntervals(
  options: GenerateIntervalsOptions,
): Interval[] {
  const length = options.intervalLength * MINUTE_MS;
  const currentStart = Math.floor(options.now / length) * length;
  const hoursBack = options.hoursBack ?? 1;
  const hoursAhead = options.hoursAhead ?? 24;

  return intervalsBetween({
    ...options,
    startMs: currentStart - Math.round((hoursBack * HOUR_MS) / length) * length,
    endMs: options.now + hoursAhead * HOUR_MS,
  });
}

/**
 * Generates the intervals that start within [startMs, endMs), typed by their
 * position relative to `now` and laid out as generateIntervals does.
 */
export function intervalsBetween(options: IntervalsBetweenOptions): Interval[] {
  const model = new PriceModel(options);
  const slots = slotsBetween(options);
  const intervals: Interval[] = [];

  for (const channel of options.channels ?? DEFAULT_CHANNELS) {
    for (const slot of slots) {
      intervals.push(model.interval(slot, channel, options.now));
    }
  }
  return intervals;
}

/**
 * Returns the CurrentInterval of each channel at `now`, as a live-price push
 * carries it. On a 30-minute site the price blends the 5-minute actuals so
 * far with forecasts for the rest, so it moves every 5 minutes.
 */
export function currentIntervals(
  now: number,
  options: PriceModelOptions,
): CurrentInterval[] {
  const model = new PriceModel(options);
  const length = options.intervalLength * MINUTE_MS;
  const start = Math.floor(now / length) * length;
  const slot: Slot = { start, end: start + length, type: "CurrentInterval" };

  return (options.channels ?? DEFAULT_CHANNELS).map((channel) => {
    const interval = model.interval(slot, channel, now);
    if (interval.type !== "CurrentInterval") {
      throw new Error("price model built a non-current interval");
    }
    return interval;
  });
}

interface Slot {
  start: number;
  end: number;
  type: Interval["type"];
}

function slotsBetween(options: IntervalsBetweenOptions): Slot[] {
  const length = options.intervalLength * MINUTE_MS;
  const currentStart = Math.floor(options.now / length) * length;
  const slots: Slot[] = [];
  const inRange = (start: number): boolean =>
    start >= options.startMs && start < options.endMs;

  const firstActual = Math.ceil(options.startMs / length) * length;
  for (let start = firstActual; start < currentStart; start += length) {
    if (inRange(start)) {
      slots.push({ start, end: start + length, type: "ActualInterval" });
    }
  }

  if (inRange(currentStart)) {
    slots.push({
      start: currentStart,
      end: currentStart + length,
      type: "CurrentInterval",
    });
  }

  let start = currentStart + length;
  const fiveMinuteEnd =
    length === FIVE_MINUTES_MS
      ? Math.ceil((start + FIVE_MINUTE_FORECAST_MS) / HALF_HOUR_MS) *
        HALF_HOUR_MS
      : start;
  while (start < options.endMs) {
    const step = start < fiveMinuteEnd ? FIVE_MINUTES_MS : HALF_HOUR_MS;
    if (inRange(start)) {
      slots.push({ start, end: start + step, type: "ForecastInterval" });
    }
    start += step;
  }
  return slots;
}

/** Prices for one 5-minute slot, before rounding. */
interface SlotPrice {
  /** NEM spot price, c/kWh including GST. */
  spot: number;
  /** Network and market fees added to the spot price for the general channel, c/kWh. */
  fees: number;
  renewables: number;
  spikeStatus: SpikeStatus;
}

class PriceModel {
  readonly #pattern: PricePattern;
  readonly #seed: number;

  constructor(options: PriceModelOptions) {
    this.#pattern = options.pattern;
    this.#seed = options.seed ?? 1;
  }

  /** Builds the interval for `slot` on `channel` as seen at `now`. */
  interval(slot: Slot, channel: ChannelType, now: number): Interval {
    const blended = this.#blend(slot, now);
    const general = blended.spot + blended.fees;
    const perKwh = channelPrice(channel, blended.spot, blended.fees);
    const spotPerKwh =
      channel === "feedIn" ? blended.spot * 0.97 : blended.spot;

    const base = {
      date: nemDate(slot.start),
      duration: ((slot.end - slot.start) / MINUTE_MS) as 5 | 30,
      startTime: utcTime(slot.start + 1000),
      endTime: utcTime(slot.end),
      nemTime: nemTime(slot.end),
      perKwh: round2(perKwh),
      spotPerKwh: round2(spotPerKwh),
      renewables: Math.round(blended.renewables * 10) / 10,
      channelType: channel,
      spikeStatus: blended.spikeStatus,
      descriptor: descriptorFor(general, blended.spikeStatus),
      tariffInformation:
        channel === "general"
          ? { demandWindow: isDemandWindow(slot.start) }
          : null,
    };

    if (slot.type === "ActualInterval") {
      return { type: "ActualInterval", ...base };
    }

    const extras = {
      advancedPrice: this.#advancedPrice(slot, channel, blended, now),
      ...(this.#isVolatile() && { range: this.#range(slot, blended.spot) }),
    };
    if (slot.type === "ForecastInterval") {
      return { type: "ForecastInterval", ...base, ...extras };
    }
    return {
      type: "CurrentInterval",
      ...base,
      ...extras,
      estimate: this.#isEstimate(slot, now),
    };
  }

  /** Averages the 5-minute slots of `slot`: actuals where they have passed, forecasts after. */
  #blend(slot: Slot, now: number): SlotPrice {
    let spot = 0;
    let fees = 0;
    let renewables = 0;
    let spikeStatus: SpikeStatus = "none";
    let count = 0;

    for (let start = slot.start; start < slot.end; start += FIVE_MINUTES_MS) {
      const index = start / FIVE_MINUTES_MS;
      const price = this.#slotPrice(index);
      const settled =
        slot.type === "ActualInterval" ||
        start + FIVE_MINUTES_MS <= now ||
        (slot.type === "CurrentInterval" && !this.#isEstimate(slot, now));

      spot += settled
        ? price.spot
        : price.spot + this.#forecastError(index, now);
      fees += price.fees;
      renewables += price.renewables;
      spikeStatus = worseSpike(spikeStatus, price.spikeStatus);
      count += 1;
    }

    return {
      spot: spot / count,
      fees: fees / count,
      renewables: renewables / count,
      spikeStatus,
    };
  }

  /** Prices the 5-minute slot number `index` (counted from the epoch). */
  #slotPrice(index: number): SlotPrice {
    const hour = nemHour(index * FIVE_MINUTES_MS + FIVE_MINUTES_MS / 2);
    const noise = (salt: number): number => unitNoise(this.#seed, index, salt);
    let spot = interpolate(SPOT_SHAPE, hour);
    let spikeStatus: SpikeStatus = "none";

    switch (this.#pattern) {
      case "calm":
        spot += (noise(1) - 0.5) * 2;
        break;
      case "volatile":
        spot += (noise(1) - 0.5) * 30;
        if (noise(2) > 0.85) {
          spot += 40 + noise(3) * 80;
        } else if (noise(2) < 0.1) {
          spot -= 25;
        }
        break;
      case "negative-midday": {
        const weight = bump(hour, 9.5, 15.5);
        spot = spot * (1 - weight) + (-20 - noise(3) * 4) * weight;
        spot += (noise(1) - 0.5) * 2;
        break;
      }
      case "spike":
        spot += (noise(1) - 0.5) * 2;
        if (hour >= 18 && hour < 19) {
          spot = 1000 + noise(3) * 300;
          spikeStatus = "spike";
        } else if (hour >= 16 && hour < 18) {
          spikeStatus = "potential";
        }
        break;
    }

    const daylight = bump(hour, 6, 18.5);
    const renewables = clamp(18 + 55 * daylight + (noise(4) - 0.5) * 6, 0, 100);
    return { spot, fees: networkFees(hour), renewables, spikeStatus };
  }

  /**
   * Seeded forecast error for slot `index` as seen at `now`, in c/kWh of
   * spot. Most of it is shared by the slots of one half hour, so a 30-minute
   * current price moves visibly as its 5-minute slots settle.
   */
  #forecastError(index: number, now: number): number {
    const leadHours = (index * FIVE_MINUTES_MS - now) / HOUR_MS;
    const leadFactor = clamp(leadHours / 2, 0.5, 1);
    const amplitude = this.#pattern === "volatile" ? 30 : 10;
    const halfHour = Math.floor((index * FIVE_MINUTES_MS) / HALF_HOUR_MS);
    const shared = unitNoise(this.#seed, halfHour, 5) - 0.5;
    const perSlot = (unitNoise(this.#seed, index, 8) - 0.5) / 3;
    return (shared + perSlot) * amplitude * leadFactor;
  }

  #advancedPrice(
    slot: Slot,
    channel: ChannelType,
    blended: SlotPrice,
    now: number,
  ): { low: number; predicted: number; high: number } {
    const index = slot.start / FIVE_MINUTES_MS;
    const leadHours = Math.max(0, (slot.start - now) / HOUR_MS);
    const bias =
      (unitNoise(this.#seed, index, 6) - 0.5) * (this.#isVolatile() ? 12 : 3);
    const predictedSpot = blended.spot + bias;
    const spread =
      1 +
      Math.abs(predictedSpot) * 0.08 +
      Math.min(leadHours, 12) * (this.#isVolatile() ? 1.5 : 0.4);

    const predicted = channelPrice(channel, predictedSpot, blended.fees);
    // On feed-in, "high" is the largest payout, which is the most negative number.
    const direction = channel === "feedIn" ? -1 : 1;
    return {
      low: round2(predicted - direction * spread),
      predicted: round2(predicted),
      high: round2(predicted + direction * spread * 1.5),
    };
  }

  #range(slot: Slot, spot: number): { min: number; max: number } {
    const index = slot.start / FIVE_MINUTES_MS;
    const width =
      5 + Math.abs(spot) * 0.3 + unitNoise(this.#seed, index, 7) * 20;
    return { min: round2(spot - width / 2), max: round2(spot + width) };
  }

  #isVolatile(): boolean {
    return this.#pattern === "volatile" || this.#pattern === "spike";
  }

  /**
   * A 5-minute price is confirmed about 45 s after its interval starts, and a
   * 30-minute current price becomes final in its last 5 minutes.
   */
  #isEstimate(slot: Slot, now: number): boolean {
    if (slot.end - slot.start === FIVE_MINUTES_MS) {
      return now < slot.start + CONFIRMATION_DELAY_MS;
    }
    return now < slot.end - FIVE_MINUTES_MS;
  }
}

/** Spot price (c/kWh incl. GST) by NEM hour: mild night, solar trough, evening peak. */
const SPOT_SHAPE: ReadonlyArray<readonly [number, number]> = [
  [0, 10],
  [5, 9],
  [7, 16],
  [9, 8],
  [11, 1.5],
  [13, 0.5],
  [15, 3],
  [17, 20],
  [18.5, 40],
  [20, 28],
  [22, 14],
  [24, 10],
];

/** Network and market fees by NEM hour, c/kWh: peak 16-21 h, shoulder 7-16 h and 21-22 h. */
function networkFees(hour: number): number {
  if (hour >= 16 && hour < 21) {
    return 17;
  }
  if ((hour >= 7 && hour < 16) || (hour >= 21 && hour < 22)) {
    return 11;
  }
  return 9;
}

function isDemandWindow(start: number): boolean {
  const hour = nemHour(start);
  return hour >= 16 && hour < 21;
}

function channelPrice(
  channel: ChannelType,
  spot: number,
  fees: number,
): number {
  switch (channel) {
    case "general":
      return spot + fees;
    case "controlledLoad":
      return spot + fees * 0.6;
    case "feedIn":
      // A cost to the customer: negative while exporting is paid.
      return -spot * 0.97;
  }
}

function descriptorFor(
  general: number,
  spikeStatus: SpikeStatus,
): PriceDescriptor {
  if (spikeStatus === "spike") {
    return "spike";
  }
  if (general < 0) {
    return "extremelyLow";
  }
  if (general < 10) {
    return "veryLow";
  }
  if (general < 18) {
    return "low";
  }
  if (general < 28) {
    return "neutral";
  }
  return "high";
}

function worseSpike(a: SpikeStatus, b: SpikeStatus): SpikeStatus {
  const rank: Record<SpikeStatus, number> = { none: 0, potential: 1, spike: 2 };
  return rank[b] > rank[a] ? b : a;
}

function interpolate(
  points: ReadonlyArray<readonly [number, number]>,
  x: number,
): number {
  for (let i = 1; i < points.length; i += 1) {
    const [x1, y1] = points[i] ?? [24, 0];
    const [x0, y0] = points[i - 1] ?? [0, 0];
    if (x <= x1) {
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return points[points.length - 1]?.[1] ?? 0;
}

/** Smooth 0..1..0 bump over [from, to] hours, 1 at the middle. */
function bump(hour: number, from: number, to: number): number {
  if (hour <= from || hour >= to) {
    return 0;
  }
  return Math.sin((Math.PI * (hour - from)) / (to - from));
}

/** Seeded noise in [0, 1) for slot `index`; `salt` separates independent draws. */
function unitNoise(seed: number, index: number, salt: number): number {
  let hash = Math.imul(seed | 0, 0x9e3779b1);
  hash ^= Math.imul(index | 0, 0x85ebca6b);
  hash ^= Math.imul(salt | 0, 0xc2b2ae35);
  hash = Math.imul(hash ^ (hash >>> 16), 0x7feb352d);
  hash = Math.imul(hash ^ (hash >>> 15), 0x846ca68b);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 4_294_967_296;
}

function nemHour(ms: number): number {
  return (
    ((((ms + NEM_OFFSET_MS) % (24 * HOUR_MS)) + 24 * HOUR_MS) %
      (24 * HOUR_MS)) /
    HOUR_MS
  );
}

function nemDate(ms: number): string {
  return new Date(ms + NEM_OFFSET_MS).toISOString().slice(0, 10);
}

function nemTime(ms: number): string {
  return `${new Date(ms + NEM_OFFSET_MS).toISOString().slice(0, 19)}+10:00`;
}

function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
