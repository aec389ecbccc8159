import { EventEmitter } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type {
  EngineEvents,
  StatusSnapshot,
  SyncResult,
  SyncTrigger,
} from "../../src/engine/types.js";
import { VirtualClock } from "../../src/engine/virtual-clock.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { captureLog, LEVELS } from "../bridge/log-capture.js";
import type { DashboardControls } from "../../src/server/controls.js";
import {
  startWebServer,
  type WebServer,
  type WebServerOptions,
} from "../../src/server/web-server.js";

const PASSWORD = "correct-horse-battery";
const T0 = Date.UTC(2025, 5, 16, 0, 2, 0);

function snapshot(): StatusSnapshot {
  return {
    mode: "demo",
    autoSync: true,
    amberSiteId: "01SITE",
    teslaSiteId: "1001",
    timeZone: "Australia/Sydney",
    timeZoneSource: "site_info",
    nextSyncAt: null,
    deferredSyncAt: null,
    lastSync: null,
    lastUpload: null,
    lastConfirmation: null,
    live: { state: "off" },
    counters: {
      day: "2025-06-16",
      today: {
        syncs: 0,
        uploads: 0,
        teslaWrites: 0,
        teslaCalls: 0,
        amberCalls: 0,
      },
      amber: {},
      tesla: {},
    },
    slots: [],
    slotsBuiltAt: null,
    log: [],
  };
}

class FakeEngine extends EventEmitter<EngineEvents> {
  autoSync = true;
  syncs: SyncTrigger[] = [];

  status(): StatusSnapshot {
    return { ...snapshot(), autoSync: this.autoSync };
  }

  async syncNow(trigger: SyncTrigger): Promise<SyncResult> {
    this.syncs.push(trigger);
    return {
      outcome: "unchanged",
      reason: "nothing moved",
      trigger,
      at: new Date(T0).toISOString(),
      writes: 0,
    };
  }

  setAutoSync(enabled: boolean): void {
    this.autoSync = enabled;
  }
}

let assetsDir: string;
let dataDir: string;
let engine: FakeEngine;
let server: WebServer | undefined;

beforeAll(async () => {
  assetsDir = await mkdtemp(join(tmpdir(), "dashboard-assets-"));
  await writeFile(join(assetsDir, "app.js"), "/* app */");
  await writeFile(join(assetsDir, "login.js"), "/* login */");
  await writeFile(join(assetsDir, "app.css"), "/* css */");
});

afterAll(async () => {
  await rm(assetsDir, { recursive: true, force: true });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

async function start(
  overrides: Partial<WebServerOptions> = {},
): Promise<WebServer> {
  dataDir = await mkdtemp(join(tmpdir(), "dashboard-data-"));
  engine = new FakeEngine();
  server = await startWebServer({
    engine,
    logger: silentLogger,
    engineMode: "demo",
    dataDir,
    port: 0,
    assetsDir,
    ...overrides,
  });
  return server;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends a request with full control of headers and the local address. */
function send(
  port: number,
  method: string,
  path: string,
  options: {
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        headers: options.headers ?? {},
        ...(options.localAddress === undefined
          ? {}
          : { localAddress: options.localAddress }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });
}

const JSON_HEADERS = { "Content-Type": "application/json" };

async function login(
  web: WebServer,
  headers: Record<string, string> = {},
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const reply = await send(web.port, "POST", "/login", {
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ password: PASSWORD }),
  });
  expect(reply.status).toBe(200);
  const setCookie = String(reply.headers["set-cookie"] ?? "");
  const cookie = setCookie.split(";")[0] ?? "";
  const dashboard = await send(web.port, "GET", "/api/dashboard", {
    headers: { Cookie: cookie },
  });
  const body = JSON.parse(dashboard.body) as {
    access: { csrfToken: string };
  };
  return { cookie, csrf: body.access.csrfToken, setCookie };
}

describe("web server in open demo mode", () => {
  it("renders placeholders before the script", async () => {
    const web = await start();
    const page = await send(web.port, "GET", "/");

    expect(page.body).toContain('<span id="price-buy">…</span>');
    expect(page.body).toContain('<main aria-busy="true">');
    expect(page.body).not.toContain("Not set up in this engine");
  });

  it.each([
    [true, '<input type="checkbox" id="auto-sync" checked>'],
    [false, '<input type="checkbox" id="auto-sync">'],
  ])("renders auto-sync %s", async (enabled, input) => {
    const web = await start();
    engine.autoSync = enabled;

    const page = await send(web.port, "GET", "/");

    expect(page.body).toContain(input);
  });

  it("logs its address once", async () => {
    const log = captureLog();
    const web = await start({ logger: log.logger });

    const lines = log.lines.filter(
      (line) => line.level >= LEVELS.info && line.msg.includes(web.url),
    );

    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toContain("Dashboard at");
  });

  it("serves the page without login", async () => {
    const web = await start();
    const page = await send(web.port, "GET", "/");

    expect(web.access).toBe("open");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<base href="/">');
    expect(page.body).toContain("listens on 127.0.0.1 only");
    expect(page.headers["content-security-policy"]).toContain(
      "script-src 'self'",
    );
  });

  it("runs a sync without a token", async () => {
    const web = await start();
    const reply = await send(web.port, "POST", "/api/sync", {
      headers: JSON_HEADERS,
      body: "{}",
    });

    expect(reply.status).toBe(200);
    expect(engine.syncs).toEqual(["manual"]);
  });

  it.each([
    ["a foreign Origin", { Origin: "http://evil.example" }],
    ["a cross-site fetch", { "Sec-Fetch-Site": "cross-site" }],
  ])("rejects a POST from %s", async (_name, headers) => {
    const web = await start();
    const reply = await send(web.port, "POST", "/api/sync", {
      headers: { ...JSON_HEADERS, ...headers },
      body: "{}",
    });

    expect(reply.status).toBe(403);
    expect(engine.syncs).toEqual([]);
  });

  it("accepts a same-origin POST", async () => {
    const web = await start();
    const reply = await send(web.port, "POST", "/api/auto-sync", {
      headers: {
        ...JSON_HEADERS,
        Origin: `http://127.0.0.1:${web.port}`,
        Host: `127.0.0.1:${web.port}`,
      },
      body: JSON.stringify({ enabled: false }),
    });

    expect(reply.status).toBe(200);
    expect(engine.autoSync).toBe(false);
  });

  it("refuses the demo off loopback", async () => {
    await expect(start({ host: "0.0.0.0" })).rejects.toThrow(ConfigError);
  });

  it("serves the built assets", async () => {
    const web = await start();
    const reply = await send(web.port, "GET", "/assets/app.js");

    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/javascript/);
    expect(reply.body).toBe("/* app */");
  });
});

