import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import {
  SolarCurtailment,
  type CurtailmentChangedEvent,
} from "../../src/controls/curtailment.js";
import type { PowerwallWrites } from "../../src/controls/powerwall.js";
import type {
  ClaimHolder,
  ControlArbiter,
} from "../../src/controls/precedence.js";
import { silentLogger } from "../../src/log.js";
import type { ExportRule } from "../../src/tesla/schemas.js";
import {
  settleWith,
  startHarness,
  withSiteInfo,
  type Harness,
  type HarnessOptions,
} from "./harness.js";

const MINUTE = 60_000;
/** 13:10:00 Sydney, the start of a 5-minute interval. */
const INTERVAL_START = Date.parse("2026-01-15T02:10:00Z");

let harness: Harness;
let changes: CurtailmentChangedEvent[];

afterEach(async () => {
  await harness.close();
});

async function setup(options: HarnessOptions = {}): Promise<void> {
  harness = await startHarness({ start: INTERVAL_START, ...options });
  changes = [];
}

function curtailment(
  options: {
    arbiter?: ControlArbiter;
    powerwall?: PowerwallWrites;
    enabled?: boolean;
  } = {},
): SolarCurtailment {
  const control = new SolarCurtailment({
    siteId: harness.siteId,
    powerwall: options.powerwall ?? harness.powerwall,
    arbiter: options.arbiter ?? harness.arbiter,
    dataDir: harness.dataDir,
    logger: silentLogger,
    clock: harness.clock,
    enabled: options.enabled ?? true,
  });
  control.on("curtailment_changed", (event) => changes.push(event));
  return control;
}

async function restarted(
  powerwall?: PowerwallWrites,
): Promise<SolarCurtailment> {
  const control = curtailment({
    arbiter: harness.restartArbiter(),
    ...(powerwall === undefined ? {} : { powerwall }),
  });
  await control.load();
  await control.resume();
  return control;
}

/** Sends a feed-in price (Amber sign, c/kWh) `afterMs` after the previous one. */
async function push(
  control: SolarCurtailment,
  feedInCents: number,
  afterMs = 0,
): Promise<void> {
  await harness.clock.advance(afterMs, {
    settle: settleWith(() => control.settled()),
  });
  await control.onPrice(feedInCents, harness.clock.now());
}

async function stateFile(): Promise<Record<string, unknown>> {
  return JSON.parse(
    await readFile(join(harness.dataDir, "curtailment.json"), "utf8"),
  ) as Record<string, unknown>;
}

/** Reports `rule` in site_info for the first `reads` reads, whatever was written. */
function staleRule(rule: ExportRule, reads: number): PowerwallWrites {
  return withSiteInfo(harness.client, (info, read) =>
    read <= reads
      ? {
          ...info,
          components: {
            ...info.components,
            customer_preferred_export_rule: rule,
          },
        }
      : info,
  );
}

/** Returns a VPP-managed site: no export rule in site_info, only non_export_configured. */
function vppSite(): PowerwallWrites {
  return withSiteInfo(harness.client, (info) => {
    const { customer_preferred_export_rule: rule, ...components } =
      info.components;
    return {
      ...info,
      components: { ...components, non_export_configured: rule === "never" },
    };
  });
}

function holder(id: string, kind: ClaimHolder["kind"]): ClaimHolder {
  return {
    id,
    kind,
    onPreempted: async () => undefined,
    onResumed: async () => undefined,
  };
}

