/**
 * Fault switches shared by the vendor stand-ins. A test arms a fault for the
 * next `count` matching requests; the stand-in consumes it as requests arrive
 * and otherwise responds as the vendor would.
 */
export type FaultKind =
  /** Accept the connection and never respond. */
  | "timeout"
  /** Close the socket without any HTTP response. */
  | "reset"
  /** HTTP 429 with Retry-After (and, for Amber, RateLimit-* headers). */
  | "rate-limit"
  /** HTTP 429 with no header saying when to retry. */
  | "rate-limit-no-headers"
  /** HTTP 500. */
  | "server-error"
  /** HTTP 503. */
  | "unavailable"
  /** HTTP 200 with a body that is not JSON. */
  | "malformed-json"
  /** HTTP 200 with JSON of the wrong shape. */
  | "wrong-shape"
  /** HTTP 401, as for an expired or revoked token. */
  | "unauthorized"
  /** HTTP 200 with `result: false` (Tesla writes only). */
  | "result-false"
  /** Respond normally, but only after `delayMs`. */
  | "slow";

export interface Fault {
  kind: FaultKind;
  /** How many matching requests the fault applies to; default 1. Infinity keeps it armed. */
  count?: number;
  /** Only requests whose path contains this text; default every request. */
  pathIncludes?: string;
  /** Seconds for Retry-After on "rate-limit"; default 30. */
  retryAfterSeconds?: number;
  /** Delay for "slow", in milliseconds. */
  delayMs?: number;
  /** Reason text for "result-false". */
  reason?: string;
}

/** A queue of armed faults that a stand-in checks on every request. */
export class FaultSwitch {
  readonly #armed: Array<Fault & { remaining: number }> = [];

  /**
   * Arms `fault` for its next `count` matching requests. Throws RangeError
   * when `count` is not a positive whole number or Infinity: 0 and NaN used
   * to arm a fault that fired once and forever respectively.
   */
  arm(fault: Fault): void {
    const count = fault.count ?? 1;
    if (!(count === Infinity || (Number.isInteger(count) && count >= 1))) {
      throw new RangeError(
        `Fault count must be a positive whole number or Infinity, got ${count}.`,
      );
    }
    this.#armed.push({ ...fault, remaining: count });
  }

  /** Disarms every fault. */
  clear(): void {
    this.#armed.length = 0;
  }

  /** Returns and consumes the first armed fault matching `path`, if any. */
  take(path: string): Fault | undefined {
    const index = this.#armed.findIndex(
      (fault) =>
        fault.pathIncludes === undefined || path.includes(fault.pathIncludes),
    );
    const fault = this.#armed[index];
    if (fault === undefined) {
      return undefined;
    }
    fault.remaining -= 1;
    if (fault.remaining <= 0) {
      this.#armed.splice(index, 1);
    }
    return fault;
  }
}
