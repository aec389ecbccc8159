import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { Writable } from "node:stream";

import { afterEach, describe, expect, it } from "vitest";

import {
  AuthError,
  ConfigError,
  InvalidPayloadError,
  RateLimitedError,
  TariffInvalidError,
  UpstreamUnavailableError,
  WriteRejectedError,
} from "../../src/errors.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import type { FaultKind } from "../../src/standins/faults.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
  type TeslaStandInOptions,
} from "../../src/standins/tesla-server.js";
import {
  FleetOAuthProvider,
  StaticTokenProvider,
} from "../../src/tesla/auth.js";
import {
  TeslaClient,
  type TeslaClientOptions,
} from "../../src/tesla/client.js";
import {
  TokenStore,
  type StoredTeslaTokens,
} from "../../src/tesla/token-store.js";
import {
  manualClock,
  temporaryDirectory,
  type ManualClock,
} from "./helpers.js";

const TOKEN = "client-test-teslemetry-token";
const HOUR = 3_600_000;

let cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) {
    await cleanup();
  }
  cleanups = [];
});

interface Setup {
  standIn: TeslaStandIn;
  client: TeslaClient;
  clock: ManualClock;
}

/** Starts a Teslemetry-mode stand-in and a client on the same manual clock. */
async function setup(
  clientOptions: Partial<TeslaClientOptions> = {},
  standInOptions: Partial<TeslaStandInOptions> = {},
): Promise<Setup> {
  const clock = manualClock();
  const standIn = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TOKEN,
    now: () => clock.now(),
    ...standInOptions,
  });
  cleanups.push(() => standIn.close());
  const client = new TeslaClient({
    baseUrl: standIn.url,
    tokens: new StaticTokenProvider(TOKEN),
    logger: silentLogger,
    clock,
    random: () => 1,
    ...clientOptions,
  });
  return { standIn, client, clock };
}

