/**
 * The engine's one entry into the tariff module: build, validate, compare
 * and confirm. Keeping the calls here lets the engine treat tariffs as
 * plain JSON objects and keeps the tariff module's types out of its state.
 */
import type { CurrentInterval, Interval } from "../amber/schemas.js";
import { buildTariff } from "../tariff/build.js";
import { compareTariffs, tariffsEquivalent } from "../tariff/compare.js";
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
    options: { band: request.band, maxFilledSlots: request.maxFilledSlots },
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

/** The engine's view of a tariff comparison, in $/kWh. */
export interface TariffChange {
  material: boolean;
  reason: string;
  changedSlots: number;
  /** Largest buy or sell change over every half hour. */
  maxDelta: number;
}

/** Thresholds and the moment for {@link compareTariffJson}. */
export interface ChangeThresholds {
  /** Smallest move of any half hour that matters, $/kWh. */
  minChange: number;
  /** Smallest move of the half hour containing `now` that matters, $/kWh. */
  currentSlotMinChange: number;
  now: number;
  timeZone: string;
}

/** Compares two tariffs over every half hour, with a lower threshold for the current one. */
export function compareTariffJson(
  before: TariffJson | undefined,
  after: TariffJson,
  thresholds: ChangeThresholds,
): TariffChange {
  const comparison = compareTariffs(
    before as unknown as TariffContentV2 | undefined,
    after as unknown as TariffContentV2,
    thresholds,
  );
  return {
    material: comparison.material,
    reason: comparison.reason,
    changedSlots: comparison.changedSlots.length,
    maxDelta: Math.max(comparison.maxBuyDelta, comparison.maxSellDelta),
  };
}

/** True when two tariffs give the same prices at every half hour. */
export function sameTariff(a: TariffJson, b: TariffJson): boolean {
  return tariffsEquivalent(
    a as unknown as TariffContentV2,
    b as unknown as TariffContentV2,
  );
}
