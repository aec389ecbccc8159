/**
 * Applies the logging policy to a recurring problem: the first occurrence
 * of a kind is logged at warn (or error when a person must act), repeats of
 * the same kind at debug with a count, and one info line when it clears.
 */
import type { Logger } from "../log.js";

/** Tracks which problem kinds are active for one logger. */
export class RepeatLog {
  readonly #logger: Logger;
  readonly #active = new Map<string, number>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Logs a problem of `kind`. `level` is the level of the first occurrence;
   * repeats go to debug until {@link clear} is called.
   */
  report(
    kind: string,
    message: string,
    fields: Record<string, unknown> = {},
    level: "warn" | "error" = "warn",
  ): void {
    const count = (this.#active.get(kind) ?? 0) + 1;
    this.#active.set(kind, count);
    if (count === 1) {
      this.#logger[level]({ ...fields, kind }, message);
    } else {
      this.#logger.debug({ ...fields, kind, repeats: count }, message);
    }
  }

  /** Marks every active kind as cleared, logging one info line per kind. */
  clearAll(message: (kind: string, count: number) => string): void {
    for (const [kind, count] of this.#active) {
      this.#logger.info({ kind, occurrences: count }, message(kind, count));
    }
    this.#active.clear();
  }

  /** True while a problem of `kind` has been reported and not cleared. */
  isActive(kind: string): boolean {
    return this.#active.has(kind);
  }
}
