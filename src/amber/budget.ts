/**
 * The REST request budget for one Amber token. Amber allows 50 requests per
 * 300 s per token (RateLimit-Policy "50;w=300") and responds with 429 beyond that,
 * and every app polling with the same token draws on the same allowance. So
 * every REST call made with a token goes through one RequestBudget: a
 * sliding window that stays below the limit, plus a pause for all callers
 * after a 429 or when a response reports no requests remaining.
 */
import { RateLimitedError } from "../errors.js";
import { systemClock, type Clock } from "../util/clock.js";

/** Options for a RequestBudget. */
export interface RequestBudgetOptions {
  /** Requests allowed per window; default 45, which leaves headroom under Amber's 50. */
  limit?: number;
  /** Window length in milliseconds; default 300 000 (Amber's 5-minute window). */
  windowMs?: number;
  /** Time source; default the system clock. */
  clock?: Clock;
  /** First pause after a 429 that gave no reset time, in ms; default 10 000. It doubles per consecutive 429. */
  backoffBaseMs?: number;
  /**
   * Maximum pause after a 429, in ms; default 300 000, Amber's whole window.
   * It also caps a reset time that a response gives, since no reset can lie
   * beyond one window.
   */
  backoffMaxMs?: number;
  /** Random source in [0, 1) for backoff jitter; tests pass a constant. */
  random?: () => number;
}

/** Counts kept by a RequestBudget since it was created. */
export interface BudgetStats {
  /** Requests let through, including ones that were then rate-limited. */
  sent: number;
  /** 429 responses seen. */
  rateLimited: number;
  /** Requests that had to wait for a slot or for a pause to end. */
  waits: number;
  /** Total time those requests waited, in ms. */
  waitedMs: number;
  /** Requests started and not yet finished. */
  inFlight: number;
  /** Requests sent within the current window. */
  inWindow: number;
  /** Epoch ms until which every caller is paused, or undefined when not paused. */
  pausedUntil: number | undefined;
}

export const DEFAULT_BUDGET_LIMIT = 45;
export const DEFAULT_BUDGET_WINDOW_MS = 300_000;

/**
 * A sliding-window request budget with a shared pause. Callers wait their
 * turn in arrival order, so a burst of queued calls drains at the allowed
 * rate instead of racing for free slots.
 */
