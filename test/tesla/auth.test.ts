import { readFile } from "node:fs/promises";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  AuthError,
  ConfigError,
  InvalidPayloadError,
  StateStoreError,
} from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import {
  FleetOAuthProvider,
  StaticTokenProvider,
  type FleetOAuthOptions,
} from "../../src/tesla/auth.js";
import {
  TokenStore,
  type StoredTeslaTokens,
  type TokenPersistence,
} from "../../src/tesla/token-store.js";
import {
  manualClock,
  temporaryDirectory,
  type ManualClock,
} from "./helpers.js";

const HOUR = 3_600_000;
const INITIAL_REFRESH = "auth-test-refresh-initial";

describe("StaticTokenProvider", () => {
  it("returns the fixed token", async () => {
    const provider = new StaticTokenProvider("teslemetry-token-0001");
    await expect(provider.accessToken()).resolves.toBe("teslemetry-token-0001");
  });

  it("has nothing new after a 401", async () => {
    const provider = new StaticTokenProvider("teslemetry-token-0001");
    await expect(
      provider.refreshAfterUnauthorized("teslemetry-token-0001"),
    ).resolves.toBe(false);
  });

  it("rejects an empty token", () => {
    expect(() => new StaticTokenProvider("  ")).toThrow(ConfigError);
  });

  it("re-reads a callback before every call", async () => {
    let reads = 0;
    const provider = new StaticTokenProvider(async () => {
      reads += 1;
      return `ha-fleet-token-${reads}`;
    });

    await expect(provider.accessToken()).resolves.toBe("ha-fleet-token-1");
    await expect(provider.accessToken()).resolves.toBe("ha-fleet-token-2");
    expect(reads).toBe(2);
  });

  it.each([
    ["changed", "ha-fleet-token-new", true],
    ["unchanged", "ha-fleet-token-old", false],
  ])(
    "reports a %s callback token after a 401",
    async (_name, current, expected) => {
      const provider = new StaticTokenProvider(async () => current);
      await expect(
        provider.refreshAfterUnauthorized("ha-fleet-token-old"),
      ).resolves.toBe(expected);
    },
  );

  it("rejects an empty callback token", async () => {
    const provider = new StaticTokenProvider(async () => "");
    await expect(provider.accessToken()).rejects.toBeInstanceOf(AuthError);
  });

  it.each([
    [
      "a fixed token",
      "teslemetry-token-0001",
      /tesla\.token \(TESLA_SYNC_TESLA_TOKEN\)/,
    ],
    [
      "a callback",
      async () => "ha-fleet-token-0001",
      /Tesla Fleet integration/,
    ],
  ])("gives reauth advice for %s", (_name, source, advice) => {
    expect(new StaticTokenProvider(source).reauthHint).toMatch(advice);
  });
});

/** A TokenPersistence that records events and can fail on demand. */
class RecordingStore implements TokenPersistence {
  saved: StoredTeslaTokens[] = [];
  failNextSaves = 0;
  constructor(
    readonly events: string[],
    public stored: StoredTeslaTokens | undefined = undefined,
  ) {}

  async load(): Promise<StoredTeslaTokens | undefined> {
    return this.stored;
  }

  async save(tokens: StoredTeslaTokens): Promise<void> {
    // Completes on a later turn of the event loop, as a disk write does, so
    // a caller that does not await the save would log its use first.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failNextSaves > 0) {
      this.failNextSaves -= 1;
      this.events.push("save failed");
      throw new StateStoreError("disk full");
    }
    this.events.push(`saved ${tokens.refreshToken}`);
    this.saved.push(tokens);
    this.stored = tokens;
  }
}