describe("SolarCurtailment", () => {
  it.each([
    ["earns 8.3 c", -8.3],
    ["earns exactly 1 c", -1],
  ])("keeps export when it %s", async (_name, feedIn) => {
    await setup();
    const control = curtailment();

    await push(control, feedIn);

    expect(harness.writes()).toEqual([]);
    expect(control.snapshot().curtailed).toBe(false);
  });

  it.each([
    ["earns 0.99 c", -0.99],
    ["earns nothing", 0],
    ["costs 4 c", 4],
  ])("curtails when export %s", async (_name, feedIn) => {
    await setup();
    const control = curtailment();

    await push(control, feedIn);

    expect(harness.writes()).toEqual(["export:never"]);
    expect(harness.standIn.state().settings.exportRule).toBe("never");
    expect(control.snapshot().state).toBe("curtailed");
    expect(changes).toMatchObject([
      {
        active: true,
        rule: "never",
        confirmed: true,
        feedInCents: feedIn,
        reason: "price",
      },
    ]);
  });

  it("remembers the user's rule", async () => {
    await setup({ settings: { exportRule: "pv_only" } });
    const control = curtailment();

    await push(control, 2);
    const file = await stateFile();
    await push(control, -5, 5 * MINUTE);

    expect(file["userRule"]).toBe("pv_only");
    expect(harness.writes()).toEqual(["export:never", "export:pv_only"]);
    expect(harness.standIn.state().settings.exportRule).toBe("pv_only");
    expect(changes.map((change) => change.active)).toEqual([true, false]);
  });

  it("restores only above hysteresis", async () => {
    await setup();
    const control = curtailment();
    await push(control, -0.5);

    await push(control, -1.2, 5 * MINUTE);
    const held = harness.writes();
    await push(control, -1.5, 5 * MINUTE);

    expect(held).toEqual(["export:never"]);
    expect(harness.writes()).toEqual(["export:never", "export:battery_ok"]);
    expect(control.snapshot().state).toBe("normal");
  });

  it("leaves a user's never alone", async () => {
    await setup({ settings: { exportRule: "never" } });
    const control = curtailment();

    await push(control, 3);
    await push(control, -10, 5 * MINUTE);

    expect(harness.writes()).toEqual([]);
    expect(control.snapshot().state).toBe("normal");
  });

  it("writes once per interval", async () => {
    await setup();
    const control = curtailment();

    await push(control, -0.5);
    await push(control, -3, MINUTE);
    await push(control, -0.2, MINUTE);
    await push(control, -3, MINUTE);
    const withinInterval = harness.writes();
    const pending = control.snapshot().nextCheckAt;
    await harness.clock.advance(2 * MINUTE, {
      settle: settleWith(() => control.settled()),
    });

    expect(withinInterval).toEqual(["export:never"]);
    expect(pending).toBe(INTERVAL_START + 5 * MINUTE);
    expect(harness.writes()).toEqual(["export:never", "export:battery_ok"]);
  });

  it("recheck uses the latest price", async () => {
    await setup();
    const control = curtailment();

    await push(control, -0.5);
    await push(control, -3, MINUTE);
    await push(control, -0.4, MINUTE);
    await harness.clock.advance(3 * MINUTE, {
      settle: settleWith(() => control.settled()),
    });

    expect(harness.writes()).toEqual(["export:never"]);
    expect(control.snapshot().state).toBe("curtailed");
  });

  it("retries an unconfirmed write once", async () => {
    await setup();
    const control = curtailment({ powerwall: staleRule("battery_ok", 2) });

    await push(control, -0.5);

    expect(harness.writes()).toEqual(["export:never", "export:never"]);
    expect(control.snapshot().confirmed).toBe(true);
  });

  it("reports an unconfirmed rule", async () => {
    await setup();
    const control = curtailment({ powerwall: staleRule("battery_ok", 3) });

    await push(control, -0.5);
    const first = control.snapshot();
    await push(control, -0.5, MINUTE);
    const sameInterval = harness.writes().length;
    await push(control, -0.5, 5 * MINUTE);

    expect(first.state).toBe("curtailed");
    expect(first.confirmed).toBe(false);
    expect(changes[0]?.confirmed).toBe(false);
    expect(sameInterval).toBe(2);
    expect(harness.writes()).toEqual([
      "export:never",
      "export:never",
      "export:never",
    ]);
    expect(control.snapshot().confirmed).toBe(true);
  });

  it("confirms by non_export_configured", async () => {
    await setup();
    const control = curtailment({ powerwall: vppSite() });

    await push(control, -0.5);
    await push(control, -9, 5 * MINUTE);

    expect(harness.writes()).toEqual(["export:never", "export:battery_ok"]);
    expect(changes.map((change) => change.confirmed)).toEqual([true, true]);
  });

  it("restores battery_ok when unknown", async () => {
    await setup({ settings: { exportRule: "pv_only" } });
    const unknown = withSiteInfo(harness.client, (info, read) =>
      read === 1
        ? {
            ...info,
            components: {
              ...info.components,
              customer_preferred_export_rule: undefined,
            },
          }
        : info,
    );
    const control = curtailment({ powerwall: unknown });

    await push(control, -0.5);
    await push(control, -9, 5 * MINUTE);

    expect((await stateFile())["userRule"]).toBeUndefined();
    expect(harness.writes()).toEqual(["export:never", "export:battery_ok"]);
  });

  it("retries a failed write", async () => {
    await setup();
    const control = curtailment();
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "grid_import_export",
    });

    await push(control, -0.5);
    const failed = control.snapshot();
    await push(control, -0.5, 5 * MINUTE);

    expect(failed.state).toBe("curtailing");
    expect(failed.lastError).toContain("500");
    expect(harness.writes()).toEqual(["export:never"]);
    expect(control.snapshot().state).toBe("curtailed");
  });

  it("does nothing while disabled", async () => {
    await setup();
    const control = curtailment({ enabled: false });

    await push(control, 5);

    expect(harness.writes()).toEqual([]);
  });

  it("disable restores the rule", async () => {
    await setup();
    const control = curtailment();
    await push(control, 5);

    await control.disable();

    expect(harness.writes()).toEqual(["export:never", "export:battery_ok"]);
    expect(changes.at(-1)).toMatchObject({ active: false, reason: "disabled" });
    expect(control.snapshot().enabled).toBe(false);
  });

  it("enable acts on the last price", async () => {
    await setup();
    const control = curtailment({ enabled: false });
    await push(control, 5);

    await control.enable();

    expect(harness.writes()).toEqual(["export:never"]);
  });

  it("waits while export is claimed", async () => {
    await setup();
    await harness.arbiter.claim(holder("spike:NSW1", "spike"), [
      "tariff",
      "export-rule",
    ]);
    const control = curtailment();

    await push(control, 5);
    const waiting = control.snapshot();
    await harness.arbiter.release("spike:NSW1");

    expect(waiting.state).toBe("waiting");
    expect(waiting.blockedBy).toBe("spike:NSW1");
    expect(harness.writes()).toEqual(["export:never"]);
    expect(control.snapshot().state).toBe("curtailed");
  });

  it("releases when price recovers while waiting", async () => {
    await setup();
    await harness.arbiter.claim(holder("spike:NSW1", "spike"), [
      "tariff",
      "export-rule",
    ]);
    const control = curtailment();
    await push(control, 5);

    await push(control, -9, MINUTE);
    await harness.arbiter.release("spike:NSW1");

    expect(control.snapshot().state).toBe("normal");
    expect(harness.arbiter.hasClaim("curtailment")).toBe(false);
    expect(harness.writes()).toEqual([]);
  });
});

