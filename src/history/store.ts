/**
 * The history store: prices, energy and sync results kept in one SQLite
 * database (`<dataDir>/history.sqlite`) through `node:sqlite`, which is built
 * into Node.js 22.13 and later, so the add-on image needs no native build.
 *
 * Tables, all keyed by time in ms since the epoch:
 * - `prices`: one row per Amber interval (5 or 30 minutes) with Amber's buy
 *   and sell price and the tariff rate that was on the Powerwall. A settled
 *   ("actual") price is never overwritten by an estimate.
 * - `energy_samples`: live_status readings (W and battery %).
 * - `energy_intervals`: energy per 5-minute interval (Wh), integrated from
 *   the samples.
 * - `syncs`: every sync result with its reason and the day's API counters.
 *
 * Rows older than the retention (default 30 days) are deleted by
 * {@link HistoryStore.prune}, which the recorder calls every hour. Every
 * call is synchronous: SQLite runs these small queries in well under a
 * millisecond, and one connection serialises the writes.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

import { StateStoreError } from "../errors.js";

/** File name of the history database inside the data directory. */
export const HISTORY_FILE_NAME = "history.sqlite";
/** Default retention of every table, days. */
export const DEFAULT_RETENTION_DAYS = 30;
/** Length of an energy interval, ms. */
export const ENERGY_INTERVAL_MS = 5 * 60_000;

const DAY_MS = 24 * 60 * 60_000;
const SCHEMA_VERSION = 1;

/** Whether Amber has settled an interval's price. */
export type PriceQuality = "actual" | "estimate";

/** One Amber interval as stored. Prices in $/kWh. */
export interface PricePoint {
  /** Interval start, ms since the epoch. */
  start: number;
  /** Interval length, minutes (5 or 30). */
  minutes: number;
  /** Amber's general-channel price, $/kWh; negative when consuming pays. */
  buy: number | null;
  /** Amber's feed-in price negated, $/kWh: positive when export earns money. */
  sell: number | null;
  quality: PriceQuality;
  /** Buy rate of the tariff on the Powerwall for this interval, $/kWh (never negative). */
  tariffBuy: number | null;
  /** Sell rate of the tariff on the Powerwall for this interval, $/kWh. */
  tariffSell: number | null;
  /** Amber's spike status ("none", "potential" or "spike"), when known. */
  spikeStatus: string | null;
}

/** One live_status reading, with Tesla's signs. */
export interface EnergySample {
  /** When it was read, ms since the epoch. */
  at: number;
  solarW: number;
  /** > 0 importing from the grid, < 0 exporting. */
  gridW: number;
  /** > 0 discharging, < 0 charging. */
  batteryW: number;
  homeW: number;
  /** Battery charge, percent. */
  batteryPercent: number;
}

/** Energy in one 5-minute interval, Wh; every field is zero or positive. */
export interface EnergyTotals {
  solarWh: number;
  gridImportWh: number;
  gridExportWh: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
  homeWh: number;
}

/** Energy totals of one interval and how much of it the samples covered. */
export interface EnergyInterval extends EnergyTotals {
  /** Interval start, ms since the epoch, on a 5-minute boundary. */
  start: number;
  /** Time within the interval that readings covered, ms (at most 300 000). */
  coveredMs: number;
}

/** One sync result as stored. */
export interface SyncRecord {
  /** When the sync finished, ms since the epoch. */
  at: number;
  trigger: string;
  /** "uploaded", "unchanged", "refused", "failed" or "skipped". */
  outcome: string;
  reason: string;
  /** Tesla tariff writes this sync sent (0 or 1). */
  writes: number;
  changedSlots: number | null;
  confirmed: boolean | null;
  /** The day's counters after this sync. */
  counters: {
    syncs: number;
    uploads: number;
    teslaWrites: number;
    teslaCalls: number;
    amberCalls: number;
  };
}

/** Options for {@link HistoryStore.open}. */
export interface HistoryStoreOptions {
  /** Directory of the database file; created when missing. */
  dataDir: string;
  /** Retention of every table, days; default 30. */
  retentionDays?: number;
}

/** Rows deleted by one {@link HistoryStore.prune} call, per table. */
export interface PruneResult {
  prices: number;
  energySamples: number;
  energyIntervals: number;
  syncs: number;
}

type Row = Record<string, SQLInputValue>;