/** Resolves to the error `promise` rejects with, or fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

const tariff = {
  version: 1,
  name: "Client test",
  energy_charges: {
    ALL: { rates: { ALL: 0 } },
    Year: { rates: { OFF_PEAK: 0.2 } },
  },
  seasons: {
    Year: {
      fromMonth: 1,
      fromDay: 1,
      toMonth: 12,
      toDay: 31,
      tou_periods: {
        OFF_PEAK: {
          periods: [
            {
              fromDayOfWeek: 0,
              toDayOfWeek: 6,
              fromHour: 0,
              fromMinute: 0,
              toHour: 0,
              toMinute: 0,
            },
          ],
        },
      },
    },
  },
};

describe("TeslaClient reads", () => {
  it("lists energy sites without the vehicle", async () => {
    const { standIn, client } = await setup({}, { sites: [{}, {}] });
    const sites = await client.listEnergySites();

    expect(sites.map((site) => site.energy_site_id)).toEqual(standIn.siteIds);
    expect(sites[0]?.resource_type).toBe("battery");
  });

  it("reads site_info", async () => {
    const { standIn, client } = await setup(
      {},
      { timeZone: "Australia/Brisbane" },
    );
    const info = await client.getSiteInfo(standIn.siteId);

    expect(info.installation_time_zone).toBe("Australia/Brisbane");
    expect(info.default_real_mode).toBe("autonomous");
    expect(info.tariff_content_v2).toHaveProperty("sell_tariff");
  });

  it("reads live_status", async () => {
    const { standIn, client } = await setup();
    const status = await client.getLiveStatus(standIn.siteId);

    expect(status.percentage_charged).toBeCloseTo(50, 0);
    expect(status.island_status).toBe("on_grid");
  });

  it("sends the Bearer token", async () => {
    const tokens: Array<string | undefined> = [];
    const { standIn, client } = await setup(
      {},
      { onRequest: (request) => void tokens.push(request.token) },
    );
    await client.getSiteInfo(String(standIn.siteId));
    expect(tokens).toEqual([TOKEN]);
  });

  it.each([
    ["a negative number", -1],
    ["text", "site-1"],
  ])("rejects %s as site id", async (_name, siteId) => {
    const { standIn, client } = await setup();
    await expect(client.getSiteInfo(siteId)).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(standIn.requests).toEqual([]);
  });
});

describe("TeslaClient writes", () => {
  it("uploads a tariff in tou_settings", async () => {
    const { standIn, client } = await setup();
    await client.setTariff(standIn.siteId, tariff);

    expect(standIn.writes.map((write) => [write.endpoint, write.body])).toEqual(
      [
        [
          "time_of_use_settings",
          { tou_settings: { tariff_content_v2: tariff } },
        ],
      ],
    );
    const info = await client.getSiteInfo(standIn.siteId);
    expect(info.tariff_content_v2).toEqual(tariff);
  });

  it("sends each setting as Tesla expects", async () => {
    const { standIn, client } = await setup();
    await client.setExportRule(standIn.siteId, "never");
    await client.setGridCharging(standIn.siteId, false);
    await client.setGridCharging(standIn.siteId, true);
    await client.setOperationMode(standIn.siteId, "self_consumption");
    await client.setBackupReserve(standIn.siteId, 25);

    expect(standIn.writes.map((write) => [write.endpoint, write.body])).toEqual(
      [
        ["grid_import_export", { customer_preferred_export_rule: "never" }],
        [
          "grid_import_export",
          { disallow_charge_from_grid_with_solar_installed: true },
        ],
        [
          "grid_import_export",
          { disallow_charge_from_grid_with_solar_installed: false },
        ],
        ["operation", { default_real_mode: "self_consumption" }],
        ["backup", { backup_reserve_percent: 25 }],
      ],
    );
    expect(standIn.state().settings).toEqual({
      operationMode: "self_consumption",
      backupReservePercent: 25,
      exportRule: "never",
      gridChargingAllowed: true,
    });
  });

  it.each<
    [
      string,
      (client: TeslaClient, siteId: number) => Promise<void>,
      typeof ConfigError | typeof TariffInvalidError,
    ]
  >([
    [
      "an unknown export rule",
      (client, siteId) => client.setExportRule(siteId, "always" as "never"),
      ConfigError,
    ],
    [
      "an unknown mode",
      (client, siteId) =>
        client.setOperationMode(siteId, "economics" as "backup"),
      ConfigError,
    ],
    [
      "a reserve above 100",
      (client, siteId) => client.setBackupReserve(siteId, 101),
      ConfigError,
    ],
    [
      "a reserve of NaN",
      (client, siteId) => client.setBackupReserve(siteId, Number.NaN),
      ConfigError,
    ],
    [
      "a tariff that is a list",
      (client, siteId) =>
        client.setTariff(siteId, [] as unknown as Record<string, unknown>),
      TariffInvalidError,
    ],
  ])("rejects %s before sending", async (_name, write, errorClass) => {
    const { standIn, client } = await setup();
    await expect(write(client, standIn.siteId)).rejects.toBeInstanceOf(
      errorClass,
    );
    expect(standIn.requests).toEqual([]);
  });

  it("treats result false as a rejected write", async () => {
    const { standIn, client } = await setup();
    const before = standIn.state().tariff;
    standIn.faults.arm({
      kind: "result-false",
      pathIncludes: "time_of_use_settings",
      reason: "Tariff overlaps itself",
    });
    const error = await failure(client.setTariff(standIn.siteId, tariff));

    expect(error).toBeInstanceOf(WriteRejectedError);
    expect((error as WriteRejectedError).reason).toBe("Tariff overlaps itself");
    expect(error.message).toContain("Tariff overlaps itself");
    expect(standIn.writes).toEqual([]);
    expect(standIn.state().tariff).toEqual(before);
    expect(client.counters()).toEqual({ "POST time_of_use_settings": 1 });
  });

  it.each([
    [
      { code: 412, message: "Energy site is offline" },
      "Energy site is offline",
    ],
    [{ code: 500 }, "code 500"],
  ])("treats body %o as a rejected write", async (outcome, reason) => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ response: outcome }));
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve),
    );
    cleanups.push(
      () => new Promise((resolve) => server.close(() => resolve())),
    );
    const address = server.address();
    const port =
      typeof address === "object" && address !== null ? address.port : 0;
    const client = new TeslaClient({
      baseUrl: `http://127.0.0.1:${port}`,
      tokens: new StaticTokenProvider(TOKEN),
      logger: silentLogger,
      clock: manualClock(),
    });
    const error = await failure(client.setBackupReserve(1, 20));

    expect(error).toBeInstanceOf(WriteRejectedError);
    expect((error as WriteRejectedError).reason).toBe(reason);
  });

  it("counts calls per endpoint and writes", async () => {
    const { standIn, client } = await setup();
    await client.listEnergySites();
    await client.getSiteInfo(standIn.siteId);
    await client.getSiteInfo(standIn.siteId);
    await client.getLiveStatus(standIn.siteId);
    await client.setTariff(standIn.siteId, tariff);
    await client.setExportRule(standIn.siteId, "pv_only");
    await client.setOperationMode(standIn.siteId, "autonomous");
    await client.setBackupReserve(standIn.siteId, 20);

    expect(client.counters()).toEqual({
      "GET products": 1,
      "GET site_info": 2,
      "GET live_status": 1,
      "POST time_of_use_settings": 1,
      "POST grid_import_export": 1,
      "POST operation": 1,
      "POST backup": 1,
    });
    expect(client.writeCount).toBe(4);
  });
});

describe("TeslaClient retries", () => {
  it("honours Retry-After exactly", async () => {
    const { standIn, client, clock } = await setup();
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 7 });
    await client.getSiteInfo(standIn.siteId);

    expect(clock.sleeps).toEqual([7000]);
    expect(client.counters()).toEqual({ "GET site_info": 2 });
  });

  it("waits out the stand-in's own rate limit", async () => {
    const { standIn, client, clock } = await setup();
    for (let index = 0; index < 30; index += 1) {
      await client.getLiveStatus(standIn.siteId);
    }
    clock.advance(20_000);
    await client.getLiveStatus(standIn.siteId);

    expect(clock.sleeps).toEqual([40_000]);
    expect(standIn.requests.map((request) => request.status).slice(-2)).toEqual(
      [429, 200],
    );
  });

  it("surfaces a Retry-After beyond the cap", async () => {
    const { standIn, client, clock } = await setup({ maxRetryAfterMs: 60_000 });
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 600 });
    const error = await failure(client.getSiteInfo(standIn.siteId));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(600_000);
    expect(clock.sleeps).toEqual([]);
  });

  it.each<[FaultKind]>([
    ["server-error"],
    ["unavailable"],
    ["rate-limit-no-headers"],
    ["reset"],
  ])("retries a read after %s", async (kind) => {
    const { standIn, client, clock } = await setup();
    standIn.faults.arm({ kind, count: 2 });
    await client.getLiveStatus(standIn.siteId);

    expect(clock.sleeps).toEqual([2000, 4000]);
    expect(client.counters()).toEqual({ "GET live_status": 3 });
  });

  it("gives up a read after three attempts", async () => {
    const { standIn, client } = await setup();
    standIn.faults.arm({ kind: "server-error", count: 3 });
    const error = await failure(client.getLiveStatus(standIn.siteId));

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as UpstreamUnavailableError).status).toBe(500);
    expect(client.counters()).toEqual({ "GET live_status": 3 });
  });

  it("retries a read that timed out", async () => {
    const { standIn, client } = await setup({ timeoutMs: 150 });
    standIn.faults.arm({ kind: "timeout" });
    await client.getSiteInfo(standIn.siteId);

    expect(client.counters()).toEqual({ "GET site_info": 2 });
  });

  it.each<[FaultKind, number]>([
    ["unavailable", 2],
    ["rate-limit", 2],
    ["server-error", 1],
    ["reset", 1],
  ])("after %s sends a write %i times", async (kind, sends) => {
    const { standIn, client } = await setup();
    standIn.faults.arm({
      kind,
      pathIncludes: "time_of_use_settings",
      retryAfterSeconds: 1,
    });
    const outcome = client.setTariff(standIn.siteId, tariff);

    if (sends === 1) {
      await expect(outcome).rejects.toBeInstanceOf(UpstreamUnavailableError);
      expect(standIn.writes).toEqual([]);
    } else {
      await outcome;
      expect(standIn.writes).toHaveLength(1);
    }
    expect(client.counters()).toEqual({ "POST time_of_use_settings": sends });
  });

  it("does not resend a write that timed out", async () => {
    const { standIn, client } = await setup({ timeoutMs: 150 });
    standIn.faults.arm({ kind: "timeout", pathIncludes: "backup" });

    await expect(
      client.setBackupReserve(standIn.siteId, 30),
    ).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(client.counters()).toEqual({ "POST backup": 1 });
  });

  it("resends a write after connection refused", async () => {
    const port = await closedPort();
    const clock = manualClock();
    const client = new TeslaClient({
      baseUrl: `http://127.0.0.1:${port}`,
      tokens: new StaticTokenProvider(TOKEN),
      logger: silentLogger,
      clock,
      random: () => 1,
    });

    await expect(
      client.setOperationMode(1, "autonomous"),
    ).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(client.counters()).toEqual({ "POST operation": 3 });
    expect(clock.sleeps).toEqual([2000, 4000]);
  });
});

describe("TeslaClient payload errors", () => {
  it.each<[FaultKind, string]>([
    ["malformed-json", "products"],
    ["wrong-shape", "products"],
    ["malformed-json", "site_info"],
    ["wrong-shape", "site_info"],
    ["wrong-shape", "live_status"],
    ["wrong-shape", "operation"],
  ])("rejects %s from %s", async (kind, endpoint) => {
    const { standIn, client } = await setup();
    standIn.faults.arm({ kind, pathIncludes: endpoint });
    const calls: Record<string, () => Promise<unknown>> = {
      products: () => client.listEnergySites(),
      site_info: () => client.getSiteInfo(standIn.siteId),
      live_status: () => client.getLiveStatus(standIn.siteId),
      operation: () => client.setOperationMode(standIn.siteId, "backup"),
    };
    const call = calls[endpoint];
    if (call === undefined) {
      throw new Error(`no call for ${endpoint}`);
    }

    await expect(call()).rejects.toBeInstanceOf(InvalidPayloadError);
    expect(Object.values(client.counters())).toEqual([1]);
  });

  it("names the region setting on HTTP 421", async () => {
    const { standIn, client } = await setup({}, { misdirected: true });
    const error = await failure(client.getSiteInfo(standIn.siteId));

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("HTTP 421");
    expect(error.message).toContain("tesla.fleet.region");
  });
});

describe("TeslaClient static token auth", () => {
  it("retries a single rejection after a pause", async () => {
    const { standIn, client, clock } = await setup();
    standIn.faults.arm({ kind: "unauthorized" });
    await client.getSiteInfo(standIn.siteId);

    expect(clock.sleeps).toEqual([5000]);
    expect(client.counters()).toEqual({ "GET site_info": 2 });
  });

  it("surfaces a second rejection as AuthError", async () => {
    const { standIn, client } = await setup();
    standIn.faults.arm({ kind: "unauthorized", count: 2 });
    const error = await failure(client.getSiteInfo(standIn.siteId));

    expect(error).toBeInstanceOf(AuthError);
    expect(error.message).toContain("Teslemetry");
    expect(client.counters()).toEqual({ "GET site_info": 2 });
  });

  it("retries a write once after a rejection", async () => {
    const { standIn, client } = await setup();
    standIn.faults.arm({
      kind: "unauthorized",
      pathIncludes: "grid_import_export",
    });
    await client.setExportRule(standIn.siteId, "never");

    expect(standIn.writes).toHaveLength(1);
    expect(client.counters()).toEqual({ "POST grid_import_export": 2 });
  });

  it("retries at once when a callback token changed", async () => {
    const { standIn, clock } = await setup(
      {},
      { token: "client-test-ha-token-new" },
    );
    // HA refreshes its token after the first read, as its integration does on expiry.
    let reads = 0;
    const client = new TeslaClient({
      baseUrl: standIn.url,
      tokens: new StaticTokenProvider(async () => {
        reads += 1;
        return reads === 1
          ? "client-test-ha-token-old"
          : "client-test-ha-token-new";
      }),
      logger: silentLogger,
      clock,
    });
    await client.getSiteInfo(standIn.siteId);

    expect(clock.sleeps).toEqual([]);
    expect(standIn.requests.map((request) => request.status)).toEqual([
      401, 200,
    ]);
  });
});

describe("TeslaClient fleet OAuth", () => {
  interface FleetSetup extends Setup {
    storePath: string;
    tokens: FleetOAuthProvider;
    /** For every API request: whether the store file had its token and the live refresh token. */
    checks: Array<{
      token: string | undefined;
      storedAccess: string | undefined;
      storedRefreshIsCurrent: boolean;
    }>;
  }

  async function setupFleet(): Promise<FleetSetup> {
    const clock = manualClock();
    const directory = await temporaryDirectory();
    cleanups.push(directory.remove);
    const store = new TokenStore({ dataDir: directory.path });
    const checks: FleetSetup["checks"] = [];
    // onRequest needs the stand-in, which exists only once it started.
    const started: { standIn?: TeslaStandIn } = {};

    const standIn = await startTeslaStandIn({
      authMode: "fleet",
      clientId: "client-test-fleet",
      initialRefreshToken: "client-test-refresh-initial",
      accessTokenTtlMs: 8 * HOUR,
      now: () => clock.now(),
      onRequest: (request) => {
        if (!request.path.startsWith("/api/")) {
          return;
        }
        // Read the store file at the moment the access token arrives.
        const stored = JSON.parse(
          readFileSync(store.path, "utf8"),
        ) as StoredTeslaTokens;
        checks.push({
          token: request.token,
          storedAccess: stored.accessToken,
          storedRefreshIsCurrent:
            stored.refreshToken === started.standIn?.currentRefreshToken(),
        });
      },
    });
    started.standIn = standIn;
    cleanups.push(() => standIn.close());

    const tokens = new FleetOAuthProvider({
      clientId: "client-test-fleet",
      store,
      logger: silentLogger,
      tokenUrl: standIn.tokenUrl,
      initialRefreshToken: "client-test-refresh-initial",
      clock,
    });
    const client = new TeslaClient({
      baseUrl: standIn.url,
      tokens,
      logger: silentLogger,
      clock,
      random: () => 1,
    });
    return { standIn, client, clock, storePath: store.path, tokens, checks };
  }

  it("saves each rotated token before using it", async () => {
    const { standIn, client, clock, checks } = await setupFleet();
    await client.getSiteInfo(standIn.siteId);
    clock.advance(8 * HOUR - 60_000);
    await client.getSiteInfo(standIn.siteId);

    expect(standIn.tokenGrants()).toBe(2);
    expect(checks).toHaveLength(2);
    for (const check of checks) {
      expect(check.storedAccess).toBe(check.token);
      expect(check.storedRefreshIsCurrent).toBe(true);
    }
    expect(checks[0]?.token).not.toBe(checks[1]?.token);
  });

  it("rejects the previous refresh token", async () => {
    const { standIn, client } = await setupFleet();
    await client.getSiteInfo(standIn.siteId);
    const reused = await fetch(standIn.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        client_id: "client-test-fleet",
        refresh_token: "client-test-refresh-initial",
      }).toString(),
    });
    expect(reused.status).toBe(400);
  });

  it("refreshes once after a 401 and retries", async () => {
    const { standIn, client, clock, checks } = await setupFleet();
    await client.getLiveStatus(standIn.siteId);
    standIn.expireAccessTokens();
    await client.getLiveStatus(standIn.siteId);

    expect(standIn.tokenGrants()).toBe(2);
    expect(client.counters()).toEqual({ "GET live_status": 3 });
    expect(clock.sleeps).toEqual([]);
    expect(checks.at(-1)?.storedAccess).toBe(checks.at(-1)?.token);
  });

  it("gives up after the retry is rejected too", async () => {
    const { standIn, client } = await setupFleet();
    await client.getLiveStatus(standIn.siteId);
    standIn.faults.arm({
      kind: "unauthorized",
      pathIncludes: "live_status",
      count: 2,
    });
    const error = await failure(client.getLiveStatus(standIn.siteId));

    expect(error).toBeInstanceOf(AuthError);
    expect(error.message).toContain("Sign in to Tesla again");
    expect(standIn.tokenGrants()).toBe(2);
  });

  it("refreshes once for concurrent calls", async () => {
    const { standIn, client, clock } = await setupFleet();
    await client.getLiveStatus(standIn.siteId);
    clock.advance(8 * HOUR);
    await Promise.all(
      Array.from({ length: 5 }, () => client.getLiveStatus(standIn.siteId)),
    );

    expect(standIn.tokenGrants()).toBe(2);
    expect(client.counters()).toEqual({ "GET live_status": 6 });
  });

  it("refreshes once for concurrent 401s", async () => {
    const { standIn, client } = await setupFleet();
    await client.getLiveStatus(standIn.siteId);
    standIn.expireAccessTokens();
    await Promise.all(
      Array.from({ length: 4 }, () => client.getLiveStatus(standIn.siteId)),
    );

    expect(standIn.tokenGrants()).toBe(2);
  });
});

