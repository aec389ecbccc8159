/**
 * The one HTTP path every vendor client uses. It sends a request with a
 * timeout, sorts every failure into the error catalogue (auth, rate limit,
 * unavailable, rejected, invalid payload) and parses JSON bodies. It never
 * retries by itself: callers wrap it in `withRetry` with their own budget.
 */
import axios, {
  type AxiosError,
  type AxiosInstance,
  type AxiosResponse,
} from "axios";
import type { z } from "zod";

import {
  AuthError,
  InvalidPayloadError,
  RateLimitedError,
  RequestRejectedError,
  UpstreamUnavailableError,
  type Vendor,
} from "../errors.js";
import { scrubText } from "../log.js";

/**
 * Advice per vendor for rejected credentials: the settings that contain
 * them, standalone and with Home Assistant. It contains no secret.
 */
export const CREDENTIAL_ADVICE: Readonly<Record<Vendor, string>> = {
  amber:
    "Create a new token at app.amber.com.au/developers and set it as amber.token (TESLA_SYNC_AMBER_TOKEN), or, with Home Assistant, in the Tesla Sync integration.",
  tesla:
    "Check the Tesla credentials: tesla.token (TESLA_SYNC_TESLA_TOKEN) for Teslemetry, tesla.fleet.refreshToken (TESLA_SYNC_FLEET_REFRESH_TOKEN) for your own Fleet API client, or, with Home Assistant, the Tesla Sync integration.",
  aemo: "AEMO's price data needs no login, so a proxy or firewall between this machine and AEMO rejected the request.",
  home_assistant:
    "Check TESLA_SYNC_HA_TOKEN (a long-lived access token of an admin user) or, as an add-on, the SUPERVISOR_TOKEN that the Supervisor sets.",
};

export interface VendorRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path below the base URL, starting with a slash. */
  path: string;
  query?: Record<string, string | number | boolean>;
  /** JSON body, or a URLSearchParams for form-encoded OAuth calls. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface VendorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface VendorHttpOptions {
  vendor: Vendor;
  baseUrl: string;
  /** Deadline for one request, from sending it to the last byte of the body, in ms. */
  timeoutMs: number;
  /**
   * Largest response body accepted, in bytes after decompression; default
   * DEFAULT_MAX_BODY_BYTES. A longer body is an InvalidPayloadError.
   */
  maxBodyBytes?: number;
  /** Returns headers added to every request, such as the Authorization header. */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /**
   * Aborts every request of this client, for shutdown. A request aborted this
   * way rejects with the signal's reason, which is not retryable.
   */
  signal?: AbortSignal;
}

/**
 * Default cap on a response body: 16 MiB. Amber's largest response, seven
 * days of 5-minute prices on three channels, is about 3 MB.
 */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export class VendorHttp {
  readonly vendor: Vendor;
  readonly #client: AxiosInstance;
  readonly #maxBodyBytes: number;
  readonly #timeoutMs: number;
  readonly #headers: VendorHttpOptions["headers"];
  readonly #signal: AbortSignal | undefined;

  constructor(options: VendorHttpOptions) {
    this.vendor = options.vendor;
    this.#headers = options.headers;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#timeoutMs = options.timeoutMs;
    this.#signal = options.signal;
    this.#client = axios.create({
      baseURL: options.baseUrl,
      timeout: options.timeoutMs,
      validateStatus: () => true,
      responseType: "text",
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      maxContentLength: this.#maxBodyBytes,
    });
  }

  /** Sends `request` and returns its parsed body, or throws a catalogue error. */
  async send(request: VendorRequest): Promise<VendorResponse> {
    this.#signal?.throwIfAborted();
    const common = this.#headers === undefined ? {} : await this.#headers();
    const isForm = request.body instanceof URLSearchParams;

    // axios's own timeout restarts whenever a byte arrives, so a server that
    // trickles its body could hold a request open forever. This deadline
    // covers the whole exchange.
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal =
      this.#signal === undefined
        ? deadline
        : AbortSignal.any([deadline, this.#signal]);

    let response: AxiosResponse<string>;
    try {
      response = await this.#client.request<string>({
        signal,
        method: request.method,
        url: request.path,
        params: request.query,
        data: isForm ? String(request.body) : request.body,
        headers: {
          Accept: "application/json",
          ...(isForm
            ? { "Content-Type": "application/x-www-form-urlencoded" }
            : {}),
          ...common,
          ...request.headers,
        },
      });
    } catch (error) {
      this.#signal?.throwIfAborted();
      throw this.#transportError(request, error, deadline.aborted);
    }

    const headers = normaliseHeaders(response.headers);
    const where = `${request.method} ${request.path}`;
    const status = response.status;

    if (status === 401 || status === 403) {
      throw new AuthError(
        this.vendor,
        `${this.vendor} rejected the credentials for ${where} (HTTP ${status}). ${CREDENTIAL_ADVICE[this.vendor]}`,
      );
    }
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(headers, Date.now());
      throw new RateLimitedError(
        this.vendor,
        retryAfterMs,
        `${this.vendor} rate-limited ${where} (HTTP 429); ${
          retryAfterMs === undefined
            ? "no retry hint given, backing off"
            : `retry in ${Math.ceil(retryAfterMs / 1000)} s`
        }.`,
      );
    }
    if (status >= 500) {
      throw new UpstreamUnavailableError(
        this.vendor,
        status,
        `${this.vendor} failed ${where} with HTTP ${status}; it will be retried.`,
      );
    }
    if (status >= 300 && status < 400) {
      // Redirects are never followed (maxRedirects: 0), so the bearer token
      // cannot leak to another host. The body of a 3xx is not the resource.
      throw new RequestRejectedError(
        this.vendor,
        status,
        `${this.vendor} redirected ${where} to ${scrubText(headers["location"] ?? "(no location)")} with HTTP ${status}; redirects are not followed. Check the ${this.vendor} base URL in the configuration.`,
      );
    }
    if (status >= 400 || status < 200) {
      throw new RequestRejectedError(
        this.vendor,
        status,
        `${this.vendor} rejected ${where} with HTTP ${status}: ${summariseBody(response.data)}`,
      );
    }

    return {
      status,
      headers,
      body: parseJson(this.vendor, where, response.data),
    };
  }

  #transportError(
    request: VendorRequest,
    error: unknown,
    pastDeadline: boolean,
  ): Error {
    const where = `${request.method} ${request.path}`;
    // axios gives an oversized body the generic ERR_BAD_RESPONSE code, so
    // only its message ("maxContentLength size of … exceeded") distinguishes it.
    if (
      axios.isAxiosError(error) &&
      error.message.startsWith("maxContentLength")
    ) {
      return new InvalidPayloadError(
        this.vendor,
        "(body)",
        `${this.vendor} sent a body larger than ${this.#maxBodyBytes} bytes for ${where}; it was discarded and the last good data is kept.`,
      );
    }
    if (axios.isAxiosError(error)) {
      const reason =
        pastDeadline ||
        error.code === "ECONNABORTED" ||
        error.code === "ETIMEDOUT"
          ? "timed out"
          : `failed (${error.code ?? error.message})`;
      return new UpstreamUnavailableError(
        this.vendor,
        undefined,
        `${this.vendor} request ${where} ${reason}; it will be retried.`,
        { cause: transportCause(error) },
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Copies the message and code of an axios error. The original carries the
 * request config, whose headers and form body hold the bearer or refresh
 * token, so it must not travel on as a cause that someone might print.
 */
function transportCause(error: AxiosError): Error {
  const cause = new Error(scrubText(error.message));
  return error.code === undefined
    ? cause
    : Object.assign(cause, { code: error.code });
}

function normaliseHeaders(raw: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw !== null && typeof raw === "object") {
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value === "string" || typeof value === "number") {
        headers[key.toLowerCase()] = String(value);
      }
    }
  }
  return headers;
}

