/**
 * Access tokens for the Tesla client. Three sources exist: a Teslemetry
 * token, the token of Home Assistant's own `tesla_fleet` integration (read
 * through a callback before every call, because HA refreshes it), and the
 * user's own Fleet API OAuth client, which this module refreshes itself.
 */
import { createHash } from "node:crypto";

import { z } from "zod";

import { AuthError, ConfigError, RequestRejectedError } from "../errors.js";
import { withRetry } from "../http/retry.js";
import { parsePayload, VendorHttp } from "../http/vendor-http.js";
import { registerSecret, type Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";
import { tokenResponseSchema, type TokenResponse } from "./schemas.js";
import type { StoredTeslaTokens, TokenPersistence } from "./token-store.js";

/** Tesla's OAuth token endpoint for Fleet API clients. */
export const DEFAULT_TOKEN_URL =
  "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token";

/** Access-token lifetime assumed when Tesla's response has no `expires_in`, seconds. */
export const DEFAULT_EXPIRES_IN_SECONDS = 28_800;

/** How long before expiry the OAuth provider refreshes, ms (5 minutes). */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

/** A source of Bearer tokens for the Tesla client. */
export interface TokenProvider {
  /** Returns a token to send now, refreshing it first if it is about to expire. */
  accessToken(): Promise<string>;
  /**
   * Reacts to an HTTP 401 for `rejectedToken`. Returns true when a different
   * token is now available, so one immediate retry is worthwhile, and false
   * when the source has nothing new. Throws AuthError when a refresh proved
   * the credentials dead.
   */
  refreshAfterUnauthorized(rejectedToken?: string): Promise<boolean>;
  /** Advice for the user when Tesla keeps rejecting the token; ends AuthError messages. */
  readonly reauthHint: string;
}

/** Returns a token read fresh from its owner, such as HA's tesla_fleet entry. */
export type TokenCallback = () => Promise<string>;

/** Options for StaticTokenProvider. */
export interface StaticTokenOptions {
  /** Overrides the default advice in AuthError messages. */
  reauthHint?: string;
}

/**
 * A token the engine cannot refresh: a Teslemetry token, or (as a callback)
 * the token of HA's tesla_fleet integration, re-read before every call.
 */
export class StaticTokenProvider implements TokenProvider {
  readonly reauthHint: string;
  readonly #source: string | TokenCallback;

  constructor(
    source: string | TokenCallback,
    options: StaticTokenOptions = {},
  ) {
    if (typeof source === "string") {
      if (source.trim() === "") {
        throw new ConfigError(
          "The Teslemetry token is empty. Copy the access token from the Teslemetry console into the Tesla token setting.",
        );
      }
      registerSecret(source);
    }
    this.#source = source;
    this.reauthHint =
      options.reauthHint ??
      (typeof source === "string"
        ? "Create a new token in the Teslemetry console and set it as tesla.token (TESLA_SYNC_TESLA_TOKEN), or, with Home Assistant, in the Tesla Sync integration."
        : "Reauthenticate Home Assistant's Tesla Fleet integration.");
  }

  async accessToken(): Promise<string> {
    if (typeof this.#source === "string") {
      return this.#source;
    }
    const token = await this.#source();
    if (token.trim() === "") {
      throw new AuthError(
        "tesla",
        `The Tesla token source returned an empty token. ${this.reauthHint}`,
      );
    }
    registerSecret(token);
    return token;
  }

  /** Re-reads a callback source; a fixed token has nothing new to offer. */
  async refreshAfterUnauthorized(rejectedToken?: string): Promise<boolean> {
    if (typeof this.#source === "string") {
      return false;
    }
    const token = await this.accessToken();
    return token !== rejectedToken;
  }
}

/** Options for FleetOAuthProvider. */
export interface FleetOAuthOptions {
  /** Client id of the user's Tesla developer application. */
  clientId: string;
  /** Durable token storage; TokenStore in production. */
  store: TokenPersistence;
  logger: Logger;
  /** Token endpoint; default DEFAULT_TOKEN_URL. */
  tokenUrl?: string;
  /**
   * Refresh token from the configuration. It is used when the store contains
   * none, or when it differs from the token the stored chain started from,
   * which means the user signed in again.
   */
  initialRefreshToken?: string;
  clock?: Clock;
  /** Timeout of one token request, ms; default 30000. */
  timeoutMs?: number;
  /** Refresh this long before the access token expires, ms, but at most half its lifetime; default 5 minutes. */
  refreshMarginMs?: number;
  /** Attempts per refresh for timeouts, 5xx and 429; default 3. */
  maxAttempts?: number;
  /** First backoff between refresh attempts, ms; default 2000. */
  baseDelayMs?: number;
  /** Pause before the one retry after Tesla rejects a refresh, ms; default 5000. */
  authRetryDelayMs?: number;
}

/** An access token in memory; times in ms since the epoch. */
interface AccessToken {
  token: string;
  expiresAt: number;
  /** When accessToken() stops handing it out and refreshes instead. */
  refreshAt: number;
}

type RefreshedTokens = StoredTeslaTokens & {
  accessToken: string;
  accessTokenExpiresAt: number;
};

/**
 * Tokens from the user's own Fleet API OAuth client. Refreshes before expiry
 * and after a 401, one refresh at a time for all callers. Tesla rotates the
 * refresh token on every refresh, so the new set is saved durably before the
 * new access token is handed to anyone. If that save fails, the tokens stay
 * in memory and the save is retried on the next call before any use.
 * A refresh token that Tesla rejects twice is not sent again: every later
 * call throws the same AuthError until a new provider is built. Before the
 * first retry, the store is re-read, in case another instance sharing the
 * data directory rotated the token.
 */
export class FleetOAuthProvider implements TokenProvider {
  readonly reauthHint =
    "Sign in to Tesla again with your Fleet API client and set the new refresh token as tesla.fleet.refreshToken (TESLA_SYNC_FLEET_REFRESH_TOKEN).";
  readonly #clientId: string;
  readonly #store: TokenPersistence;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #http: VendorHttp;
  readonly #tokenPath: string;
  readonly #initialRefreshToken: string | undefined;
  readonly #marginMs: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #authRetryDelayMs: number;

  #loading: Promise<void> | undefined;
  #refreshToken: string | undefined;
  #seedHash: string | undefined;
  #access: AccessToken | undefined;
  #unsaved: RefreshedTokens | undefined;
  #refreshing: Promise<string> | undefined;
  /** Set once Tesla rejected the refresh token twice; later calls fail fast. */
  #rejection: AuthError | undefined;
  /** True from a failed refresh attempt until a refresh succeeds, so repeats log at debug. */
  #refreshFailing = false;
  #refreshCount = 0;

  constructor(options: FleetOAuthOptions) {
    if (options.clientId.trim() === "") {
      throw new ConfigError(
        "The Tesla Fleet client id is empty. Enter the client id of your Tesla developer application.",
      );
    }
    const tokenUrl = options.tokenUrl ?? DEFAULT_TOKEN_URL;
    let url: URL;
    try {
      url = new URL(tokenUrl);
    } catch (error) {
      throw new ConfigError(
        `The Tesla token URL "${tokenUrl}" is not a valid URL. Leave it unset to use ${DEFAULT_TOKEN_URL}.`,
        { cause: error },
      );
    }
    registerSecret(options.initialRefreshToken);

    this.#clientId = options.clientId;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#initialRefreshToken = options.initialRefreshToken;
    this.#marginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#baseDelayMs = options.baseDelayMs ?? 2000;
    this.#authRetryDelayMs = options.authRetryDelayMs ?? 5000;
    this.#tokenPath = `${url.pathname}${url.search}`;
    this.#http = new VendorHttp({
      vendor: "tesla",
      baseUrl: url.origin,
      timeoutMs: options.timeoutMs ?? 30_000,
    });
  }

  /** Number of successful refresh grants since construction. */
  get refreshCount(): number {
    return this.#refreshCount;
  }

  /**
   * Loads the stored tokens once. Callers may await it at start to surface a
   * broken store early; every other method awaits it too.
   */
  load(): Promise<void> {
    this.#loading ??= this.#load().catch((error: unknown) => {
      this.#loading = undefined;
      throw error;
    });
    return this.#loading;
  }

  async accessToken(): Promise<string> {
    await this.load();
    const access = this.#access;
    if (
      this.#refreshing === undefined &&
      this.#unsaved === undefined &&
      access !== undefined &&
      this.#clock.now() < access.refreshAt
    ) {
      return access.token;
    }
    return this.#refresh();
  }

  /**
   * Refreshes after a 401 unless another caller already replaced
   * `rejectedToken`. Returns true once a new token is saved and ready.
   */
  async refreshAfterUnauthorized(rejectedToken?: string): Promise<boolean> {
    await this.load();
    if (this.#refreshing !== undefined) {
      await this.#refreshing;
      return true;
    }
    const access = this.#access;
    if (
      rejectedToken !== undefined &&
      access !== undefined &&
      access.token !== rejectedToken &&
      this.#clock.now() < access.expiresAt
    ) {
      return true;
    }
    await this.#refresh();
    return true;
  }

  async #load(): Promise<void> {
    const stored = await this.#store.load();
    const configured = this.#initialRefreshToken;
    const configuredHash =
      configured === undefined ? undefined : hashToken(configured);

    if (
      stored !== undefined &&
      (configuredHash === undefined || stored.seedHash === configuredHash)
    ) {
      this.#refreshToken = stored.refreshToken;
      this.#seedHash = stored.seedHash;
      this.#access = this.#accessFrom(stored);
      this.#logger.debug("Loaded the stored Tesla tokens");
      return;
    }

    this.#refreshToken = configured;
    this.#seedHash = configuredHash;
    if (stored !== undefined) {
      this.#logger.info(
        "The configured Tesla refresh token is new; it replaces the stored tokens",
      );
    }
  }

  /** Runs one refresh (or the pending save) for every concurrent caller. */
  #refresh(): Promise<string> {
    this.#refreshing ??= this.#runRefresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #runRefresh(): Promise<string> {
    this.#unsaved ??= await this.#requestTokens();
    const tokens = this.#unsaved;

    // The old refresh token is already spent, so the new set goes to disk
    // before the access token is used. A failed save throws here and leaves
    // the set in #unsaved, so the next call saves it before using it.
    await this.#store.save(tokens);
    this.#unsaved = undefined;
    this.#access = this.#accessFrom(tokens);
    return tokens.accessToken;
  }

  /**
   * Returns the access token of a saved set and when to refresh it: the
   * margin before expiry, but at most half its lifetime (counted from
   * `savedAt`), so a token that lives only minutes is not refreshed on
   * every call.
   */
  #accessFrom(tokens: StoredTeslaTokens): AccessToken | undefined {
    const { accessToken, accessTokenExpiresAt: expiresAt } = tokens;
    if (accessToken === undefined || expiresAt === undefined) {
      return undefined;
    }
    const lifetimeMs = expiresAt - Date.parse(tokens.savedAt);
    const marginMs = Number.isFinite(lifetimeMs)
      ? Math.min(this.#marginMs, Math.max(0, lifetimeMs) / 2)
      : this.#marginMs;
    return { token: accessToken, expiresAt, refreshAt: expiresAt - marginMs };
  }

  /**
   * Runs a refresh grant. `mayAdopt` allows one switch to a chain that
   * another instance saved in the same store, per refresh.
   */
  async #requestTokens(mayAdopt = true): Promise<RefreshedTokens> {
    if (this.#rejection !== undefined) {
      throw this.#rejection;
    }
    const refreshToken = this.#refreshToken;
    if (refreshToken === undefined) {
      throw new AuthError(
        "tesla",
        `No Tesla refresh token is configured or stored. ${this.reauthHint}`,
      );
    }

    const form = new URLSearchParams({
      grant_type: "refresh_token",
      client_id: this.#clientId,
      refresh_token: refreshToken,
    });
    let body: unknown;
    try {
      body = await this.#postRefresh(form);
    } catch (first) {
      const failure = this.#refreshError(first);
      if (!(failure instanceof AuthError)) {
        throw failure;
      }
      const adopted = mayAdopt
        ? await this.#adoptStoredChain(refreshToken)
        : undefined;
      if (adopted === "refresh") {
        return this.#requestTokens(false);
      }
      if (adopted !== undefined) {
        return adopted;
      }
      // Users have seen a Tesla token rejected once and accepted again later
      // unchanged, so one rejection gets one retry after a pause.
      this.#logger.warn(
        { err: failure, delayMs: this.#authRetryDelayMs },
        "Tesla rejected the token refresh; retrying once",
      );
      await this.#clock.sleep(this.#authRetryDelayMs);
      try {
        body = await this.#postRefresh(form);
      } catch (second) {
        const final = this.#refreshError(second);
        if (final instanceof AuthError) {
          this.#rejection = final;
          this.#logger.error(
            { err: final },
            "Tesla rejected the refresh token twice; sign in to Tesla again",
          );
        }
        throw final;
      }
    }

    const parsed = await this.#parseTokenResponse(body, refreshToken);
    const now = this.#clock.now();
    const expiresInSeconds = tokenLifetimeSeconds(parsed.expires_in);
    if (expiresInSeconds === undefined && parsed.expires_in !== undefined) {
      this.#logger.warn(
        { defaultSeconds: DEFAULT_EXPIRES_IN_SECONDS },
        "Tesla sent an invalid expires_in with the new token; assuming the default lifetime",
      );
    }
    const tokens: RefreshedTokens = {
      version: 1,
      refreshToken: parsed.refresh_token ?? refreshToken,
      accessToken: parsed.access_token,
      accessTokenExpiresAt:
        now + (expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS) * 1000,
      savedAt: new Date(now).toISOString(),
      ...(this.#seedHash === undefined ? {} : { seedHash: this.#seedHash }),
    };
    this.#refreshToken = tokens.refreshToken;
    this.#refreshCount += 1;
    this.#logger.debug(
      { expiresInSeconds },
      "Refreshed the Tesla access token",
    );
    return tokens;
  }

  /**
   * Re-reads the store after Tesla rejected `rejectedToken`. Another engine
   * instance sharing the data directory may have spent it and saved its
   * successor; then this instance continues that chain. Returns the stored
   * set when its access token is still good, "refresh" when only its
   * refresh token is new, and undefined when the store has nothing newer.
   */
  async #adoptStoredChain(
    rejectedToken: string,
  ): Promise<RefreshedTokens | "refresh" | undefined> {
    let stored: StoredTeslaTokens | undefined;
    try {
      stored = await this.#store.load();
    } catch (error) {
      this.#logger.warn(
        { err: error },
        "Could not re-read the Tesla token store after a rejected refresh",
      );
      return undefined;
    }
    if (stored === undefined || stored.refreshToken === rejectedToken) {
      return undefined;
    }

    this.#logger.info(
      "Another Tesla Sync instance refreshed the shared Tesla token; continuing with the one it saved",
    );
    this.#refreshToken = stored.refreshToken;
    this.#seedHash = stored.seedHash;
    const access = this.#accessFrom(stored);
    if (access === undefined || this.#clock.now() >= access.refreshAt) {
      return "refresh";
    }
    return {
      ...stored,
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
    };
  }

  /**
   * Parses a successful grant. When it has a new refresh token but no
   * usable access token, the new refresh token is saved before the
   * InvalidPayloadError is thrown, because the one sent is already spent.
   */
  async #parseTokenResponse(
    body: unknown,
    sentRefreshToken: string,
  ): Promise<TokenResponse> {
    const rotated = z
      .looseObject({ refresh_token: z.string().min(1) })
      .safeParse(body);
    if (rotated.success) {
      registerSecret(rotated.data.refresh_token);
    }
    try {
      const parsed = parsePayload(
        "tesla",
        "OAuth token response",
        tokenResponseSchema,
        body,
      );
      registerSecret(parsed.access_token);
      return parsed;
    } catch (error) {
      const refreshToken = rotated.success
        ? rotated.data.refresh_token
        : undefined;
      if (refreshToken !== undefined && refreshToken !== sentRefreshToken) {
        this.#refreshToken = refreshToken;
        await this.#store.save({
          version: 1,
          refreshToken,
          savedAt: new Date(this.#clock.now()).toISOString(),
          ...(this.#seedHash === undefined ? {} : { seedHash: this.#seedHash }),
        });
      }
      throw error;
    }
  }

  /** Sends one refresh grant, retrying timeouts, 5xx and 429 with backoff. */
  async #postRefresh(form: URLSearchParams): Promise<unknown> {
    const response = await withRetry(
      () =>
        this.#http.send({ method: "POST", path: this.#tokenPath, body: form }),
      {
        clock: this.#clock,
        maxAttempts: this.#maxAttempts,
        baseDelayMs: this.#baseDelayMs,
        maxDelayMs: 30_000,
        onRetry: (error, attempt, delayMs) => {
          const fields = { err: error, attempt, delayMs };
          const first = !this.#refreshFailing;
          this.#refreshFailing = true;
          this.#logger[first ? "warn" : "debug"](
            fields,
            "Tesla token refresh failed; retrying",
          );
        },
      },
    );
    if (this.#refreshFailing) {
      this.#refreshFailing = false;
      this.#logger.info("Tesla token refresh succeeds again");
    }
    return response.body;
  }

  /** Maps a failed refresh grant: a 400, 401 or 403 means the refresh token is dead. */
  #refreshError(error: unknown): unknown {
    if (error instanceof AuthError) {
      return new AuthError(
        "tesla",
        `Tesla rejected the refresh token: it was already used, has expired or was revoked. ${this.reauthHint}`,
        { cause: error },
      );
    }
    if (error instanceof RequestRejectedError && error.status === 400) {
      const code = oauthErrorCode(error.message) ?? "unknown error";
      return new AuthError(
        "tesla",
        `Tesla rejected the token refresh (HTTP 400, ${code}): the refresh token was already used, has expired or the client id is wrong. ${this.reauthHint}`,
        { cause: error },
      );
    }
    return error;
  }
}

/**
 * Reads `expires_in` as a positive number of seconds, from a number or a
 * numeric string. Returns undefined for anything else, 0 and negatives
 * included, and the caller then assumes DEFAULT_EXPIRES_IN_SECONDS: a token
 * that turns out to be expired earns a 401, which triggers a refresh.
 */
function tokenLifetimeSeconds(value: unknown): number | undefined {
  const seconds =
    typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0
    ? seconds
    : undefined;
}

/** Returns the SHA-256 of a token as hex, safe to store beside it. */
function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Finds the OAuth `error` code (such as "invalid_grant") in a rejection
 * message. VendorHttp puts the start of the response body into that
 * message and keeps no other copy of it.
 */
function oauthErrorCode(message: string): string | undefined {
  return /"error"\s*:\s*"([A-Za-z_]{1,64})"/.exec(message)?.[1];
}
