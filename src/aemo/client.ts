/**
 * Client for AEMO's NEM summary feed: the current 5-minute dispatch price of
 * each NEM region, which the spike response watches. The feed needs no
 * credentials. It is an undocumented web-app API, so every body is parsed
 * with zod and a change of shape becomes an InvalidPayloadError.
 */
import type { Logger } from "pino";

import { describeError, InvalidPayloadError } from "../errors.js";
import { withRetry } from "../http/retry.js";
import { parsePayload, VendorHttp } from "../http/vendor-http.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  nemSummaryResponseSchema,
  type NemRegion,
  type NemSummaryRow,
} from "./schemas.js";

/** Public host of AEMO's visualisation APIs; pass it as `baseUrl` in production. */
export const AEMO_VISUALISATIONS_URL = "https://visualisations.aemo.com.au";

/** Path of the summary report below the base URL. */
export const NEM_SUMMARY_PATH = "/aemo/apps/api/report/ELEC_NEM_SUMMARY";

/** The latest dispatch price of one region. */
export interface RegionPrice {
  region: NemRegion;
  /** Regional reference price, $/MWh excluding GST. */
  priceMwh: number;
  /** End of the 5-minute dispatch interval the price belongs to, epoch ms. */
  settlementEnd: number;
  /** True once AEMO marks the price FIRM; a NOT FIRM price may still be revised. */
  firm: boolean;
}

/** Options of {@link AemoClient}. */
export interface AemoClientOptions {
  /** Base URL without the report path, e.g. {@link AEMO_VISUALISATIONS_URL} or a stand-in's URL. */
  baseUrl: string;
  logger: Logger;
  /** Time source for retry waits; default the system clock. */
  clock?: Clock;
  /** Timeout of each request, ms; default 15000. */
  timeoutMs?: number;
  /** Attempts per call including the first; default 3. Only 429, 5xx and transport failures are retried. */
  maxAttempts?: number;
  /** First retry delay, ms; doubles on each retry up to 30 s. Default 2000. */
  baseDelayMs?: number;
  /** Random source for retry jitter, in [0, 1); tests pass a constant. */
  random?: () => number;
}

/** Reads regional dispatch prices from the ELEC_NEM_SUMMARY report. */
export class AemoClient {
  readonly #http: VendorHttp;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #random: (() => number) | undefined;
  #requests = 0;
  #failures = 0;
  /** Code of the failure being reported, so repeats log at debug only. */
  #failingWith: string | undefined;

  constructor(options: AemoClientOptions) {
    this.#http = new VendorHttp({
      vendor: "aemo",
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs ?? 15_000,
    });
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#baseDelayMs = options.baseDelayMs ?? 2_000;
    this.#random = options.random;
  }

  /**
   * Fetches the summary report and returns the latest price of every region
   * in it. Rows for unknown region ids are skipped.
   */
  async getSummary(): Promise<RegionPrice[]> {
    const body = await this.#fetch();
    const latest = new Map<NemRegion, RegionPrice>();
    for (const row of body.ELEC_NEM_SUMMARY) {
      const price = toRegionPrice(row);
      if (price === undefined) {
        continue;
      }
      const seen = latest.get(price.region);
      if (seen === undefined || price.settlementEnd > seen.settlementEnd) {
        latest.set(price.region, price);
      }
    }
    return [...latest.values()];
  }

  /**
   * Returns the latest dispatch price of `region`, or throws
   * InvalidPayloadError when the report has no row for it.
   */
  async getRegionPrice(region: NemRegion): Promise<RegionPrice> {
    const prices = await this.getSummary();
    const price = prices.find((candidate) => candidate.region === region);
    if (price === undefined) {
      throw new InvalidPayloadError(
        "aemo",
        "ELEC_NEM_SUMMARY",
        `AEMO's NEM summary has no row for region ${region} (found ${
          prices.map((candidate) => candidate.region).join(", ") || "none"
        }). Check the configured region; the spike response keeps its state until a price arrives.`,
      );
    }
    return price;
  }

  /** Request and failure counts since start, for status displays. */
  counters(): { requests: number; failures: number } {
    return { requests: this.#requests, failures: this.#failures };
  }

  async #fetch(): Promise<{ ELEC_NEM_SUMMARY: NemSummaryRow[] }> {
    try {
      const body = await withRetry(
        async () => {
          this.#requests += 1;
          const response = await this.#http.send({
            method: "GET",
            path: NEM_SUMMARY_PATH,
          });
          return parsePayload(
            "aemo",
            "NEM summary",
            nemSummaryResponseSchema,
            response.body,
          );
        },
        {
          clock: this.#clock,
          maxAttempts: this.#maxAttempts,
          baseDelayMs: this.#baseDelayMs,
          maxDelayMs: 30_000,
          ...(this.#random === undefined ? {} : { random: this.#random }),
          onRetry: (error, attempt, delayMs) => {
            this.#logger.debug(
              { attempt, delayMs, error: describeError(error) },
              "AEMO summary request failed; retrying",
            );
          },
        },
      );
      if (this.#failingWith !== undefined) {
        this.#logger.info("AEMO summary is reachable again");
        this.#failingWith = undefined;
      }
      return body;
    } catch (error) {
      this.#failures += 1;
      const code = error instanceof Error ? error.name : "unknown";
      if (this.#failingWith === code) {
        this.#logger.debug(
          { error: describeError(error) },
          "AEMO summary still failing",
        );
      } else {
        this.#logger.warn(
          { error: describeError(error) },
          "AEMO summary request failed",
        );
      }
      this.#failingWith = code;
      throw error;
    }
  }
}

function toRegionPrice(row: NemSummaryRow): RegionPrice | undefined {
  switch (row.REGIONID) {
    case "NSW1":
    case "QLD1":
    case "VIC1":
    case "SA1":
    case "TAS1":
      return {
        region: row.REGIONID,
        priceMwh: row.PRICE,
        settlementEnd: row.SETTLEMENTDATE,
        firm: row.PRICE_STATUS?.trim().toUpperCase() === "FIRM",
      };
    default:
      return undefined;
  }
}
