/**
 * Secrets stay secret. The engine runs twice with known credentials: as
 * startService wires it (Fleet OAuth, dashboard login and the ingress
 * listener), and in HA mode against a fake Home Assistant. The credentials
 * are the Amber token, the Teslemetry token, the Fleet refresh token and
 * every token the Tesla stand-in issues, the HA token and the dashboard
 * password. The test provokes failures whose messages could carry a
 * credential: rejected tokens, malformed bodies, and error responses that
 * quote the request's Authorization header and body. Then it searches each
 * log line, each HTTP response of the status API and dashboard, each frame
 * sent to HA and each file in the data directory except the token store
 * for every credential.
 *
 * It also checks the file modes of the files that hold secrets, that
 * every standalone route but /health and the login page needs a login,
 * and that the ingress listener answers only its allowed addresses. That
 * HA's side of the bridge refuses non-admin users is tested in Python:
 * tests/components/tesla_sync/test_bridge.py, test_commands_require_admin.
 */
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { startHaMode, type HaMode } from "../../src/bridge/ha-mode.js";
import { resolveConfig } from "../../src/config/load.js";
import { startService, type RunningService } from "../../src/engine/service.js";
import {
  VirtualClock,
  yieldEventLoop,
} from "../../src/engine/virtual-clock.js";
import { createLogger, type Logger } from "../../src/log.js";
import { PUBLIC_ROUTES } from "../../src/server/access.js";
import { SESSION_COOKIE } from "../../src/server/sessions.js";
import type { WebServer } from "../../src/server/web-server.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  startTeslaStandIn,
  STAND_IN_TOKEN_PATH,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import { startFakeHa, type FakeHa } from "../bridge/fake-ha.js";
import { VendorGate } from "./gate.js";

const AMBER_TOKEN = "psk_security_amber_SECRET_0123456789";
const TESLEMETRY_TOKEN = "security-teslemetry-SECRET-0123456789";
const FLEET_CLIENT_ID = "security-client";
const FLEET_REFRESH_TOKEN = "security-fleet-refresh-SECRET-0123456789";
const DASHBOARD_PASSWORD = "security-dashboard-SECRET-password";
const HA_TOKEN = "security-ha-token-SECRET-0123456789";

/** Every standalone route that needs a login, as [method, path]. */
const GUARDED_ROUTES = [
  ["GET", "/"],
  ["GET", "/api/status"],
  ["GET", "/api/dashboard"],
  ["GET", "/api/history/prices"],
  ["GET", "/api/history/energy"],
  ["GET", "/api/history/syncs"],
  ["GET", "/api/events"],
  ["GET", "/assets/app.js"],
  ["POST", "/api/sync"],
  ["POST", "/api/auto-sync"],
  ["POST", "/api/controls/spike"],
  ["POST", "/api/controls/curtailment"],
  ["POST", "/api/controls/force"],
  ["POST", "/api/controls/force/cancel"],
  ["POST", "/logout"],
] as const;

/** Start of the virtual clock: Monday 2025-06-16 09:12:40 in Sydney. */
const START = Date.UTC(2025, 5, 15, 23, 12, 40);

/** Creates a logger at debug level that keeps its output as text. */
function textLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return {
    logger: createLogger({ destination, level: "debug" }),
    text: () => chunks.join(""),
  };
}

/** One HTTP exchange as the test saw it. */
interface Exchange {
  label: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface RequestOptions {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Source address for the connection, e.g. "127.0.0.2". */
  localAddress?: string;
  /** Stop reading after the first chunk: for the event stream. */
  firstChunkOnly?: boolean;
}

/** Sends one request with node:http and returns the whole response. */
function send(url: string, options: RequestOptions = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: options.method ?? "GET",
        headers: {
          ...(options.body === undefined
            ? {}
            : { "Content-Type": "application/json" }),
          ...options.headers,
        },
        ...(options.localAddress === undefined
          ? {}
          : { localAddress: options.localAddress }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        const finish = (): void => {
          resolve({
            label: `${options.method ?? "GET"} ${url}`,
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          });
        };
        response.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          if (options.firstChunkOnly === true) {
            request.destroy();
            finish();
          }
        });
        response.on("end", finish);
        response.on("error", () => finish());
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });
}

