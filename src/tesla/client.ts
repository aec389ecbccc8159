/**
 * Client for the Tesla energy-site endpoints, through Teslemetry or the
 * Fleet API directly (same paths and bodies). Every response is parsed with
 * the schemas in ./schemas.ts, every failure is an error from the catalogue,
 * and every HTTP request is counted per endpoint for the write budget.
 *
 * Retry rule. Reads are retried on timeouts, connection failures, 5xx and
 * 429, up to `maxAttempts`. A write is retried only when Tesla cannot have
 * applied it: a 429, a 503, or a connection that failed before the request
 * was sent (refused, or a host name that did not resolve). A timeout,
 * a reset connection or any other 5xx may come after Tesla applied the
 * write, so it is surfaced at once and the caller decides. A 401 or 403
 * gets one retry per call: at once when the token provider has a new token,
 * else after `authRetryDelayMs`, because a single rejection of a valid token
 * has been seen to clear by itself.
 */
import {
  AuthError,
  ConfigError,
  isRetryable,
  RateLimitedError,
  RequestRejectedError,
  TariffInvalidError,
  UpstreamUnavailableError,
  WriteRejectedError,
} from "../errors.js";
import { withRetry } from "../http/retry.js";
import {
  parsePayload,
  VendorHttp,
  type VendorRequest,
  type VendorResponse,
} from "../http/vendor-http.js";
import type { Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";
import type { TokenProvider } from "./auth.js";
import {
  exportRuleSchema,
  liveStatusResponseSchema,
  operationModeSchema,
  productsResponseSchema,
  siteInfoResponseSchema,
  writeResponseSchema,
  type EnergySiteProduct,
  type ExportRule,
  type LiveStatus,
  type OperationMode,
  type SiteInfo,
} from "./schemas.js";

/** Teslemetry's proxy; it routes each request to the account's Fleet region itself. */
export const TESLEMETRY_BASE_URL = "https://api.teslemetry.com";

/** Fleet API base URL per region. Australia and Asia-Pacific are served by "na". */
export const FLEET_BASE_URLS = {
  na: "https://fleet-api.prd.na.vn.cloud.tesla.com",
  eu: "https://fleet-api.prd.eu.vn.cloud.tesla.com",
  cn: "https://fleet-api.prd.cn.vn.cloud.tesla.cn",
} as const;

/** A Fleet API region. */
export type FleetRegion = keyof typeof FLEET_BASE_URLS;

/** Energy-site endpoints, named by the last path segment as Tesla's docs do. */
export type TeslaEndpoint =
  | "products"
  | "site_info"
  | "live_status"
  | "time_of_use_settings"
  | "grid_import_export"
  | "operation"
  | "backup";

/** Options for TeslaClient. */
export interface TeslaClientOptions {
  /** API base URL: TESLEMETRY_BASE_URL, a FLEET_BASE_URLS entry, or a stand-in. */
  baseUrl: string;
  tokens: TokenProvider;
  logger: Logger;
  /** Time source for backoff waits; default the system clock. */
  clock?: Clock;
  /** Timeout of one HTTP request, ms; default 30000. */
  timeoutMs?: number;
  /** Attempts per call including the first (see the retry rule in the file header); default 3. */
  maxAttempts?: number;
  /** First backoff delay, ms, doubling per retry with jitter; default 2000. */
  baseDelayMs?: number;
  /** Cap on one backoff delay, ms; default 60000. */
  maxDelayMs?: number;
  /**
   * Longest Retry-After the client waits out itself, ms; default 120000.
   * A longer one is surfaced as RateLimitedError so the caller can reschedule.
   */
  maxRetryAfterMs?: number;
  /** Pause before retrying a rejected token that the provider could not renew, ms; default 5000. */
  authRetryDelayMs?: number;
  /** Random source for backoff jitter, in [0, 1); default Math.random. */
  random?: () => number;
  /**
   * Aborts every call for shutdown: requests in flight and every wait reject
   * at once with the signal's reason. A write aborted in flight may still
   * have been applied.
   */
  signal?: AbortSignal;
}

/** Wraps a retryable error that must not be retried, so withRetry passes it through. */
class FinalFailure {
  constructor(readonly error: unknown) {}
}

/** Error codes of transport failures that happen before any byte is sent. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/** Reads, writes and call counts for Tesla energy sites. */
export class TeslaClient {
  readonly #baseUrl: string;
  readonly #tokens: TokenProvider;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #http: VendorHttp;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #authRetryDelayMs: number;
  readonly #random: () => number;
  readonly #signal: AbortSignal | undefined;
  readonly #counters: Record<string, number> = {};
  #writeCount = 0;
  /** Error codes already logged at warn since the last successful call. */
  readonly #failingCodes = new Set<string>();

  constructor(options: TeslaClientOptions) {
    this.#baseUrl = options.baseUrl;
    this.#tokens = options.tokens;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#baseDelayMs = options.baseDelayMs ?? 2000;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.#authRetryDelayMs = options.authRetryDelayMs ?? 5000;
    this.#random = options.random ?? Math.random;
    this.#signal = options.signal;
    this.#http = new VendorHttp({
      vendor: "tesla",
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.signal && { signal: options.signal }),
    });
  }

  /** Lists the account's energy sites; vehicles in the same list are skipped. */
  async listEnergySites(): Promise<EnergySiteProduct[]> {
    const body = await this.#call("GET", "products", "/api/1/products");
    return parsePayload("tesla", "product list", productsResponseSchema, body)
      .response;
  }

  /** Reads a site's configuration, settings and current tariff. */
  async getSiteInfo(siteId: number | string): Promise<SiteInfo> {
    const body = await this.#call(
      "GET",
      "site_info",
      sitePath(siteId, "site_info"),
    );
    return parsePayload("tesla", "site_info", siteInfoResponseSchema, body)
      .response;
  }

  /** Reads a site's instantaneous powers (W) and battery charge. */
  async getLiveStatus(siteId: number | string): Promise<LiveStatus> {
    const body = await this.#call(
      "GET",
      "live_status",
      sitePath(siteId, "live_status"),
    );
    return parsePayload("tesla", "live_status", liveStatusResponseSchema, body)
      .response;
  }

  /**
   * Uploads `tariffContentV2` as the site's time-of-use tariff. The caller
   * validates the tariff first; this only checks that it is an object.
   */
  async setTariff(
    siteId: number | string,
    tariffContentV2: Record<string, unknown>,
  ): Promise<void> {
    if (
      tariffContentV2 === null ||
      typeof tariffContentV2 !== "object" ||
      Array.isArray(tariffContentV2)
    ) {
      throw new TariffInvalidError(["tariff_content_v2 must be a JSON object"]);
    }
    await this.#write(siteId, "time_of_use_settings", {
      tou_settings: { tariff_content_v2: tariffContentV2 },
    });
  }

  /** Sets which energy may be exported: none, solar only, or solar and battery. */
  async setExportRule(
    siteId: number | string,
    rule: ExportRule,
  ): Promise<void> {
    if (!exportRuleSchema.safeParse(rule).success) {
      throw new ConfigError(
        `"${String(rule)}" is not a Tesla export rule; use never, pv_only or battery_ok.`,
      );
    }
    await this.#write(siteId, "grid_import_export", {
      customer_preferred_export_rule: rule,
    });
  }

  /** Allows or blocks charging the battery from the grid. */
  async setGridCharging(
    siteId: number | string,
    allowed: boolean,
  ): Promise<void> {
    // Tesla's flag is inverted: true blocks grid charging.
    await this.#write(siteId, "grid_import_export", {
      disallow_charge_from_grid_with_solar_installed: !allowed,
    });
  }

  /** Sets the operation mode ("autonomous" is Time-Based Control). */
  async setOperationMode(
    siteId: number | string,
    mode: OperationMode,
  ): Promise<void> {
    if (!operationModeSchema.safeParse(mode).success) {
      throw new ConfigError(
        `"${String(mode)}" is not a Tesla operation mode; use self_consumption, autonomous or backup.`,
      );
    }
    await this.#write(siteId, "operation", { default_real_mode: mode });
  }

  /** Sets the backup reserve, percent 0 to 100. */
  async setBackupReserve(
    siteId: number | string,
    percent: number,
  ): Promise<void> {
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new ConfigError(
        `Backup reserve ${percent} % is out of range; use a value from 0 to 100.`,
      );
    }
    await this.#write(siteId, "backup", { backup_reserve_percent: percent });
  }

  /**
   * Returns the HTTP requests sent per endpoint, keyed like
   * "POST time_of_use_settings". Retries count, because each one is a call
   * that Tesla meters.
   */
  counters(): Record<string, number> {
    return { ...this.#counters };
  }

  /** Number of write requests sent, retries included. */
  get writeCount(): number {
    return this.#writeCount;
  }

  async #write(
    siteId: number | string,
    endpoint: TeslaEndpoint,
    payload: Record<string, unknown>,
  ): Promise<void> {
    const body = await this.#call(
      "POST",
      endpoint,
      sitePath(siteId, endpoint),
      payload,
    );
    const outcome = parsePayload(
      "tesla",
      `${endpoint} response`,
      writeResponseSchema,
      body,
    ).response;

    // HTTP 200 does not mean applied: `result: false` or an error code in
    // the body means Tesla kept the previous setting.
    if ("result" in outcome && typeof outcome.result === "boolean") {
      if (!outcome.result) {
        throw new WriteRejectedError(endpoint, stringOrEmpty(outcome.reason));
      }
    } else if ("code" in outcome && typeof outcome.code === "number") {
      if (outcome.code >= 400) {
        const message = stringOrEmpty(outcome.message);
        throw new WriteRejectedError(
          endpoint,
          message === "" ? `code ${outcome.code}` : message,
        );
      }
    }
    this.#logger.debug({ endpoint, siteId }, "Tesla accepted the write");
  }

  /** Sends one logical call with auth handling and retries; returns the body. */
  async #call(
    method: "GET" | "POST",
    endpoint: TeslaEndpoint,
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const key = `${method} ${endpoint}`;
    const request: VendorRequest = { method, path };
    if (body !== undefined) {
      request.body = body;
    }
    const authState = { retried: false };

    const attempt = async (): Promise<VendorResponse> => {
      try {
        return await this.#sendAuthorized(key, request, authState);
      } catch (error) {
        if (isRetryable(error) && !this.#mayRetry(method, error)) {
          throw new FinalFailure(error);
        }
        throw error;
      }
    };

    try {
      const response = await withRetry(attempt, {
        clock: this.#clock,
        maxAttempts: this.#maxAttempts,
        baseDelayMs: this.#baseDelayMs,
        maxDelayMs: this.#maxDelayMs,
        random: this.#random,
        ...(this.#signal && { signal: this.#signal }),
        onRetry: (error, attemptNumber, delayMs) => {
          this.#logRetry(key, error, attemptNumber, delayMs);
        },
      });
      this.#noteSuccess(key);
      return response.body;
    } catch (caught) {
      const error = caught instanceof FinalFailure ? caught.error : caught;
      throw this.#mapFinalError(key, error);
    }
  }

  /** Sends with the current token; on a 401 or 403 renews or waits, then retries once per call. */
  async #sendAuthorized(
    key: string,
    request: VendorRequest,
    authState: { retried: boolean },
  ): Promise<VendorResponse> {
    const token = await this.#tokens.accessToken();
    try {
      return await this.#send(key, request, token);
    } catch (error) {
      if (!(error instanceof AuthError)) {
        throw error;
      }
      if (authState.retried) {
        throw this.#authFailure(key, error);
      }
      authState.retried = true;

      let renewed: boolean;
      try {
        renewed = await this.#tokens.refreshAfterUnauthorized(token);
      } catch (refreshError) {
        // A refresh that timed out or met a 5xx or 429 says nothing about
        // the credentials, so a later attempt may try the token again
        // instead of reporting it as rejected twice.
        if (!(refreshError instanceof AuthError)) {
          authState.retried = false;
        }
        throw refreshError;
      }
      if (renewed) {
        this.#logger.debug(
          { endpoint: key },
          "Retrying with a renewed Tesla token",
        );
      } else {
        // Warned once until a call succeeds, like every other failure.
        const first = !this.#failingCodes.has(error.code);
        this.#failingCodes.add(error.code);
        this.#logger[first ? "warn" : "debug"](
          { endpoint: key, delayMs: this.#authRetryDelayMs },
          "Tesla rejected the token once; retrying after a pause",
        );
        await this.#clock.sleep(this.#authRetryDelayMs, this.#signal);
      }

      const next = await this.#tokens.accessToken();
      try {
        return await this.#send(key, request, next);
      } catch (second) {
        throw second instanceof AuthError
          ? this.#authFailure(key, second)
          : second;
      }
    }
  }

  async #send(
    key: string,
    request: VendorRequest,
    token: string,
  ): Promise<VendorResponse> {
    this.#counters[key] = (this.#counters[key] ?? 0) + 1;
    if (request.method === "POST") {
      this.#writeCount += 1;
    }
    this.#logger.debug({ endpoint: key }, "Tesla request");
    return this.#http.send({
      ...request,
      headers: { Authorization: `Bearer ${token}` },
    });
  }

  /** Applies the retry rule in the header to a retryable error. */
  #mayRetry(method: "GET" | "POST", error: unknown): boolean {
    if (
      error instanceof RateLimitedError &&
      error.retryAfterMs !== undefined &&
      error.retryAfterMs > this.#maxRetryAfterMs
    ) {
      return false;
    }
    if (method === "GET") {
      return true;
    }
    if (error instanceof RateLimitedError) {
      return true;
    }
    if (error instanceof UpstreamUnavailableError) {
      return error.status === 503 || failedBeforeSending(error);
    }
    return false;
  }

  #authFailure(key: string, error: AuthError): AuthError {
    return new AuthError(
      "tesla",
      `Tesla rejected the access token for ${key} again after a retry (HTTP 401 or 403). ${this.#tokens.reauthHint}`,
      { cause: error },
    );
  }

  /** Turns a 421 into a configuration error naming the region setting. */
  #mapFinalError(key: string, error: unknown): unknown {
    if (error instanceof RequestRejectedError && error.status === 421) {
      return new ConfigError(
        `Tesla responded to ${key} at ${this.#baseUrl} with HTTP 421: this Fleet API region does not serve the account. Set the Tesla region setting (tesla.fleet.region: na, eu or cn) to the account's region.`,
        { cause: error },
      );
    }
    return error;
  }

  #logRetry(
    key: string,
    error: unknown,
    attempt: number,
    delayMs: number,
  ): void {
    const code = errorCode(error);
    const fields = { endpoint: key, err: error, attempt, delayMs };
    if (this.#failingCodes.has(code)) {
      this.#logger.debug(fields, "Tesla request failed; retrying");
      return;
    }
    this.#failingCodes.add(code);
    this.#logger.warn(fields, "Tesla request failed; retrying");
  }

  #noteSuccess(key: string): void {
    if (this.#failingCodes.size === 0) {
      return;
    }
    this.#failingCodes.clear();
    this.#logger.info({ endpoint: key }, "Tesla requests succeed again");
  }
}

function sitePath(siteId: number | string, endpoint: TeslaEndpoint): string {
  const id = String(siteId);
  if (!/^\d+$/.test(id)) {
    throw new ConfigError(
      `Tesla energy site id "${id}" is invalid; it must be the number shown as energy_site_id in the product list.`,
    );
  }
  return `/api/1/energy_sites/${id}/${endpoint}`;
}

/** True when the transport failed before the request could reach Tesla. */
function failedBeforeSending(error: UpstreamUnavailableError): boolean {
  if (error.status !== undefined) {
    return false;
  }
  const cause: unknown = error.cause;
  if (cause === null || typeof cause !== "object" || !("code" in cause)) {
    return false;
  }
  return typeof cause.code === "string" && NOT_SENT_CODES.has(cause.code);
}

function errorCode(error: unknown): string {
  if (
    error instanceof Error &&
    "code" in error &&
    typeof error.code === "string"
  ) {
    return error.code;
  }
  return "UNKNOWN";
}

function stringOrEmpty(value: unknown): string {
  return typeof value === "string" ? value : "";
}
