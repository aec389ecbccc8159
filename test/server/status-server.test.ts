import { request as httpRequest } from "node:http";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type {
  StatusSnapshot,
  SyncResult,
  SyncTrigger,
} from "../../src/engine/types.js";
import { registerSecret, silentLogger } from "../../src/log.js";
import {
  startStatusServer,
  type StatusEngine,
  type StatusServer,
} from "../../src/server/status-server.js";

const SECRET = "psk_status_server_secret_42";

function snapshot(overrides: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    mode: "demo",
    autoSync: true,
    amberSiteId: "01DEMO",
    teslaSiteId: "1001",
    timeZone: "Australia/Sydney",
    timeZoneSource: "site_info",
    nextSyncAt: "2025-06-16T00:05:40.000Z",
    deferredSyncAt: null,
    lastSync: null,
    lastUpload: null,
    lastConfirmation: null,
    live: { state: "connected", buy: 0.25, sell: 0.05 },
    counters: {
      day: "2025-06-16",
      today: {
        syncs: 1,
        uploads: 1,
        teslaWrites: 1,
        teslaCalls: 3,
        amberCalls: 1,
      },
      amber: { "GET /sites/{id}/prices/current": 1 },
      tesla: { "POST time_of_use_settings": 1 },
    },
    slots: [
      {
        label: "PERIOD_10_00",
        start: "2025-06-16T10:00:00.000+10:00",
        end: "2025-06-16T10:30:00.000+10:00",
        buy: 0,
        sell: 0.1,
        buyActual: -0.02,
        sellActual: 0.1,
        source: { buy: { kind: "live" }, sell: { kind: "live" } },
        spikeStatus: "none",
        notes: [],
      },
    ],
    slotsBuiltAt: "2025-06-16T00:00:40.000Z",
    log: [
      {
        at: "2025-06-16T00:00:40.000Z",
        trigger: "startup",
        outcome: "uploaded",
        reason: "no tariff uploaded yet <script>",
        writes: 1,
      },
    ],
    ...overrides,
  };
}

class FakeEngine implements StatusEngine {
  autoSync = true;
  syncs: SyncTrigger[] = [];
  current = snapshot();

  status(): StatusSnapshot {
    return { ...this.current, autoSync: this.autoSync };
  }

  async syncNow(trigger: SyncTrigger): Promise<SyncResult> {
    this.syncs.push(trigger);
    return {
      outcome: "unchanged",
      reason: "nothing moved",
      trigger,
      at: "2025-06-16T00:01:00.000Z",
      writes: 0,
    };
  }

  setAutoSync(enabled: boolean): void {
    this.autoSync = enabled;
  }
}

let engine: FakeEngine;
let server: StatusServer;

beforeEach(async () => {
  engine = new FakeEngine();
  server = await startStatusServer({ engine, logger: silentLogger, port: 0 });
});

afterEach(async () => {
  await server.close();
});

function post(
  path: string,
  body: unknown,
  contentType = "application/json",
): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": contentType },
    body: JSON.stringify(body),
  });
}

function getWithHost(path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port: server.port, path, headers: { Host: host } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("error", reject);
    request.end();
  });
}

describe("status server", () => {
  it("binds to loopback by default", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers the health check", async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("returns the status snapshot", async () => {
    const response = await fetch(`${server.url}/api/status`);
    const body = (await response.json()) as StatusSnapshot;

    expect(response.status).toBe(200);
    expect(body.mode).toBe("demo");
    expect(body.slots).toHaveLength(1);
    expect(body.counters.today.teslaWrites).toBe(1);
  });

  it("never returns a registered secret", async () => {
    registerSecret(SECRET);
    engine.current = snapshot({
      lastSync: {
        outcome: "failed",
        reason: `token ${SECRET} rejected`,
        trigger: "manual",
        at: "x",
        writes: 0,
      },
    });

    const text = await (await fetch(`${server.url}/api/status`)).text();
    const page = await (await fetch(`${server.url}/`)).text();

    expect(text).not.toContain(SECRET);
    expect(text).toContain("[redacted]");
    expect(page).not.toContain(SECRET);
  });

  it("runs a manual sync", async () => {
    const response = await post("/api/sync", {});
    const body = (await response.json()) as SyncResult;

    expect(response.status).toBe(200);
    expect(body.outcome).toBe("unchanged");
    expect(engine.syncs).toEqual(["manual"]);
  });

  it("toggles auto-sync", async () => {
    const response = await post("/api/auto-sync", { enabled: false });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ autoSync: false });
    expect(engine.autoSync).toBe(false);
  });

  it.each([
    ["a missing field", {}],
    ["a string flag", { enabled: "yes" }],
    ["an extra key", { enabled: true, force: true }],
  ])("rejects an auto-sync body with %s", async (_name, body) => {
    const response = await post("/api/auto-sync", body);
    expect(response.status).toBe(400);
    expect(engine.autoSync).toBe(true);
  });

  it("rejects a body that is not JSON", async () => {
    const response = await fetch(`${server.url}/api/auto-sync`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{enabled",
    });
    expect(response.status).toBe(400);
  });

  it("rejects a POST without JSON content type", async () => {
    const response = await post("/api/sync", {}, "text/plain");
    expect(response.status).toBe(415);
    expect(engine.syncs).toEqual([]);
  });

  it.each([
    ["GET", "/api/sync", 405],
    ["GET", "/nothing-here", 404],
    ["POST", "/health", 405],
  ])("answers %s %s with %i", async (method, path, status) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { "Content-Type": "application/json" },
    });
    expect(response.status).toBe(status);
  });

  it.each([
    ["evil.example", 421],
    ["localhost:5001", 200],
    ["127.0.0.1", 200],
  ])("checks Host header %s", async (host, status) => {
    expect(await getWithHost("/health", host)).toBe(status);
  });

  it("renders an escaped status page", async () => {
    const response = await fetch(`${server.url}/`);
    const html = await response.text();

    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    expect(html).toContain("PERIOD_10_00");
    expect(html).toContain("no tariff uploaded yet &lt;script&gt;");
    expect(html).not.toContain("yet <script>");
  });

  it("accepts extra routes", async () => {
    server.route("GET", "/dashboard", (_request, response) => {
      response.writeHead(200, { "Content-Type": "text/plain" });
      response.end("dashboard");
    });
    const response = await fetch(`${server.url}/dashboard`);
    expect(await response.text()).toBe("dashboard");
  });
});
