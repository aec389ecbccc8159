/**
 * Pure helpers behind the engine's decisions: the materiality rule, which
 * decides whether a new tariff is worth a Tesla write, and the summaries
 * and wording that the log, the status API and the HA service show.
 *
 * Materiality rule. The Powerwall's optimiser acts on the tariff it has:
 * it charges in the cheapest half hours, covers the house or exports in the
 * dearest, and stops exporting when export pays nothing. A new tariff is
 * worth a write only when it would change those choices. So each half hour
 * is compared with the Powerwall's rate for the same clock time, taken from
 * the last upload, or from the Powerwall's own tariff when that differs.
 * The rates compared are the ones Tesla sees: $/kWh, clamped at zero, with
 * overlays applied. A half hour's lead time is its position after the
 * current one: 0 for the current half hour, 0.5 h for the next, up to
 * 23.5 h. The change is material when any of these holds:
 *
 * 1. The Powerwall's tariff has no price for some half hour.
 * 2. Sign change (urgent): in the next `nearHorizonHours` (default 6 h), a
 *    real buy or sell price crosses zero by a step of at least
 *    `currentSlotMinChangeCents`, for example export starts to cost money.
 * 3. Spike status (urgent when `spike` is involved): in the next
 *    `nearHorizonHours`, Amber's spike status of a half hour changed and so
 *    did its rates.
 * 4. Current and next half hour: a rate moved by at least
 *    `currentSlotMinChangeCents` (default 4 c/kWh) and by at least
 *    `currentSlotMinChangePercent` (default 15 %) of the larger of the old
 *    and new rate. A battery keeps one price per half hour and ignores later
 *    corrections to the running one, so a live move this large must reach
 *    it. A move of the current half hour by at least `urgentMinChangeCents`
 *    (default 10 c/kWh) and `urgentMinChangePercent` (default 50 %) is
 *    urgent.
 * 5. Later half hours: the same test with `minChangeCents` (default 4 c/kWh)
 *    and `minChangePercent` (default 15 %), both scaled by
 *    1 + `thresholdGrowthPercentPerHour` (default 25 %) × lead hours, and
 *    the relative part capped at 60 %. At 1 h that is 5 c/kWh and 18.75 %,
 *    at 6 h 10 c/kWh and 37.5 %, and at 20 h 24 c/kWh and 60 %. A change far ahead rarely changes
 *    what the battery does in the next hour, and it is sent anyway with the
 *    next write or once it comes close enough.
 * 6. Ranking: in the next `nearHorizonHours`, a half hour joined the
 *    `rankedSlots` (default 2) cheapest or dearest buy rates, or the dearest
 *    sell rates, and its new rate beats one that left by at least
 *    `currentSlotMinChangeCents`. A near tie that swaps places is no change.
 *
 * Never material: any move below 0.1 c/kWh (float noise and rounding), and
 * a half hour that rolled into the window since the last upload while it is
 * beyond the near horizon. Each half hour the slot that just ended becomes
 * the same clock time tomorrow, and the Powerwall still has today's price
 * for it. That difference goes out with the next write, and rules 2 to 6
 * judge the slot once it comes within the near horizon.
 */
import type { EngineSettings } from "./settings.js";
import type { StoredSlot } from "./state-store.js";
import type { StatusSlot, TariffSummary } from "./types.js";

/** A half hour as the tariff builder plans it (the fields the engine reads). */
export type BuiltSlot = StatusSlot;

/** Moves below this are noise and never material, $/kWh (0.1 c/kWh). */
export const NOISE_PER_KWH = 0.001;
/** Largest relative threshold after growth, as a fraction of the larger rate. */
export const MAX_RELATIVE_THRESHOLD = 0.6;
/** Rates closer than this are equal, $/kWh: half the 4-decimal rounding step of built tariffs. */
const RATE_TOLERANCE = 0.00005;
/** Floating-point slack for "at or above the threshold" tests. */
const EPSILON = 1e-9;

