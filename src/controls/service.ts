/**
 * Builds the price-event controls for one Powerwall and connects them to the
 * sync engine: one arbiter, the spike response for the configured region,
 * solar curtailment, custom schedules and force charge/discharge.
 *
 * What the engine side gets:
 * - `attach(engine)`: live prices and sync results drive curtailment and
 *   tell the custom schedule that Amber prices are arriving. The engine
 *   gets the overlays and `tariffHold()` through `useTariffControls`, so a
 *   sync applies the overlays and skips its upload while a control holds
 *   the tariff.
 * - `tariffHold()`: which control holds the tariff and until when.
 * - `guardTariffWrites(port)`: a TeslaPort whose `setTariff` throws
 *   TariffHeldError while a control claims the tariff. It catches a claim
 *   made between the engine's check and its upload.
 * - `overlays()`: the enabled tariff overlays for buildTariff.
 */
import type { Logger } from "pino";

import { AemoClient } from "../aemo/client.js";
import type { CurrentInterval } from "../amber/schemas.js";
import type {
  SyncResult,
  TariffControls,
  TariffHold,
  TeslaPort,
} from "../engine/types.js";
import { describeError, TariffHeldError } from "../errors.js";
import type { SlotOverlay } from "../tariff/build.js";
import { systemClock, type Clock } from "../util/clock.js";
import { SolarCurtailment, type CurtailmentSnapshot } from "./curtailment.js";
import {
  CustomScheduleControl,
  type CustomScheduleSnapshot,
} from "./custom-schedule.js";
import { ForceControl, type ForceSnapshot } from "./force.js";
import { controlOverlays } from "./overlays.js";
import type { PowerwallWrites, SiteId } from "./powerwall.js";
import { ControlArbiter, type ArbiterSnapshot } from "./precedence.js";
import { loadControlSettings, type ControlSettings } from "./settings.js";
import {
  SpikeResponse,
  type RegionPriceSource,
  type SpikeSnapshot,
} from "./spike.js";

/** How often the fallback schedule is checked, ms. */
const FALLBACK_CHECK_MS = 60_000;

/** The parts of SyncEngine the controls listen to. */
export interface EngineEventsPort {
  on(event: "prices", listener: (prices: CurrentInterval[]) => void): unknown;
  on(event: "sync", listener: (result: SyncResult) => void): unknown;
  readonly autoSync: boolean;
  /** The last built slots, current half hour first. */
  status(): { slots: ReadonlyArray<{ sellActual: number }> };
  /** Takes the overlays and the tariff hold check; SyncEngine implements it. */
  useTariffControls?(controls: TariffControls): void;
}

/** Options of {@link createControls}. */
export interface ControlsOptions {
  dataDir: string;
  siteId: SiteId;
  powerwall: PowerwallWrites;
  logger: Logger;
  clock?: Clock;
  /** Default: `configured` with `controls.json` in `dataDir` merged over it. */
  settings?: ControlSettings;
  /** The `controls:` key of the main configuration, as written; default none. */
  configured?: Record<string, unknown>;
  /** Zone when site_info has no `installation_time_zone`; default Australia/Sydney. */
  fallbackTimeZone?: string;
  /** Source of AEMO prices; default an AemoClient on `settings.spike.aemoBaseUrl`. */
  prices?: RegionPriceSource;
}

/** Every control's state, for the status API, the HA bridge and the dashboard. */
export interface ControlsSnapshot {
  arbiter: ArbiterSnapshot;
  spike: SpikeSnapshot;
  curtailment: CurtailmentSnapshot;
  customSchedule: CustomScheduleSnapshot;
  force: ForceSnapshot;
}

