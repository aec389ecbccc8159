/**
 * Pure helpers behind the engine's decisions: summarising a built tariff
 * and wording what the log, the status API and the HA service show.
 */
import type { StoredSlot } from "./state-store.js";
import type { StatusSlot, TariffSummary } from "./types.js";

/** A half hour as the tariff builder plans it (the fields the engine reads). */
export type BuiltSlot = StatusSlot;

/** Formats a $/kWh difference as c/kWh with up to two decimals, e.g. "0.25". */
export function formatCents(dollarsPerKwh: number): string {
  return String(Math.round(dollarsPerKwh * 10_000) / 100);
}

/** Returns the slots whose real price was below zero, for the clamp log line. */
export function clampedSlots(slots: readonly BuiltSlot[]): BuiltSlot[] {
  return slots.filter((slot) => slot.buyActual < 0 || slot.sellActual < 0);
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