describe("web server with login", () => {
  it.each([
    ["GET", "/api/status"],
    ["GET", "/api/dashboard"],
    ["GET", "/api/history/prices"],
    ["GET", "/api/events"],
    ["POST", "/api/sync"],
    ["POST", "/api/auto-sync"],
    ["GET", "/api/no-such-route"],
  ])("answers %s %s with 401", async (method, path) => {
    const web = await start({ password: PASSWORD });
    const reply = await send(
      web.port,
      method,
      path,
      method === "POST" ? { headers: JSON_HEADERS, body: "{}" } : {},
    );

    expect(reply.status).toBe(401);
    expect(JSON.parse(reply.body)).toHaveProperty("error");
    expect(engine.syncs).toEqual([]);
  });

  it.each([["/"], ["/assets/app.js"], ["/anything"]])(
    "redirects %s to the login page",
    async (path) => {
      const web = await start({ password: PASSWORD });
      const reply = await send(web.port, "GET", path);

      expect(reply.status).toBe(302);
      expect(reply.headers["location"]).toBe("/login");
    },
  );

  it.each([["/health"], ["/login"], ["/assets/login.js"], ["/assets/app.css"]])(
    "serves %s without login",
    async (path) => {
      const web = await start({ password: PASSWORD });
      expect((await send(web.port, "GET", path)).status).toBe(200);
    },
  );

  it("sets a strict session cookie", async () => {
    const web = await start({ password: PASSWORD });
    const { setCookie } = await login(web);

    expect(setCookie).toMatch(/^tesla_sync_session=[\w-]{43}; /);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Max-Age=43200");
    expect(setCookie).not.toContain("Secure");
  });

  it("marks the cookie Secure behind HTTPS", async () => {
    const web = await start({ password: PASSWORD });
    const { setCookie } = await login(web, { "X-Forwarded-Proto": "https" });

    expect(setCookie).toContain("Secure");
  });

  it("serves the API after login", async () => {
    const web = await start({ password: PASSWORD });
    const { cookie } = await login(web);
    const reply = await send(web.port, "GET", "/api/status", {
      headers: { Cookie: cookie },
    });

    expect(reply.status).toBe(200);
  });

  it.each([
    ["no token", {}],
    ["a wrong token", { "X-CSRF-Token": "wrong" }],
  ])("rejects a POST with %s", async (_name, headers) => {
    const web = await start({ password: PASSWORD });
    const { cookie } = await login(web);
    const reply = await send(web.port, "POST", "/api/sync", {
      headers: { ...JSON_HEADERS, Cookie: cookie, ...headers },
      body: "{}",
    });

    expect(reply.status).toBe(403);
    expect(engine.syncs).toEqual([]);
  });

  it("accepts a POST with the token", async () => {
    const web = await start({ password: PASSWORD });
    const { cookie, csrf } = await login(web);
    const reply = await send(web.port, "POST", "/api/sync", {
      headers: { ...JSON_HEADERS, Cookie: cookie, "X-CSRF-Token": csrf },
      body: "{}",
    });

    expect(reply.status).toBe(200);
    expect(engine.syncs).toEqual(["manual"]);
  });

  it("rejects a foreign Origin with the token", async () => {
    const web = await start({ password: PASSWORD });
    const { cookie, csrf } = await login(web);
    const reply = await send(web.port, "POST", "/api/sync", {
      headers: {
        ...JSON_HEADERS,
        Cookie: cookie,
        "X-CSRF-Token": csrf,
        Origin: "http://evil.example",
      },
      body: "{}",
    });

    expect(reply.status).toBe(403);
  });

  it("rejects a wrong password", async () => {
    const web = await start({ password: PASSWORD });
    const reply = await send(web.port, "POST", "/login", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ password: "wrong-password" }),
    });

    expect(reply.status).toBe(401);
    expect(reply.headers["set-cookie"]).toBeUndefined();
  });

  it("answers the sixth wrong password with 429", async () => {
    const web = await start({ password: PASSWORD });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const reply = await send(web.port, "POST", "/login", {
        headers: JSON_HEADERS,
        body: JSON.stringify({ password: "wrong-password" }),
      });
      statuses.push(reply.status);
    }
    const locked = await send(web.port, "POST", "/login", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ password: PASSWORD }),
    });

    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  });

  it("ends the session on logout", async () => {
    const web = await start({ password: PASSWORD });
    const { cookie, csrf } = await login(web);
    await send(web.port, "POST", "/logout", {
      headers: { ...JSON_HEADERS, Cookie: cookie, "X-CSRF-Token": csrf },
      body: "{}",
    });
    const reply = await send(web.port, "GET", "/api/status", {
      headers: { Cookie: cookie },
    });

    expect(reply.status).toBe(401);
  });

  it("expires the session", async () => {
    const clock = new VirtualClock(T0);
    const web = await start({
      password: PASSWORD,
      clock,
      sessionTtlMs: 60_000,
      history: false,
    });
    const { cookie } = await login(web);
    clock.set(T0 + 60_000);
    const reply = await send(web.port, "GET", "/api/status", {
      headers: { Cookie: cookie },
    });

    expect(reply.status).toBe(401);
  });

  it("rejects a login body that is not a password", async () => {
    const web = await start({ password: PASSWORD });
    const reply = await send(web.port, "POST", "/login", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ password: PASSWORD, admin: true }),
    });

    expect(reply.status).toBe(400);
  });

  it("generates a password for a live engine", async () => {
    const printed: string[] = [];
    const web = await start({
      engineMode: "live",
      print: (text) => printed.push(text),
    });
    const reply = await send(web.port, "GET", "/api/status");

    expect(web.access).toBe("login");
    expect(printed).toHaveLength(1);
    expect(reply.status).toBe(401);
  });
});

