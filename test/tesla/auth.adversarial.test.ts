import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { inspect } from "node:util";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  AuthError,
  InvalidPayloadError,
  StateStoreError,
} from "../../src/errors.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import {
  FleetOAuthProvider,
  type FleetOAuthOptions,
} from "../../src/tesla/auth.js";
import { TeslaClient } from "../../src/tesla/client.js";
import {
  TokenStore,
  type StoredTeslaTokens,
  type TokenPersistence,
} from "../../src/tesla/token-store.js";
import {
  sendJson,
  startRawServer,
  type RawServer,
} from "../http/raw-server.js";
import {
  manualClock,
  temporaryDirectory,
  type ManualClock,
} from "./helpers.js";

const HOUR = 3_600_000;
const CLIENT_ID = "auth-adversarial-client";
const INITIAL_REFRESH = "auth-adversarial-refresh-initial";

let clock: ManualClock;
let standIn: TeslaStandIn;
let directory: { path: string; remove: () => Promise<void> };
const rawServers: RawServer[] = [];

beforeEach(async () => {
  clock = manualClock();
  directory = await temporaryDirectory();
  standIn = await startTeslaStandIn({
    authMode: "fleet",
    clientId: CLIENT_ID,
    initialRefreshToken: INITIAL_REFRESH,
    accessTokenTtlMs: 8 * HOUR,
    now: () => clock.now(),
    rateLimit: false,
  });
});

afterEach(async () => {
  await standIn.close();
  await Promise.all(rawServers.splice(0).map((server) => server.close()));
  await directory.remove();
});

function provider(
  overrides: Partial<FleetOAuthOptions> = {},
): FleetOAuthProvider {
  return new FleetOAuthProvider({
    clientId: CLIENT_ID,
    store: new TokenStore({ dataDir: directory.path }),
    logger: silentLogger,
    tokenUrl: standIn.tokenUrl,
    initialRefreshToken: INITIAL_REFRESH,
    clock,
    ...overrides,
  });
}

/**
 * Starts a token endpoint that rotates the refresh token like Tesla's, but
 * overrides the fields of each grant response with those `overrides` returns.
 */
async function startTokenServer(
  overrides: (grant: number) => Record<string, unknown>,
): Promise<{ url: string; refreshToken: () => string; grants: () => number }> {
  let current = INITIAL_REFRESH;
  let grants = 0;
  const server = await startRawServer((_request, response, index) => {
    const form = new URLSearchParams(server.requests[index]?.body ?? "");
    if (form.get("refresh_token") !== current) {
      sendJson(response, 400, { error: "invalid_grant" });
      return;
    }
    grants += 1;
    current = `auth-adversarial-refresh-${grants}`;
    sendJson(response, 200, {
      access_token: `auth-adversarial-access-${grants}`,
      refresh_token: current,
      expires_in: 28_800,
      ...overrides(grants),
    });
  });
  rawServers.push(server);
  return {
    url: `${server.url}/oauth2/v3/token`,
    refreshToken: () => current,
    grants: () => grants,
  };
}

async function stored(): Promise<StoredTeslaTokens> {
  const store = new TokenStore({ dataDir: directory.path });
  return JSON.parse(await readFile(store.path, "utf8")) as StoredTeslaTokens;
}

function capture(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = createLogger({
    level: "debug",
    format: "json",
    destination: stream,
  });
  return { logger, text: () => chunks.join("") };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("FleetOAuthProvider refresh races", () => {
  it("refreshes once for 50 concurrent 401s", async () => {
    const tokens = provider();
    const client = new TeslaClient({
      baseUrl: standIn.url,
      tokens,
      logger: silentLogger,
      clock,
    });
    await client.getLiveStatus(standIn.siteId);
    standIn.expireAccessTokens();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => client.getLiveStatus(standIn.siteId)),
    );

    expect(results).toHaveLength(50);
    expect(standIn.tokenGrants()).toBe(2);
    expect((await stored()).refreshToken).toBe(standIn.currentRefreshToken());
  });

  it("refreshes once for 401s that race a proactive refresh", async () => {
    const tokens = provider();
    const first = await tokens.accessToken();
    clock.advance(8 * HOUR - 60_000);
    const renewals = await Promise.all([
      tokens.accessToken(),
      ...Array.from({ length: 10 }, () =>
        tokens.refreshAfterUnauthorized(first),
      ),
    ]);

    expect(renewals.slice(1).every((renewed) => renewed)).toBe(true);
    expect(standIn.tokenGrants()).toBe(2);
  });
});

