import type { Clock } from "../../src/util/clock.js";

interface Timer {
  at: number;
  resolve: () => void;
}

/**
 * A Clock whose time moves only when the test advances it. `sleep` registers a
 * timer; `advanceToNext` moves time to the earliest timer and wakes every
 * timer that is due.
 */
export class ManualClock implements Clock {
  /** Every sleep requested, in ms, in call order. */
  readonly sleeps: number[] = [];
  #now: number;
  #timers: Timer[] = [];

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer: Timer = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((other) => other !== timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#timers.push(timer);
    });
  }

  /** Number of sleeps not yet woken. */
  pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, waking every timer that becomes due. */
  advance(ms: number): void {
    this.#now += ms;
    this.#wakeDue();
  }

  /** Moves time to the earliest timer and wakes every due timer. Returns false when none is pending. */
  advanceToNext(): boolean {
    const next = Math.min(...this.#timers.map((timer) => timer.at));
    if (!Number.isFinite(next)) {
      return false;
    }
    this.#now = Math.max(this.#now, next);
    this.#wakeDue();
    return true;
  }

  #wakeDue(): void {
    const due = this.#timers.filter((timer) => timer.at <= this.#now);
    this.#timers = this.#timers.filter((timer) => timer.at > this.#now);
    for (const timer of due) {
      timer.resolve();
    }
  }
}

/**
 * Waits for `work`, advancing `clock` to its next timer whenever `isIdle`
 * reports that no request is in flight. Real network I/O gets a turn of the
 * event loop between checks, so time never moves while a request travels.
 */
export async function drive<T>(
  work: Promise<T>,
  clock: ManualClock,
  isIdle: () => boolean,
): Promise<T> {
  let settled = false;
  work.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );

  while (!settled) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (!settled && isIdle()) {
      clock.advanceToNext();
    }
  }
  return work;
}
