/**
 * The engine's one entry into the tariff module: build, validate, read a
 * tariff's rates and confirm. Keeping the calls here lets the engine treat tariffs as
 * plain JSON objects and keeps the tariff module's types out of its state.
 */
import type { CurrentInterval, Interval } from "../amber/schemas.js";
import { buildTariff, type SlotOverlay } from "../tariff/build.js";
import { tariffsEquivalent } from "../tariff/compare.js";
import { expandTariff, type TariffGrid } from "../tariff/expand.js";
import type { TariffContentV2 } from "../tariff/schema.js";
import { validateTariff } from "../tariff/validate.js";
import type { BuiltSlot } from "./decision.js";

/** A JSON object holding a `tariff_content_v2`. */
export type TariffJson = Record<string, unknown>;

/** Input of {@link buildValidatedTariff}. */
export interface BuildRequest {
  intervals: Interval[];
  live: CurrentInterval[] | undefined;
  now: number;
  timeZone: string;
  band: "predicted" | "low" | "high";
  maxFilledSlots: number;
  /** Price-event overlays (spike protection, export boost, demand uplift), applied in order. */
  overlays?: SlotOverlay[];
}

/** A built tariff that passed strict validation. */
export interface BuiltTariff {
  tariff: TariffJson;
  slots: BuiltSlot[];
  warnings: string[];
}

/** Outcome of strict validation of a freshly built tariff. */
export type BuildOutcome =
  { ok: true; built: BuiltTariff } | { ok: false; problems: string[] };

/**
 * Builds the tariff and validates it strictly. Throws what the builder
 * throws (PricesInsufficientError when prices are too sparse).
 */
export function buildValidatedTariff(request: BuildRequest): BuildOutcome {
  const result = buildTariff({
    intervals: request.intervals,
    ...(request.live === undefined ? {} : { live: request.live }),
    now: request.now,
    timeZone: request.timeZone,
    options: {
      band: request.band,
      maxFilledSlots: request.maxFilledSlots,
      ...(request.overlays === undefined || request.overlays.length === 0
        ? {}
        : { overlays: request.overlays }),
    },
  });
  const validation = validateTariff(result.tariff, "strict");
  if (!validation.ok) {
    return { ok: false, problems: validation.problems };
  }
  return {
    ok: true,
    built: {
      tariff: result.tariff as unknown as TariffJson,
      slots: result.slots,
      warnings: [...result.warnings],
    },
  };
}

/**
 * Parses a tariff read back from a Powerwall leniently. Returns undefined
 * when there is none or it does not parse.
 */
export function readPowerwallTariff(raw: unknown): TariffJson | undefined {
  if (raw === null || raw === undefined) {
    return undefined;
  }
  const validation = validateTariff(raw, "lenient");
  return validation.ok
    ? (validation.tariff as unknown as TariffJson)
    : undefined;
}

/** Buy and sell rates a tariff charges at one moment, $/kWh; undefined where it has none. */
export interface RatesAt {
  buy: number | undefined;
  sell: number | undefined;
}

/**
 * Reads the rates `tariff` charges at the local start of each slot
 * (`start` is local ISO 8601, as the builder writes it), on that date and
 * weekday. Used when the Powerwall has a tariff the engine did not write.
 */
export function tariffRatesAt(
  tariff: TariffJson,
  slots: ReadonlyArray<{ start: string }>,
): RatesAt[] {
  const grids = new Map<string, TariffGrid | undefined>();
  return slots.map((slot) => {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(slot.start);
    if (match === null) {
      return { buy: undefined, sell: undefined };
    }
    const [, year, month, day, hour, minute] = match.map(Number);
    if (
      year === undefined ||
      month === undefined ||
      day === undefined ||
      hour === undefined ||
      minute === undefined
    ) {
      return { buy: undefined, sell: undefined };
    }
    const key = `${month}-${day}`;
    if (!grids.has(key)) {
      grids.set(
        key,
        expandTariff(tariff as unknown as TariffContentV2, {
          date: { month, day },
        })[0],
      );
    }
    // 0 = Monday, as tariff_content_v2 counts weekdays.
    const weekday =
      (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
    const cell =
      grids.get(key)?.days[weekday]?.[Math.floor((hour * 60 + minute) / 30)];
    return { buy: cell?.buy, sell: cell?.sell };
  });
}

/** True when two tariffs give the same prices at every half hour. */
export function sameTariff(a: TariffJson, b: TariffJson): boolean {
  return tariffsEquivalent(
    a as unknown as TariffContentV2,
    b as unknown as TariffContentV2,
  );
}
