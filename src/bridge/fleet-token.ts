/**
 * Tesla access through Home Assistant's own `tesla_fleet` integration. HA
 * owns the OAuth refresh; the engine only borrows the current access token,
 * which `tesla_sync/config` returns. The token is read again shortly before
 * it expires and after every HTTP 401, as the bridge protocol requires, before
 * the engine reports rejected credentials.
 */
import { registerSecret } from "../log.js";
import type { TokenProvider } from "../tesla/auth.js";
import { systemClock, type Clock } from "../util/clock.js";
import type { HaEngineConfig } from "./schemas.js";

/** Read the token again when it expires within this, ms (5 minutes). */
export const FLEET_TOKEN_MARGIN_MS = 5 * 60_000;

/** A token with its expiry, as HA hands it out. */
export interface BorrowedToken {
  token: string;
  /** Unix seconds; undefined when HA gave no expiry. */
  expiresAt: number | undefined;
}

/** Returns the token of a `tesla_sync/config` result. */
export function borrowedToken(config: HaEngineConfig): BorrowedToken {
  return {
    token: config.tesla.token,
    expiresAt:
      config.tesla.access_kind === "tesla_fleet"
        ? (config.tesla.token_expires_at ?? undefined)
        : undefined,
  };
}

/** A TokenProvider over HA's tesla_fleet token. */
export class HaFleetTokenProvider implements TokenProvider {
  readonly reauthHint =
    "Reauthenticate Home Assistant's Tesla Fleet integration under Settings > Devices & services.";
  readonly #read: () => Promise<BorrowedToken>;
  readonly #clock: Clock;
  #current: BorrowedToken;

  /**
   * `read` fetches the configuration over the bridge; it may throw while
   * HA is away, and the last token is used meanwhile.
   */
  constructor(
    initial: BorrowedToken,
    read: () => Promise<BorrowedToken>,
    clock: Clock = systemClock,
  ) {
    registerSecret(initial.token);
    this.#current = initial;
    this.#read = read;
    this.#clock = clock;
  }

  /** Replaces the token, such as after the bridge read the configuration for another reason. */
  update(token: BorrowedToken): void {
    registerSecret(token.token);
    this.#current = token;
  }

  async accessToken(): Promise<string> {
    const expiresAt = this.#current.expiresAt;
    if (
      expiresAt !== undefined &&
      expiresAt * 1000 - this.#clock.now() < FLEET_TOKEN_MARGIN_MS
    ) {
      await this.#reread().catch(() => undefined);
    }
    return this.#current.token;
  }

  /**
   * Reads HA's token again after a 401. Returns false when HA has no newer
   * token or cannot be reached, so the client waits and retries once before
   * it reports the rejected token.
   */
  async refreshAfterUnauthorized(rejectedToken?: string): Promise<boolean> {
    try {
      await this.#reread();
    } catch {
      return false;
    }
    return this.#current.token !== rejectedToken;
  }

  async #reread(): Promise<void> {
    this.update(await this.#read());
  }
}
