import { readFile } from "node:fs/promises";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import type { NemRegion } from "../../src/aemo/schemas.js";
import { SolarCurtailment } from "../../src/controls/curtailment.js";
import { CustomScheduleControl } from "../../src/controls/custom-schedule.js";
import { ForceControl } from "../../src/controls/force.js";
import {
  ControlArbiter,
  PRECEDENCE_TABLE,
  type ClaimHolder,
} from "../../src/controls/precedence.js";
import { SpikeResponse } from "../../src/controls/spike.js";
import { silentLogger } from "../../src/log.js";
import { startHarness, USER_TARIFF_NAME, type Harness } from "./harness.js";

const USER_TARIFF = `tariff:${USER_TARIFF_NAME}`;
const SPIKE_TARIFF = "tariff:Spike response NSW1 1000 $/MWh";
const MINUTE = 60_000;

let harness: Harness;

beforeEach(async () => {
  // Self-Powered with a 20 % reserve and export of battery energy allowed.
  harness = await startHarness({
    start: Date.parse("2026-01-15T02:10:00Z"),
    settings: {
      operationMode: "self_consumption",
      backupReservePercent: 20,
      exportRule: "battery_ok",
    },
  });
});

afterEach(async () => {
  await harness.close();
});

function common() {
  return {
    siteId: harness.siteId,
    powerwall: harness.powerwall,
    arbiter: harness.arbiter,
    dataDir: harness.dataDir,
    logger: silentLogger,
    clock: harness.clock,
  };
}

function spike(region: NemRegion = "NSW1"): SpikeResponse {
  return new SpikeResponse({
    ...common(),
    region,
    enabled: true,
    prices: {
      getRegionPrice: () =>
        Promise.reject(new Error("these tests use simulated prices")),
    },
  });
}

function force(): ForceControl {
  return new ForceControl(common());
}

function curtailment(): SolarCurtailment {
  return new SolarCurtailment({ ...common(), enabled: true });
}

function schedules(): CustomScheduleControl {
  return new CustomScheduleControl(common());
}

const FLAT_SCHEDULE = {
  name: "Flat plan",
  seasons: [
    {
      name: "Year",
      from: { month: 1, day: 1 },
      to: { month: 12, day: 31 },
      periods: [
        { name: "FLAT", from: "00:00", to: "24:00", buy: 0.28, sell: 0.06 },
      ],
    },
  ],
};

