import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import {
  ForceControl,
  type ForceEndedEvent,
  type ForceStartedEvent,
} from "../../src/controls/force.js";
import type { PowerwallWrites } from "../../src/controls/powerwall.js";
import type { ControlArbiter } from "../../src/controls/precedence.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { validateTariff } from "../../src/tariff/validate.js";
import {
  rateOf,
  settleWith,
  startHarness,
  until,
  USER_TARIFF_NAME,
  withSiteInfo,
  type Harness,
  type HarnessOptions,
} from "./harness.js";

const MINUTE = 60_000;
const USER_TARIFF = `tariff:${USER_TARIFF_NAME}`;

let harness: Harness;
let startedEvents: ForceStartedEvent[];
let endedEvents: ForceEndedEvent[];

afterEach(async () => {
  await harness.close();
});

/** Starts at 13:07 Sydney with the user in Self-Powered mode and a 20 % reserve. */
async function setup(options: HarnessOptions = {}): Promise<void> {
  harness = await startHarness({
    settings: { operationMode: "self_consumption", backupReservePercent: 20 },
    ...options,
  });
  startedEvents = [];
  endedEvents = [];
}

function force(
  options: { arbiter?: ControlArbiter; powerwall?: PowerwallWrites } = {},
): ForceControl {
  const control = new ForceControl({
    siteId: harness.siteId,
    powerwall: options.powerwall ?? harness.powerwall,
    arbiter: options.arbiter ?? harness.arbiter,
    dataDir: harness.dataDir,
    logger: silentLogger,
    clock: harness.clock,
  });
  control.on("force_started", (event) => startedEvents.push(event));
  control.on("force_ended", (event) => endedEvents.push(event));
  return control;
}

async function restarted(): Promise<ForceControl> {
  const control = force({ arbiter: harness.restartArbiter() });
  await control.load();
  await control.resume();
  return control;
}

async function advance(control: ForceControl, ms: number): Promise<void> {
  await harness.clock.advance(ms, {
    settle: settleWith(() => control.settled()),
  });
}

async function stateFile(): Promise<Record<string, unknown>> {
  return JSON.parse(
    await readFile(join(harness.dataDir, "force.json"), "utf8"),
  ) as Record<string, unknown>;
}

/** Returns a powerwall whose writes after the first `passing` never finish, as when the process dies mid-write. */
function dyingAfter(passing: number): PowerwallWrites {
  let writes = 0;
  const gate = <T>(write: () => Promise<T>): Promise<T> => {
    writes += 1;
    return writes <= passing ? write() : new Promise<T>(() => undefined);
  };
  return {
    getSiteInfo: (site) => harness.client.getSiteInfo(site),
    setTariff: (site, tariff) =>
      gate(() => harness.client.setTariff(site, tariff)),
    setOperationMode: (site, mode) =>
      gate(() => harness.client.setOperationMode(site, mode)),
    setExportRule: (site, rule) =>
      gate(() => harness.client.setExportRule(site, rule)),
    setBackupReserve: (site, percent) =>
      gate(() => harness.client.setBackupReserve(site, percent)),
    setGridCharging: (site, allowed) =>
      gate(() => harness.client.setGridCharging(site, allowed)),
  };
}