/** The controls of one site; see the file comment. */
export interface Controls {
  readonly settings: ControlSettings;
  readonly arbiter: ControlArbiter;
  readonly spike: SpikeResponse;
  readonly curtailment: SolarCurtailment;
  readonly customSchedule: CustomScheduleControl;
  readonly force: ForceControl;
  /** Returns the enabled tariff overlays, in the order buildTariff must apply them. */
  overlays(): SlotOverlay[];
  /** Returns the control that holds the tariff and until when, or undefined when none does. */
  tariffHold(): TariffHold | undefined;
  /** Wraps the engine's Tesla port so tariff uploads wait while a control claims the tariff. */
  guardTariffWrites(port: TeslaPort): TeslaPort;
  /** Feeds the engine's live prices and sync results to the controls. */
  attach(engine: EngineEventsPort): void;
  /** Loads every state file, finishes interrupted transitions and starts polling. */
  start(): Promise<void>;
  /** Stops polling and timers and waits for running transitions. Powerwall settings stay as they are. */
  stop(): Promise<void>;
  snapshot(): ControlsSnapshot;
}

/** Builds the controls; call `start()` before use. */
export async function createControls(
  options: ControlsOptions,
): Promise<Controls> {
  const settings =
    options.settings ??
    (await loadControlSettings(options.dataDir, options.configured));
  const clock = options.clock ?? systemClock;
  const logger = options.logger.child({ module: "controls" });
  const arbiter = new ControlArbiter(logger);
  const common = {
    siteId: options.siteId,
    powerwall: options.powerwall,
    arbiter,
    dataDir: options.dataDir,
    logger,
    clock,
  };
  const zone = options.fallbackTimeZone ?? "Australia/Sydney";

  const spike = new SpikeResponse({
    ...common,
    region: settings.spike.region,
    prices:
      options.prices ??
      new AemoClient({
        baseUrl: settings.spike.aemoBaseUrl,
        logger: logger.child({ module: "aemo" }),
        clock,
      }),
    thresholdMwh: settings.spike.thresholdMwh,
    exitMargin: settings.spike.exitMargin,
    exitIntervals: settings.spike.exitIntervals,
    pollIntervalMs: settings.spike.pollSeconds * 1000,
    fallbackTimeZone: zone,
  });
  const curtailment = new SolarCurtailment({
    ...common,
    thresholdCents: settings.curtailment.thresholdCents,
    hysteresisCents: settings.curtailment.hysteresisCents,
  });
  const customSchedule = new CustomScheduleControl({
    ...common,
    fallbackAfterMs: settings.customSchedule.fallbackMinutes * 60_000,
  });
  const force = new ForceControl({
    ...common,
    fallbackTimeZone: zone,
    maxMinutes: settings.force.maxMinutes,
  });

  let engine: EngineEventsPort | undefined;
  let fallbackLoop: AbortController | undefined;
  let fallbackDone: Promise<void> | undefined;

  const overlays = (): SlotOverlay[] => controlOverlays(settings.overlays);
  const tariffHold = (): TariffHold | undefined => {
    const holder = arbiter.tariffOverride();
    if (holder === undefined) {
      return undefined;
    }
    if (holder === force.id) {
      const state = force.snapshot();
      return {
        holder,
        description: `force ${state.direction ?? "charge/discharge"}`,
        until: state.endsAt,
        endCondition: "it is cancelled",
      };
    }
    if (holder === spike.id) {
      const state = spike.snapshot();
      return {
        holder,
        description: `spike response for ${state.region}`,
        until: undefined,
        endCondition: `the ${state.region} price stays below ${state.exitBelowMwh} $/MWh for ${state.exitIntervals} dispatch intervals`,
      };
    }
    if (holder === customSchedule.id) {
      const name = customSchedule.snapshot().active;
      return {
        holder,
        description:
          name === undefined ? "custom schedule" : `custom schedule "${name}"`,
        until: undefined,
        endCondition: "the schedule is cleared",
      };
    }
    return {
      holder,
      description: describeHolder(holder),
      until: undefined,
      endCondition: "the control releases it",
    };
  };

  const report = (what: string) => (error: unknown) => {
    logger.warn({ error: describeError(error) }, `Controls could not ${what}`);
  };

  return {
    settings,
    arbiter,
    spike,
    curtailment,
    customSchedule,
    force,

    overlays,
    tariffHold,

    guardTariffWrites(port) {
      return {
        getSiteInfo: (siteId) => port.getSiteInfo(siteId),
        counters: () => port.counters(),
        setTariff: async (siteId, tariff) => {
          const holder = arbiter.tariffOverride();
          if (holder !== undefined) {
            throw new TariffHeldError(
              `the ${describeHolder(holder)} controls the tariff, so the Amber tariff is not uploaded until it ends`,
            );
          }
          await port.setTariff(siteId, tariff);
        },
      };
    },

    attach(target) {
      engine = target;
      target.useTariffControls?.({ overlays, tariffHold });
      target.on("prices", (prices) => {
        const now = clock.now();
        customSchedule.noteAmberData(now);
        const feedIn = prices.find((price) => price.channelType === "feedIn");
        if (feedIn !== undefined) {
          curtailment
            .onPrice(feedIn.perKwh, now)
            .catch(report("act on a live feed-in price"));
        }
      });
      target.on("sync", (result) => {
        if (result.tariffSummary === undefined) {
          return;
        }
        const now = clock.now();
        customSchedule.noteAmberData(now);
        const current = target.status().slots[0];
        if (current !== undefined) {
          // sellActual is the negated feed-in price in $/kWh; Amber's sign in c/kWh is its negative times 100.
          curtailment
            .onPrice(-current.sellActual * 100, now)
            .catch(report("act on the synced feed-in price"));
        }
      });
    },

    async start() {
      await force.load();
      await spike.load();
      await customSchedule.load();
      await curtailment.load();
      await force.resume();
      await spike.resume();
      await customSchedule.resume();
      await curtailment.resume();

      if (settings.spike.enabled === true) {
        await spike.enable();
      } else if (settings.spike.enabled === false) {
        await spike.disable();
      }
      if (settings.curtailment.enabled === true) {
        await curtailment.enable();
      } else if (settings.curtailment.enabled === false) {
        await curtailment.disable();
      }
      spike.start();

      const loop = new AbortController();
      fallbackLoop = loop;
      fallbackDone = (async () => {
        while (!loop.signal.aborted) {
          try {
            await clock.sleep(FALLBACK_CHECK_MS, loop.signal);
          } catch {
            return;
          }
          if (engine?.autoSync === true) {
            await customSchedule
              .checkFallback()
              .catch(report("check the fallback schedule"));
          }
        }
      })();
      const spikeRegion = spike.snapshot().enabled
        ? settings.spike.region
        : undefined;
      const curtailing = curtailment.snapshot().enabled;
      const holder = arbiter.tariffOverride();
      logger.info(
        {
          spike: spikeRegion ?? "off",
          curtailment: curtailing ? "on" : "off",
          ...(holder === undefined ? {} : { tariffHeldBy: holder }),
        },
        `Price-event controls started: spike response ${spikeRegion === undefined ? "off" : `on for ${spikeRegion}`}, solar curtailment ${curtailing ? "on" : "off"}. ${holder === undefined ? "The Amber sync sets the tariff." : `The ${describeHolder(holder)} holds the tariff, so the Amber sync waits until it ends.`}`,
      );
    },

    async stop() {
      fallbackLoop?.abort(new Error("controls stopped"));
      await fallbackDone;
      await spike.stop();
      await force.stop();
      await curtailment.stop();
      await customSchedule.settled();
    },

    snapshot: () => ({
      arbiter: arbiter.snapshot(),
      spike: spike.snapshot(),
      curtailment: curtailment.snapshot(),
      customSchedule: customSchedule.snapshot(),
      force: force.snapshot(),
    }),
  };
}

function describeHolder(id: string): string {
  if (id === "force") {
    return "force charge/discharge";
  }
  if (id.startsWith("spike:")) {
    return `spike response for ${id.slice("spike:".length)}`;
  }
  return id === "custom-schedule" ? "custom schedule" : id;
}
