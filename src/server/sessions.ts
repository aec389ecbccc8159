/**
 * Login sessions of the standalone dashboard, held in memory (a restart
 * logs everyone out). A session id is 32 random bytes (256 bits), sent only
 * in an HttpOnly, SameSite=Strict cookie. The store keys sessions by the
 * SHA-256 of the id, so a lookup never compares secret ids byte by byte.
 * Each session carries its own CSRF token, which every state-changing
 * request must echo in the X-CSRF-Token header.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

import type { Clock } from "../util/clock.js";

/** Name of the session cookie. */
export const SESSION_COOKIE = "tesla_sync_session";
/** Default session lifetime, ms (12 hours). */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60_000;
/** Sessions kept at most; creating one more ends the oldest. */
export const MAX_SESSIONS = 64;

/** A logged-in browser. */
export interface Session {
  /** Token for the X-CSRF-Token header, base64url. */
  csrfToken: string;
  createdAt: number;
  /** Epoch ms after which the session is gone. */
  expiresAt: number;
}

/** Options for {@link SessionStore}. */
export interface SessionStoreOptions {
  clock: Clock;
  /** Lifetime of a session from login, ms; default 12 hours. */
  ttlMs?: number;
}

/** Sessions by hashed id; see the file comment. */
export class SessionStore {
  readonly ttlMs: number;
  readonly #clock: Clock;
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionStoreOptions) {
    this.#clock = options.clock;
    this.ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  }

  /** Creates a session and returns its id (for the cookie) and the session. */
  create(): { id: string; session: Session } {
    this.#dropExpired();
    while (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString("base64url");
    const now = this.#clock.now();
    const session: Session = {
      csrfToken: randomBytes(32).toString("base64url"),
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    this.#sessions.set(digest(id), session);
    return { id, session };
  }

  /** Returns the live session for `id`, or undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || id === "") {
      return undefined;
    }
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (session === undefined) {
      return undefined;
    }
    if (session.expiresAt <= this.#clock.now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return session;
  }

  /** Ends the session for `id`; unknown ids are ignored. */
  delete(id: string | undefined): void {
    if (id !== undefined) {
      this.#sessions.delete(digest(id));
    }
  }

  /** Number of live sessions. */
  get size(): number {
    this.#dropExpired();
    return this.#sessions.size;
  }

  #dropExpired(): void {
    const now = this.#clock.now();
    for (const [key, session] of this.#sessions) {
      if (session.expiresAt <= now) {
        this.#sessions.delete(key);
      }
    }
  }
}

/** Returns whether two tokens are equal, in time independent of where they differ. */
export function tokensEqual(a: string | undefined, b: string): boolean {
  if (a === undefined) {
    return false;
  }
  const left = Buffer.from(digest(a), "base64url");
  const right = Buffer.from(digest(b), "base64url");
  return timingSafeEqual(left, right);
}

/** Parses a Cookie header into name-value pairs; the first of duplicate names wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index <= 0) {
      continue;
    }
    const name = part.slice(0, index).trim();
    const value = part.slice(index + 1).trim();
    if (!cookies.has(name)) {
      cookies.set(name, value);
    }
  }
  return cookies;
}

/** Options of a Set-Cookie header. */
export interface CookieOptions {
  /** Lifetime in seconds; 0 deletes the cookie. */
  maxAgeSeconds: number;
  /** Adds the Secure attribute (HTTPS only). */
  secure: boolean;
  /** Cookie path; default "/". */
  path?: string;
}

/** Builds a Set-Cookie value with HttpOnly and SameSite=Strict. */
export function serializeCookie(
  name: string,
  value: string,
  options: CookieOptions,
): string {
  const parts = [
    `${name}=${value}`,
    `Path=${options.path ?? "/"}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Strict",
  ];
  if (options.secure) {
    parts.push("Secure");
  }
  return parts.join("; ");
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}
