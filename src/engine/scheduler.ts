/**
 * Runs a task once per NEM interval, aligned to the wall clock: at every
 * 5-minute boundary (UTC minute 0, 5, …, 55) plus an offset, because Amber
 * publishes the confirmed price for the interval that just ended some tens
 * of seconds after the boundary. A random jitter of up to `jitterMs` is drawn
 * once per scheduler, so installs do not all call Amber in the same second
 * while one install's runs stay exactly one interval apart (a per-run jitter
 * would make the write spacing block scheduled syncs by a few seconds).
 *
 * Time comes only from the Clock: waits use `clock.sleep` with an abort
 * signal, so `stop()` cancels the pending wait, and tests drive the
 * scheduler with fake timers or a virtual clock.
 */
import type { Clock } from "../util/clock.js";

/** Length of a NEM dispatch interval, ms. */
export const NEM_INTERVAL_MS = 5 * 60 * 1000;

/** Options for {@link IntervalScheduler}. */
export interface SchedulerOptions {
  clock: Clock;
  /** Called at each run; its promise is awaited before the next wait starts. */
  onTick: (at: number) => Promise<void> | void;
  /** Called when `onTick` throws or rejects; the scheduler keeps running. */
  onError?: (error: unknown) => void;
  /** Interval between runs, ms; default 5 minutes. Boundaries are multiples of it since the epoch. */
  intervalMs?: number;
  /** Delay after each boundary, ms; default 35 s. */
  offsetMs?: number;
  /** Upper bound of the random extra delay, ms; default 10 s. */
  jitterMs?: number;
  /** Random source in [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Returns the first time strictly after `now` that lies `delayMs` past a
 * multiple of `intervalMs`.
 */
export function nextRunTime(
  now: number,
  intervalMs: number,
  delayMs: number,
): number {
  const boundary = Math.floor((now - delayMs) / intervalMs) * intervalMs;
  return boundary + intervalMs + delayMs;
}

/** A cancelable loop that calls `onTick` once per interval at a fixed offset. */
export class IntervalScheduler {
  /** Delay after each boundary, offset plus this scheduler's jitter, ms. */
  readonly delayMs: number;
  readonly intervalMs: number;
  readonly #options: SchedulerOptions;
  #controller: AbortController | undefined;
  #nextRunAt: number | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs ?? NEM_INTERVAL_MS;
    const offsetMs = options.offsetMs ?? 35_000;
    const jitterMs = options.jitterMs ?? 10_000;
    const random = options.random ?? Math.random;
    this.delayMs = offsetMs + Math.round(random() * jitterMs);
    if (this.delayMs >= this.intervalMs) {
      throw new RangeError(
        `Scheduler offset plus jitter (${this.delayMs} ms) must be shorter than the interval (${this.intervalMs} ms).`,
      );
    }
  }

  /** The time of the next run, ms since the epoch, or undefined when stopped. */
  get nextRunAt(): number | undefined {
    return this.#nextRunAt;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.#controller !== undefined;
  }

  /** Starts the loop; calling it again while running does nothing. */
  start(): void {
    if (this.#controller !== undefined) {
      return;
    }
    const controller = new AbortController();
    this.#controller = controller;
    this.#loop = this.#run(controller.signal);
  }

  /** Cancels the pending wait and resolves once a run in progress has finished. */
  async stop(): Promise<void> {
    const controller = this.#controller;
    if (controller === undefined) {
      return;
    }
    this.#controller = undefined;
    this.#nextRunAt = undefined;
    controller.abort(new Error("scheduler stopped"));
    await this.#loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#options;
    while (!signal.aborted) {
      const now = clock.now();
      const at = nextRunTime(now, this.intervalMs, this.delayMs);
      this.#nextRunAt = at;
      try {
        await clock.sleep(at - now, signal);
      } catch {
        return;
      }
      if (signal.aborted) {
        return;
      }
      try {
        await this.#options.onTick(at);
      } catch (error) {
        this.#options.onError?.(error);
      }
    }
  }
}
