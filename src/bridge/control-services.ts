/**
 * The control actions of the bridge protocol (docs/bridge-protocol.md,
 * "Control actions"): force charge and discharge, custom schedules and the
 * spike test, each mapped to its control in src/controls/. Each handler
 * returns the response the protocol lists, and throws
 * InvalidServiceRequestError for wrong input, so the bridge sends
 * `error_code: "invalid_request"`. Any other error means the control tried
 * and failed.
 */
import { join } from "node:path";

import { z } from "zod";

import {
  customScheduleTariff,
  formatCustomSchedule,
  parseCustomScheduleObject,
  type CustomSchedule,
} from "../controls/custom-schedule.js";
import type { ForceDirection } from "../controls/force.js";
import type { Controls } from "../controls/service.js";
import { ConfigError, TariffInvalidError } from "../errors.js";
import { readJsonFile } from "../util/atomic-file.js";
import { InvalidServiceRequestError } from "./bridge.js";
import { isoWithOffset } from "./states.js";

/** The controls the control actions drive. */
export type ServiceControls = Pick<
  Controls,
  "force" | "customSchedule" | "spike"
>;

/** Names of the control actions, in the order of the protocol's table. */
export const CONTROL_SERVICES = [
  "force_charge",
  "force_discharge",
  "cancel_force",
  "set_custom_schedule",
  "apply_custom_schedule",
  "clear_custom_schedule",
  "spike_test",
  "spike_test_end",
] as const;

/** A control action name. */
export type ControlService = (typeof CONTROL_SERVICES)[number];

/** Returns whether `service` names a control action. */
export function isControlService(service: string): service is ControlService {
  return (CONTROL_SERVICES as readonly string[]).includes(service);
}

const durationData = z.object({
  duration: z.number().int().positive(),
});
const scheduleData = z.object({
  schedule: z.record(z.string(), z.unknown()),
});
const spikeTestData = z.object({ price_mwh: z.number().finite() });

/** Where the custom schedule control keeps its state; its `fallback` is the stored schedule. */
const SCHEDULE_FILE = "custom-schedule.json";
const storedScheduleFile = z.object({ fallback: z.unknown().optional() });

/**
 * Runs one control action and returns its response. `dataDir` is the
 * engine's data directory, read for the stored schedule.
 */
export async function callControlService(
  controls: ServiceControls,
  service: ControlService,
  data: Record<string, unknown>,
  dataDir: string,
): Promise<Record<string, unknown>> {
  switch (service) {
    case "force_charge":
      return startForce(controls, "charge", data);
    case "force_discharge":
      return startForce(controls, "discharge", data);
    case "cancel_force":
      await controls.force.cancel();
      return { state: "idle" };
    case "set_custom_schedule":
      return setSchedule(controls, data);
    case "apply_custom_schedule":
      return applyStoredSchedule(controls, dataDir);
    case "clear_custom_schedule":
      await controls.customSchedule.clear();
      return { state: "off" };
    case "spike_test":
      return startSpikeTest(controls, data);
    case "spike_test_end":
      await controls.spike.endSimulation();
      return { state: controls.spike.snapshot().state, simulated: false };
  }
}

async function startForce(
  controls: ServiceControls,
  direction: ForceDirection,
  data: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const parsed = durationData.safeParse(data);
  if (!parsed.success) {
    throw new InvalidServiceRequestError(
      `Force ${direction} needs duration in whole minutes (got ${JSON.stringify(data["duration"])}); send e.g. {"duration": 60}.`,
    );
  }
  let snapshot;
  try {
    snapshot = await controls.force.start(direction, parsed.data.duration);
  } catch (error) {
    // start() rejects a duration out of range with ConfigError before it
    // writes anything; every other error comes from a write.
    throw error instanceof ConfigError
      ? new InvalidServiceRequestError(error.message, { cause: error })
      : error;
  }
  return {
    state: snapshot.state,
    direction: snapshot.direction ?? direction,
    ends_at:
      snapshot.endsAt === undefined ? null : isoWithOffset(snapshot.endsAt),
  };
}

/** Parses and compiles a schedule as the control will, so its problems come back as invalid input. */
function validateSchedule(value: unknown): CustomSchedule {
  try {
    const schedule = parseCustomScheduleObject(value);
    customScheduleTariff(schedule);
    return schedule;
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new InvalidServiceRequestError(error.message, { cause: error });
    }
    if (error instanceof TariffInvalidError) {
      throw new InvalidServiceRequestError(
        `Custom schedule is invalid: ${error.problems.join("; ")}.`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function setSchedule(
  controls: ServiceControls,
  data: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const parsed = scheduleData.safeParse(data);
  if (!parsed.success) {
    throw new InvalidServiceRequestError(
      'set_custom_schedule needs schedule, an object with a seasons list; send {"schedule": {...}}.',
    );
  }
  const schedule = validateSchedule(parsed.data.schedule);
  const written = formatCustomSchedule(schedule);
  await controls.customSchedule.setFallback(written);
  let applied = controls.customSchedule.snapshot().state === "applied";
  if (controls.customSchedule.snapshot().state !== "off") {
    const after = await controls.customSchedule.apply(written);
    applied = after.state === "applied";
  }
  return { name: schedule.name, applied };
}

async function applyStoredSchedule(
  controls: ServiceControls,
  dataDir: string,
): Promise<Record<string, unknown>> {
  // NOTE: the control has no getter for its stored schedule, so this reads
  // the control's own state file, whose `fallback` holds it as written.
  const file = storedScheduleFile.safeParse(
    await readJsonFile(join(dataDir, SCHEDULE_FILE)),
  );
  const stored = file.success ? file.data.fallback : undefined;
  if (
    stored === undefined ||
    controls.customSchedule.snapshot().fallback === undefined
  ) {
    throw new InvalidServiceRequestError(
      "No custom schedule is stored; send one with tesla_sync.set_custom_schedule first.",
    );
  }
  const schedule = validateSchedule(stored);
  const after = await controls.customSchedule.apply(
    formatCustomSchedule(schedule),
  );
  return {
    name: schedule.name,
    state: after.state === "applied" ? "applied" : "pending",
  };
}

async function startSpikeTest(
  controls: ServiceControls,
  data: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const parsed = spikeTestData.safeParse(data);
  if (!parsed.success) {
    throw new InvalidServiceRequestError(
      `spike_test needs price_mwh, a number in $/MWh (got ${JSON.stringify(data["price_mwh"])}); send e.g. {"price_mwh": 1500}.`,
    );
  }
  const priceMwh = parsed.data.price_mwh;
  const threshold = controls.spike.snapshot().thresholdMwh;
  if (priceMwh < threshold) {
    throw new InvalidServiceRequestError(
      `Simulated spike price ${priceMwh} $/MWh is below the threshold of ${threshold} $/MWh; use at least the threshold.`,
    );
  }
  await controls.spike.simulate(priceMwh);
  return {
    state: controls.spike.snapshot().state,
    simulated: true,
    price_mwh: priceMwh,
  };
}