describe("web server ingress", () => {
  const INGRESS_PATH = "/api/hassio_ingress/abc123";

  async function startIngress(allowed: string[]): Promise<WebServer> {
    return start({
      engineMode: "live",
      ingress: { port: 0, host: "127.0.0.1", allowedAddresses: allowed },
    });
  }

  function ingressPort(web: WebServer): number {
    return web.ingress?.port ?? 0;
  }

  it("serves the page under the ingress path", async () => {
    const web = await startIngress(["127.0.0.1"]);
    const page = await send(ingressPort(web), "GET", "/", {
      headers: {
        "X-Ingress-Path": INGRESS_PATH,
        "X-Remote-User-Display-Name": "Alex <b>",
      },
    });

    expect(page.status).toBe(200);
    expect(page.body).toContain(`<base href="${INGRESS_PATH}/">`);
    expect(page.body).toContain('src="assets/app.js"');
    expect(page.body).not.toContain('src="/');
    expect(page.body).toContain("Alex &lt;b&gt;");
  });

  it.each([["/health"], ["/"], ["/api/status"]])(
    "answers %s from another address with 403",
    async (path) => {
      const web = await startIngress(["127.0.0.2"]);
      const reply = await send(ingressPort(web), "GET", path);

      expect(reply.status).toBe(403);
    },
  );

  it("answers an allowed second address", async () => {
    const web = await startIngress(["127.0.0.2"]);
    const reply = await send(ingressPort(web), "GET", "/health", {
      localAddress: "127.0.0.2",
    });

    expect(reply.status).toBe(200);
  });

  it("rejects a bad ingress path", async () => {
    const web = await startIngress(["127.0.0.1"]);
    const reply = await send(ingressPort(web), "GET", "/", {
      headers: { "X-Ingress-Path": '/x"><script>' },
    });

    expect(reply.status).toBe(400);
  });

  it("needs the page token for a POST", async () => {
    const web = await startIngress(["127.0.0.1"]);
    const port = ingressPort(web);
    const without = await send(port, "POST", "/api/sync", {
      headers: JSON_HEADERS,
      body: "{}",
    });
    const dashboard = await send(port, "GET", "/api/dashboard");
    const token = (
      JSON.parse(dashboard.body) as { access: { csrfToken: string } }
    ).access.csrfToken;
    const withToken = await send(port, "POST", "/api/sync", {
      headers: { ...JSON_HEADERS, "X-CSRF-Token": token },
      body: "{}",
    });

    expect(without.status).toBe(403);
    expect(withToken.status).toBe(200);
    expect(engine.syncs).toEqual(["manual"]);
  });

  it("keeps standalone login closed without a password", async () => {
    const web = await startIngress(["127.0.0.1"]);
    const reply = await send(web.port, "POST", "/login", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ password: "anything-at-all" }),
    });

    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.body)).toEqual({
      error: expect.stringMatching(/no dashboard password is set/),
    });
  });
});

