/**
 * Amber intervals reduced to priced time spans, and the time-weighted price
 * of any window of time. Amber timestamps mark an interval's end, so a span
 * runs from `endTime - duration` to `endTime`, half open; `startTime` (one
 * second past the boundary) is not used.
 */
import type {
  CurrentInterval,
  Interval,
  SpikeStatus,
} from "../amber/schemas.js";

/** Forecast band of Amber's `advancedPrice`. */
export type ForecastBand = "predicted" | "low" | "high";

/** Field a price was read from. */
export type PriceField =
  | "perKwh"
  | "advancedPrice.predicted"
  | "advancedPrice.low"
  | "advancedPrice.high";

/** Settlement state of a price: settled (`actual`), running (`current`) or predicted (`forecast`). */
export type PriceKind = "actual" | "current" | "forecast";

/** One Amber interval on the general or feed-in channel, as a priced span of time. */
export interface PricePoint {
  kind: PriceKind;
  /** Start in ms since the epoch: `endTime` minus `duration`. */
  startMs: number;
  /** End in ms since the epoch, exclusive. */
  endMs: number;
  /** Price in c/kWh as Amber states it (a cost to the customer on both channels). */
  cents: number;
  field: PriceField;
  spikeStatus: SpikeStatus;
  /** Position in the input, so that a later duplicate wins a tie. */
  order: number;
}

/** Price points split by the channel they price. */
export interface ChannelPoints {
  /** General channel: the buy price. */
  general: PricePoint[];
  /** Feed-in channel: the sell price, negated. */
  feedIn: PricePoint[];
}

const KIND_RANK: Record<PriceKind, number> = {
  actual: 0,
  current: 1,
  forecast: 2,
};

const SPIKE_RANK: Record<SpikeStatus, number> = {
  none: 0,
  potential: 1,
  spike: 2,
};

/** Returns the more severe of two spike states, keeping `potential` and `spike` distinct. */
export function worseSpike(a: SpikeStatus, b: SpikeStatus): SpikeStatus {
  return SPIKE_RANK[b] > SPIKE_RANK[a] ? b : a;
}

/**
 * Converts one interval into a price point. Forecasts take
 * `advancedPrice[band]` when Amber sent it and `perKwh` only when it is
 * absent; actual and current intervals take `perKwh`, the price being
 * charged. Returns undefined when the price is not a finite number.
 */
export function toPricePoint(
  interval: Interval | CurrentInterval,
  band: ForecastBand,
  order: number,
): PricePoint | undefined {
  const endMs = Date.parse(interval.endTime);
  const startMs = endMs - interval.duration * 60_000;

  let kind: PriceKind;
  let cents = interval.perKwh;
  let field: PriceField = "perKwh";
  switch (interval.type) {
    case "ActualInterval":
      kind = "actual";
      break;
    case "CurrentInterval":
      kind = "current";
      break;
    case "ForecastInterval": {
      kind = "forecast";
      const advanced = interval.advancedPrice;
      if (advanced !== null && advanced !== undefined) {
        cents = advanced[band];
        field = `advancedPrice.${band}`;
      }
      break;
    }
  }

  if (!Number.isFinite(cents) || !Number.isFinite(endMs)) {
    return undefined;
  }
  return {
    kind,
    startMs,
    endMs,
    cents,
    field,
    spikeStatus: interval.spikeStatus,
    order,
  };
}

/**
 * Splits intervals into general and feed-in price points. Controlled-load
 * intervals are left out because a Powerwall tariff has no place for them.
 * Intervals whose price is not a finite number are left out and reported
 * in `warnings`.
 */
export function toChannelPoints(
  intervals: readonly Interval[],
  band: ForecastBand,
  warnings: string[],
): ChannelPoints {
  const points: ChannelPoints = { general: [], feedIn: [] };
  const unpriced: string[] = [];
  intervals.forEach((interval, order) => {
    if (interval.channelType === "controlledLoad") {
      return;
    }
    const point = toPricePoint(interval, band, order);
    if (point === undefined) {
      unpriced.push(
        `[${order}] ${interval.channelType} ending ${interval.endTime}`,
      );
      return;
    }
    points[interval.channelType].push(point);
  });
  if (unpriced.length > 0) {
    warnings.push(
      `ignored ${unpriced.length} interval(s) whose price or end time is not a finite number: ${unpriced.slice(0, 3).join(", ")}${unpriced.length > 3 ? ", …" : ""}`,
    );
  }
  return points;
}