describe("SolarCurtailment restart", () => {
  it("normal: writes nothing", async () => {
    await setup();
    const first = curtailment();
    await push(first, -9);

    const second = await restarted();

    expect(second.snapshot().state).toBe("normal");
    expect(harness.writes()).toEqual([]);
  });

  it("curtailing: finishes the write", async () => {
    await setup({ settings: { exportRule: "pv_only" } });
    const first = curtailment();
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "grid_import_export",
    });
    await push(first, 3);

    const second = await restarted();
    await push(second, -9, 5 * MINUTE);

    expect(harness.writes()).toEqual(["export:never", "export:pv_only"]);
  });

  it("curtailed: keeps the saved rule", async () => {
    await setup({ settings: { exportRule: "pv_only" } });
    const first = curtailment();
    await push(first, 3);

    const second = await restarted();
    const afterResume = harness.writes();
    await push(second, -9, 5 * MINUTE);

    expect(afterResume).toEqual(["export:never"]);
    expect(harness.writes()).toEqual(["export:never", "export:pv_only"]);
  });

  it("restoring: finishes the restore", async () => {
    await setup({ settings: { exportRule: "pv_only" } });
    const first = curtailment();
    await push(first, 3);
    harness.standIn.faults.arm({
      kind: "server-error",
      pathIncludes: "grid_import_export",
    });
    await push(first, -9, 5 * MINUTE);
    const failed = first.snapshot().state;

    const second = await restarted();

    expect(failed).toBe("restoring");
    expect(harness.writes()).toEqual(["export:never", "export:pv_only"]);
    expect(second.snapshot().state).toBe("normal");
    expect(harness.arbiter.hasClaim("curtailment")).toBe(false);
  });

  it("waiting: curtails once free", async () => {
    await setup();
    await harness.arbiter.claim(holder("spike:NSW1", "spike"), [
      "tariff",
      "export-rule",
    ]);
    const first = curtailment();
    await push(first, 3);

    const second = await restarted();
    await push(second, 3, MINUTE);

    expect(second.snapshot().state).toBe("curtailed");
    expect(harness.writes()).toEqual(["export:never"]);
  });
});
