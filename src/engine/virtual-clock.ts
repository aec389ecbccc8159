/**
 * A Clock whose time moves only when advanced. The benchmark uses it to run a
 * whole simulated day in seconds, and tests use it where real network I/O
 * rules out vitest's fake timers. Sleeps wake in time order as the clock
 * is advanced, and each wake is followed by a settle step so the woken
 * code, including its real HTTP calls, finishes before time moves on.
 */
import type { Clock } from "../util/clock.js";

interface PendingSleep {
  at: number;
  sequence: number;
  resolve: () => void;
}

/** Options for {@link VirtualClock.advanceTo}. */
export interface AdvanceOptions {
  /**
   * Waits until the code woken by a sleep has done its work. The default
   * lets a few rounds of the event loop pass, which is enough for code that
   * does no I/O. Code that does real I/O should pass its own idle check.
   */
  settle?: () => Promise<void>;
}

/** Lets `rounds` turns of the event loop pass. */
export async function yieldEventLoop(rounds = 5): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A manually advanced Clock. */
export class VirtualClock implements Clock {
  #now: number;
  #sequence = 0;
  readonly #sleeps: PendingSleep[] = [];

  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const entry: PendingSleep = {
        at: this.#now + Math.max(0, ms),
        sequence: (this.#sequence += 1),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.#sleeps.indexOf(entry);
        if (index >= 0) {
          this.#sleeps.splice(index, 1);
        }
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleeps.push(entry);
    });
  }

  /** Number of sleeps not yet woken. */
  get pendingSleeps(): number {
    return this.#sleeps.length;
  }

  /** Time the earliest pending sleep wakes, or undefined when none is pending. */
  nextWakeAt(): number | undefined {
    return this.#earliest()?.at;
  }

  /** Advances time by `ms`; see {@link advanceTo}. */
  async advance(ms: number, options: AdvanceOptions = {}): Promise<void> {
    await this.advanceTo(this.#now + ms, options);
  }

  /**
   * Moves time to `target`, waking every sleep due on the way in order
   * (including sleeps started by the woken code) and settling after each.
   */
  async advanceTo(target: number, options: AdvanceOptions = {}): Promise<void> {
    const settle = options.settle ?? (() => yieldEventLoop());
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > target) {
        break;
      }
      this.#sleeps.splice(this.#sleeps.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
      await settle();
    }
    this.#now = Math.max(this.#now, target);
    await settle();
  }

  /** Sets the time without waking anything; for moving to a start point. */
  set(ms: number): void {
    this.#now = ms;
  }

  #earliest(): PendingSleep | undefined {
    let best: PendingSleep | undefined;
    for (const entry of this.#sleeps) {
      if (
        best === undefined ||
        entry.at < best.at ||
        (entry.at === best.at && entry.sequence < best.sequence)
      ) {
        best = entry;
      }
    }
    return best;
  }
}
