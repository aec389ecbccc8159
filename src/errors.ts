/**
 * The error catalogue. Every failure the engine can report is one of these
 * classes, each with a stable `code` that logs, the dashboard and the HA
 * bridge carry. Messages name the offending value and say what to do next.
 * No message may contain a secret: callers pass ids and field names, never
 * tokens.
 */

export type Vendor = "amber" | "tesla" | "aemo" | "home_assistant";

export const ERROR_CODES = [
  "CONFIG_INVALID",
  "AUTH_FAILED",
  "RATE_LIMITED",
  "UPSTREAM_UNAVAILABLE",
  "REQUEST_REJECTED",
  "INVALID_PAYLOAD",
  "WRITE_REJECTED",
  "PRICES_INSUFFICIENT",
  "TARIFF_INVALID",
  "TARIFF_HELD",
  "STATE_STORE_FAILED",
  "BRIDGE_FAILED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class: a stable code, a message for people and an optional cause. */
export abstract class TeslaSyncError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user's configuration is missing a value or contains an invalid one. */
export class ConfigError extends TeslaSyncError {
  readonly code = "CONFIG_INVALID";
}

/** A vendor rejected the credentials (HTTP 401/403, or an OAuth refresh failure). */
export class AuthError extends TeslaSyncError {
  readonly code = "AUTH_FAILED";

  constructor(
    readonly vendor: Vendor,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A vendor returned HTTP 429. `retryAfterMs` is set when a header said how long to wait. */
export class RateLimitedError extends TeslaSyncError {
  readonly code = "RATE_LIMITED";

  constructor(
    readonly vendor: Vendor,
    readonly retryAfterMs: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A vendor could not be reached in time, refused the connection or returned 5xx. Retryable. */
export class UpstreamUnavailableError extends TeslaSyncError {
  readonly code = "UPSTREAM_UNAVAILABLE";

  constructor(
    readonly vendor: Vendor,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A vendor rejected the request itself (4xx other than 401, 403 and 429). Not retryable. */
export class RequestRejectedError extends TeslaSyncError {
  readonly code = "REQUEST_REJECTED";

  constructor(
    readonly vendor: Vendor,
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A response body was not JSON or did not match its schema; `path` names the field. */
export class InvalidPayloadError extends TeslaSyncError {
  readonly code = "INVALID_PAYLOAD";

  constructor(
    readonly vendor: Vendor,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Tesla returned HTTP 200 with `result: false`; `reason` is Tesla's own text. */
export class WriteRejectedError extends TeslaSyncError {
  readonly code = "WRITE_REJECTED";

  constructor(
    readonly endpoint: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Tesla rejected the ${endpoint} write: ${reason || "no reason given"}. The Powerwall keeps its previous setting.`,
      options,
    );
  }
}

/** Too few prices to build a tariff without guessing; nothing is uploaded. */
export class PricesInsufficientError extends TeslaSyncError {
  readonly code = "PRICES_INSUFFICIENT";
}

/** A tariff failed validation; `problems` lists every rule it broke. */
export class TariffInvalidError extends TeslaSyncError {
  readonly code = "TARIFF_INVALID";

  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`Tariff is invalid: ${problems.join("; ")}`, options);
  }
}

/**
 * A control (spike response, force charge/discharge, custom schedule)
 * claims the Powerwall's tariff, so the Amber sync did not upload. Not
 * retryable by itself: the sync uploads again once the control ends.
 */
export class TariffHeldError extends TeslaSyncError {
  readonly code = "TARIFF_HELD";
}

/** The data directory could not be read or written. */
export class StateStoreError extends TeslaSyncError {
  readonly code = "STATE_STORE_FAILED";
}

/** The Home Assistant bridge failed: handshake, version mismatch or a lost connection. */
export class BridgeError extends TeslaSyncError {
  readonly code = "BRIDGE_FAILED";
}

/** True for failures worth retrying later without any change by the user. */
export function isRetryable(error: unknown): boolean {
  return (
    error instanceof RateLimitedError ||
    error instanceof UpstreamUnavailableError
  );
}

/** Returns a one-line description of any thrown value, for logs and status. */
export function describeError(error: unknown): string {
  if (error instanceof TeslaSyncError) {
    return `${error.code}: ${error.message}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
