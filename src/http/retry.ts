import { isRetryable, RateLimitedError } from "../errors.js";
import type { Clock } from "../util/clock.js";

export interface RetryOptions {
  clock: Clock;
  /** Total attempts including the first. */
  maxAttempts: number;
  /** First backoff delay; doubles on each retry. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Random source for jitter, in [0, 1). Tests pass a constant. */
  random?: () => number;
  signal?: AbortSignal;
  /** Called before each wait, so the caller can log the first retry once. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation`, retrying retryable failures (429, 5xx, timeouts). A 429
 * that said how long to wait is honoured exactly; otherwise the delay grows
 * exponentially with jitter between half and all of the step, up to the cap.
 */
export async function withRetry<T>(
  operation: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const random = options.random ?? Math.random;

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!isRetryable(error) || attempt >= options.maxAttempts) {
        throw error;
      }
      const delayMs = retryDelayMs(error, attempt, options, random);
      options.onRetry?.(error, attempt, delayMs);
      await options.clock.sleep(delayMs, options.signal);
    }
  }
}

/** Returns the wait before retry number `attempt` (1-based) after `error`. */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  options: Pick<RetryOptions, "baseDelayMs" | "maxDelayMs">,
  random: () => number = Math.random,
): number {
  if (error instanceof RateLimitedError && error.retryAfterMs !== undefined) {
    return error.retryAfterMs;
  }
  const step = Math.min(
    options.maxDelayMs,
    options.baseDelayMs * 2 ** (attempt - 1),
  );
  return Math.round(step / 2 + (step / 2) * random());
}
