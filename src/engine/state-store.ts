/**
 * State that must survive a restart, kept in `<dataDir>/engine-state.json`:
 * the last uploaded tariff and its time, the last read-back confirmation,
 * the recent sync log and per-day counters. Every change is written
 * atomically (temporary file, fsync, rename), so a crash leaves the old
 * file or the new one. A file that is not valid JSON, or does not match the
 * schema, is renamed aside with a warning and the engine starts afresh.
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";

import { z } from "zod";

import { StateStoreError } from "../errors.js";
import type { Logger } from "../log.js";
import { readJsonFile, writeFileAtomic } from "../util/atomic-file.js";

/** File name of the engine state inside the data directory. */
export const STATE_FILE_NAME = "engine-state.json";
/** Sync log entries kept; older ones are dropped. */
export const MAX_LOG_ENTRIES = 200;
/** Days of counters kept; older days are dropped. */
export const MAX_COUNTER_DAYS = 14;

const outcomeSchema = z.enum([
  "uploaded",
  "unchanged",
  "refused",
  "failed",
  "skipped",
]);
const triggerSchema = z.enum([
  "schedule",
  "manual",
  "live-price",
  "startup",
  "service",
]);

/** One half hour of an uploaded tariff, as kept for comparison and display. */
export const storedSlotSchema = z.looseObject({
  label: z.string(),
  /** Local start time, ISO 8601 with offset. */
  start: z.string(),
  end: z.string(),
  /** Buy rate written to Tesla, $/kWh. */
  buy: z.number(),
  /** Sell rate written to Tesla, $/kWh. */
  sell: z.number(),
});
export type StoredSlot = z.infer<typeof storedSlotSchema>;

const uploadSchema = z.object({
  /** When Tesla accepted the tariff, ms since the epoch. */
  at: z.number(),
  /** The `tariff_content_v2` object as written. */
  tariff: z.record(z.string(), z.unknown()),
  /** The 48 half hours, current one first. */
  slots: z.array(storedSlotSchema),
  timeZone: z.string(),
  summary: z.string(),
});
export type StoredUpload = z.infer<typeof uploadSchema>;

const confirmationSchema = z.object({
  at: z.number(),
  /** True when the read-back tariff had the same prices as the upload. */
  confirmed: z.boolean(),
  detail: z.string(),
});
export type StoredConfirmation = z.infer<typeof confirmationSchema>;

const logEntrySchema = z.object({
  at: z.number(),
  trigger: triggerSchema,
  outcome: outcomeSchema,
  reason: z.string(),
  /** Tesla tariff writes this sync made (0 or 1). */
  writes: z.number().int().min(0),
});
export type SyncLogEntry = z.infer<typeof logEntrySchema>;

const dayCountersSchema = z.object({
  syncs: z.number().int().min(0).default(0),
  uploads: z.number().int().min(0).default(0),
  /** Tariff write attempts sent to Tesla, accepted or not. */
  teslaWrites: z.number().int().min(0).default(0),
  teslaCalls: z.number().int().min(0).default(0),
  amberCalls: z.number().int().min(0).default(0),
});
export type DayCounters = z.infer<typeof dayCountersSchema>;

const stateSchema = z.object({
  version: z.literal(1),
  lastUpload: uploadSchema.optional(),
  /** Time of the last tariff write attempt, accepted or not, ms since the epoch. */
  lastWriteAttemptAt: z.number().optional(),
  lastConfirmation: confirmationSchema.optional(),
  log: z.array(logEntrySchema).default([]),
  /** Counters keyed by local date (YYYY-MM-DD). */
  counters: z.record(z.string(), dayCountersSchema).default({}),
});
/** Everything the engine persists. */
export type EngineState = z.infer<typeof stateSchema>;

function emptyState(): EngineState {
  return { version: 1, log: [], counters: {} };
}

/** Options for {@link StateStore.open}. */
export interface StateStoreOptions {
  dataDir: string;
  logger: Logger;
  /** Time source for naming a corrupt file; default Date.now. */
  now?: () => number;
}

/** The engine's persisted state, loaded once and written on every change. */
export class StateStore {
  readonly path: string;
  #state: EngineState;
  #writing: Promise<void> = Promise.resolve();
  readonly #logger: Logger;

  private constructor(path: string, state: EngineState, logger: Logger) {
    this.path = path;
    this.#state = state;
    this.#logger = logger;
  }