/** The history database. Open with {@link HistoryStore.open}; close when done. */
export class HistoryStore {
  readonly path: string;
  readonly retentionMs: number;
  readonly #db: DatabaseSync;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, retentionDays: number) {
    this.path = path;
    this.#db = db;
    this.retentionMs = retentionDays * DAY_MS;
  }

  /**
   * Opens (or creates) the database in `dataDir` and brings its tables up
   * to date. Throws StateStoreError naming the file when SQLite cannot open
   * it, for example on a read-only data directory or a file that is not a
   * SQLite database.
   */
  static open(options: HistoryStoreOptions): HistoryStore {
    const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!(retentionDays > 0)) {
      throw new RangeError(
        `History retention must be a positive number of days, not ${retentionDays}.`,
      );
    }
    const path = join(options.dataDir, HISTORY_FILE_NAME);
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA busy_timeout = 2000");
      migrate(db);
    } catch (error) {
      db?.close();
      throw new StateStoreError(
        `Could not open the history database ${path}: ${(error as Error).message}. Check that the data directory is writable; if the file is damaged, move it aside and the engine starts a new one.`,
        { cause: error },
      );
    }
    return new HistoryStore(path, db, retentionDays);
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Inserts or updates price intervals. An "actual" row is never replaced
   * by an "estimate", and a tariff rate left null keeps the stored one.
   */
  recordPrices(points: readonly PricePoint[]): void {
    const statement = this.#db.prepare(`
      INSERT INTO prices (start, minutes, buy, sell, quality, tariff_buy, tariff_sell, spike_status)
      VALUES ($start, $minutes, $buy, $sell, $quality, $tariffBuy, $tariffSell, $spikeStatus)
      ON CONFLICT (start) DO UPDATE SET
        minutes = CASE WHEN prices.quality = 'actual' AND excluded.quality = 'estimate'
                       THEN prices.minutes ELSE excluded.minutes END,
        buy = CASE WHEN prices.quality = 'actual' AND excluded.quality = 'estimate'
                   THEN prices.buy ELSE COALESCE(excluded.buy, prices.buy) END,
        sell = CASE WHEN prices.quality = 'actual' AND excluded.quality = 'estimate'
                    THEN prices.sell ELSE COALESCE(excluded.sell, prices.sell) END,
        quality = CASE WHEN prices.quality = 'actual' THEN 'actual' ELSE excluded.quality END,
        tariff_buy = COALESCE(excluded.tariff_buy, prices.tariff_buy),
        tariff_sell = COALESCE(excluded.tariff_sell, prices.tariff_sell),
        spike_status = COALESCE(excluded.spike_status, prices.spike_status)
    `);
    this.#transaction(() => {
      for (const point of points) {
        statement.run({
          start: point.start,
          minutes: point.minutes,
          buy: point.buy,
          sell: point.sell,
          quality: point.quality,
          tariffBuy: point.tariffBuy,
          tariffSell: point.tariffSell,
          spikeStatus: point.spikeStatus,
        });
      }
    });
  }

  /** Returns price intervals starting in [from, to), oldest first. */
  prices(from: number, to: number): PricePoint[] {
    const rows = this.#db
      .prepare(
        "SELECT * FROM prices WHERE start >= $from AND start < $to ORDER BY start",
      )
      .all({ from, to }) as Row[];
    return rows.map((row) => ({
      start: int(row, "start"),
      minutes: int(row, "minutes"),
      buy: numberOrNull(row, "buy"),
      sell: numberOrNull(row, "sell"),
      quality: text(row, "quality") === "actual" ? "actual" : "estimate",
      tariffBuy: numberOrNull(row, "tariff_buy"),
      tariffSell: numberOrNull(row, "tariff_sell"),
      spikeStatus: textOrNull(row, "spike_status"),
    }));
  }

  /** Start of the newest "actual" price interval, or undefined when there is none. */
  latestActualPriceStart(): number | undefined {
    const row = this.#db
      .prepare(
        "SELECT MAX(start) AS start FROM prices WHERE quality = 'actual'",
      )
      .get() as Row | undefined;
    const value = row?.["start"];
    return typeof value === "number" ? value : undefined;
  }

  /** Stores one live_status reading; a second reading at the same ms replaces the first. */
  recordEnergySample(sample: EnergySample): void {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO energy_samples (at, solar_w, grid_w, battery_w, home_w, battery_percent)
         VALUES ($at, $solarW, $gridW, $batteryW, $homeW, $batteryPercent)`,
      )
      .run({ ...sample });
  }

  /** Returns readings taken in [from, to), oldest first. */
  energySamples(from: number, to: number): EnergySample[] {
    const rows = this.#db
      .prepare(
        "SELECT * FROM energy_samples WHERE at >= $from AND at < $to ORDER BY at",
      )
      .all({ from, to }) as Row[];
    return rows.map((row) => ({
      at: int(row, "at"),
      solarW: num(row, "solar_w"),
      gridW: num(row, "grid_w"),
      batteryW: num(row, "battery_w"),
      homeW: num(row, "home_w"),
      batteryPercent: num(row, "battery_percent"),
    }));
  }

  /** Returns the newest reading, or undefined when there is none. */
  latestEnergySample(): EnergySample | undefined {
    const row = this.#db
      .prepare("SELECT MAX(at) AS at FROM energy_samples")
      .get() as Row | undefined;
    const at = row?.["at"];
    if (typeof at !== "number") {
      return undefined;
    }
    return this.energySamples(at, at + 1)[0];
  }

  /** Adds energy to 5-minute intervals, creating them as needed. */
  addEnergy(parts: readonly EnergyInterval[]): void {
    const statement = this.#db.prepare(`
      INSERT INTO energy_intervals (start, solar_wh, grid_import_wh, grid_export_wh,
        battery_charge_wh, battery_discharge_wh, home_wh, covered_ms)
      VALUES ($start, $solarWh, $gridImportWh, $gridExportWh, $batteryChargeWh,
        $batteryDischargeWh, $homeWh, $coveredMs)
      ON CONFLICT (start) DO UPDATE SET
        solar_wh = solar_wh + excluded.solar_wh,
        grid_import_wh = grid_import_wh + excluded.grid_import_wh,
        grid_export_wh = grid_export_wh + excluded.grid_export_wh,
        battery_charge_wh = battery_charge_wh + excluded.battery_charge_wh,
        battery_discharge_wh = battery_discharge_wh + excluded.battery_discharge_wh,
        home_wh = home_wh + excluded.home_wh,
        covered_ms = MIN(${ENERGY_INTERVAL_MS}, covered_ms + excluded.covered_ms)
    `);
    this.#transaction(() => {
      for (const part of parts) {
        statement.run({ ...part });
      }
    });
  }

  /** Returns 5-minute energy intervals starting in [from, to), oldest first. */
  energyIntervals(from: number, to: number): EnergyInterval[] {
    const rows = this.#db
      .prepare(
        "SELECT * FROM energy_intervals WHERE start >= $from AND start < $to ORDER BY start",
      )
      .all({ from, to }) as Row[];
    return rows.map((row) => ({
      start: int(row, "start"),
      solarWh: num(row, "solar_wh"),
      gridImportWh: num(row, "grid_import_wh"),
      gridExportWh: num(row, "grid_export_wh"),
      batteryChargeWh: num(row, "battery_charge_wh"),
      batteryDischargeWh: num(row, "battery_discharge_wh"),
      homeWh: num(row, "home_wh"),
      coveredMs: int(row, "covered_ms"),
    }));
  }

  /** Stores one sync result. */
  recordSync(record: SyncRecord): void {
    let confirmed: number | null = null;
    if (record.confirmed !== null) {
      confirmed = record.confirmed ? 1 : 0;
    }
    this.#db
      .prepare(
        `INSERT INTO syncs (at, trigger, outcome, reason, writes, changed_slots, confirmed,
           day_syncs, day_uploads, day_tesla_writes, day_tesla_calls, day_amber_calls)
         VALUES ($at, $trigger, $outcome, $reason, $writes, $changedSlots, $confirmed,
           $syncs, $uploads, $teslaWrites, $teslaCalls, $amberCalls)`,
      )
      .run({
        at: record.at,
        trigger: record.trigger,
        outcome: record.outcome,
        reason: record.reason,
        writes: record.writes,
        changedSlots: record.changedSlots,
        confirmed,
        ...record.counters,
      });
  }

  /** Returns up to `limit` sync results from [from, to), newest first. */
  syncs(from: number, to: number, limit: number): SyncRecord[] {
    const rows = this.#db
      .prepare(
        "SELECT * FROM syncs WHERE at >= $from AND at < $to ORDER BY at DESC, id DESC LIMIT $limit",
      )
      .all({ from, to, limit }) as Row[];
    return rows.map((row) => {
      const confirmed = row["confirmed"];
      return {
        at: int(row, "at"),
        trigger: text(row, "trigger"),
        outcome: text(row, "outcome"),
        reason: text(row, "reason"),
        writes: int(row, "writes"),
        changedSlots: numberOrNull(row, "changed_slots"),
        confirmed: confirmed === null ? null : confirmed === 1,
        counters: {
          syncs: int(row, "day_syncs"),
          uploads: int(row, "day_uploads"),
          teslaWrites: int(row, "day_tesla_writes"),
          teslaCalls: int(row, "day_tesla_calls"),
          amberCalls: int(row, "day_amber_calls"),
        },
      };
    });
  }

  /** Deletes every row older than the retention before `now`. */
  prune(now: number): PruneResult {
    const cutoff = now - this.retentionMs;
    let result: PruneResult = {
      prices: 0,
      energySamples: 0,
      energyIntervals: 0,
      syncs: 0,
    };
    this.#transaction(() => {
      result = {
        prices: this.#deleteBefore("prices", "start", cutoff),
        energySamples: this.#deleteBefore("energy_samples", "at", cutoff),
        energyIntervals: this.#deleteBefore(
          "energy_intervals",
          "start",
          cutoff,
        ),
        syncs: this.#deleteBefore("syncs", "at", cutoff),
      };
    });
    return result;
  }

  /** Closes the database; later calls on this store throw. Safe to call twice. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#db.close();
  }

  #deleteBefore(table: string, column: string, cutoff: number): number {
    const result = this.#db
      .prepare(`DELETE FROM ${table} WHERE ${column} < $cutoff`)
      .run({ cutoff });
    return Number(result.changes);
  }

  #transaction(work: () => void): void {
    this.#db.exec("BEGIN");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/** Creates the tables of {@link SCHEMA_VERSION}, or checks that they exist. */
function migrate(db: DatabaseSync): void {
  const row = db.prepare("PRAGMA user_version").get() as Row | undefined;
  const version = Number(row?.["user_version"] ?? 0);
  if (version === SCHEMA_VERSION) {
    return;
  }
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `it was written by a newer version of Tesla Sync (schema ${version}, this version reads ${SCHEMA_VERSION})`,
    );
  }
  db.exec(`
    BEGIN;
    CREATE TABLE IF NOT EXISTS prices (
      start INTEGER PRIMARY KEY,
      minutes INTEGER NOT NULL,
      buy REAL,
      sell REAL,
      quality TEXT NOT NULL CHECK (quality IN ('actual', 'estimate')),
      tariff_buy REAL,
      tariff_sell REAL,
      spike_status TEXT
    );
    CREATE TABLE IF NOT EXISTS energy_samples (
      at INTEGER PRIMARY KEY,
      solar_w REAL NOT NULL,
      grid_w REAL NOT NULL,
      battery_w REAL NOT NULL,
      home_w REAL NOT NULL,
      battery_percent REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS energy_intervals (
      start INTEGER PRIMARY KEY,
      solar_wh REAL NOT NULL,
      grid_import_wh REAL NOT NULL,
      grid_export_wh REAL NOT NULL,
      battery_charge_wh REAL NOT NULL,
      battery_discharge_wh REAL NOT NULL,
      home_wh REAL NOT NULL,
      covered_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS syncs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      trigger TEXT NOT NULL,
      outcome TEXT NOT NULL,
      reason TEXT NOT NULL,
      writes INTEGER NOT NULL,
      changed_slots INTEGER,
      confirmed INTEGER,
      day_syncs INTEGER NOT NULL,
      day_uploads INTEGER NOT NULL,
      day_tesla_writes INTEGER NOT NULL,
      day_tesla_calls INTEGER NOT NULL,
      day_amber_calls INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS syncs_at ON syncs (at);
    PRAGMA user_version = ${SCHEMA_VERSION};
    COMMIT;
  `);
}

function num(row: Row, key: string): number {
  const value = row[key];
  return typeof value === "number" ? value : Number(value ?? 0);
}

function int(row: Row, key: string): number {
  return Math.trunc(num(row, key));
}

function numberOrNull(row: Row, key: string): number | null {
  const value = row[key];
  return value === null || value === undefined ? null : Number(value);
}

function text(row: Row, key: string): string {
  const value = row[key];
  return typeof value === "string" ? value : String(value ?? "");
}

function textOrNull(row: Row, key: string): string | null {
  const value = row[key];
  return typeof value === "string" ? value : null;
}
