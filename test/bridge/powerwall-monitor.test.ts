import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  borrowedToken,
  HaFleetTokenProvider,
} from "../../src/bridge/fleet-token.js";
import {
  ENERGY_FILE_NAME,
  integrate,
  PowerwallMonitor,
  type LiveStatusSource,
} from "../../src/bridge/powerwall-monitor.js";
import { engineConfigSchema } from "../../src/bridge/schemas.js";
import type {
  EnergyTotals,
  PowerwallReading,
} from "../../src/bridge/states.js";
import { silentLogger } from "../../src/log.js";
import type { LiveStatus } from "../../src/tesla/schemas.js";
import type { Clock } from "../../src/util/clock.js";
import { fakeEngineConfig } from "./fake-ha.js";

const ZERO: EnergyTotals = {
  solar: 0,
  gridImport: 0,
  gridExport: 0,
  batteryCharge: 0,
  batteryDischarge: 0,
  home: 0,
};

function reading(fields: Partial<PowerwallReading>): PowerwallReading {
  return {
    batteryLevel: 50,
    solarPower: 0,
    gridPower: 0,
    batteryPower: 0,
    homePower: 0,
    ...fields,
  };
}

function liveStatus(fields: Partial<LiveStatus>): LiveStatus {
  return {
    solar_power: 0,
    battery_power: 0,
    load_power: 0,
    grid_power: 0,
    percentage_charged: 50,
    ...fields,
  };
}

describe("integrate", () => {
  it.each([
    {
      name: "steady solar",
      from: { solarPower: 2000 },
      to: { solarPower: 2000 },
      key: "solar",
      kwh: 1,
    },
    {
      name: "solar ramp",
      from: { solarPower: 0 },
      to: { solarPower: 4000 },
      key: "solar",
      kwh: 1,
    },
    {
      name: "import",
      from: { gridPower: 1000 },
      to: { gridPower: 1000 },
      key: "gridImport",
      kwh: 0.5,
    },
    {
      name: "export",
      from: { gridPower: -3000 },
      to: { gridPower: -3000 },
      key: "gridExport",
      kwh: 1.5,
    },
    {
      name: "charge",
      from: { batteryPower: -2000 },
      to: { batteryPower: -2000 },
      key: "batteryCharge",
      kwh: 1,
    },
    {
      name: "discharge",
      from: { batteryPower: 2000 },
      to: { batteryPower: 2000 },
      key: "batteryDischarge",
      kwh: 1,
    },
    {
      name: "home",
      from: { homePower: 600 },
      to: { homePower: 600 },
      key: "home",
      kwh: 0.3,
    },
  ] as const)("adds $name energy over 30 minutes", ({ from, to, key, kwh }) => {
    const totals = integrate(ZERO, reading(from), reading(to), 1_800_000);

    expect(totals[key]).toBeCloseTo(kwh, 9);
  });

  it("keeps import and export apart when the sign flips", () => {
    const totals = integrate(
      ZERO,
      reading({ gridPower: 1000 }),
      reading({ gridPower: -1000 }),
      3_600_000,
    );

    expect(totals.gridImport).toBeCloseTo(0.5, 9);
    expect(totals.gridExport).toBeCloseTo(0.5, 9);
  });
});

