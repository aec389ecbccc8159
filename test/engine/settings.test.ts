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