describe("ForceControl", () => {
  it("charges for the duration", async () => {
    await setup();
    const control = force();

    await control.start("charge", 30);
    const during = harness.standIn.state();

    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:37",
      "mode:autonomous",
      "reserve:100",
    ]);
    expect(validateTariff(during.tariff, "strict").ok).toBe(true);
    expect(rateOf(during.tariff, "buy", "PERIOD_13_00")).toBe(0);
    expect(rateOf(during.tariff, "buy", "PERIOD_13_30")).toBe(0);
    expect(rateOf(during.tariff, "buy", "PERIOD_14_00")).toBe(1);
    expect(rateOf(during.tariff, "sell", "PERIOD_13_00")).toBe(0);
    expect(during.settings.backupReservePercent).toBe(100);
    expect(startedEvents).toMatchObject([{ direction: "charge", minutes: 30 }]);
  });

  it("restores when the time is up", async () => {
    await setup();
    const control = force();
    await control.start("charge", 30);
    harness.clearWrites();

    await advance(control, 29 * MINUTE);
    const before = harness.writes();
    await advance(control, MINUTE);

    expect(before).toEqual([]);
    expect(harness.writes()).toEqual([
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
    expect(harness.standIn.state().settings.backupReservePercent).toBe(20);
    expect(endedEvents).toMatchObject([
      { direction: "charge", reason: "expired" },
    ]);
    expect(control.snapshot().state).toBe("idle");
  });

  it("allows grid charging when blocked", async () => {
    await setup({
      settings: {
        operationMode: "autonomous",
        backupReservePercent: 30,
        gridChargingAllowed: false,
      },
    });
    const control = force();

    await control.start("charge", 15);
    await control.cancel();

    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:22",
      "mode:autonomous",
      "reserve:100",
      "grid-charging:true",
      USER_TARIFF,
      "mode:autonomous",
      "reserve:30",
      "grid-charging:false",
    ]);
  });

  it("discharges without touching reserve", async () => {
    await setup();
    const control = force();

    await control.start("discharge", 60);
    const tariff = harness.standIn.state().tariff;
    await advance(control, 60 * MINUTE);

    expect(rateOf(tariff, "sell", "PERIOD_14_00")).toBe(2);
    expect(rateOf(tariff, "buy", "PERIOD_14_00")).toBe(2);
    expect(rateOf(tariff, "sell", "PERIOD_14_30")).toBe(0);
    expect(rateOf(tariff, "buy", "PERIOD_14_30")).toBe(0.3);
    expect(harness.writes()).toEqual([
      "tariff:Force discharge until 14:07",
      "mode:autonomous",
      USER_TARIFF,
      "mode:self_consumption",
    ]);
  });

  it("cancel restores at once", async () => {
    await setup();
    const control = force();
    await control.start("discharge", 120);
    harness.clearWrites();

    await control.cancel();
    await advance(control, 180 * MINUTE);

    expect(harness.writes()).toEqual([USER_TARIFF, "mode:self_consumption"]);
    expect(endedEvents).toMatchObject([{ reason: "cancelled" }]);
  });

  it("extends the same direction", async () => {
    await setup();
    const control = force();
    await control.start("charge", 30);
    await advance(control, 20 * MINUTE);
    harness.clearWrites();

    await control.start("charge", 30);
    await advance(control, 29 * MINUTE);
    const beforeEnd = harness.writes();
    await advance(control, MINUTE);

    expect(beforeEnd).toEqual(["tariff:Force charge until 13:57"]);
    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:57",
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
  });

  it.each([
    [
      "charge",
      "discharge",
      [
        "tariff:Force discharge until 13:47",
        "reserve:20",
        USER_TARIFF,
        "mode:self_consumption",
      ],
    ],
    [
      "discharge",
      "charge",
      [
        "tariff:Force charge until 13:47",
        "reserve:100",
        USER_TARIFF,
        "mode:self_consumption",
        "reserve:20",
      ],
    ],
  ] as const)("switches %s to %s", async (first, second, expected) => {
    await setup();
    const control = force();
    await control.start(first, 30);
    harness.clearWrites();

    await control.start(second, 40);
    await control.cancel();

    expect(harness.writes()).toEqual(expected);
  });

  it.each([0, -5, 1.5, 721, Number.NaN])(
    "rejects %s minutes",
    async (minutes) => {
      await setup();
      const control = force();

      await expect(control.start("charge", minutes)).rejects.toBeInstanceOf(
        ConfigError,
      );
      expect(harness.writes()).toEqual([]);
    },
  );

  it("saves state before writing", async () => {
    await setup();
    const seen: unknown[] = [];
    const watching: PowerwallWrites = {
      ...dyingAfter(Number.POSITIVE_INFINITY),
      setTariff: async (site, tariff) => {
        const file = await stateFile();
        seen.push([
          file["state"],
          (file["saved"] as { operationMode?: string } | undefined)
            ?.operationMode,
        ]);
        await harness.client.setTariff(site, tariff);
      },
    };
    const control = force({ powerwall: watching });

    await control.start("charge", 10);
    await control.cancel();

    expect(seen).toEqual([
      ["entering", "self_consumption"],
      ["restoring", "self_consumption"],
    ]);
  });

  it("rolls back a failed start", async () => {
    await setup();
    const control = force();
    harness.standIn.faults.arm({
      kind: "result-false",
      pathIncludes: "operation",
      reason: "busy",
    });

    await expect(control.start("charge", 30)).rejects.toThrow("busy");

    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:37",
      USER_TARIFF,
      "mode:self_consumption",
    ]);
    expect(control.snapshot().state).toBe("idle");
    expect(endedEvents).toMatchObject([{ reason: "failed" }]);
  });

  it("retries a failed restore", async () => {
    await setup();
    const control = force();
    await control.start("discharge", 30);
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "time_of_use_settings",
    });
    harness.clearWrites();

    await control.cancel();
    const failed = control.snapshot();
    await advance(control, MINUTE);

    expect(failed.state).toBe("restoring");
    expect(harness.writes()).toEqual([USER_TARIFF, "mode:self_consumption"]);
    expect(control.snapshot().state).toBe("idle");
  });

  it("rejects a site without tariff", async () => {
    await setup();
    const control = force({
      powerwall: withSiteInfo(harness.client, (info) => ({
        ...info,
        tariff_content_v2: undefined,
      })),
    });

    await expect(control.start("charge", 30)).rejects.toThrow(
      "no tariff_content_v2",
    );
    expect(harness.writes()).toEqual([]);
    expect(harness.arbiter.hasClaim("force")).toBe(false);
  });

  it("counts down remaining time", async () => {
    await setup();
    const control = force();
    await control.start("charge", 30);

    await advance(control, 10 * MINUTE);

    expect(control.snapshot().remainingMs).toBe(20 * MINUTE);
  });
});

