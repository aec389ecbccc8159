/**
 * The `preview_tariff` service: builds the tariff a sync would upload now,
 * validates it strictly, and compares it with the tariff the Powerwall
 * holds, without writing anything. It runs the same steps as a sync (see
 * src/engine/sync-engine.ts) through the engine's own building blocks.
 *
 * NOTE: tariff overlays from the price-event controls are not applied here,
 * so with an overlay enabled the preview can differ from the next upload.
 */
import type { CurrentInterval } from "../amber/schemas.js";
import { LivePriceTracker } from "../engine/live-price.js";
import { fetchPriceWindow } from "../engine/price-window.js";
import type { EngineSettings } from "../engine/settings.js";
import {
  buildValidatedTariff,
  readPowerwallTariff,
} from "../engine/tariff-port.js";
import type { AmberPort, TeslaPort } from "../engine/types.js";
import { TariffInvalidError } from "../errors.js";
import { compareTariffs } from "../tariff/compare.js";
import type { TariffContentV2Lenient } from "../tariff/schema.js";
import { isoWithOffset } from "./states.js";

/** Inputs of a preview, taken from the running engine. */
export interface PreviewSources {
  amber: AmberPort;
  tesla: Pick<TeslaPort, "getSiteInfo">;
  amberSiteId: string;
  teslaSiteId: string;
  intervalLength: 5 | 30;
  settings: Readonly<EngineSettings>;
  /** The zone the engine uses when the Powerwall reports none. */
  fallbackTimeZone: string;
  /** The last live-price push, if any. */
  live: readonly CurrentInterval[];
}

/** Options of one preview. */
export interface PreviewRequest {
  /** Forecast band to price with; default the engine's. */
  band?: "predicted" | "low" | "high";
  now: number;
}

/**
 * Builds and compares the tariff. Returns the service response; throws
 * PricesInsufficientError or TariffInvalidError when a sync would refuse,
 * so HA shows the reason.
 */
export async function previewTariff(
  sources: PreviewSources,
  request: PreviewRequest,
): Promise<Record<string, unknown>> {
  const { now } = request;
  const band = request.band ?? sources.settings.band;
  const window = await fetchPriceWindow(
    sources.amber,
    sources.amberSiteId,
    sources.intervalLength,
    now,
  );
  const info = await sources.tesla.getSiteInfo(sources.teslaSiteId);
  const reported = info.installation_time_zone ?? "";
  const timeZone = validZone(reported) ? reported : sources.fallbackTimeZone;

  const tracker = new LivePriceTracker();
  tracker.accept(sources.live, now);
  const outcome = buildValidatedTariff({
    intervals: window.intervals,
    live: tracker.freshAt(now),
    now,
    timeZone,
    band,
    maxFilledSlots: sources.settings.maxFilledSlots,
  });
  if (!outcome.ok) {
    throw new TariffInvalidError(outcome.problems);
  }
  const built = outcome.built;
  const onPowerwall = readPowerwallTariff(info.tariff_content_v2);
  const comparison = compareTariffs(
    onPowerwall as TariffContentV2Lenient | undefined,
    built.tariff as TariffContentV2Lenient,
    {
      minChange: sources.settings.minChangeCents / 100,
      currentSlotMinChange: sources.settings.currentSlotMinChangeCents / 100,
      now,
      timeZone,
    },
  );

  return {
    band,
    time_zone: timeZone,
    would_upload: comparison.material,
    reason:
      onPowerwall === undefined
        ? "the Powerwall has no readable tariff, so any valid tariff is an upgrade"
        : comparison.reason,
    slots: built.slots.map((slot) => ({
      start_time: isoWithOffset(slot.start),
      end_time: isoWithOffset(slot.end),
      buy: slot.buy,
      sell: slot.sell,
      buy_actual: slot.buyActual,
      sell_actual: slot.sellActual,
    })),
    differences: comparison.changedSlots.map((change) => ({
      days: change.days,
      time: change.time,
      buy_before: change.buyBefore ?? null,
      buy_after: change.buyAfter ?? null,
      sell_before: change.sellBefore ?? null,
      sell_after: change.sellAfter ?? null,
      current: change.current,
    })),
    max_buy_change: comparison.maxBuyDelta,
    max_sell_change: comparison.maxSellDelta,
    tariff: built.tariff,
    warnings: built.warnings,
  };
}

function validZone(zone: string): boolean {
  if (zone === "") {
    return false;
  }
  try {
    new Intl.DateTimeFormat("en-AU", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
