/**
 * Plain-text rendering of a slot plan for the CLI and logs: one row per half
 * hour with the tariff rates, the real prices where they were clamped, the
 * price source, the spike state and notes.
 */
import type { SlotPlan, SlotSource } from "./build.js";

const HEADERS = [
  "Local time",
  "Label",
  "Buy $/kWh",
  "Sell $/kWh",
  "Real buy",
  "Real sell",
  "Source (buy | sell)",
  "Spike",
  "Notes",
];

/**
 * Renders the slots as an aligned text table. The real buy and sell columns
 * are filled only where the tariff rate differs from the real price, that is
 * where a negative price was clamped to 0.
 */
export function renderSlotTable(slots: readonly SlotPlan[]): string {
  const rows = slots.map((slot) => [
    formatStart(slot),
    slot.label,
    slot.buy.toFixed(4),
    slot.sell.toFixed(4),
    slot.buyActual === slot.buy ? "" : slot.buyActual.toFixed(4),
    slot.sellActual === slot.sell ? "" : slot.sellActual.toFixed(4),
    formatSources(slot.source.buy, slot.source.sell),
    slot.spikeStatus,
    slot.notes.join("; "),
  ]);

  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const numeric = new Set([2, 3, 4, 5]);
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        if (column === cells.length - 1) {
          return cell;
        }
        return numeric.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();

  const lines = [
    format(HEADERS),
    format(widths.map((width) => "-".repeat(width))),
    ...rows.map(format),
  ];
  return `${lines.join("\n")}\n`;
}

/** `YYYY-MM-DD HH:MM` from the slot's ISO start, whatever its offset. */
function formatStart(slot: SlotPlan): string {
  return `${slot.start.slice(0, 10)} ${slot.start.slice(11, 16)}`;
}

function formatSources(buy: SlotSource, sell: SlotSource): string {
  const buyText = formatSource(buy);
  const sellText = formatSource(sell);
  return buyText === sellText ? buyText : `${buyText} | ${sellText}`;
}

function formatSource(source: SlotSource): string {
  const field = source.field.replace("advancedPrice.", "advanced ");
  return `${source.kind} ${field} x${source.intervals}`;
}
