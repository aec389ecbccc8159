/**
 * Shared setup for the control tests: the real Tesla stand-in reached
 * through the real TeslaClient, a VirtualClock for time, a temporary data
 * directory and an arbiter. Writes are listed in a compact form so a test
 * can assert the exact sequence the stand-in recorded.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ControlArbiter } from "../../src/controls/precedence.js";
import type { PowerwallWrites } from "../../src/controls/powerwall.js";
import {
  VirtualClock,
  yieldEventLoop,
} from "../../src/engine/virtual-clock.js";
import { silentLogger } from "../../src/log.js";
import type { PowerwallSettings } from "../../src/standins/powerwall-model.js";
import {
  startTeslaStandIn,
  type StandInWrite,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";
import { StaticTokenProvider } from "../../src/tesla/auth.js";
import { TeslaClient } from "../../src/tesla/client.js";
import type { SiteInfo } from "../../src/tesla/schemas.js";

/** 2026-01-15 13:07 in Sydney (UTC+11), a Thursday. */
export const START = Date.parse("2026-01-15T02:07:00Z");

export interface Harness {
  clock: VirtualClock;
  standIn: TeslaStandIn;
  client: TeslaClient;
  /** The powerwall the controls write to; the client unless a test wraps it. */
  powerwall: PowerwallWrites;
  siteId: number;
  dataDir: string;
  arbiter: ControlArbiter;
  /** Writes recorded by the stand-in since start (or since `clearWrites`). */
  writes(): string[];
  clearWrites(): void;
  /** A fresh arbiter, as after a restart. */
  restartArbiter(): ControlArbiter;
  close(): Promise<void>;
}

export interface HarnessOptions {
  start?: number;
  timeZone?: string;
  settings?: Partial<PowerwallSettings>;
  tariff?: Record<string, unknown>;
}

const TOKEN = "controls-test-teslemetry-token";

export async function startHarness(
  options: HarnessOptions = {},
): Promise<Harness> {
  const clock = new VirtualClock(options.start ?? START);
  const standIn = await startTeslaStandIn({
    authMode: "teslemetry",
    token: TOKEN,
    timeZone: options.timeZone ?? "Australia/Sydney",
    now: () => clock.now(),
    rateLimit: false,
    includeVehicle: false,
    sites: [
      {
        ...(options.settings === undefined
          ? {}
          : { settings: options.settings }),
        ...(options.tariff === undefined ? {} : { tariff: options.tariff }),
      },
    ],
  });
  const client = new TeslaClient({
    baseUrl: standIn.url,
    tokens: new StaticTokenProvider(TOKEN),
    logger: silentLogger,
    clock,
    maxAttempts: 1,
    random: () => 0.5,
  });
  const dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-controls-"));
  let skip = 0;
  const harness: Harness = {
    clock,
    standIn,
    client,
    powerwall: client,
    siteId: standIn.siteId,
    dataDir,
    arbiter: new ControlArbiter(silentLogger),
    writes: () => standIn.writes.slice(skip).map(describeWrite),
    clearWrites: () => {
      skip = standIn.writes.length;
    },
    restartArbiter: () => {
      harness.arbiter = new ControlArbiter(silentLogger);
      return harness.arbiter;
    },
    close: async () => {
      await standIn.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Formats a recorded write as e.g. "tariff:Spike response NSW1 1500 $/MWh" or "mode:autonomous". */
export function describeWrite(write: StandInWrite): string {
  const body = (write.body ?? {}) as Record<string, unknown>;
  switch (write.endpoint) {
    case "time_of_use_settings": {
      const settings = body["tou_settings"] as
        Record<string, unknown> | undefined;
      const tariff = settings?.["tariff_content_v2"] as
        Record<string, unknown> | undefined;
      return `tariff:${String(tariff?.["name"])}`;
    }
    case "operation":
      return `mode:${String(body["default_real_mode"])}`;
    case "backup":
      return `reserve:${String(body["backup_reserve_percent"])}`;
    case "grid_import_export": {
      const parts: string[] = [];
      if ("customer_preferred_export_rule" in body) {
        parts.push(`export:${String(body["customer_preferred_export_rule"])}`);
      }
      if ("disallow_charge_from_grid_with_solar_installed" in body) {
        parts.push(
          `grid-charging:${String(!body["disallow_charge_from_grid_with_solar_installed"])}`,
        );
      }
      return parts.join(",");
    }
    default:
      return `${write.endpoint}:?`;
  }
}

/** Returns the rate of `label` on the buy (top level) or sell side of a tariff object. */
export function rateOf(
  tariff: Record<string, unknown>,
  side: "buy" | "sell",
  label: string,
): number | undefined {
  const holder =
    side === "buy"
      ? tariff
      : (tariff["sell_tariff"] as Record<string, unknown>);
  const charges = holder["energy_charges"] as Record<
    string,
    { rates: Record<string, number> }
  >;
  for (const [season, entry] of Object.entries(charges)) {
    if (season !== "ALL" && label in entry.rates) {
      return entry.rates[label];
    }
  }
  return undefined;
}

/** Settles after a wake of the VirtualClock: lets the loop run, then waits for `idle`. */
export function settleWith(
  ...idle: Array<() => Promise<void>>
): () => Promise<void> {
  return async () => {
    for (let round = 0; round < 3; round += 1) {
      await yieldEventLoop();
      for (const wait of idle) {
        await wait();
      }
    }
  };
}

/** Name of the stand-in's default tariff. */
export const USER_TARIFF_NAME = "Stand-in TOU";

/** Wraps `client` so every site_info read passes through `transform`; writes go straight through. */
export function withSiteInfo(
  client: TeslaClient,
  transform: (info: SiteInfo, read: number) => SiteInfo,
): PowerwallWrites {
  let reads = 0;
  return {
    getSiteInfo: async (site) => {
      reads += 1;
      return transform(await client.getSiteInfo(site), reads);
    },
    setTariff: (site, tariff) => client.setTariff(site, tariff),
    setOperationMode: (site, mode) => client.setOperationMode(site, mode),
    setExportRule: (site, rule) => client.setExportRule(site, rule),
    setBackupReserve: (site, percent) => client.setBackupReserve(site, percent),
    setGridCharging: (site, allowed) => client.setGridCharging(site, allowed),
  };
}

/** Yields to the event loop until `condition` holds; fails after `rounds` turns. For I/O, not timers. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  rounds = 20_000,
): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    if (await condition()) {
      return;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error("condition not reached");
}