/** The Powerwall's rates for the clock time of one new half hour, and what is known about them. */
export interface BaselineSlot {
  /** Buy rate in the Powerwall's tariff, $/kWh; undefined when it has none there. */
  buy: number | undefined;
  /** Sell rate in the Powerwall's tariff, $/kWh; undefined when it has none there. */
  sell: number | undefined;
  /** Real buy price behind `buy`, $/kWh; known only for the engine's own upload. */
  buyActual: number | undefined;
  /** Real sell price behind `sell`, $/kWh (negative when export costs money). */
  sellActual: number | undefined;
  /** Amber spike status behind the rates; known only for the engine's own upload. */
  spikeStatus: string | undefined;
  /** True when the rates were built for this clock time on an earlier day. */
  rolled: boolean;
}

/** The settings the materiality rule reads; see the file comment. */
export type MaterialityPolicy = Pick<
  EngineSettings,
  | "minChangeCents"
  | "minChangePercent"
  | "thresholdGrowthPercentPerHour"
  | "currentSlotMinChangeCents"
  | "currentSlotMinChangePercent"
  | "urgentMinChangeCents"
  | "urgentMinChangePercent"
  | "nearHorizonHours"
  | "rankedSlots"
>;

/** The rule of the file comment that a finding comes from. */
export type FindingKind =
  "missing-price" | "sign" | "spike" | "current-slot" | "threshold" | "ranking";

/** One reason a new tariff is material. */
export interface Finding {
  kind: FindingKind;
  /** True when the change may use the urgent write path. */
  urgent: boolean;
  /** One clause for the sync reason. */
  text: string;
  /** Half-hour index (0 = current) the finding is about. */
  slot: number;
  /** How far past its threshold the change is; orders findings of one kind. */
  score: number;
}

/** The verdict of the materiality rule. */
export interface Materiality {
  material: boolean;
  /** True when a finding qualifies for the urgent write path. */
  urgent: boolean;
  /** One sentence: the deciding finding, or why nothing is material. */
  reason: string;
  /** Every material finding, most important first. */
  findings: Finding[];
  /** Half hours whose rates differ from the baseline, material or not. */
  changedSlots: number;
  /** Largest rate move over all half hours, $/kWh. */
  maxDelta: number;
}

/** A threshold for one half hour: both parts must be reached. */
export interface SlotThreshold {
  /** Smallest move that counts, $/kWh. */
  absolute: number;
  /** Smallest move that counts, as a fraction of the larger of the two rates. */
  relative: number;
}

/** Returns the lead time of half hour `index` (0 = current), hours. */
export function leadHours(index: number): number {
  return index * 0.5;
}

/** Returns the threshold of rules 4 and 5 for half hour `index` (0 = current). */
export function slotThreshold(
  index: number,
  policy: MaterialityPolicy,
): SlotThreshold {
  if (index <= 1) {
    return {
      absolute: policy.currentSlotMinChangeCents / 100,
      relative: policy.currentSlotMinChangePercent / 100,
    };
  }
  const growth =
    1 + (policy.thresholdGrowthPercentPerHour / 100) * leadHours(index);
  return {
    absolute: (policy.minChangeCents / 100) * growth,
    relative: Math.min(
      MAX_RELATIVE_THRESHOLD,
      (policy.minChangePercent / 100) * growth,
    ),
  };
}

/** Returns the urgent threshold of rule 4. */
export function urgentThreshold(policy: MaterialityPolicy): SlotThreshold {
  return {
    absolute: policy.urgentMinChangeCents / 100,
    relative: policy.urgentMinChangePercent / 100,
  };
}

/**
 * Returns how far a move from `before` to `after` ($/kWh) is past
 * `threshold`: at least 1 when it reaches both parts, and 0 for noise.
 */
export function thresholdRatio(
  before: number,
  after: number,
  threshold: SlotThreshold,
): number {
  const delta = Math.abs(after - before);
  if (delta < NOISE_PER_KWH - EPSILON) {
    return 0;
  }
  const needed = Math.max(
    threshold.absolute,
    threshold.relative * Math.max(Math.abs(before), Math.abs(after)),
  );
  return needed <= 0 ? Number.POSITIVE_INFINITY : delta / needed;
}