function parseJson(vendor: Vendor, where: string, text: string): unknown {
  if (text === "") {
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidPayloadError(
      vendor,
      "(body)",
      `${vendor} sent a body that is not JSON for ${where}: ${summariseBody(text)}`,
      { cause: error },
    );
  }
}

/** Returns the start of a body for an error message, with registered secrets removed. */
function summariseBody(text: string): string {
  const flat = scrubText(text).replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || "(empty body)";
}

/**
 * Maximum wait a retry hint may request: one hour. A larger value is a broken
 * header, and Node's timers would overflow to 1 ms on anything above 24.8
 * days, which turns a "wait forever" into a retry storm.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Reads how long to wait from a 429's headers, in milliseconds: `Retry-After`
 * in seconds or as an HTTP date, else the IETF draft `RateLimit-Reset` in
 * seconds that Amber sends. Returns undefined when neither is usable, and
 * caps the result at MAX_RETRY_AFTER_MS.
 */
export function parseRetryAfter(
  headers: Record<string, string>,
  nowMs: number,
): number | undefined {
  const hint =
    retryAfterMs(headers["retry-after"], nowMs) ??
    secondsToMs(headers["ratelimit-reset"]);
  return hint === undefined ? undefined : Math.min(hint, MAX_RETRY_AFTER_MS);
}

function retryAfterMs(
  value: string | undefined,
  nowMs: number,
): number | undefined {
  const delayMs = secondsToMs(value);
  if (delayMs !== undefined || value === undefined) {
    return delayMs;
  }
  // Only an HTTP date has letters ("Wed, 21 Oct 2015 07:28:00 GMT"); without
  // this check Date.parse would read "-5" as a date in 2001.
  if (!/[a-z]/i.test(value)) {
    return undefined;
  }
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : undefined;
}

/** Converts a non-negative number of seconds to ms; undefined for anything else, "" included. */
function secondsToMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") {
    return undefined;
  }
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * Parses `body` with `schema`, or throws InvalidPayloadError naming the
 * fields that failed. The message says what arrived, not what the caller
 * does about it, because that differs by caller.
 */
export function parsePayload<T extends z.ZodType>(
  vendor: Vendor,
  what: string,
  schema: T,
  body: unknown,
): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) {
    return result.data;
  }
  const issues = result.error.issues;
  const listed = issues
    .slice(0, LISTED_ISSUES)
    .map((issue) => `field ${issuePath(issue)}: ${issue.message}`);
  const rest = issues.length - listed.length;
  const more =
    rest > 0 ? `; and ${rest} more ${rest === 1 ? "problem" : "problems"}` : "";
  const first = issues[0];
  throw new InvalidPayloadError(
    vendor,
    first === undefined ? "(root)" : issuePath(first),
    `${vendor} sent an invalid ${what}: ${listed.length === 0 ? "invalid" : listed.join("; ")}${more}.`,
    { cause: result.error },
  );
}

/** Maximum number of schema problems one error message lists; the rest are counted. */
const LISTED_ISSUES = 10;

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length === 0 ? "(root)" : issue.path.join(".");
}
