/**
 * One JSON state file per control in the data directory. Every save is
 * atomic (writeFileAtomic: temporary file, fsync, rename), so a crash leaves
 * the previous state or the new one. Controls save BEFORE they act, so
 * after a restart in any state the file records what was about to happen
 * and what to restore.
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";

import type { Logger } from "pino";
import type { z } from "zod";

import { StateStoreError } from "../errors.js";
import { readJsonFile, writeFileAtomic } from "../util/atomic-file.js";

/** A typed state file parsed with zod on load. */
export class StateFile<T> {
  readonly path: string;
  readonly #schema: z.ZodType<T>;
  readonly #logger: Logger;
  readonly #now: () => number;

  /**
   * @param dataDir directory of the engine's state files
   * @param name file name inside `dataDir`, e.g. "spike-NSW1.json"
   * @param now time source for naming a corrupt file
   */
  constructor(
    dataDir: string,
    name: string,
    schema: z.ZodType<T>,
    logger: Logger,
    now: () => number = Date.now,
  ) {
    this.path = join(dataDir, name);
    this.#schema = schema;
    this.#logger = logger;
    this.#now = now;
  }

  /**
   * Reads the file. Returns undefined when it does not exist. A file that
   * is not JSON or does not match the schema is renamed to
   * `<name>.corrupt-<time>`, logged at error (a person should look, because
   * a saved tariff may be lost), and treated as missing.
   */
  async load(): Promise<T | undefined> {
    let raw: unknown;
    try {
      raw = await readJsonFile(this.path);
    } catch (error) {
      if (
        error instanceof StateStoreError &&
        error.message.includes("not valid JSON")
      ) {
        await this.#moveAside(error.message);
        return undefined;
      }
      throw error;
    }
    if (raw === undefined) {
      return undefined;
    }
    const parsed = this.#schema.safeParse(raw);
    if (parsed.success) {
      return parsed.data;
    }
    const issue = parsed.error.issues[0];
    await this.#moveAside(
      `field ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    );
    return undefined;
  }

  /** Writes `value` atomically with mode 0600. */
  async save(value: T): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(value, null, 2)}\n`);
  }

  async #moveAside(problem: string): Promise<void> {
    const stamp = new Date(this.#now()).toISOString().replace(/[:.]/g, "-");
    const aside = `${this.path}.corrupt-${stamp}`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      throw new StateStoreError(
        `Could not move the invalid state file ${this.path} aside: ${(error as Error).message}. Move or delete it by hand.`,
        { cause: error },
      );
    }
    this.#logger.error(
      { file: this.path, movedTo: aside, problem },
      "Control state file is invalid; moved it aside and started from idle. Check the Powerwall's tariff and settings by hand.",
    );
  }
}
