/**
 * The price-event controls the dashboard shows and drives, as narrow views
 * of the classes in src/controls: spike response and solar curtailment
 * (state plus an on/off switch), force charge or discharge, and the custom
 * schedule (state only). Each is
 * optional, because an engine runs them only when they are configured.
 */
import type { SolarCurtailment } from "../controls/curtailment.js";
import type { CustomScheduleControl } from "../controls/custom-schedule.js";
import type { ForceControl } from "../controls/force.js";
import type { SpikeResponse } from "../controls/spike.js";

/** The controls an engine runs; pass those that exist. */
export interface DashboardControls {
  spike?: Pick<SpikeResponse, "snapshot" | "enable" | "disable" | "on" | "off">;
  curtailment?: Pick<
    SolarCurtailment,
    "snapshot" | "enable" | "disable" | "on" | "off"
  >;
  force?: Pick<ForceControl, "snapshot" | "start" | "cancel" | "on" | "off">;
  /** Shown only: schedules are edited in the controls file or HA. */
  customSchedule?: Pick<CustomScheduleControl, "snapshot" | "on" | "off">;
}

/** State of every control for `GET /api/dashboard`; null for one not set up. */
export interface ControlsSnapshot {
  spike: ReturnType<SpikeResponse["snapshot"]> | null;
  curtailment: ReturnType<SolarCurtailment["snapshot"]> | null;
  force: ReturnType<ForceControl["snapshot"]> | null;
  customSchedule: ReturnType<CustomScheduleControl["snapshot"]> | null;
}

/** Returns the state of every control. */
export function controlsSnapshot(
  controls: DashboardControls,
): ControlsSnapshot {
  return {
    spike: controls.spike?.snapshot() ?? null,
    curtailment: controls.curtailment?.snapshot() ?? null,
    force: controls.force?.snapshot() ?? null,
    customSchedule: controls.customSchedule?.snapshot() ?? null,
  };
}

/** Calls `listener` whenever any control changes state; returns the unsubscribe function. */
export function onControlsChange(
  controls: DashboardControls,
  listener: () => void,
): () => void {
  controls.spike?.on("state", listener);
  controls.curtailment?.on("state", listener);
  controls.force?.on("state", listener);
  controls.customSchedule?.on("state", listener);
  return () => {
    controls.spike?.off("state", listener);
    controls.curtailment?.off("state", listener);
    controls.force?.off("state", listener);
    controls.customSchedule?.off("state", listener);
  };
}
