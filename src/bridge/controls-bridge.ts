/**
 * The price-event controls (AEMO spike response and solar curtailment,
 * src/controls/) as HA entities and events. The integration's options
 * `spike_response` and `curtailment` switch the controls on and off in
 * place. The controls take `aemo_region`, `spike_threshold` and
 * `curtailment_threshold` when they are built, so HA mode restarts the
 * engine when one of those changes (see engine-config.ts).
 */
import type { Controls } from "../controls/service.js";
import type {
  SpikeEndedEvent,
  SpikeSnapshot,
  SpikeStartedEvent,
} from "../controls/spike.js";
import type {
  CurtailmentChangedEvent,
  CurtailmentSnapshot,
} from "../controls/curtailment.js";
import type { SyncResult } from "../engine/types.js";
import type { Logger } from "../log.js";
import type { HaBridge } from "./bridge.js";
import type { EntryOptions, StateUpdate } from "./messages.js";
import { isoWithOffset } from "./states.js";

/** The parts of the controls the bridge uses. */
export type BridgeControls = Pick<Controls, "spike" | "curtailment">;

/** Spike states in which a spike is under way (responded to or waiting for force to end). */
const SPIKE_ONGOING = new Set(["entering", "active", "suspended"]);

/** States of the control entities. */
export function controlStates(
  spike: SpikeSnapshot,
  curtailment: CurtailmentSnapshot,
): StateUpdate[] {
  const price = spike.lastPrice;
  return [
    {
      key: "aemo_price",
      state: price === undefined ? null : price.priceMwh,
      attributes: {
        region: spike.region,
        firm: price?.firm ?? null,
        interval_end:
          price === undefined ? null : isoWithOffset(price.settlementEnd),
      },
    },
    {
      key: "aemo_spike",
      state: SPIKE_ONGOING.has(spike.state),
      attributes: {
        response_state: spike.state,
        region: spike.region,
        threshold_mwh: spike.thresholdMwh,
        exit_below_mwh: spike.exitBelowMwh,
        simulated: spike.simulated,
        blocked_by: spike.blockedBy ?? null,
        last_error: spike.lastError ?? null,
      },
    },
    {
      key: "curtailment_active",
      state: curtailment.curtailed,
      attributes: {
        control_state: curtailment.state,
        user_rule: curtailment.userRule ?? null,
        threshold_cents: curtailment.thresholdCents,
        restore_at_cents: curtailment.restoreAtCents,
        confirmed: curtailment.confirmed ?? null,
        blocked_by: curtailment.blockedBy ?? null,
        last_error: curtailment.lastError ?? null,
      },
    },
    { key: "spike_response", state: spike.enabled },
    { key: "curtailment", state: curtailment.enabled },
    { key: "aemo_region", state: spike.region },
    { key: "spike_threshold", state: spike.thresholdMwh },
    { key: "curtailment_threshold", state: curtailment.thresholdCents },
  ];
}

/**
 * Sends the controls' states on every change and turns their events into
 * HA bus events. Returns a function that stops listening.
 */
export function wireControls(
  controls: BridgeControls,
  bridge: HaBridge,
  logger: Logger,
): () => void {
  const publish = (): void => {
    for (const update of controlStates(
      controls.spike.snapshot(),
      controls.curtailment.snapshot(),
    )) {
      bridge.setState(update.key, update.state, update.attributes);
    }
  };
  const fire = (
    type: Parameters<HaBridge["fireEvent"]>[0],
    data: Record<string, unknown>,
  ): void => {
    bridge.fireEvent(type, data).catch((error: unknown) => {
      logger.debug(
        { err: error, eventType: type },
        "The control event did not reach Home Assistant",
      );
    });
  };

  const onSpikeStarted = (event: SpikeStartedEvent): void => {
    fire("tesla_sync_spike_started", spikeStartedData(event));
  };
  const onSpikeEnded = (event: SpikeEndedEvent): void => {
    fire("tesla_sync_spike_ended", spikeEndedData(event));
  };
  const onCurtailment = (event: CurtailmentChangedEvent): void => {
    fire("tesla_sync_curtailment_changed", curtailmentChangedData(event));
  };

  controls.spike.on("state", publish);
  controls.spike.on("spike_started", onSpikeStarted);
  controls.spike.on("spike_ended", onSpikeEnded);
  controls.curtailment.on("state", publish);
  controls.curtailment.on("curtailment_changed", onCurtailment);
  publish();

  return () => {
    controls.spike.off("state", publish);
    controls.spike.off("spike_started", onSpikeStarted);
    controls.spike.off("spike_ended", onSpikeEnded);
    controls.curtailment.off("state", publish);
    controls.curtailment.off("curtailment_changed", onCurtailment);
  };
}

/** Data of `tesla_sync_spike_started`, with the protocol's field names. */
export function spikeStartedData(
  event: SpikeStartedEvent,
): Record<string, unknown> {
  return {
    region: event.region,
    price: event.price,
    threshold: event.thresholdMwh,
    simulated: event.simulated,
    responding: event.responding,
  };
}

/**
 * Data of `tesla_sync_spike_ended`: `duration` in whole seconds, and the
 * control's kebab-case reason ("price-fell") in snake case ("price_fell").
 */
export function spikeEndedData(
  event: SpikeEndedEvent,
): Record<string, unknown> {
  return {
    region: event.region,
    price: event.price,
    peak_price: event.peakPriceMwh,
    duration: Math.round(event.durationMs / 1000),
    simulated: event.simulated,
    reason: event.reason.replaceAll("-", "_"),
  };
}

/** Data of `tesla_sync_curtailment_changed`; `feed_in_price` ($/kWh) only when known. */
export function curtailmentChangedData(
  event: CurtailmentChangedEvent,
): Record<string, unknown> {
  return {
    active: event.active,
    export_rule: event.rule,
    confirmed: event.confirmed,
    ...(event.sellPrice === undefined
      ? {}
      : { feed_in_price: event.sellPrice }),
    reason: event.reason,
  };
}

/**
 * Data of `tesla_sync_tariff_uploaded` for an Amber sync. `periods` falls
 * back to `slotCount` when the result has no summary, and `buy_now` and
 * `sell_now` ($/kWh) are sent only when known.
 */
export function tariffUploadedData(
  result: SyncResult,
  slotCount: number,
): Record<string, unknown> {
  const summary = result.tariffSummary;
  return {
    reason: result.reason,
    source: "amber",
    trigger: result.trigger,
    periods: summary?.slots ?? slotCount,
    ...(summary === undefined
      ? {}
      : { buy_now: summary.currentBuy, sell_now: summary.currentSell }),
  };
}

/** Switches the controls on or off to match the entry's options. */
export async function applyControlSwitches(
  controls: BridgeControls,
  options: Pick<EntryOptions, "spike_response" | "curtailment">,
): Promise<void> {
  if (controls.spike.snapshot().enabled !== options.spike_response) {
    await (options.spike_response
      ? controls.spike.enable()
      : controls.spike.disable());
  }
  if (controls.curtailment.snapshot().enabled !== options.curtailment) {
    await (options.curtailment
      ? controls.curtailment.enable()
      : controls.curtailment.disable());
  }
}
