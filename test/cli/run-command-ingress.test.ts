/**
 * The ingress port as the run command opens it in HA mode: it responds
 * before Home Assistant and the integration are ready, hands over to the
 * engine's own ingress listener, comes back after a failed engine start,
 * and closes on stop. Home Assistant, Amber and Tesla are loopback
 * stand-ins.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { runCommand } from "../../src/cli/run-command.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import { startFakeHa, type FakeHa } from "../bridge/fake-ha.js";

const AMBER_TOKEN = "psk_run_ingress_test_amber_0123456789";
const TESLA_TOKEN = "run-ingress-test-teslemetry-token-0123";

let ha: FakeHa;
let amber: AmberStandIn;
let tesla: TeslaStandIn;
let dataDir: string;
let ingressUrl: string;
let stop: (signal: string) => void;
let running: Promise<number> | undefined;

function sink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** Returns a port that was free a moment ago, so the waiting page and the engine can share it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  const port =
    typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

function entryConfig(amberToken: string): Record<string, unknown> {
  return {
    amber: {
      token: amberToken,
      site_id: amber.sites[0]?.id,
      nmi: amber.sites[0]?.nmi,
    },
    tesla: {
      access_kind: "teslemetry",
      token: TESLA_TOKEN,
      energy_site_id: tesla.siteId,
    },
    options: { forecast_band: "predicted", auto_sync: true },
  };
}

/** Starts `tesla-sync run` in HA mode with ingress on 127.0.0.1. */
async function startRun(): Promise<void> {
  const port = await freePort();
  ingressUrl = `http://127.0.0.1:${port}`;
  const stopSignal = new Promise<string>((resolve) => {
    stop = resolve;
  });
  running = runCommand([], {
    stdout: sink(),
    stderr: sink(),
    env: {
      TESLA_SYNC_HA_URL: ha.url,
      TESLA_SYNC_HA_TOKEN: ha.token,
      TESLA_SYNC_AMBER_REST_URL: amber.restUrl,
      TESLA_SYNC_AMBER_LIVE_FEED: "false",
      TESLA_SYNC_TESLA_BASE_URL: tesla.url,
      TESLA_SYNC_DATA_DIR: dataDir,
      TESLA_SYNC_PORT: "0",
      TESLA_SYNC_INGRESS: "true",
      TESLA_SYNC_INGRESS_HOST: "127.0.0.1",
      TESLA_SYNC_INGRESS_PORT: String(port),
      TESLA_SYNC_INGRESS_ALLOWED_ADDRESSES: "127.0.0.1",
      TESLA_SYNC_ENERGY_SAMPLE_SECONDS: "0",
      TESLA_SYNC_LOG_LEVEL: "silent",
    },
    stopSignal,
  });
}

/** GET `path` on the ingress port; the status is 0 when nothing listens. */
async function get(path: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(`${ingressUrl}${path}`);
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: "" };
  }
}

/** Loads the integration in the fake HA and fires component_loaded, so the bridge retries at once. */
function loadIntegration(amberToken: string): void {
  ha.handle("tesla_sync/config", () => ({ result: entryConfig(amberToken) }));
  ha.components = ["http", "websocket_api", "tesla_sync"];
  ha.fireBusEvent("component_loaded", { component: "tesla_sync" });
}

beforeEach(async () => {
  ha = await startFakeHa();
  ha.components = ["http", "websocket_api"];
  amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: "calm",
    rateLimit: 1000,
  });
  tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    rateLimit: false,
  });
  dataDir = await mkdtemp(join(tmpdir(), "run-ingress-"));
  running = undefined;
});

afterEach(async () => {
  if (running !== undefined) {
    stop("SIGTERM");
    await running;
  }
  await ha.stop();
  await amber.close();
  await tesla.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("run command ingress port", () => {
  it("responds while the integration is missing", async () => {
    await startRun();

    await vi.waitFor(async () => {
      const status = await get("/api/status");
      expect(status.status).toBe(503);
      expect(JSON.parse(status.body)).toMatchObject({
        state: "waiting-for-integration",
      });
    });
    const health = await get("/health");
    expect(health.status).toBe(200);
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.body).toContain("Tesla Sync is waiting");
    expect(page.body).toContain("Settings &gt; Devices &amp; services");
  });

  it("hands the port to the engine", async () => {
    await startRun();
    await vi.waitFor(async () => {
      expect((await get("/health")).status).toBe(200);
    });

    loadIntegration(AMBER_TOKEN);

    await vi.waitFor(
      async () => {
        const page = await get("/");
        expect(page.status).toBe(200);
        expect(page.body).toContain('id="price-buy"');
      },
      { timeout: 15_000, interval: 50 },
    );
    expect((await get("/health")).status).toBe(200);
  });

  it("reopens after a failed engine start", async () => {
    await startRun();
    await vi.waitFor(async () => {
      expect((await get("/health")).status).toBe(200);
    });

    loadIntegration("psk_run_ingress_test_wrong_token_0000");

    await vi.waitFor(
      async () => {
        const status = await get("/api/status");
        expect(status.status).toBe(503);
        const body = JSON.parse(status.body) as Record<string, unknown>;
        expect(body["state"]).toBe("engine-failed");
        expect(body["reason"]).toContain("AUTH_FAILED");
      },
      { timeout: 15_000, interval: 50 },
    );
  });

  it("closes on stop", async () => {
    await startRun();
    await vi.waitFor(async () => {
      expect((await get("/health")).status).toBe(200);
    });

    stop("SIGTERM");
    expect(await running).toBe(0);
    running = undefined;

    expect((await get("/health")).status).toBe(0);
  });
});