describe("FleetOAuthProvider", () => {
  let clock: ManualClock;
  let standIn: TeslaStandIn;
  let directory: { path: string; remove: () => Promise<void> };

  beforeEach(async () => {
    clock = manualClock();
    directory = await temporaryDirectory();
    standIn = await startTeslaStandIn({
      authMode: "fleet",
      clientId: "auth-test-client",
      initialRefreshToken: INITIAL_REFRESH,
      accessTokenTtlMs: 8 * HOUR,
      now: () => clock.now(),
    });
  });

  afterEach(async () => {
    await standIn.close();
    await directory.remove();
  });

  function provider(
    overrides: Partial<FleetOAuthOptions> = {},
  ): FleetOAuthProvider {
    return new FleetOAuthProvider({
      clientId: "auth-test-client",
      store: new TokenStore({ dataDir: directory.path }),
      logger: silentLogger,
      tokenUrl: standIn.tokenUrl,
      initialRefreshToken: INITIAL_REFRESH,
      clock,
      ...overrides,
    });
  }

  async function storedFile(): Promise<StoredTeslaTokens> {
    const store = new TokenStore({ dataDir: directory.path });
    const text = await readFile(store.path, "utf8");
    return JSON.parse(text) as StoredTeslaTokens;
  }

  it("names the refresh token setting", () => {
    expect(provider().reauthHint).toContain(
      "tesla.fleet.refreshToken (TESLA_SYNC_FLEET_REFRESH_TOKEN)",
    );
  });

  it("refreshes with the configured token first", async () => {
    const tokens = provider();
    const accessToken = await tokens.accessToken();

    expect(standIn.tokenGrants()).toBe(1);
    const stored = await storedFile();
    expect(stored.refreshToken).toBe(standIn.currentRefreshToken());
    expect(stored.accessToken).toBe(accessToken);
    expect(stored.accessTokenExpiresAt).toBe(clock.now() + 8 * HOUR);
  });

  it("reuses a valid access token", async () => {
    const tokens = provider();
    const first = await tokens.accessToken();
    clock.advance(7 * HOUR);

    await expect(tokens.accessToken()).resolves.toBe(first);
    expect(standIn.tokenGrants()).toBe(1);
  });

  it.each([
    ["6 minutes", 6, 1],
    ["4 minutes", 4, 2],
  ])(
    "refreshes %s before expiry only inside the margin",
    async (_name, minutes, grants) => {
      const tokens = provider();
      await tokens.accessToken();
      clock.advance(8 * HOUR - minutes * 60_000);
      await tokens.accessToken();

      expect(standIn.tokenGrants()).toBe(grants);
    },
  );

  it("shares one refresh among concurrent callers", async () => {
    const tokens = provider();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => tokens.accessToken()),
    );

    expect(new Set(results).size).toBe(1);
    expect(standIn.tokenGrants()).toBe(1);
    expect(tokens.refreshCount).toBe(1);
  });

  it("saves the rotated token before returning the access token", async () => {
    const events: string[] = [];
    const store = new RecordingStore(events);
    const tokens = provider({ store });
    const accessToken = await tokens.accessToken();
    events.push(`used ${accessToken}`);

    expect(events).toEqual([
      `saved ${standIn.currentRefreshToken()}`,
      `used ${accessToken}`,
    ]);
  });

  it("holds back the access token until a failed save succeeds", async () => {
    const events: string[] = [];
    const store = new RecordingStore(events);
    store.failNextSaves = 1;
    const tokens = provider({ store });

    await expect(tokens.accessToken()).rejects.toBeInstanceOf(StateStoreError);
    expect(store.saved).toEqual([]);
    const accessToken = await tokens.accessToken();

    expect(standIn.tokenGrants()).toBe(1);
    expect(events).toEqual([
      "save failed",
      `saved ${standIn.currentRefreshToken()}`,
    ]);
    expect(store.saved[0]?.accessToken).toBe(accessToken);
  });

  it("continues the stored chain after a restart", async () => {
    const before = provider();
    const accessToken = await before.accessToken();

    const after = provider();
    await expect(after.accessToken()).resolves.toBe(accessToken);
    expect(standIn.tokenGrants()).toBe(1);

    clock.advance(8 * HOUR);
    await after.accessToken();
    expect(standIn.tokenGrants()).toBe(2);
    expect((await storedFile()).refreshToken).toBe(
      standIn.currentRefreshToken(),
    );
  });

  it("prefers a newly configured refresh token", async () => {
    await provider().accessToken();
    const events: string[] = [];
    const stale: StoredTeslaTokens = {
      version: 1,
      refreshToken: "auth-test-refresh-from-old-sign-in",
      seedHash: "0".repeat(64),
      savedAt: new Date(clock.now()).toISOString(),
    };
    const store = new RecordingStore(events, stale);

    await provider({
      store,
      initialRefreshToken: standIn.currentRefreshToken(),
    }).accessToken();
    expect(standIn.tokenGrants()).toBe(2);
  });

  it("rejects a spent refresh token after one retry", async () => {
    await provider().accessToken();
    // A second provider without the store's chain still has the spent token.
    const events: string[] = [];
    const spent = provider({ store: new RecordingStore(events) });
    const error = await spent.accessToken().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/invalid_grant/);
    expect((error as Error).message).toMatch(/Sign in to Tesla again/);
    expect(clock.sleeps).toEqual([5000]);
    const tokenRequests = standIn.requests.filter(
      (request) => request.path === "/oauth2/v3/token",
    );
    expect(tokenRequests.map((request) => request.status)).toEqual([
      200, 400, 400,
    ]);
  });

  it("fails fast once the refresh token is dead", async () => {
    await provider().accessToken();
    const spent = provider({ store: new RecordingStore([]) });
    await expect(spent.accessToken()).rejects.toBeInstanceOf(AuthError);
    const requestsBefore = standIn.requests.length;

    await expect(spent.accessToken()).rejects.toBeInstanceOf(AuthError);
    expect(standIn.requests.length).toBe(requestsBefore);
  });

  it("recovers from a single rejected refresh", async () => {
    standIn.faults.arm({ kind: "unauthorized", pathIncludes: "oauth2" });
    const tokens = provider();

    await expect(tokens.accessToken()).resolves.toMatch(/^stand-in-access-/);
    expect(clock.sleeps).toEqual([5000]);
    expect(standIn.tokenGrants()).toBe(1);
  });

  it("retries a refresh answered 503", async () => {
    standIn.faults.arm({ kind: "unavailable", pathIncludes: "oauth2" });
    const tokens = provider({ baseDelayMs: 1000 });

    await expect(tokens.accessToken()).resolves.toMatch(/^stand-in-access-/);
    expect(clock.sleeps).toHaveLength(1);
    expect(standIn.tokenGrants()).toBe(1);
  });

  it("rejects a malformed token response", async () => {
    standIn.faults.arm({ kind: "wrong-shape", pathIncludes: "oauth2" });
    await expect(provider().accessToken()).rejects.toBeInstanceOf(
      InvalidPayloadError,
    );
  });

  it("rejects a wrong client id", async () => {
    const error = await provider({ clientId: "someone-else" })
      .accessToken()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/invalid_client/);
  });

  it("needs a refresh token from somewhere", async () => {
    const tokens = provider({ initialRefreshToken: undefined });
    await expect(tokens.accessToken()).rejects.toBeInstanceOf(AuthError);
    expect(standIn.requests).toEqual([]);
  });

  it("skips the refresh when another caller already renewed", async () => {
    const tokens = provider();
    const first = await tokens.accessToken();
    await tokens.refreshAfterUnauthorized(first);
    const second = await tokens.accessToken();

    await expect(tokens.refreshAfterUnauthorized(first)).resolves.toBe(true);
    expect(second).not.toBe(first);
    expect(standIn.tokenGrants()).toBe(2);
  });

  it("keeps tokens out of error messages", async () => {
    const tokens = provider();
    const accessToken = await tokens.accessToken();
    const spent = provider({ store: new RecordingStore([]) });
    const error = await spent.accessToken().catch((caught: unknown) => caught);

    const messages = [
      (error as Error).message,
      String(((error as Error).cause as Error).message),
    ];
    for (const message of messages) {
      expect(message).not.toContain(INITIAL_REFRESH);
      expect(message).not.toContain(standIn.currentRefreshToken());
      expect(message).not.toContain(accessToken);
    }
  });

  it.each([
    ["an empty client id", { clientId: " " }],
    ["an invalid token URL", { tokenUrl: "not a url" }],
  ])("rejects %s", (_name, overrides) => {
    expect(() => provider(overrides)).toThrow(ConfigError);
  });
});
