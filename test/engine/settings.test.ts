import { describe, expect, it } from "vitest";

import { resolveConfig } from "../../src/config/load.js";
import { IntervalScheduler } from "../../src/engine/scheduler.js";
import {
  DEFAULT_ENGINE_SETTINGS,
  settingsFromConfig,
} from "../../src/engine/settings.js";
import { systemClock } from "../../src/util/clock.js";

describe("settingsFromConfig", () => {
  it("matches the engine defaults", () => {
    expect(settingsFromConfig(resolveConfig({}, {}))).toEqual(
      DEFAULT_ENGINE_SETTINGS,
    );
  });

  it("converts seconds and minutes to ms", () => {
    const settings = settingsFromConfig(
      resolveConfig(
        {
          timeZone: "Australia/Perth",
          sync: {
            liveDebounceSeconds: 5,
            minWriteSpacingSeconds: 600,
            manualWriteFloorSeconds: 30,
            siteInfoRefreshMinutes: 15,
          },
        },
        {},
      ),
    );

    expect(settings.liveDebounceMs).toBe(5_000);
    expect(settings.minWriteSpacingMs).toBe(600_000);
    expect(settings.manualWriteFloorMs).toBe(30_000);
    expect(settings.siteInfoRefreshMs).toBe(900_000);
    expect(settings.fallbackTimeZone).toBe("Australia/Perth");
  });

  it("reads the write budget from the environment", () => {
    const settings = settingsFromConfig(
      resolveConfig(
        {},
        {
          TESLA_SYNC_DAILY_WRITE_BUDGET: "24",
          TESLA_SYNC_URGENT_WRITE_RESERVE: "6",
          TESLA_SYNC_URGENT_WRITE_SPACING_SECONDS: "600",
          TESLA_SYNC_NEAR_HORIZON_HOURS: "4",
        },
      ),
    );

    expect(settings.dailyWriteBudget).toBe(24);
    expect(settings.urgentWriteReserve).toBe(6);
    expect(settings.urgentWriteSpacingMs).toBe(600_000);
    expect(settings.nearHorizonHours).toBe(4);
  });

  it.each([
    [
      { urgentWriteReserve: 48 },
      /sync\.urgentWriteReserve: must be less than dailyWriteBudget \(48\)/,
    ],
    [
      { urgentWriteSpacingSeconds: 900, minWriteSpacingSeconds: 600 },
      /sync\.urgentWriteSpacingSeconds: must not exceed minWriteSpacingSeconds \(600\)/,
    ],
  ])("rejects contradicting write settings %o", (sync, message) => {
    expect(() => resolveConfig({ sync }, {})).toThrow(message);
  });

  it("keeps the largest schedule delay inside the interval", () => {
    const settings = settingsFromConfig(
      resolveConfig(
        { sync: { scheduleOffsetSeconds: 230, scheduleJitterSeconds: 60 } },
        {},
      ),
    );
    const scheduler = new IntervalScheduler({
      clock: systemClock,
      offsetMs: settings.scheduleOffsetMs,
      jitterMs: settings.scheduleJitterMs,
      random: () => 0.9999,
      onTick: () => undefined,
    });

    expect(scheduler.delayMs).toBeLessThan(scheduler.intervalMs);
  });
});

describe("controls configuration", () => {
  it("takes the controls key as written", () => {
    const config = resolveConfig(
      {
        controls: {
          overlays: { exportBoost: { enabled: true, from: "16:00" } },
        },
      },
      {
        TESLA_SYNC_SPIKE_PROTECTION_ENABLED: "true",
        TESLA_SYNC_SPIKE_REGION: "SA1",
      },
    );

    expect(config.controls).toEqual({
      overlays: {
        exportBoost: { enabled: true, from: "16:00" },
        spikeProtection: { enabled: true },
      },
      spike: { region: "SA1" },
    });
  });

  it.each([
    [
      { spike: { region: "WA1" } },
      {},
      /controls\.spike\.region: Invalid option/,
    ],
    [
      { overlays: { demandWindow: { from: "25:00" } } },
      {},
      /controls\.overlays\.demandWindow\.from: "25:00" is not a time of day/,
    ],
    [
      {},
      { TESLA_SYNC_SPIKE_THRESHOLD_MWH: "-5" },
      /controls\.spike\.thresholdMwh: .* \(set in the configuration or TESLA_SYNC_SPIKE_THRESHOLD_MWH\)/,
    ],
  ])("rejects invalid control settings %o", (controls, env, message) => {
    expect(() => resolveConfig({ controls }, env)).toThrow(message);
  });
});