/** True when a move reaches both parts of `threshold` and is not noise. */
export function reaches(
  before: number,
  after: number,
  threshold: SlotThreshold,
): boolean {
  return thresholdRatio(before, after, threshold) >= 1 - EPSILON;
}

/** Verdict on a move of the current half hour's rates, for the live-price path. */
export type CurrentMove = "none" | "material" | "urgent";

/** Applies rule 4 to the current half hour alone, for a live-price push. */
export function judgeCurrentMove(
  before: { buy: number; sell: number },
  after: { buy: number; sell: number },
  policy: MaterialityPolicy,
): CurrentMove {
  let verdict: CurrentMove = "none";
  for (const side of ["buy", "sell"] as const) {
    if (reaches(before[side], after[side], urgentThreshold(policy))) {
      return "urgent";
    }
    if (reaches(before[side], after[side], slotThreshold(0, policy))) {
      verdict = "material";
    }
  }
  return verdict;
}

/**
 * Builds the baseline from the engine's last upload: the stored slot with
 * the same clock label, marked rolled when it was built for another day.
 */
export function baselineFromUpload(
  slots: readonly BuiltSlot[],
  uploaded: readonly StoredSlot[],
): BaselineSlot[] {
  const byLabel = new Map(uploaded.map((slot) => [slot.label, slot]));
  return slots.map((slot) => {
    const stored = byLabel.get(slot.label);
    if (stored === undefined) {
      return emptyBaseline();
    }
    return {
      buy: stored.buy,
      sell: stored.sell,
      buyActual: numberOrUndefined(stored["buyActual"]),
      sellActual: numberOrUndefined(stored["sellActual"]),
      spikeStatus:
        typeof stored["spikeStatus"] === "string"
          ? stored["spikeStatus"]
          : undefined,
      rolled: stored.start !== slot.start,
    };
  });
}

/** Builds the baseline from bare rates read off a tariff the engine did not write. */
export function baselineFromRates(
  rates: ReadonlyArray<{ buy: number | undefined; sell: number | undefined }>,
): BaselineSlot[] {
  return rates.map((rate) => ({
    ...emptyBaseline(),
    buy: rate.buy,
    sell: rate.sell,
  }));
}

/**
 * Applies the materiality rule of the file comment to the new slots
 * (current half hour first) against the Powerwall's rates for each.
 */
export function judgeMateriality(
  slots: readonly BuiltSlot[],
  baseline: readonly BaselineSlot[],
  policy: MaterialityPolicy,
): Materiality {
  const findings: Finding[] = [];
  let changedSlots = 0;
  let rolledChanged = 0;
  let maxDelta = 0;
  let largest:
    { index: number; side: string; delta: number; ratio: number } | undefined;

  slots.forEach((slot, index) => {
    const base = baseline[index] ?? emptyBaseline();
    const near = leadHours(index) < policy.nearHorizonHours;
    let changed = false;

    for (const side of ["buy", "sell"] as const) {
      const before = base[side];
      const after = slot[side];
      if (before === undefined) {
        findings.push({
          kind: "missing-price",
          urgent: false,
          slot: index,
          score: Number.POSITIVE_INFINITY,
          text: `the Powerwall's tariff has no ${side} price at ${describeSlot(slot, index)}`,
        });
        changed = true;
        continue;
      }
      const delta = Math.abs(after - before);
      maxDelta = Math.max(maxDelta, delta);
      if (delta <= RATE_TOLERANCE) {
        continue;
      }
      changed = true;
      if (base.rolled && !near) {
        continue;
      }

      const signChange = near
        ? crossesZero(
            base,
            slot,
            side,
            Math.max(NOISE_PER_KWH, policy.currentSlotMinChangeCents / 100),
          )
        : undefined;
      if (signChange !== undefined) {
        findings.push({
          kind: "sign",
          urgent: true,
          slot: index,
          score: Number.POSITIVE_INFINITY,
          text: `the real ${side} price at ${describeSlot(slot, index)} crosses zero (${signChange})`,
        });
      }

      const threshold = slotThreshold(index, policy);
      const ratio = thresholdRatio(before, after, threshold);
      if (ratio >= 1 - EPSILON) {
        const urgent =
          index === 0 && reaches(before, after, urgentThreshold(policy));
        findings.push({
          kind: index <= 1 ? "current-slot" : "threshold",
          urgent,
          slot: index,
          score: ratio,
          text: `${side} at ${describeSlot(slot, index)} moved ${cents(delta)} (${before.toFixed(4)} to ${after.toFixed(4)} $/kWh), at or above its threshold of ${describeThreshold(threshold)}${urgent ? ", which is urgent" : ""}`,
        });
      } else if (largest === undefined || ratio > largest.ratio) {
        largest = { index, side, delta, ratio };
      }
    }

    if (changed) {
      changedSlots += 1;
      if (base.rolled && !near) {
        rolledChanged += 1;
      }
    }
    const spike = near && changed ? spikeChange(base, slot) : undefined;
    if (spike !== undefined) {
      findings.push({
        kind: "spike",
        urgent: spike.urgent,
        slot: index,
        score: Number.POSITIVE_INFINITY,
        text: `Amber's spike status at ${describeSlot(slot, index)} changed from ${spike.before} to ${spike.after}`,
      });
    }
  });

  findings.push(...rankingFindings(slots, baseline, policy));
  findings.sort(compareFindings);

  const material = findings.length > 0;
  return {
    material,
    urgent: findings.some((finding) => finding.urgent),
    reason: material
      ? describeFindings(findings)
      : describeNoChange(slots, largest, rolledChanged, policy),
    findings,
    changedSlots,
    maxDelta: Math.round(maxDelta * 1e6) / 1e6,
  };
}