describe("ForceControl restart", () => {
  it("idle: writes nothing", async () => {
    await setup();
    const first = force();
    await first.start("charge", 5);
    await first.cancel();
    harness.clearWrites();

    const second = await restarted();

    expect(second.snapshot().state).toBe("idle");
    expect(harness.writes()).toEqual([]);
  });

  it("entering: finishes the writes", async () => {
    await setup();
    const first = force({ powerwall: dyingAfter(1) });
    void first.start("charge", 30);
    await until(() => harness.standIn.writes.length === 1);
    const file = await stateFile();

    const second = await restarted();

    expect(file["state"]).toBe("entering");
    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:37",
      "tariff:Force charge until 13:37",
      "mode:autonomous",
      "reserve:100",
    ]);
    expect(second.snapshot().state).toBe("active");
  });

  it("active: resumes the timer", async () => {
    await setup();
    const first = force();
    await first.start("charge", 30);
    await first.stop();
    await advance(first, 10 * MINUTE);
    harness.clearWrites();

    const second = await restarted();
    await advance(second, 19 * MINUTE);
    const beforeEnd = harness.writes();
    await advance(second, MINUTE);

    expect(beforeEnd).toEqual([]);
    expect(harness.writes()).toEqual([
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
  });

  it("active past end: restores at once", async () => {
    await setup();
    const first = force();
    await first.start("discharge", 30);
    await first.stop();
    harness.clock.set(harness.clock.now() + 45 * MINUTE);
    harness.clearWrites();

    const second = await restarted();

    expect(harness.writes()).toEqual([USER_TARIFF, "mode:self_consumption"]);
    expect(second.snapshot().state).toBe("idle");
    expect(endedEvents).toMatchObject([{ reason: "expired" }]);
  });

  it("restoring: finishes the restore", async () => {
    await setup();
    const first = force({ powerwall: dyingAfter(4) });
    await first.start("charge", 30);
    void first.cancel();
    await until(() => harness.standIn.writes.length === 4);
    const file = await stateFile();
    harness.clearWrites();

    const second = await restarted();

    expect(file["state"]).toBe("restoring");
    expect(harness.writes()).toEqual([
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
    expect(second.snapshot().state).toBe("idle");
    expect(harness.arbiter.hasClaim("force")).toBe(false);
  });
});