  /**
   * Loads the state file from `dataDir`, or starts empty when there is none.
   * A corrupt file is moved to `engine-state.json.corrupt-<time>` with a
   * warning. Throws StateStoreError only when the file cannot be read at all.
   */
  static async open(options: StateStoreOptions): Promise<StateStore> {
    const path = join(options.dataDir, STATE_FILE_NAME);
    const now = options.now ?? Date.now;
    let raw: unknown;
    let problem: string | undefined;

    try {
      raw = await readJsonFile(path);
    } catch (error) {
      if (
        !(error instanceof StateStoreError) ||
        !/not valid JSON/.test(error.message)
      ) {
        throw error;
      }
      problem = "it is not valid JSON";
    }

    let state = emptyState();
    if (raw !== undefined && problem === undefined) {
      const parsed = stateSchema.safeParse(raw);
      if (parsed.success) {
        state = parsed.data;
      } else {
        const issue = parsed.error.issues[0];
        problem = `field ${issue?.path.join(".") || "(root)"} is invalid (${issue?.message ?? "unknown"})`;
      }
    }

    if (problem !== undefined) {
      const aside = `${path}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, "-")}`;
      await rename(path, aside).catch((error: unknown) => {
        throw new StateStoreError(
          `Could not move the corrupt state file ${path} aside: ${(error as Error).message}. Move or delete it by hand.`,
          { cause: error },
        );
      });
      options.logger.warn(
        { path, movedTo: aside },
        `State file ${path} was unreadable because ${problem}; moved it to ${aside} and starting with empty state. The next sync uploads a fresh tariff.`,
      );
    }

    return new StateStore(path, state, options.logger);
  }

  /** The current state; treat it as read-only and change it through {@link update}. */
  get state(): Readonly<EngineState> {
    return this.#state;
  }

  /**
   * Applies `change` to a copy of the state, trims the log and counters, and
   * writes the file. Writes are serialised in call order. A failed write is
   * logged and rethrown; the in-memory state keeps the change either way, so
   * the engine goes on with the state it has.
   */
  async update(change: (draft: EngineState) => void): Promise<void> {
    const draft = structuredClone(this.#state);
    change(draft);
    trim(draft);
    this.#state = draft;

    const text = JSON.stringify(draft);
    const write = this.#writing.then(() => this.#write(text));
    this.#writing = write.catch(() => undefined);
    try {
      await write;
    } catch (error) {
      this.#logger.warn(
        { err: error, path: this.path },
        "Could not save the engine state; it stays in memory and is saved again on the next change",
      );
      throw error;
    }
  }

  async #write(text: string): Promise<void> {
    try {
      await writeFileAtomic(this.path, text);
    } catch (error) {
      // NOTE: writeFileAtomic's own cleanup can throw a raw fs error (for
      // example ENOTDIR when the data directory was replaced by a file).
      if (error instanceof StateStoreError) {
        throw error;
      }
      throw new StateStoreError(
        `Could not write ${this.path}: ${(error as Error).message}. Check that the data directory exists and is writable.`,
        { cause: error },
      );
    }
  }

  /** Appends a sync log entry. */
  async appendLog(entry: SyncLogEntry): Promise<void> {
    await this.update((draft) => {
      draft.log.push(entry);
    });
  }

  /** Adds `delta` to the counters of `day` (YYYY-MM-DD). */
  async addCounts(day: string, delta: Partial<DayCounters>): Promise<void> {
    await this.update((draft) => {
      draft.counters[day] = addCounters(draft.counters[day], delta);
    });
  }

  /** Resolves once every write started so far has finished. */
  async flush(): Promise<void> {
    await this.#writing;
  }
}

/** Returns `base` plus `delta`, field by field. */
export function addCounters(
  base: DayCounters | undefined,
  delta: Partial<DayCounters>,
): DayCounters {
  const start = base ?? {
    syncs: 0,
    uploads: 0,
    teslaWrites: 0,
    teslaCalls: 0,
    amberCalls: 0,
  };
  return {
    syncs: start.syncs + (delta.syncs ?? 0),
    uploads: start.uploads + (delta.uploads ?? 0),
    teslaWrites: start.teslaWrites + (delta.teslaWrites ?? 0),
    teslaCalls: start.teslaCalls + (delta.teslaCalls ?? 0),
    amberCalls: start.amberCalls + (delta.amberCalls ?? 0),
  };
}

function trim(state: EngineState): void {
  if (state.log.length > MAX_LOG_ENTRIES) {
    state.log.splice(0, state.log.length - MAX_LOG_ENTRIES);
  }
  const keep = new Set(
    Object.keys(state.counters).sort().slice(-MAX_COUNTER_DAYS),
  );
  state.counters = Object.fromEntries(
    Object.entries(state.counters).filter(([day]) => keep.has(day)),
  );
}