/** Rule 6: changes in which near half hours rank cheapest or dearest. */
function rankingFindings(
  slots: readonly BuiltSlot[],
  baseline: readonly BaselineSlot[],
  policy: MaterialityPolicy,
): Finding[] {
  const count = policy.rankedSlots;
  const window: number[] = [];
  for (let index = 0; index < slots.length; index++) {
    const base = baseline[index];
    if (
      leadHours(index) < policy.nearHorizonHours &&
      base?.buy !== undefined &&
      base.sell !== undefined
    ) {
      window.push(index);
    }
  }
  if (count <= 0 || window.length <= count) {
    return [];
  }

  const gapNeeded = Math.max(
    NOISE_PER_KWH,
    policy.currentSlotMinChangeCents / 100,
  );
  const findings: Finding[] = [];
  const rankings = [
    { side: "buy", order: "cheapest" },
    { side: "buy", order: "dearest" },
    { side: "sell", order: "dearest" },
  ] as const;
  for (const { side, order } of rankings) {
    const rateAfter = (index: number): number => slots[index]?.[side] ?? 0;
    const rateBefore = (index: number): number => baseline[index]?.[side] ?? 0;
    const before = topSlots(window, rateBefore, order, count);
    const after = topSlots(window, rateAfter, order, count);
    const entered = after.filter((index) => !before.includes(index));
    const left = before.filter((index) => !after.includes(index));

    for (const joined of entered) {
      const displaced = left.find((index) => {
        const gap =
          order === "cheapest"
            ? rateAfter(index) - rateAfter(joined)
            : rateAfter(joined) - rateAfter(index);
        return gap >= gapNeeded - EPSILON;
      });
      if (displaced === undefined) {
        continue;
      }
      const joinedSlot = slots[joined];
      const displacedSlot = slots[displaced];
      if (joinedSlot === undefined || displacedSlot === undefined) {
        continue;
      }
      const gap = Math.abs(rateAfter(joined) - rateAfter(displaced));
      findings.push({
        kind: "ranking",
        urgent: false,
        slot: joined,
        score: gap / gapNeeded,
        text: `${describeSlot(joinedSlot, joined)} is now among the ${count} ${order} ${side} rates of the next ${policy.nearHorizonHours} h, ${cents(gap)} ${order === "cheapest" ? "below" : "above"} ${clockTime(displacedSlot)}, which it replaces`,
      });
      break;
    }
  }
  return findings;
}