describe("FleetOAuthProvider without a refresh token", () => {
  it("keeps the old refresh token when none comes back", async () => {
    const server = await startTokenServer(() => ({
      refresh_token: undefined,
    }));
    const tokens = provider({ tokenUrl: server.url });
    const accessToken = await tokens.accessToken();

    expect(accessToken).toBe("auth-adversarial-access-1");
    expect((await stored()).refreshToken).toBe(INITIAL_REFRESH);
  });
});

describe("FleetOAuthProvider odd token responses", () => {
  it.each<[string, unknown, number]>([
    ["a numeric string", "3600", 3600 * 1000],
    ["zero", 0, 28_800 * 1000],
    ["a negative number", -60, 28_800 * 1000],
    ["a word", "soon", 28_800 * 1000],
    ["null", null, 28_800 * 1000],
  ])(
    "saves the rotated token when expires_in is %s",
    async (_name, expiresIn, lifetimeMs) => {
      const server = await startTokenServer(() => ({ expires_in: expiresIn }));
      const tokens = provider({ tokenUrl: server.url });
      const accessToken = await tokens.accessToken();
      const saved = await stored();

      expect(accessToken).toBe("auth-adversarial-access-1");
      expect(saved.refreshToken).toBe(server.refreshToken());
      expect(saved.accessTokenExpiresAt).toBe(clock.now() + lifetimeMs);
    },
  );

  it("saves the rotated token when access_token is missing", async () => {
    const server = await startTokenServer((grant) =>
      grant === 1 ? { access_token: undefined } : {},
    );
    const tokens = provider({ tokenUrl: server.url });
    const error = await failure(tokens.accessToken());
    const afterRestart = provider({ tokenUrl: server.url });
    const accessToken = await afterRestart.accessToken();

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect(accessToken).toBe("auth-adversarial-access-2");
    expect(server.grants()).toBe(2);
  });
});

describe("FleetOAuthProvider brief tokens", () => {
  it("does not refresh on every call when tokens live briefly", async () => {
    const server = await startTokenServer(() => ({ expires_in: 60 }));
    const tokens = provider({ tokenUrl: server.url });
    const first = await tokens.accessToken();
    const again = await tokens.accessToken();
    clock.advance(20_000);
    const later = await tokens.accessToken();

    expect(again).toBe(first);
    expect(later).toBe(first);
    expect(server.grants()).toBe(1);
  });

  it("refreshes a brief token in its second half", async () => {
    const server = await startTokenServer(() => ({ expires_in: 60 }));
    const tokens = provider({ tokenUrl: server.url });
    await tokens.accessToken();
    clock.advance(31_000);
    await tokens.accessToken();

    expect(server.grants()).toBe(2);
  });
});

