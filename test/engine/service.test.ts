import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Site } from "../../src/amber/schemas.js";
import { resolveConfig } from "../../src/config/load.js";
import { startService, type RunningService } from "../../src/engine/service.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import {
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
  type TeslaStandInOptions,
} from "../../src/standins/tesla-server.js";

const AMBER_TOKEN = "psk_service_test_token";
const TESLA_TOKEN = "teslemetry_service_test_token";

let dataDir: string;
let amber: AmberStandIn | undefined;
let tesla: TeslaStandIn | undefined;
let service: RunningService | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-service-"));
});

afterEach(async () => {
  await service?.stop();
  await Promise.allSettled([amber?.close(), tesla?.close()]);
  await rm(dataDir, { recursive: true, force: true });
  service = undefined;
  amber = undefined;
  tesla = undefined;
});

function site(id: string, status: Site["status"]): Site {
  return {
    id,
    nmi: "4102000001",
    channels: [
      { identifier: "E1", type: "general", tariff: "A100" },
      { identifier: "B1", type: "feedIn", tariff: "A100" },
    ],
    network: "Ausgrid",
    status,
    intervalLength: 5,
  };
}

async function standIns(
  options: { sites?: Site[]; tesla?: Partial<TeslaStandInOptions> } = {},
): Promise<{ amber: AmberStandIn; tesla: TeslaStandIn }> {
  amber = await startAmberStandIn({
    token: AMBER_TOKEN,
    pattern: "calm",
    intervalLength: 5,
    ...(options.sites === undefined ? {} : { sites: options.sites }),
  });
  tesla = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TESLA_TOKEN,
    ...options.tesla,
  });
  return { amber, tesla };
}

function config(
  extra: {
    amber?: Record<string, unknown>;
    tesla?: Record<string, unknown>;
    controls?: Record<string, unknown>;
  } = {},
) {
  return resolveConfig(
    {
      amber: {
        token: AMBER_TOKEN,
        restUrl: amber?.restUrl,
        wsUrl: amber?.wsUrl,
        ...extra.amber,
      },
      tesla: {
        auth: "teslemetry",
        token: TESLA_TOKEN,
        baseUrl: tesla?.url,
        ...extra.tesla,
      },
      dataDir,
      server: { port: 0 },
      // A set password keeps the engine from printing a generated one.
      dashboard: { password: "service-test-password" },
      ...(extra.controls === undefined ? {} : { controls: extra.controls }),
    },
    {},
  );
}

describe("startService", () => {
  it("picks the sites and uploads at start", async () => {
    const parts = await standIns({
      sites: [site("01OLD", "closed"), site("01LIVE", "active")],
    });
    service = await startService({
      config: config(),
      logger: silentLogger,
      statusServer: false,
    });

    expect(service.amberSiteId).toBe("01LIVE");
    expect(service.teslaSiteId).toBe(String(parts.tesla.siteId));
    expect(service.engine.status().lastSync?.outcome).toBe("uploaded");
    expect(service.server).toBeUndefined();
  });

  it("lists Tesla sites when several exist", async () => {
    await standIns({
      tesla: { sites: [{ siteName: "Home" }, { siteName: "Shed" }] },
    });

    const started = startService({
      config: config(),
      logger: silentLogger,
      statusServer: false,
    });

    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/2 energy sites.*\(Home\).*\(Shed\)/);
  });

  it("rejects an unknown Amber site id", async () => {
    await standIns();

    const started = startService({
      config: config({ amber: { siteId: "01NOTMINE" } }),
      logger: silentLogger,
      statusServer: false,
    });

    await expect(started).rejects.toThrow(
      /amber\.siteId "01NOTMINE" is not a site/,
    );
  });

  it("passes live pushes to the engine", async () => {
    const parts = await standIns();
    service = await startService({
      config: config(),
      logger: silentLogger,
      statusServer: false,
    });
    const engine = service.engine;
    await vi.waitFor(
      () => {
        expect(engine.status().live.state).toBe("connected");
      },
      { timeout: 10_000, interval: 20 },
    );
    const received = new Promise((resolve) => engine.once("prices", resolve));
    parts.amber.pushLivePrices();
    await received;

    expect(engine.status().live.buy).toBeTypeOf("number");
  });

  it("merges controls.json over the configured controls", async () => {
    await standIns();
    await writeFile(
      join(dataDir, "controls.json"),
      JSON.stringify({ curtailment: { thresholdCents: 3 } }),
    );
    service = await startService({
      config: config({
        controls: {
          curtailment: { thresholdCents: 2, hysteresisCents: 0.25 },
          overlays: {
            demandWindow: {
              enabled: true,
              days: [0, 1, 2, 3, 4, 5, 6],
              upliftPerKwh: 1,
            },
          },
        },
      }),
      logger: silentLogger,
      statusServer: false,
    });
    const settings = service.controls.settings;
    const uplifted = service.engine
      .status()
      .slots.filter((slot) =>
        slot.notes.some((note) => note.startsWith("demand window:")),
      );

    expect(settings.curtailment.thresholdCents).toBe(3);
    expect(settings.curtailment.hysteresisCents).toBe(0.25);
    expect(settings.overlays.demandWindow.upliftPerKwh).toBe(1);
    // 14:00 to 20:00 every day: 12 half hours of the 48.
    expect(uplifted).toHaveLength(12);
  });

  it("stops the scheduler and the server", async () => {
    await standIns();
    service = await startService({ config: config(), logger: silentLogger });
    const url = service.server?.url ?? "";
    await service.stop();

    expect(service.engine.status().nextSyncAt).toBeNull();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