describe("web server data routes", () => {
  it("serves price history", async () => {
    const clock = new VirtualClock(T0);
    const web = await start({ clock });
    web.history?.recordPrices([
      {
        start: T0 - 5 * 60_000,
        minutes: 5,
        buy: -0.02,
        sell: 0.05,
        quality: "actual",
        tariffBuy: 0,
        tariffSell: 0.05,
        spikeStatus: "none",
      },
    ]);
    const reply = await send(web.port, "GET", "/api/history/prices?hours=2");
    const body = JSON.parse(reply.body) as {
      prices: Array<{ start: string; buy: number }>;
    };

    expect(reply.status).toBe(200);
    expect(body.prices).toEqual([
      expect.objectContaining({
        start: new Date(T0 - 5 * 60_000).toISOString(),
        buy: -0.02,
      }),
    ]);
  });

  it.each([
    ["/api/history/prices?hours=0"],
    ["/api/history/prices?hours=abc"],
    ["/api/history/prices?extra=1"],
    ["/api/history/energy?bucket=7"],
    ["/api/history/syncs?limit=0"],
  ])("rejects the query %s", async (path) => {
    const web = await start();
    expect((await send(web.port, "GET", path)).status).toBe(400);
  });

  it("answers 503 without history", async () => {
    const web = await start({ history: false });
    const reply = await send(web.port, "GET", "/api/history/energy");

    expect(reply.status).toBe(503);
  });

  it("streams status events", async () => {
    const web = await start();
    const received = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(
        { host: "127.0.0.1", port: web.port, path: "/api/events" },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => {
            text += chunk.toString("utf8");
            if (text.includes("event: status")) {
              resolve(text);
              request.destroy();
            }
          });
          engine.emit("status", engine.status());
        },
      );
      request.on("error", reject);
      request.end();
    });

    expect(received).toContain("event: status\ndata: {");
    expect(received).toContain('"amberSiteId":"01SITE"');
  });

  it("answers 404 for missing controls", async () => {
    const web = await start();
    const reply = await send(web.port, "POST", "/api/controls/spike", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ enabled: true }),
    });

    expect(reply.status).toBe(404);
  });

  it("drives the spike switch", async () => {
    const calls: string[] = [];
    const spike = Object.assign(new EventEmitter(), {
      snapshot: () => ({ enabled: calls.at(-1) === "enable" }),
      enable: async () => {
        calls.push("enable");
      },
      disable: async () => {
        calls.push("disable");
      },
    }) as unknown as NonNullable<DashboardControls["spike"]>;
    const web = await start({ controls: { spike } });
    const reply = await send(web.port, "POST", "/api/controls/spike", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ enabled: true }),
    });

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ enabled: true });
    expect(calls).toEqual(["enable"]);
  });

  it("rejects an invalid force body", async () => {
    const force = Object.assign(new EventEmitter(), {
      snapshot: () => ({ state: "idle" }),
      start: async () => ({ state: "active" }),
      cancel: async () => undefined,
    }) as unknown as NonNullable<DashboardControls["force"]>;
    const web = await start({ controls: { force } });
    const reply = await send(web.port, "POST", "/api/controls/force", {
      headers: JSON_HEADERS,
      body: JSON.stringify({ direction: "sideways", minutes: 30 }),
    });

    expect(reply.status).toBe(400);
  });
});