export class RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #random: () => number;

  /** Send times within the window, oldest first. */
  readonly #sendTimes: number[] = [];
  #pausedUntil = 0;
  #consecutiveRateLimits = 0;
  #queue: Promise<void> = Promise.resolve();

  #sent = 0;
  #rateLimited = 0;
  #waits = 0;
  #waitedMs = 0;
  #inFlight = 0;

  constructor(options: RequestBudgetOptions = {}) {
    this.limit = options.limit ?? DEFAULT_BUDGET_LIMIT;
    this.windowMs = options.windowMs ?? DEFAULT_BUDGET_WINDOW_MS;
    this.#clock = options.clock ?? systemClock;
    this.#backoffBaseMs = options.backoffBaseMs ?? 10_000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 300_000;
    this.#random = options.random ?? Math.random;

    if (!Number.isInteger(this.limit) || this.limit < 1) {
      throw new RangeError(
        `Request budget limit must be a positive integer, got ${this.limit}.`,
      );
    }
    if (!(this.windowMs > 0)) {
      throw new RangeError(
        `Request budget window must be a positive number of ms, got ${this.windowMs}.`,
      );
    }
  }

  /**
   * Waits for a slot, then runs `operation` (one HTTP request). A
   * RateLimitedError thrown by the operation pauses every caller, then is
   * rethrown so the caller can retry. Aborting `signal` rejects the wait.
   */
  async run<T>(operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    this.#inFlight += 1;
    try {
      const result = await operation();
      this.#consecutiveRateLimits = 0;
      return result;
    } catch (error) {
      if (error instanceof RateLimitedError) {
        const pauseMs = this.noteRateLimited(error.retryAfterMs);
        if (error.retryAfterMs !== undefined && error.retryAfterMs > pauseMs) {
          // The caller's retry honours retryAfterMs, so it gets the capped wait.
          throw new RateLimitedError(error.vendor, pauseMs, error.message, {
            cause: error,
          });
        }
      }
      throw error;
    } finally {
      this.#inFlight -= 1;
    }
  }

  /**
   * Pauses every caller after a 429: for `retryAfterMs` when the response
   * gave the time until the window resets, otherwise for an exponential
   * backoff with jitter, at most `backoffMaxMs` either way. Returns the
   * pause in ms.
   */
  noteRateLimited(retryAfterMs: number | undefined): number {
    this.#rateLimited += 1;
    this.#consecutiveRateLimits += 1;

    const pauseMs = Math.min(
      retryAfterMs ?? this.#backoffMs(),
      this.#backoffMaxMs,
    );
    this.#pauseFor(pauseMs);
    return pauseMs;
  }

  /**
   * Reads the RateLimit headers of a successful response (lower-case names).
   * When `ratelimit-remaining` is 0, pauses every caller until
   * `ratelimit-reset` seconds from now, at most `backoffMaxMs`, because
   * another app with the same token may have used the allowance.
   */
  noteHeaders(headers: Readonly<Record<string, string>>): void {
    const remaining = Number(headers["ratelimit-remaining"]);
    const resetSeconds = Number(headers["ratelimit-reset"]);
    if (
      headers["ratelimit-remaining"] !== undefined &&
      remaining <= 0 &&
      Number.isFinite(resetSeconds) &&
      resetSeconds > 0
    ) {
      this.#pauseFor(Math.min(resetSeconds * 1000, this.#backoffMaxMs));
    }
  }

  /** Returns a copy of the counts. */
  stats(): BudgetStats {
    const now = this.#clock.now();
    this.#prune(now);
    return {
      sent: this.#sent,
      rateLimited: this.#rateLimited,
      waits: this.#waits,
      waitedMs: this.#waitedMs,
      inFlight: this.#inFlight,
      inWindow: this.#sendTimes.length,
      pausedUntil: this.#pausedUntil > now ? this.#pausedUntil : undefined,
    };
  }

  #acquire(signal: AbortSignal | undefined): Promise<void> {
    const queuedAt = this.#clock.now();
    const turn = this.#queue.then(() => this.#waitForSlot(queuedAt, signal));
    // A caller that gives up must not block the ones behind it.
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #waitForSlot(
    queuedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.#clock.now();
      this.#prune(now);

      const waitMs = this.#waitBeforeSend(now);
      if (waitMs <= 0) {
        this.#sendTimes.push(now);
        this.#sent += 1;
        if (now > queuedAt) {
          this.#waits += 1;
          this.#waitedMs += now - queuedAt;
        }
        return;
      }

      await this.#clock.sleep(waitMs, signal);
    }
  }

  #waitBeforeSend(now: number): number {
    if (this.#pausedUntil > now) {
      return this.#pausedUntil - now;
    }
    const oldest = this.#sendTimes[0];
    if (this.#sendTimes.length >= this.limit && oldest !== undefined) {
      return oldest + this.windowMs - now;
    }
    return 0;
  }

  #prune(now: number): void {
    while (
      this.#sendTimes.length > 0 &&
      (this.#sendTimes[0] ?? now) + this.windowMs <= now
    ) {
      this.#sendTimes.shift();
    }
  }

  #pauseFor(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#clock.now() + ms);
  }

  #backoffMs(): number {
    const step = Math.min(
      this.#backoffMaxMs,
      this.#backoffBaseMs * 2 ** (this.#consecutiveRateLimits - 1),
    );
    const jitter = step * 0.25 * this.#random();
    return Math.round(Math.min(this.#backoffMaxMs, step + jitter));
  }
}