describe("TeslaClient secrets", () => {
  it("keeps tokens out of error messages", async () => {
    const { standIn, client } = await setup({ timeoutMs: 150 });
    const scenarios: Array<[FaultKind, () => Promise<unknown>]> = [
      ["unauthorized", () => client.getSiteInfo(standIn.siteId)],
      ["server-error", () => client.getLiveStatus(standIn.siteId)],
      ["malformed-json", () => client.listEnergySites()],
      ["result-false", () => client.setTariff(standIn.siteId, tariff)],
      ["timeout", () => client.setBackupReserve(standIn.siteId, 10)],
    ];
    const messages: string[] = [];
    for (const [kind, call] of scenarios) {
      standIn.faults.clear();
      standIn.faults.arm({ kind, count: 3 });
      const error = await failure(call());
      messages.push(error.message);
      if (error.cause instanceof Error) {
        messages.push(error.cause.message);
      }
    }

    expect(messages.length).toBeGreaterThanOrEqual(scenarios.length);
    for (const message of messages) {
      expect(message).not.toContain(TOKEN);
    }
  });

  it("keeps tokens out of the log", async () => {
    const lines: string[] = [];
    const logger = captureLogger(lines);
    const { standIn, client } = await setup({ logger });
    standIn.faults.arm({ kind: "unavailable", count: 2 });
    await client.getSiteInfo(standIn.siteId);

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("logs the first failure at warn and recovery at info", async () => {
    const lines: string[] = [];
    const { standIn, client } = await setup({ logger: captureLogger(lines) });
    standIn.faults.arm({ kind: "unavailable", count: 2 });
    await client.getSiteInfo(standIn.siteId);

    const levels = lines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.level >= 30)
      .map((entry) => `${entry.level} ${entry.msg}`);
    expect(levels).toEqual([
      "40 Tesla request failed; retrying",
      "30 Tesla requests succeed again",
    ]);
  });
});

/** Returns a debug-level JSON logger that appends each line to `lines`. */
function captureLogger(lines: string[]): Logger {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  return createLogger({ level: "debug", format: "json", destination });
}

/** Returns a loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port =
    typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
