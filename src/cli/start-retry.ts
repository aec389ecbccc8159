/**
 * Retries the engine's start while a vendor is unreachable or rate-limits
 * it. A standalone engine usually runs under a supervisor (systemd,
 * Docker's restart policy), and a network that is not up yet at boot
 * should not turn into a crash loop. Failures that only a person can fix
 * (configuration, rejected credentials) are thrown at once.
 */
import { describeError } from "../errors.js";
import { withRetry } from "../http/retry.js";
import type { Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";

/** First wait before a new start attempt, ms. */
export const START_RETRY_BASE_MS = 15_000;
/** Maximum wait between start attempts, ms. */
export const START_RETRY_MAX_MS = 5 * 60_000;

/** Options for {@link startWithRetry}. */
export interface StartRetryOptions<T> {
  /** Starts the engine; a failed attempt must leave nothing running. */
  start: () => Promise<T>;
  logger: Logger;
  /** Resolves when the process is asked to stop; the waiting ends then. */
  stopSignal: Promise<unknown>;
  /** Advice for a retryable failure, such as the URL and the setting that names it. */
  advice: (error: unknown) => string;
  clock?: Clock;
  /** First wait, ms; default {@link START_RETRY_BASE_MS}. Doubles on each attempt. */
  baseDelayMs?: number;
  /** Maximum wait, ms; default {@link START_RETRY_MAX_MS}. */
  maxDelayMs?: number;
  /** Random source for the jitter, in [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Runs `start` until it succeeds, waiting with exponential backoff and
 * jitter after each retryable failure. Resolves with its result, or with
 * undefined when the stop signal arrives first. Rethrows the first failure
 * that is not retryable.
 */
export async function startWithRetry<T>(
  options: StartRetryOptions<T>,
): Promise<T | undefined> {
  const { logger } = options;
  const stopping = new AbortController();
  void options.stopSignal.then(() => {
    stopping.abort(new Error("stop requested"));
  });

  let failures = 0;
  try {
    const result = await withRetry(options.start, {
      clock: options.clock ?? systemClock,
      maxAttempts: Number.POSITIVE_INFINITY,
      baseDelayMs: options.baseDelayMs ?? START_RETRY_BASE_MS,
      maxDelayMs: options.maxDelayMs ?? START_RETRY_MAX_MS,
      signal: stopping.signal,
      ...(options.random === undefined ? {} : { random: options.random }),
      onRetry: (error, attempt, delayMs) => {
        failures = attempt;
        const message = `The engine could not start: ${describeError(error)} ${options.advice(error)} Trying again in ${Math.ceil(delayMs / 1000)} s.`;
        if (attempt === 1) {
          logger.warn({ attempt, retryInMs: delayMs }, message);
        } else {
          logger.debug({ attempt, retryInMs: delayMs }, message);
        }
      },
    });
    if (failures > 0) {
      logger.info(
        { attempts: failures + 1 },
        `The engine started after ${failures + 1} attempts`,
      );
    }
    return result;
  } catch (error) {
    if (stopping.signal.aborted && error === stopping.signal.reason) {
      return undefined;
    }
    throw error;
  }
}