describe("FleetOAuthProvider broken token files", () => {
  it("holds tokens while the data directory is unwritable", async () => {
    const blocker = join(directory.path, "not-a-directory");
    await writeFile(blocker, "x");
    const dataDir = join(blocker, "data");
    const tokens = provider({ store: new TokenStore({ dataDir }) });
    const error = await failure(tokens.accessToken());
    await rm(blocker);
    await mkdir(blocker);
    const accessToken = await tokens.accessToken();
    const saved = await new TokenStore({ dataDir }).load();

    expect(error).toBeInstanceOf(StateStoreError);
    expect(inspect(error, { depth: Infinity })).not.toContain(
      standIn.currentRefreshToken(),
    );
    expect(standIn.tokenGrants()).toBe(1);
    expect(saved?.accessToken).toBe(accessToken);
  });

  it.each<[string, string]>([
    ["torn JSON", `{"version":1,"refreshToken":"${INITIAL_REFRESH}`],
    ["a wrong shape", `{"version":2,"refreshToken":"${INITIAL_REFRESH}"}`],
    ["binary garbage", "\u0000\u00ff\u0001"],
  ])("reports %s and recovers once removed", async (_name, content) => {
    const store = new TokenStore({ dataDir: directory.path });
    await writeFile(store.path, content);
    const tokens = provider();
    const error = await failure(tokens.accessToken());
    await rm(store.path);
    const accessToken = await tokens.accessToken();

    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as Error).message).toContain(store.path);
    expect(inspect(error, { depth: Infinity })).not.toContain(INITIAL_REFRESH);
    expect(accessToken).toMatch(/^stand-in-access-/);
  });

  it("uses tokens saved just before a crash", async () => {
    /** Writes the file, then throws as if the process died before returning. */
    class CrashingStore implements TokenPersistence {
      readonly #inner = new TokenStore({ dataDir: directory.path });
      load(): Promise<StoredTeslaTokens | undefined> {
        return this.#inner.load();
      }
      async save(tokens: StoredTeslaTokens): Promise<void> {
        await this.#inner.save(tokens);
        throw new StateStoreError("killed after the write");
      }
    }
    const crashed = provider({ store: new CrashingStore() });
    await expect(crashed.accessToken()).rejects.toBeInstanceOf(StateStoreError);
    const restarted = provider();
    const accessToken = await restarted.accessToken();

    expect(standIn.tokenGrants()).toBe(1);
    expect((await stored()).accessToken).toBe(accessToken);
  });
});

describe("FleetOAuthProvider shared refresh tokens", () => {
  it("adopts the chain another instance rotated in the same store", async () => {
    const first = provider();
    const second = provider();
    await second.load();
    await first.accessToken();
    const secondToken = await second.accessToken();

    expect(secondToken).toMatch(/^stand-in-access-/);
    expect((await stored()).refreshToken).toBe(standIn.currentRefreshToken());
    expect(clock.sleeps).toEqual([]);
  });

  it("refreshes with the rotated token another instance saved", async () => {
    const first = provider();
    const second = provider();
    await second.load();
    await first.accessToken();
    clock.advance(8 * HOUR);
    const secondToken = await second.accessToken();
    const firstToken = await first.accessToken();

    expect(secondToken).toMatch(/^stand-in-access-/);
    expect(firstToken).toBe(secondToken);
    expect(standIn.tokenGrants()).toBe(2);
  });

  it("gives a clear error when two stores share one refresh token", async () => {
    const otherDirectory = await temporaryDirectory();
    try {
      await provider().accessToken();
      const other = provider({
        store: new TokenStore({ dataDir: otherDirectory.path }),
      });
      const error = await failure(other.accessToken());

      expect(error).toBeInstanceOf(AuthError);
      expect((error as Error).message).toContain("already used");
    } finally {
      await otherDirectory.remove();
    }
  });
});

describe("FleetOAuthProvider secrets", () => {
  it("keeps every token out of logs and errors", async () => {
    const { logger, text } = capture();
    const seen = new Set<string>([INITIAL_REFRESH]);
    const errors: unknown[] = [];
    const tokens = provider({ logger });
    seen.add(await tokens.accessToken());
    seen.add(standIn.currentRefreshToken());

    standIn.faults.arm({ kind: "server-error", pathIncludes: "oauth2" });
    standIn.faults.arm({ kind: "reset", pathIncludes: "oauth2" });
    clock.advance(8 * HOUR);
    seen.add(await tokens.accessToken());
    seen.add(standIn.currentRefreshToken());

    const spent = provider({
      logger,
      store: new TokenStore({ dataDir: join(directory.path, "other") }),
    });
    errors.push(await failure(spent.accessToken()));

    expect(text()).not.toBe("");
    for (const token of seen) {
      expect(text()).not.toContain(token);
      for (const error of errors) {
        expect(inspect(error, { depth: Infinity })).not.toContain(token);
      }
    }
  });
});
