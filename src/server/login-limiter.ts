/**
 * Slows down password guessing on the dashboard login. Failed attempts are
 * counted per client address and across all addresses:
 * - per address, the 5th failure locks the address for 1 s, and each
 *   further failure doubles the lock (2 s, 4 s, ...) up to 15 minutes;
 * - across all addresses, the 50th failure locks every login the same way,
 *   so guessing from many addresses is slowed down too (at the price that
 *   such an attack also delays the real user).
 * An attempt during a lock is rejected without checking the password, and
 * does not extend the lock. A successful login clears its address. Counts
 * are forgotten after a quiet day. Each lock is logged once at warn, with
 * repeats at debug.
 */
import type { Logger } from "../log.js";
import type { Clock } from "../util/clock.js";

/** Options for {@link LoginLimiter}; every duration in ms. */
export interface LoginLimiterOptions {
  clock: Clock;
  logger: Logger;
  /** Failures from one address that start its lock; default 5. */
  freeAttempts?: number;
  /** Failures across all addresses that start the global lock; default 50. */
  globalFreeAttempts?: number;
  /** First lock; default 1000. Each further failure doubles it. */
  baseLockMs?: number;
  /** Maximum lock; default 15 minutes. */
  maxLockMs?: number;
  /** Quiet time after which failures are forgotten; default 24 hours. */
  forgetAfterMs?: number;
}

/** The limiter's decision before a password is checked. */
export type LoginCheck =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number; scope: "address" | "global" };

interface FailureRecord {
  failures: number;
  lockedUntil: number;
  lastFailureAt: number;
  /** Whether this lock run has been logged at warn. */
  logged: boolean;
}

/** Addresses tracked at most; the stalest is dropped beyond this. */
const MAX_TRACKED_ADDRESSES = 10_000;

/** Per-address and global login throttling; see the file comment. */
export class LoginLimiter {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #freeAttempts: number;
  readonly #globalFreeAttempts: number;
  readonly #baseLockMs: number;
  readonly #maxLockMs: number;
  readonly #forgetAfterMs: number;
  readonly #addresses = new Map<string, FailureRecord>();
  #global: FailureRecord = emptyRecord();

  constructor(options: LoginLimiterOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#freeAttempts = options.freeAttempts ?? 5;
    this.#globalFreeAttempts = options.globalFreeAttempts ?? 50;
    this.#baseLockMs = options.baseLockMs ?? 1000;
    this.#maxLockMs = options.maxLockMs ?? 15 * 60_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 24 * 60 * 60_000;
  }

  /** Returns whether `address` may try a password now. */
  check(address: string): LoginCheck {
    const now = this.#clock.now();
    this.#forgetStale(now);
    const record = this.#addresses.get(address);
    if (record !== undefined && record.lockedUntil > now) {
      this.#logger.debug(
        { address, failures: record.failures },
        "Dashboard login attempt rejected during a lock",
      );
      return {
        allowed: false,
        retryAfterMs: record.lockedUntil - now,
        scope: "address",
      };
    }
    if (this.#global.lockedUntil > now) {
      return {
        allowed: false,
        retryAfterMs: this.#global.lockedUntil - now,
        scope: "global",
      };
    }
    return { allowed: true };
  }

  /** Counts a wrong password from `address` and locks it per the rules in the file comment. */
  recordFailure(address: string): void {
    const now = this.#clock.now();
    this.#forgetStale(now);
    const record = this.#addresses.get(address) ?? emptyRecord();
    this.#addresses.delete(address);
    this.#addresses.set(address, record);
    this.#fail(record, now, this.#freeAttempts);
    if (record.lockedUntil > now) {
      this.#logLock(
        record,
        { address, failures: record.failures },
        `Dashboard login from ${address} locked after ${record.failures} wrong passwords; each further failure doubles the wait`,
      );
    }

    this.#fail(this.#global, now, this.#globalFreeAttempts);
    if (this.#global.lockedUntil > now) {
      this.#logLock(
        this.#global,
        { failures: this.#global.failures },
        `Dashboard login locked for every address after ${this.#global.failures} wrong passwords in total; someone may be guessing the password`,
      );
    }

    while (this.#addresses.size > MAX_TRACKED_ADDRESSES) {
      const stalest = this.#addresses.keys().next().value;
      if (stalest === undefined) {
        break;
      }
      this.#addresses.delete(stalest);
    }
  }

  /** Clears the failures of `address` after a correct password. */
  recordSuccess(address: string): void {
    const record = this.#addresses.get(address);
    if (record !== undefined && record.failures >= this.#freeAttempts) {
      this.#logger.info(
        { address, failures: record.failures },
        "Dashboard login succeeded after a lock",
      );
    }
    this.#addresses.delete(address);
  }

  #fail(record: FailureRecord, now: number, free: number): void {
    record.failures += 1;
    record.lastFailureAt = now;
    if (record.failures >= free) {
      const exponent = Math.min(record.failures - free, 30);
      const lockMs = Math.min(
        this.#baseLockMs * 2 ** exponent,
        this.#maxLockMs,
      );
      record.lockedUntil = now + lockMs;
    }
  }

  #logLock(
    record: FailureRecord,
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const lockMs = record.lockedUntil - record.lastFailureAt;
    if (!record.logged) {
      record.logged = true;
      this.#logger.warn({ ...fields, lockMs }, message);
    } else {
      this.#logger.debug({ ...fields, lockMs }, message);
    }
  }

  #forgetStale(now: number): void {
    for (const [address, record] of this.#addresses) {
      if (now - record.lastFailureAt >= this.#forgetAfterMs) {
        this.#addresses.delete(address);
      }
    }
    if (
      this.#global.failures > 0 &&
      now - this.#global.lastFailureAt >= this.#forgetAfterMs
    ) {
      this.#global = emptyRecord();
    }
  }
}

function emptyRecord(): FailureRecord {
  return { failures: 0, lockedUntil: 0, lastFailureAt: 0, logged: false };
}