describe("PowerwallMonitor", () => {
  let dataDir: string;
  let now: number;
  const clock: Clock = {
    now: () => now,
    sleep: () => new Promise(() => undefined),
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "monitor-"));
    now = Date.parse("2026-12-04T00:00:00Z");
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  function monitor(source: LiveStatusSource): PowerwallMonitor {
    return new PowerwallMonitor({
      source,
      siteId: 1,
      dataDir,
      logger: silentLogger,
      clock,
      intervalMs: 60_000,
    });
  }

  it("integrates polls and keeps totals across restarts", async () => {
    const source = {
      getLiveStatus: vi.fn(() =>
        Promise.resolve(liveStatus({ solar_power: 3000 })),
      ),
    };
    const first = monitor(source);
    await first.start();
    now += 60_000;
    await first.poll();
    await first.stop();

    now += 60_000;
    const second = monitor(source);
    await second.start();

    expect(second.totals.solar).toBeCloseTo(0.1, 9);
    const saved = JSON.parse(
      await readFile(join(dataDir, ENERGY_FILE_NAME), "utf8"),
    ) as { totals: EnergyTotals };
    expect(saved.totals.solar).toBeCloseTo(0.1, 9);
  });

  it("adds nothing across a long gap", async () => {
    const source = {
      getLiveStatus: vi.fn(() =>
        Promise.resolve(liveStatus({ solar_power: 3000 })),
      ),
    };
    const target = monitor(source);
    await target.start();

    now += 3_600_000;
    await target.poll();

    expect(target.totals.solar).toBe(0);
  });

  it("keeps the last values when a poll fails", async () => {
    const source = {
      getLiveStatus: vi
        .fn<() => Promise<LiveStatus>>()
        .mockResolvedValueOnce(liveStatus({ percentage_charged: 80 }))
        .mockRejectedValueOnce(new Error("Tesla unavailable")),
    };
    const target = monitor(source);
    const readings: number[] = [];
    target.on("reading", (value) => readings.push(value.batteryLevel));
    await target.start();

    now += 60_000;
    await target.poll();

    expect(readings).toEqual([80]);
    expect(target.reading?.batteryLevel).toBe(80);
  });

  it("takes readings from another poller", async () => {
    const target = new PowerwallMonitor({
      siteId: 1,
      dataDir,
      logger: silentLogger,
      clock,
      intervalMs: 60_000,
    });
    await target.start();

    await target.ingest(reading({ gridPower: 2000 }), now);
    await target.ingest(reading({ gridPower: 2000 }), now + 60_000);
    await target.ingest(reading({ gridPower: 9000 }), now + 30_000);

    expect(target.totals.gridImport).toBeCloseTo(2000 / 60 / 1000, 9);
    expect(target.reading?.gridPower).toBe(2000);
  });

  it("starts from zero when the saved file is invalid", async () => {
    await writeFile(join(dataDir, ENERGY_FILE_NAME), '{"version": 9}');
    const target = monitor({
      getLiveStatus: () => Promise.resolve(liveStatus({})),
    });

    await target.start();

    expect(target.totals).toEqual(ZERO);
  });
});

describe("HaFleetTokenProvider", () => {
  const config = (token: string, expiresAt: number) =>
    engineConfigSchema.parse({
      ...fakeEngineConfig(),
      tesla: {
        access_kind: "tesla_fleet",
        token,
        token_expires_at: expiresAt,
        energy_site_id: 1,
      },
    });

  it("reads the token again shortly before it expires", async () => {
    let now = 1_000_000_000_000;
    const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };
    const read = vi.fn(() =>
      Promise.resolve(
        borrowedToken(config("fleet-token-new-000", now / 1000 + 3600)),
      ),
    );
    const provider = new HaFleetTokenProvider(
      borrowedToken(config("fleet-token-old-000", now / 1000 + 600)),
      read,
      clock,
    );

    expect(await provider.accessToken()).toBe("fleet-token-old-000");
    now += 400_000;

    expect(await provider.accessToken()).toBe("fleet-token-new-000");
    expect(read).toHaveBeenCalledTimes(1);
  });

  it.each([
    {
      name: "a new token",
      next: "fleet-token-new-111",
      fails: false,
      expected: true,
    },
    {
      name: "the same token",
      next: "fleet-token-old-111",
      fails: false,
      expected: false,
    },
    { name: "HA away", next: "", fails: true, expected: false },
  ])("after a 401 reports $name", async ({ next, fails, expected }) => {
    const read = vi.fn(() =>
      fails
        ? Promise.reject(new Error("no session"))
        : Promise.resolve(borrowedToken(config(next, 2_000_000_000))),
    );
    const provider = new HaFleetTokenProvider(
      borrowedToken(config("fleet-token-old-111", 2_000_000_000)),
      read,
    );

    expect(await provider.refreshAfterUnauthorized("fleet-token-old-111")).toBe(
      expected,
    );
  });
});