/** Returns the `count` indices with the lowest (cheapest) or highest (dearest) rates; the earlier wins a tie. */
function topSlots(
  window: readonly number[],
  rate: (index: number) => number,
  order: "cheapest" | "dearest",
  count: number,
): number[] {
  return [...window]
    .sort((a, b) => {
      const difference =
        order === "cheapest" ? rate(a) - rate(b) : rate(b) - rate(a);
      return Math.abs(difference) > RATE_TOLERANCE ? difference : a - b;
    })
    .slice(0, count);
}

/** Describes a zero crossing of the real price on `side`, or undefined when there is none. */
function crossesZero(
  base: BaselineSlot,
  slot: BuiltSlot,
  side: "buy" | "sell",
  minimum: number,
): string | undefined {
  const before = side === "buy" ? base.buyActual : base.sellActual;
  const after = side === "buy" ? slot.buyActual : slot.sellActual;
  if (before === undefined || before < 0 === after < 0) {
    return undefined;
  }
  // A price hovering around zero crosses it by a fraction of a cent all
  // the time; only a crossing by a material step counts.
  if (Math.abs(after - before) < minimum - EPSILON) {
    return undefined;
  }
  const meaning =
    side === "sell" && after < 0
      ? ", so exporting there now costs money"
      : side === "buy" && after < 0
        ? ", so importing there now pays"
        : "";
  return `${before.toFixed(4)} to ${after.toFixed(4)} $/kWh${meaning}`;
}

/** Returns a spike-status change of the slot, or undefined when the baseline has the same or none. */
function spikeChange(
  base: BaselineSlot,
  slot: BuiltSlot,
): { before: string; after: string; urgent: boolean } | undefined {
  const before = base.spikeStatus;
  if (before === undefined || before === slot.spikeStatus) {
    return undefined;
  }
  return {
    before,
    after: slot.spikeStatus,
    urgent: before === "spike" || slot.spikeStatus === "spike",
  };
}

const KIND_ORDER: readonly FindingKind[] = [
  "missing-price",
  "sign",
  "spike",
  "current-slot",
  "ranking",
  "threshold",
];

function compareFindings(a: Finding, b: Finding): number {
  if (a.urgent !== b.urgent) {
    return a.urgent ? -1 : 1;
  }
  const kind = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
  if (kind !== 0) {
    return kind;
  }
  return b.score - a.score || a.slot - b.slot;
}

function describeFindings(findings: readonly Finding[]): string {
  const [first] = findings;
  if (first === undefined) {
    return "";
  }
  const more = findings.length - 1;
  return more === 0
    ? first.text
    : `${first.text}; and ${more} more material change${more === 1 ? "" : "s"}`;
}

function describeNoChange(
  slots: readonly BuiltSlot[],
  largest:
    { index: number; side: string; delta: number; ratio: number } | undefined,
  rolledChanged: number,
  policy: MaterialityPolicy,
): string {
  const rolled =
    rolledChanged === 0
      ? ""
      : `; ${rolledChanged} half hour${rolledChanged === 1 ? "" : "s"} that rolled into the window since the last upload differ${rolledChanged === 1 ? "s" : ""} from the day before and go${rolledChanged === 1 ? "es" : ""} with the next write`;
  const slot = largest === undefined ? undefined : slots[largest.index];
  if (largest === undefined || slot === undefined) {
    return rolled === ""
      ? "no price changed"
      : `no other price changed${rolled}`;
  }
  return `largest change ${cents(largest.delta)} (${largest.side} at ${describeSlot(slot, largest.index)}) is below its threshold of ${describeThreshold(slotThreshold(largest.index, policy))}${rolled}`;
}

function describeSlot(slot: BuiltSlot, index: number): string {
  if (index === 0) {
    return `the current half hour (${clockTime(slot)})`;
  }
  if (index === 1) {
    return `the next half hour (${clockTime(slot)})`;
  }
  return `${clockTime(slot)}, ${leadHours(index).toFixed(1)} h ahead`;
}

/** "HH:MM" of a slot's local start, read from its `PERIOD_HH_MM` label. */
function clockTime(slot: BuiltSlot): string {
  const match = /^PERIOD_(\d{2})_(\d{2})$/.exec(slot.label);
  return match === null ? slot.label : `${match[1]}:${match[2]}`;
}