/** Time-weighted price of a window and where it came from. */
export interface WindowPrice {
  /** Time-weighted mean in c/kWh over the covered part of the window. */
  cents: number;
  /** Milliseconds of the window that some interval covers. */
  coveredMs: number;
  /** Kind covering the most time. */
  kind: PriceKind;
  /** Field covering the most time. */
  field: PriceField;
  /** Number of distinct intervals that contributed. */
  intervals: number;
  /** Milliseconds covered by each kind, for notes on mixed windows. */
  msByKind: Partial<Record<PriceKind, number>>;
  /** Most severe spike state among the contributing intervals. */
  spikeStatus: SpikeStatus;
}

/**
 * Time-weighted mean price of `[startMs, endMs)`. Where intervals overlap,
 * each moment takes one interval: settled before running before forecast,
 * then the shorter interval, then the later one in the input. So six
 * 5-minute prices average into their half hour, and a 15-minute interval
 * counts for its share of it. Returns undefined when nothing covers any of
 * the window.
 */
export function priceOver(
  points: readonly PricePoint[],
  startMs: number,
  endMs: number,
): WindowPrice | undefined {
  const overlapping = points.filter(
    (point) => point.startMs < endMs && point.endMs > startMs,
  );
  if (overlapping.length === 0) {
    return undefined;
  }

  const cuts = new Set<number>([startMs, endMs]);
  for (const point of overlapping) {
    if (point.startMs > startMs) cuts.add(point.startMs);
    if (point.endMs < endMs) cuts.add(point.endMs);
  }
  const edges = [...cuts].sort((a, b) => a - b);

  let weighted = 0;
  let coveredMs = 0;
  let spikeStatus: SpikeStatus = "none";
  const used = new Set<PricePoint>();
  const msByKind: Partial<Record<PriceKind, number>> = {};
  const msByField = new Map<PriceField, number>();

  for (let i = 0; i + 1 < edges.length; i++) {
    const from = edges[i] ?? startMs;
    const to = edges[i + 1] ?? endMs;
    const best = pickBest(overlapping, from, to);
    if (best === undefined) {
      continue;
    }
    const span = to - from;
    weighted += best.cents * span;
    coveredMs += span;
    used.add(best);
    msByKind[best.kind] = (msByKind[best.kind] ?? 0) + span;
    msByField.set(best.field, (msByField.get(best.field) ?? 0) + span);
    spikeStatus = worseSpike(spikeStatus, best.spikeStatus);
  }
  if (coveredMs === 0) {
    return undefined;
  }

  return {
    cents: weighted / coveredMs,
    coveredMs,
    kind: largestKey(Object.entries(msByKind) as Array<[PriceKind, number]>),
    field: largestKey([...msByField.entries()]),
    intervals: used.size,
    msByKind,
    spikeStatus,
  };
}

function pickBest(
  points: readonly PricePoint[],
  from: number,
  to: number,
): PricePoint | undefined {
  let best: PricePoint | undefined;
  for (const point of points) {
    if (point.startMs > from || point.endMs < to) {
      continue;
    }
    if (best === undefined || ranksBefore(point, best)) {
      best = point;
    }
  }
  return best;
}

function ranksBefore(a: PricePoint, b: PricePoint): boolean {
  if (KIND_RANK[a.kind] !== KIND_RANK[b.kind]) {
    return KIND_RANK[a.kind] < KIND_RANK[b.kind];
  }
  const aLength = a.endMs - a.startMs;
  const bLength = b.endMs - b.startMs;
  if (aLength !== bLength) {
    return aLength < bLength;
  }
  return a.order > b.order;
}

function largestKey<K>(entries: Array<[K, number]>): K {
  let best = entries[0];
  for (const entry of entries) {
    if (best === undefined || entry[1] > best[1]) {
      best = entry;
    }
  }
  if (best === undefined) {
    throw new Error("largestKey needs at least one entry");
  }
  return best[0];
}
