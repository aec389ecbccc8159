/**
 * Runs async tasks one at a time in call order, so a control's transitions
 * (price checks, timers, arbiter callbacks, user actions) never interleave.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it; a failure does not stop later tasks. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(() => task());
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail;
      if (tail === this.#tail) {
        return;
      }
    }
  }
}
