/**
 * Client for Amber Electric's REST API (v1). Every request carries the
 * bearer token, goes through the token's RequestBudget and is retried on
 * 5xx, timeouts and 429. A 401 is an AuthError and is never retried.
 */
import {
  ConfigError,
  describeError,
  TeslaSyncError,
  type ErrorCode,
} from "../errors.js";
import { withRetry } from "../http/retry.js";
import { parsePayload, VendorHttp } from "../http/vendor-http.js";
import { registerSecret, type Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";
import { RequestBudget, type BudgetStats } from "./budget.js";
import { parsePricesBody, type PriceResponse } from "./prices.js";
import { sitesResponseSchema, type Site } from "./schemas.js";

export const AMBER_BASE_URL = "https://api.amber.com.au/v1";

/** Amber's limit on `next + previous` for `/prices/current`; beyond it Amber responds with 422. */
export const MAX_CURRENT_INTERVALS = 2048;

/** Amber's limit on `endDate - startDate` for `/prices`, in days; beyond it Amber responds with 422. */
export const MAX_PRICE_RANGE_DAYS = 7;

const DAY_MS = 86_400_000;

/** Options for an AmberClient. */
export interface AmberClientOptions {
  /** API base URL; default "https://api.amber.com.au/v1". */
  baseUrl?: string;
  /** Amber API token (created at app.amber.com.au/developers). */
  token: string;
  logger: Logger;
  /** Time source for retries and the budget; default the system clock. */
  clock?: Clock;
  /**
   * Request budget for this token. Pass the same budget to every client that
   * uses the token; default a new budget of 45 requests per 300 s.
   */
  budget?: RequestBudget;
  /** Timeout per HTTP request in ms; default 15 000. */
  timeoutMs?: number;
  /** Attempts per call including the first, for 5xx, timeouts and 429; default 4. */
  maxAttempts?: number;
  /** First retry delay after a 5xx or timeout in ms; default 1 000, doubling up to 30 000. */
  retryBaseDelayMs?: number;
  /** Random source in [0, 1) for retry jitter; tests pass a constant. */
  random?: () => number;
  /**
   * Aborts every call for shutdown: a request in flight, a retry wait and a
   * wait for the budget all reject at once with the signal's reason.
   */
  signal?: AbortSignal;
}

/** Query for `GET /sites/{id}/prices/current`. */
export interface CurrentPricesQuery {
  /** Number of forecast intervals after the current one; default 0. */
  next?: number;
  /** Number of actual intervals before the current one; default 0. */
  previous?: number;
  /** Interval length in minutes. Amber ignores it for 5-minute sites. */
  resolution?: 5 | 30;
}

/** Query for `GET /sites/{id}/prices`: NEM days, both inclusive. */
export interface PriceRangeQuery {
  /** First NEM day, "YYYY-MM-DD". */
  startDate: string;
  /** Last NEM day, "YYYY-MM-DD", at most 7 days after `startDate`. */
  endDate: string;
  /** Interval length in minutes. Amber ignores it for 5-minute sites. */
  resolution?: 5 | 30;
}

/** Endpoint names used as counter keys. */
export type AmberEndpoint =
  "GET /sites" | "GET /sites/{id}/prices/current" | "GET /sites/{id}/prices";

export class AmberClient {
  readonly #http: VendorHttp;
  readonly #budget: RequestBudget;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #maxAttempts: number;
  readonly #retryBaseDelayMs: number;
  readonly #random: () => number;
  readonly #signal: AbortSignal | undefined;
  readonly #counters = new Map<AmberEndpoint, number>();
  /** Error codes seen since the last success, so repeats log at debug. */
  readonly #failingKinds = new Set<ErrorCode | "OTHER">();
  readonly #reportedChannelTypes = new Set<string>();

  constructor(options: AmberClientOptions) {
    if (options.token.trim() === "") {
      throw new ConfigError(
        "The Amber API token is missing. Create one at https://app.amber.com.au/developers and enter it in the configuration.",
      );
    }
    registerSecret(options.token);

    const authorization = `Bearer ${options.token}`;
    this.#http = new VendorHttp({
      vendor: "amber",
      baseUrl: options.baseUrl ?? AMBER_BASE_URL,
      timeoutMs: options.timeoutMs ?? 15_000,
      headers: () => ({ Authorization: authorization }),
      ...(options.signal && { signal: options.signal }),
    });
    this.#clock = options.clock ?? systemClock;
    this.#budget = options.budget ?? new RequestBudget({ clock: this.#clock });
    this.#logger = options.logger.child({ module: "amber" });
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 1000;
    this.#random = options.random ?? Math.random;
    this.#signal = options.signal;
  }

  /** Fetches every site on the account. */
  async listSites(): Promise<Site[]> {
    const body = await this.#get("GET /sites", "/sites");
    return parsePayload("amber", "site list", sitesResponseSchema, body);
  }

  /**
   * Fetches one site. Amber has no single-site endpoint, so this lists the
   * sites and throws ConfigError when `siteId` is not among them.
   */
  async getSite(siteId: string): Promise<Site> {
    const sites = await this.listSites();
    const site = sites.find((candidate) => candidate.id === siteId);
    if (site === undefined) {
      const known = sites.map((candidate) => candidate.id).join(", ");
      throw new ConfigError(
        `Amber site ${siteId} was not found on this account (its sites: ${known || "none"}). Choose one of its sites in the configuration.`,
      );
    }
    return site;
  }

  /**
   * Fetches the current interval of every channel, plus `previous` actual and
   * `next` forecast intervals. Throws ConfigError before sending when the
   * counts are not non-negative integers or add up to more than 2048.
   */
  async getCurrentPrices(
    siteId: string,
    query: CurrentPricesQuery = {},
  ): Promise<PriceResponse> {
    const next = query.next ?? 0;
    const previous = query.previous ?? 0;
    checkCount("next", next);
    checkCount("previous", previous);
    if (next + previous > MAX_CURRENT_INTERVALS) {
      throw new ConfigError(
        `Amber returns at most ${MAX_CURRENT_INTERVALS} intervals per request, but next (${next}) + previous (${previous}) = ${next + previous}. Request fewer intervals.`,
      );
    }

    const params: Record<string, number> = { next, previous };
    if (query.resolution !== undefined) {
      params["resolution"] = query.resolution;
    }
    const body = await this.#get(
      "GET /sites/{id}/prices/current",
      `/sites/${sitePath(siteId)}/prices/current`,
      params,
    );
    return this.#parsePrices(body);
  }

  /**
   * Fetches every interval of the NEM days from `startDate` to `endDate`,
   * both inclusive. Throws ConfigError before sending when a date is not
   * "YYYY-MM-DD", the end is before the start, or the range exceeds 7 days.
   */
  async getPrices(
    siteId: string,
    query: PriceRangeQuery,
  ): Promise<PriceResponse> {
    const start = parseIsoDate("startDate", query.startDate);
    const end = parseIsoDate("endDate", query.endDate);
    const days = (end - start) / DAY_MS;
    if (days < 0) {
      throw new ConfigError(
        `Amber price range ends (${query.endDate}) before it starts (${query.startDate}). Swap the dates.`,
      );
    }
    if (days > MAX_PRICE_RANGE_DAYS) {
      throw new ConfigError(
        `Amber price range ${query.startDate} to ${query.endDate} spans ${days} days, more than the ${MAX_PRICE_RANGE_DAYS} Amber allows. Split it into shorter ranges.`,
      );
    }

    const params: Record<string, string | number> = {
      startDate: query.startDate,
      endDate: query.endDate,
    };
    if (query.resolution !== undefined) {
      params["resolution"] = query.resolution;
    }
    const body = await this.#get(
      "GET /sites/{id}/prices",
      `/sites/${sitePath(siteId)}/prices`,
      params,
    );
    return this.#parsePrices(body);
  }

  /** Returns the number of HTTP requests sent per endpoint, retries included. */
  counters(): Record<string, number> {
    return Object.fromEntries(this.#counters);
  }

  /** Returns the counts of the request budget this client uses. */
  budgetStats(): BudgetStats {
    return this.#budget.stats();
  }

  async #get(
    endpoint: AmberEndpoint,
    path: string,
    query?: Record<string, string | number>,
  ): Promise<unknown> {
    const request = { method: "GET" as const, path, ...(query && { query }) };

    const send = async (): Promise<unknown> => {
      this.#counters.set(endpoint, (this.#counters.get(endpoint) ?? 0) + 1);
      const response = await this.#http.send(request);
      this.#budget.noteHeaders(response.headers);
      return response.body;
    };

    try {
      const signal = this.#signal;
      const body = await withRetry(() => this.#budget.run(send, signal), {
        clock: this.#clock,
        maxAttempts: this.#maxAttempts,
        baseDelayMs: this.#retryBaseDelayMs,
        maxDelayMs: 30_000,
        random: this.#random,
        ...(signal && { signal }),
        onRetry: (error, attempt, delayMs) => {
          this.#logFailure(endpoint, error, { attempt, delayMs });
        },
      });
      this.#noteSuccess(endpoint);
      return body;
    } catch (error) {
      // A shutdown is not a failure of Amber's, so it is not logged.
      if (this.#signal?.aborted !== true) {
        this.#logFailure(endpoint, error, undefined);
      }
      throw error;
    }
  }

  #parsePrices(body: unknown): PriceResponse {
    const prices = parsePricesBody(body);
    for (const channelType of prices.ignoredChannelTypes) {
      const first = !this.#reportedChannelTypes.has(channelType);
      this.#reportedChannelTypes.add(channelType);
      this.#logger[first ? "warn" : "debug"](
        { channelType },
        "Amber sent prices for an unknown channel type; those intervals are ignored",
      );
    }
    return prices;
  }

  /** Logs the first failure of each kind at warn and its repeats at debug. */
  #logFailure(
    endpoint: AmberEndpoint,
    error: unknown,
    retry: { attempt: number; delayMs: number } | undefined,
  ): void {
    const kind = error instanceof TeslaSyncError ? error.code : "OTHER";
    const first = !this.#failingKinds.has(kind);
    this.#failingKinds.add(kind);

    const fields = { endpoint, error: describeError(error), ...retry };
    const message =
      retry === undefined
        ? "Amber request failed"
        : "Amber request failed; retrying";
    this.#logger[first ? "warn" : "debug"](fields, message);
  }

  #noteSuccess(endpoint: AmberEndpoint): void {
    if (this.#failingKinds.size > 0) {
      this.#logger.info(
        { endpoint, after: [...this.#failingKinds] },
        "Amber requests succeed again",
      );
      this.#failingKinds.clear();
    } else {
      this.#logger.debug({ endpoint }, "Amber request succeeded");
    }
  }
}

function sitePath(siteId: string): string {
  if (siteId.trim() === "") {
    throw new ConfigError(
      "The Amber site id is empty. Choose a site from the account's site list.",
    );
  }
  return encodeURIComponent(siteId);
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(
      `Amber ${name} must be a non-negative whole number of intervals, got ${value}.`,
    );
  }
}

function parseIsoDate(name: string, value: string): number {
  const ms = Date.parse(`${value}T00:00:00Z`);
  const valid =
    /^\d{4}-\d{2}-\d{2}$/.test(value) &&
    Number.isFinite(ms) &&
    new Date(ms).toISOString().startsWith(value);
  if (!valid) {
    throw new ConfigError(
      `Amber ${name} must be an ISO date such as 2025-06-02, got "${value}".`,
    );
  }
  return ms;
}
