/**
 * The `preview_tariff` service: builds the tariff a sync would upload now,
 * validates it strictly, and judges it against the tariff the Powerwall
 * holds with the engine's materiality rule, without writing anything. It
 * runs the same steps as a sync (see src/engine/sync-engine.ts) through the
 * engine's own building blocks, overlays included.
 */
import type { CurrentInterval } from "../amber/schemas.js";
import { baselineFromRates, judgeMateriality } from "../engine/decision.js";
import { LivePriceTracker } from "../engine/live-price.js";
import { fetchPriceWindow } from "../engine/price-window.js";
import type { EngineSettings } from "../engine/settings.js";
import {
  buildValidatedTariff,
  readPowerwallTariff,
  tariffRatesAt,
} from "../engine/tariff-port.js";
import type { AmberPort, TeslaPort } from "../engine/types.js";
import { TariffInvalidError } from "../errors.js";
import type { SlotOverlay } from "../tariff/build.js";
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
  /** The price-event overlays a sync would apply now. */
  overlays: SlotOverlay[];
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
    overlays: sources.overlays,
  });
  if (!outcome.ok) {
    throw new TariffInvalidError(outcome.problems);
  }
  const built = outcome.built;
  const onPowerwall = readPowerwallTariff(info.tariff_content_v2);
  const rates =
    onPowerwall === undefined
      ? undefined
      : tariffRatesAt(onPowerwall, built.slots);
  const verdict =
    rates === undefined
      ? undefined
      : judgeMateriality(
          built.slots,
          baselineFromRates(rates),
          sources.settings,
        );

  return {
    band,
    time_zone: timeZone,
    would_upload: verdict?.material ?? true,
    reason:
      verdict?.reason ??
      "the Powerwall has no readable tariff, so any valid tariff replaces it",
    changed_slots: verdict?.changedSlots ?? built.slots.length,
    slots: built.slots.map((slot, index) => ({
      start_time: isoWithOffset(slot.start),
      end_time: isoWithOffset(slot.end),
      buy: slot.buy,
      sell: slot.sell,
      buy_actual: slot.buyActual,
      sell_actual: slot.sellActual,
      powerwall_buy: rates?.[index]?.buy ?? null,
      powerwall_sell: rates?.[index]?.sell ?? null,
    })),
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