/** Returns every file under `directory`, recursively. */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(directory, entry.name);
      return entry.isDirectory() ? filesUnder(path) : Promise.resolve([path]);
    }),
  );
  return nested.flat();
}

/** Lists "where: secret" for each secret found in each text. */
function leaks(
  places: ReadonlyArray<{ where: string; text: string }>,
  secrets: readonly string[],
): string[] {
  return places.flatMap(({ where, text }) =>
    secrets
      .filter((secret) => text.includes(secret))
      .map((secret) => `${where}: ${secret.slice(0, 12)}…`),
  );
}

/** Lets `work` finish while the virtual clock moves on 1 s per step. */
async function whileAdvancing<T>(
  clock: VirtualClock,
  work: Promise<T>,
): Promise<T> {
  let done = false;
  const tracked = work.finally(() => {
    done = true;
  });
  while (!done) {
    await clock.advance(1_000, { settle: () => yieldEventLoop(5) });
  }
  return tracked;
}

describe("standalone engine", () => {
  let clock: VirtualClock;
  let amber: AmberStandIn;
  let tesla: TeslaStandIn;
  let gates: { amber: VendorGate; tesla: VendorGate };
  let dataDir: string;
  let service: RunningService;
  let logText: () => string;
  const exchanges: Exchange[] = [];
  /** Responses to requests without a session, by "METHOD /path". */
  const anonymous = new Map<string, Exchange>();
  const ingressAnswers: { other?: Exchange; allowed?: Exchange } = {};
  /** Every token the Tesla stand-in saw or issued, collected as they pass. */
  const teslaTokens = new Set<string>();
  let secrets: string[] = [];

  beforeAll(async () => {
    clock = new VirtualClock(START);
    const now = (): number => clock.now();
    amber = await startAmberStandIn({ token: AMBER_TOKEN, now });
    tesla = await startTeslaStandIn({
      authMode: "fleet",
      clientId: FLEET_CLIENT_ID,
      initialRefreshToken: FLEET_REFRESH_TOKEN,
      now,
      rateLimit: false,
      onRequest: (request) => {
        if (request.token !== undefined) {
          teslaTokens.add(request.token);
        }
        const refresh = new URLSearchParams(request.body).get("refresh_token");
        if (refresh !== null && refresh !== "") {
          teslaTokens.add(refresh);
        }
      },
    });
    gates = {
      amber: await VendorGate.start(new URL(amber.restUrl).origin),
      tesla: await VendorGate.start(tesla.url),
    };
    dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-security-"));
    const log = textLogger();
    logText = log.text;
    const config = resolveConfig(
      {
        amber: {
          token: AMBER_TOKEN,
          restUrl: gates.amber.rewrite(amber.restUrl),
          liveFeed: false,
        },
        tesla: {
          auth: "fleet",
          baseUrl: gates.tesla.origin,
          fleet: {
            clientId: FLEET_CLIENT_ID,
            refreshToken: FLEET_REFRESH_TOKEN,
            tokenUrl: gates.tesla.rewrite(tesla.tokenUrl),
          },
        },
        dataDir,
        sync: { scheduleJitterSeconds: 0 },
        server: { port: 0 },
        dashboard: {
          password: DASHBOARD_PASSWORD,
          ingress: true,
          ingressHost: "127.0.0.1",
          ingressPort: 0,
          ingressAllowedAddresses: ["127.0.0.2"],
          energySampleSeconds: 0,
        },
      },
      {},
      "the security test configuration",
    );
    service = await startService({ config, logger: log.logger, clock });
    const server = service.server as WebServer;
    const base = server.url;

    // A wrong password, then the right one.
    exchanges.push(
      await send(`${base}/login`, {
        method: "POST",
        body: JSON.stringify({ password: `${DASHBOARD_PASSWORD}-wrong` }),
      }),
    );
    const login = await send(`${base}/login`, {
      method: "POST",
      body: JSON.stringify({ password: DASHBOARD_PASSWORD }),
    });
    exchanges.push(login);
    const setCookie = login.headers["set-cookie"] ?? [];
    const cookie =
      (Array.isArray(setCookie) ? setCookie : [setCookie])
        .map((line) => line.split(";")[0] ?? "")
        .find((pair) => pair.startsWith(`${SESSION_COOKIE}=`)) ?? "";
    const dashboard = await send(`${base}/api/dashboard`, {
      headers: { Cookie: cookie },
    });
    exchanges.push(dashboard);
    const csrf = String(
      (JSON.parse(dashboard.body) as { access?: { csrfToken?: unknown } })
        .access?.csrfToken ?? "",
    );
    const syncNow = async (): Promise<void> => {
      exchanges.push(
        await whileAdvancing(
          clock,
          send(`${base}/api/sync`, {
            method: "POST",
            headers: { Cookie: cookie, "X-CSRF-Token": csrf },
            body: "{}",
          }),
        ),
      );
      // The manual write floor is 60 s.
      await clock.advance(61_000, { settle: () => yieldEventLoop(5) });
    };

    // Amber: an error body quoting the bearer token, a rejected token and
    // a body that is not JSON.
    gates.amber.echoCredentials(1);
    await syncNow();
    amber.faults.arm({ kind: "unauthorized" });
    await syncNow();
    amber.faults.arm({ kind: "malformed-json" });
    await syncNow();

    // Tesla: an upload rejected with the access token quoted, then an
    // expired access token whose refresh is rejected with the refresh
    // token quoted (retried once after a pause, then accepted).
    amber.setPattern("volatile");
    gates.tesla.echoCredentials(1, "time_of_use_settings");
    await syncNow();
    tesla.expireAccessTokens();
    gates.tesla.echoCredentials(1, STAND_IN_TOKEN_PATH);
    await syncNow();
    tesla.faults.arm({ kind: "malformed-json", pathIncludes: "site_info" });
    await syncNow();

    for (const path of [
      "/",
      "/api/status",
      "/api/dashboard",
      "/api/history/prices",
      "/api/history/energy",
      "/api/history/syncs",
      "/login",
      "/health",
    ]) {
      exchanges.push(
        await send(`${base}${path}`, { headers: { Cookie: cookie } }),
      );
    }
    exchanges.push(
      await send(`${base}/api/events`, {
        headers: { Cookie: cookie },
        firstChunkOnly: true,
      }),
    );
    const ingress = server.ingress?.url ?? "";
    for (const path of ["/", "/api/status", "/api/dashboard"]) {
      exchanges.push(
        await send(`${ingress}${path}`, { localAddress: "127.0.0.2" }),
      );
    }
    ingressAnswers.other = await send(`${ingress}/api/status`, {
      localAddress: "127.0.0.1",
    });
    ingressAnswers.allowed = await send(`${ingress}/api/status`, {
      localAddress: "127.0.0.2",
    });

    // Without a session cookie.
    const anonymousRoutes: ReadonlyArray<readonly ["GET" | "POST", string]> = [
      ...GUARDED_ROUTES,
      ["GET", "/health"],
    ];
    for (const [method, path] of anonymousRoutes) {
      anonymous.set(
        `${method} ${path}`,
        await send(`${base}${path}`, {
          method,
          ...(method === "POST" ? { body: "{}" } : {}),
          firstChunkOnly: path === "/api/events",
        }),
      );
    }

    await service.stop();
    teslaTokens.add(tesla.currentRefreshToken());
    secrets = [
      AMBER_TOKEN,
      FLEET_REFRESH_TOKEN,
      DASHBOARD_PASSWORD,
      ...teslaTokens,
    ];
  }, 120_000);

  afterAll(async () => {
    await service.stop();
    await Promise.allSettled([
      gates.amber.close(),
      gates.tesla.close(),
      amber.close(),
      tesla.close(),
    ]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("sent every quoting error response", () => {
    expect(gates.amber.pendingEchoes).toBe(0);
    expect(gates.tesla.pendingEchoes).toBe(0);
  });

  it("saw rotated tokens", () => {
    // The stand-in issued tokens beyond the configured refresh token,
    // so the searches below cover rotated credentials too.
    expect(teslaTokens.size).toBeGreaterThan(3);
  });

  it("keeps secrets out of the log", () => {
    expect(logText()).toContain("Sync failed");
    expect(leaks([{ where: "log", text: logText() }], secrets)).toEqual([]);
  });

  it("keeps secrets out of responses", () => {
    const places = exchanges.map((exchange) => ({
      where: exchange.label,
      text: `${JSON.stringify(exchange.headers)}\n${exchange.body}`,
    }));

    expect(exchanges.some((exchange) => exchange.body.includes("failed"))).toBe(
      true,
    );
    expect(leaks(places, secrets)).toEqual([]);
  });

  it("keeps secrets out of state files", async () => {
    const files = (await filesUnder(dataDir)).filter(
      (path) => !path.endsWith("tesla-tokens.json"),
    );
    const places = await Promise.all(
      files.map(async (path) => ({
        where: path,
        text: (await readFile(path)).toString("latin1"),
      })),
    );

    expect(files.some((path) => path.endsWith("engine-state.json"))).toBe(true);
    expect(files.some((path) => path.endsWith("history.sqlite"))).toBe(true);
    expect(leaks(places, secrets)).toEqual([]);
  });

  it("stores the tokens with mode 0600", async () => {
    const path = join(dataDir, "tesla-tokens.json");
    const stored = JSON.parse(await readFile(path, "utf8")) as {
      refreshToken: string;
    };

    expect(stored.refreshToken).toBe(tesla.currentRefreshToken());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("writes the engine state with mode 0600", async () => {
    const path = join(dataDir, "engine-state.json");

    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("writes control state with mode 0600", async () => {
    const controlFiles = (await readdir(dataDir)).filter((name) =>
      /^(spike|curtailment|force|custom-schedule)/.test(name),
    );

    for (const name of controlFiles) {
      expect((await stat(join(dataDir, name))).mode & 0o777).toBe(0o600);
    }
  });

  it("keeps the public routes to login and health", () => {
    expect([...PUBLIC_ROUTES].sort()).toEqual([
      "GET /assets/app.css",
      "GET /assets/icon.svg",
      "GET /assets/login.js",
      "GET /health",
      "GET /login",
      "POST /login",
    ]);
  });

  it.each(GUARDED_ROUTES)("needs a login for %s %s", (method, path) => {
    const answer = anonymous.get(`${method} ${path}`);

    expect([401, 302]).toContain(answer?.status);
    if (answer?.status === 302) {
      expect(answer.headers["location"]).toBe("/login");
    }
  });

  it("answers /health without a login", () => {
    expect(anonymous.get("GET /health")?.status).toBe(200);
  });

  it("rejects other addresses on ingress", () => {
    expect(ingressAnswers.other?.status).toBe(403);
    expect(ingressAnswers.allowed?.status).toBe(200);
  });
});

describe("HA mode", () => {
  let fake: FakeHa;
  let amber: AmberStandIn;
  let tesla: TeslaStandIn;
  let amberGate: VendorGate;
  let dataDir: string;
  let mode: HaMode | undefined;
  let logText: () => string;
  const secrets = [AMBER_TOKEN, TESLEMETRY_TOKEN, HA_TOKEN];

  beforeAll(async () => {
    fake = await startFakeHa({ token: HA_TOKEN });
    amber = await startAmberStandIn({ token: AMBER_TOKEN, rateLimit: 1_000 });
    amberGate = await VendorGate.start(new URL(amber.restUrl).origin);
    tesla = await startTeslaStandIn({
      authMode: "teslemetry",
      token: TESLEMETRY_TOKEN,
      rateLimit: false,
    });
    dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-security-ha-"));
    fake.handle("tesla_sync/config", () => ({
      result: {
        amber: {
          token: AMBER_TOKEN,
          site_id: amber.sites[0]?.id,
          nmi: amber.sites[0]?.nmi,
        },
        tesla: {
          access_kind: "teslemetry",
          token: TESLEMETRY_TOKEN,
          energy_site_id: tesla.siteId,
        },
        options: { forecast_band: "predicted", auto_sync: true },
      },
    }));
    const log = textLogger();
    logText = log.text;
    mode = await startHaMode({
      settings: {
        kind: "standalone",
        wsUrl: fake.url,
        token: HA_TOKEN,
        entryId: undefined,
        authHint: "",
      },
      env: {
        TESLA_SYNC_AMBER_REST_URL: amberGate.rewrite(amber.restUrl),
        TESLA_SYNC_AMBER_LIVE_FEED: "false",
        TESLA_SYNC_TESLA_BASE_URL: tesla.url,
        TESLA_SYNC_DATA_DIR: dataDir,
        TESLA_SYNC_PORT: "0",
      },
      logger: log.logger,
      engineVersion: "0.1.0-test",
    });
    const running = mode;
    await vi.waitFor(
      () => {
        expect(running.service).toBeDefined();
      },
      { timeout: 20_000, interval: 50 },
    );

    // Failures that could carry a token: an error body quoting the
    // bearer token, then a rejected token, which HA hears about.
    let request = 0;
    const syncNow = async (): Promise<void> => {
      request += 1;
      const mark = fake.received.length;
      fake.pushCommand({
        command: "service_call",
        request_id: `security-${request}`,
        service: "sync_now",
        data: {},
      });
      await fake.nextFrame("tesla_sync/command_result", mark);
    };
    amberGate.echoCredentials(1);
    await syncNow();
    amber.faults.arm({ kind: "unauthorized" });
    await syncNow();
    await vi.waitFor(
      () => {
        expect(fake.framesOf("tesla_sync/auth_failed").length).toBeGreaterThan(
          0,
        );
      },
      { timeout: 10_000, interval: 50 },
    );
    await vi.waitFor(
      () => {
        expect(fake.framesOf("tesla_sync/update").length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    await mode.stop();
  }, 120_000);

  afterAll(async () => {
    await mode?.stop();
    await fake.stop();
    await Promise.allSettled([amberGate.close(), amber.close(), tesla.close()]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("sent the quoting error response", () => {
    expect(amberGate.pendingEchoes).toBe(0);
  });

  it("keeps secrets out of frames to HA", () => {
    const places = fake.received.map((frame) => ({
      where: `frame ${frame.type}`,
      text: JSON.stringify(frame),
    }));

    expect(fake.framesOf("tesla_sync/update").length).toBeGreaterThan(0);
    expect(leaks(places, secrets)).toEqual([]);
  });

  it("keeps secrets out of the log", () => {
    expect(logText()).toContain("rejected");
    expect(leaks([{ where: "log", text: logText() }], secrets)).toEqual([]);
  });

  it("writes a generated password hash with mode 0600", async () => {
    // No dashboard password is configured here, so the engine made one.
    const path = join(dataDir, "dashboard-password.json");

    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("keeps secrets out of state files", async () => {
    const files = await filesUnder(dataDir);
    const places = await Promise.all(
      files.map(async (path) => ({
        where: path,
        text: (await readFile(path)).toString("latin1"),
      })),
    );

    expect(files.length).toBeGreaterThan(0);
    expect(leaks(places, secrets)).toEqual([]);
  });
});