function describeThreshold(threshold: SlotThreshold): string {
  return `${cents(threshold.absolute)} and ${Math.round(threshold.relative * 1000) / 10} %`;
}

function cents(dollarsPerKwh: number): string {
  return `${(dollarsPerKwh * 100).toFixed(2)} c/kWh`;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

function emptyBaseline(): BaselineSlot {
  return {
    buy: undefined,
    sell: undefined,
    buyActual: undefined,
    sellActual: undefined,
    spikeStatus: undefined,
    rolled: false,
  };
}

/** Formats a $/kWh difference as c/kWh with up to two decimals, e.g. "0.25". */
export function formatCents(dollarsPerKwh: number): string {
  return String(Math.round(dollarsPerKwh * 10_000) / 100);
}

/** Returns the slots whose real price was below zero, for the clamp log line. */
export function clampedSlots(slots: readonly BuiltSlot[]): BuiltSlot[] {
  return slots.filter((slot) => slot.buyActual < 0 || slot.sellActual < 0);
}

/** One price below zero that the upload clamps to zero. */
export interface ClampedPrice {
  /** Slot label, e.g. "11:00". */
  label: string;
  /** Which price of the slot was negative. */
  side: "buy" | "sell";
  /** The real price in c/kWh, below zero. */
  cents: number;
}

/** Lists each buy or sell price below zero, in slot order, for the clamp log line. */
export function clampedPrices(slots: readonly BuiltSlot[]): ClampedPrice[] {
  const prices: ClampedPrice[] = [];
  for (const slot of slots) {
    if (slot.buyActual < 0) {
      prices.push({
        label: slot.label,
        side: "buy",
        cents: Math.round(slot.buyActual * 1000) / 10,
      });
    }
    if (slot.sellActual < 0) {
      prices.push({
        label: slot.label,
        side: "sell",
        cents: Math.round(slot.sellActual * 1000) / 10,
      });
    }
  }
  return prices;
}

/** Returns true when the builder filled the slot from another day instead of Amber data. */
export function isFilled(slot: BuiltSlot): boolean {
  const source = slot.source as
    { buy?: { kind?: unknown }; sell?: { kind?: unknown } } | undefined;
  return source?.buy?.kind === "filled" || source?.sell?.kind === "filled";
}

/** Summarises 48 built slots, current half hour first. */
export function summariseSlots(
  slots: readonly BuiltSlot[],
  timeZone: string,
): TariffSummary {
  const buys = slots.map((slot) => slot.buy);
  const sells = slots.map((slot) => slot.sell);
  const current = slots[0];
  return {
    slots: slots.length,
    timeZone,
    currentLabel: current?.label ?? "",
    currentBuy: current?.buy ?? 0,
    currentSell: current?.sell ?? 0,
    buyMin: Math.min(...buys),
    buyMax: Math.max(...buys),
    sellMin: Math.min(...sells),
    sellMax: Math.max(...sells),
    clampedSlots: clampedSlots(slots).length,
    filledSlots: slots.filter(isFilled).length,
  };
}

/** Returns a one-line description of a summary for logs and the sync log. */
export function describeSummary(summary: TariffSummary): string {
  return (
    `${summary.slots} slots in ${summary.timeZone}, now ${summary.currentLabel} ` +
    `buy $${summary.currentBuy.toFixed(4)} sell $${summary.currentSell.toFixed(4)}, ` +
    `buy $${summary.buyMin.toFixed(4)}-$${summary.buyMax.toFixed(4)}, ` +
    `sell $${summary.sellMin.toFixed(4)}-$${summary.sellMax.toFixed(4)}`
  );
}

/** Keeps the fields of a built slot that later comparisons and the status API need. */
export function toStoredSlot(slot: BuiltSlot): StoredSlot {
  return {
    label: slot.label,
    start: slot.start,
    end: slot.end,
    buy: slot.buy,
    sell: slot.sell,
    buyActual: slot.buyActual,
    sellActual: slot.sellActual,
    source: slot.source,
    spikeStatus: slot.spikeStatus,
    notes: slot.notes,
  };
}

/** Formats a time as HH:MM:SS in `timeZone`, for reasons shown to people. */
export function formatClock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-AU", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(ms);
}