describe("precedence", () => {
  it("force discharge preempts an active spike", async () => {
    const response = spike();
    const discharge = force();
    await response.simulate(1_000);

    await discharge.start("discharge", 30);
    const during = {
      spike: response.snapshot().state,
      writer: harness.arbiter.tariffOverride(),
    };
    await discharge.cancel();

    expect(during).toEqual({ spike: "suspended", writer: "force" });
    expect(harness.writes()).toEqual([
      SPIKE_TARIFF,
      "mode:autonomous",
      // The spike puts the user's settings back before force saves them.
      USER_TARIFF,
      "mode:self_consumption",
      "tariff:Force discharge until 13:40",
      "mode:autonomous",
      // Force restores, then the spike, still on, starts again.
      USER_TARIFF,
      "mode:self_consumption",
      SPIKE_TARIFF,
      "mode:autonomous",
    ]);
    expect(response.snapshot().state).toBe("active");
  });

  it("force charge preempts a spike too", async () => {
    const response = spike();
    const charge = force();
    await response.simulate(1_000);

    await charge.start("charge", 15);
    await response.endSimulation();
    harness.clearWrites();
    await charge.cancel();

    expect(harness.writes()).toEqual([
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
    expect(response.snapshot().state).toBe("idle");
    expect(harness.standIn.state().settings.operationMode).toBe(
      "self_consumption",
    );
  });

  it("a spike during force waits", async () => {
    const response = spike();
    const charge = force();
    await charge.start("charge", 30);
    harness.clearWrites();

    await response.simulate(1_000);
    const waiting = response.snapshot();
    await charge.cancel();

    expect(waiting.state).toBe("suspended");
    expect(waiting.blockedBy).toBe("force");
    expect(harness.writes()).toEqual([
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
      SPIKE_TARIFF,
      "mode:autonomous",
    ]);
  });

  it("later force direction replaces", async () => {
    const control = force();
    await control.start("charge", 30);

    await control.start("discharge", 30);
    await control.cancel();

    expect(harness.writes()).toEqual([
      "tariff:Force charge until 13:40",
      "mode:autonomous",
      "reserve:100",
      "tariff:Force discharge until 13:40",
      "reserve:20",
      USER_TARIFF,
      "mode:self_consumption",
    ]);
  });

  it("force discharge suspends curtailment", async () => {
    const curtail = curtailment();
    const discharge = force();
    await curtail.onPrice(3, harness.clock.now());

    await discharge.start("discharge", 30);
    const during = curtail.snapshot();
    await discharge.cancel();

    expect(during.state).toBe("waiting");
    expect(during.blockedBy).toBe("force");
    expect(harness.writes()).toEqual([
      "export:never",
      "export:battery_ok",
      "tariff:Force discharge until 13:40",
      "mode:autonomous",
      USER_TARIFF,
      "mode:self_consumption",
      "export:never",
    ]);
  });

  it("force charge keeps curtailment", async () => {
    const curtail = curtailment();
    const charge = force();
    await curtail.onPrice(3, harness.clock.now());

    await charge.start("charge", 30);
    const during = curtail.snapshot();
    await charge.cancel();

    expect(during.state).toBe("curtailed");
    expect(harness.writes()).toEqual([
      "export:never",
      "tariff:Force charge until 13:40",
      "mode:autonomous",
      "reserve:100",
      USER_TARIFF,
      "mode:self_consumption",
      "reserve:20",
    ]);
    expect(harness.standIn.state().settings.exportRule).toBe("never");
  });

  it("spike suspends curtailment", async () => {
    const curtail = curtailment();
    const response = spike();
    await curtail.onPrice(3, harness.clock.now());

    await response.simulate(1_000);
    const during = curtail.snapshot().state;
    await response.endSimulation();

    expect(during).toBe("waiting");
    expect(harness.writes()).toEqual([
      "export:never",
      "export:battery_ok",
      SPIKE_TARIFF,
      "mode:autonomous",
      USER_TARIFF,
      "mode:self_consumption",
      "export:never",
    ]);
  });

  it("curtailment waits during a spike", async () => {
    const curtail = curtailment();
    const response = spike();
    await response.simulate(1_000);

    await curtail.onPrice(3, harness.clock.now());
    const during = curtail.snapshot().state;
    await curtail.onPrice(-9, harness.clock.now() + MINUTE);
    await response.endSimulation();

    expect(during).toBe("waiting");
    expect(curtail.snapshot().state).toBe("normal");
    expect(harness.writes()).toEqual([
      SPIKE_TARIFF,
      "mode:autonomous",
      USER_TARIFF,
      "mode:self_consumption",
    ]);
  });

  it("first spike region wins", async () => {
    const nsw = spike("NSW1");
    const sa = spike("SA1");
    await nsw.simulate(1_000);

    await sa.simulate(2_000);
    const during = sa.snapshot();
    await nsw.endSimulation();

    expect(during.state).toBe("suspended");
    expect(during.blockedBy).toBe("spike:NSW1");
    expect(harness.writes()).toEqual([
      SPIKE_TARIFF,
      "mode:autonomous",
      USER_TARIFF,
      "mode:self_consumption",
      "tariff:Spike response SA1 2000 $/MWh",
      "mode:autonomous",
    ]);
  });

  it("spike restores a custom schedule", async () => {
    const custom = schedules();
    const response = spike();
    await custom.apply(FLAT_SCHEDULE);

    await response.simulate(1_000);
    const during = custom.snapshot().state;
    await response.endSimulation();

    expect(during).toBe("pending");
    expect(harness.writes()).toEqual([
      "tariff:Flat plan",
      SPIKE_TARIFF,
      "mode:autonomous",
      "tariff:Flat plan",
      "mode:self_consumption",
    ]);
    expect(custom.snapshot().state).toBe("applied");
    expect(harness.arbiter.tariffOverride()).toBe("custom-schedule");
  });

  it("force restores a custom schedule", async () => {
    const custom = schedules();
    const charge = force();
    await custom.apply(FLAT_SCHEDULE);

    await charge.start("charge", 10);
    await charge.cancel();

    expect(harness.writes()).toEqual([
      "tariff:Flat plan",
      "tariff:Force charge until 13:20",
      "mode:autonomous",
      "reserve:100",
      "tariff:Flat plan",
      "mode:self_consumption",
      "reserve:20",
    ]);
  });

  it("custom schedule blocks the sync", async () => {
    const custom = schedules();

    await custom.apply(FLAT_SCHEDULE);
    const during = harness.arbiter.tariffOverride();
    await custom.clear();

    expect(during).toBe("custom-schedule");
    expect(harness.arbiter.tariffOverride()).toBeUndefined();
  });

  it.each([
    ["spike", async () => spike().simulate(1_000), "spike:NSW1"],
    ["force", async () => force().start("discharge", 5), "force"],
  ])("%s blocks the sync", async (_name, start, holder) => {
    await start();

    expect(harness.arbiter.tariffOverride()).toBe(holder);
  });

  it("fallback leaves the sync in charge", async () => {
    const custom = schedules();
    await custom.setFallback(FLAT_SCHEDULE);

    const tariff = custom.fallbackTariff(harness.clock.now() + 30 * MINUTE);

    expect(tariff?.name).toBe("Flat plan");
    expect(harness.arbiter.tariffOverride()).toBeUndefined();
    expect(harness.writes()).toEqual([]);
  });

  it("curtailment leaves the sync in charge", async () => {
    const curtail = curtailment();

    await curtail.onPrice(3, harness.clock.now());

    expect(curtail.snapshot().state).toBe("curtailed");
    expect(harness.arbiter.tariffOverride()).toBeUndefined();
  });
});

describe("ControlArbiter", () => {
  function holder(
    id: string,
    kind: ClaimHolder["kind"],
    log: string[],
  ): ClaimHolder {
    return {
      id,
      kind,
      onPreempted: async (resource, by) => {
        log.push(`${id} preempted on ${resource} by ${by}`);
      },
      onResumed: async (resource) => {
        log.push(`${id} resumed on ${resource}`);
      },
    };
  }

  it("orders writers by priority", async () => {
    const log: string[] = [];
    const arbiter = new ControlArbiter(silentLogger);

    await arbiter.claim(holder("curtailment", "curtailment", log), [
      "export-rule",
    ]);
    await arbiter.claim(holder("spike:NSW1", "spike", log), [
      "tariff",
      "export-rule",
    ]);
    const blocked = await arbiter.claim(
      holder("custom-schedule", "custom-schedule", log),
      ["tariff"],
    );
    await arbiter.claim(holder("force", "force", log), ["tariff"]);
    await arbiter.release("force");
    await arbiter.release("spike:NSW1");

    expect(blocked).toEqual({ granted: false, blockedBy: "spike:NSW1" });
    expect(log).toEqual([
      "curtailment preempted on export-rule by spike:NSW1",
      "spike:NSW1 preempted on tariff by force",
      "spike:NSW1 resumed on tariff",
      "custom-schedule resumed on tariff",
      "curtailment resumed on export-rule",
    ]);
  });

  it("shrinking a claim resumes others", async () => {
    const log: string[] = [];
    const arbiter = new ControlArbiter(silentLogger);
    const forceHolder = holder("force", "force", log);
    await arbiter.claim(holder("curtailment", "curtailment", log), [
      "export-rule",
    ]);
    await arbiter.claim(forceHolder, ["tariff", "export-rule"]);

    await arbiter.claim(forceHolder, ["tariff"]);

    expect(log).toEqual([
      "curtailment preempted on export-rule by force",
      "curtailment resumed on export-rule",
    ]);
    expect(arbiter.writer("export-rule")).toBe("curtailment");
  });

  it("register does not notify", () => {
    const log: string[] = [];
    const arbiter = new ControlArbiter(silentLogger);

    arbiter.register(holder("curtailment", "curtailment", log), [
      "export-rule",
    ]);
    arbiter.register(holder("force", "force", log), ["tariff", "export-rule"]);

    expect(log).toEqual([]);
    expect(arbiter.snapshot().writers).toEqual({
      tariff: "force",
      "export-rule": "force",
    });
  });

  it("survives a failing callback", async () => {
    const arbiter = new ControlArbiter(silentLogger);
    await arbiter.claim(
      {
        id: "spike:NSW1",
        kind: "spike",
        onPreempted: () => Promise.reject(new Error("write failed")),
        onResumed: async () => undefined,
      },
      ["tariff"],
    );

    const result = await arbiter.claim(holder("force", "force", []), [
      "tariff",
    ]);

    expect(result).toEqual({ granted: true });
  });
});

describe("precedence table", () => {
  it("docs list every rule", async () => {
    const docs = await readFile(
      new URL("../../docs/controls.md", import.meta.url),
      "utf8",
    );

    for (const rule of PRECEDENCE_TABLE) {
      expect(docs).toContain(
        `| ${rule.first} | ${rule.second} | ${rule.winner} |`,
      );
    }
  });
});
