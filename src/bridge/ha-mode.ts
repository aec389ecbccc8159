/**
 * HA mode: the engine takes its configuration from the Tesla Sync
 * integration over the bridge and publishes its entities there.
 *
 * Start-up: connect to HA, wait for it and the integration, read the
 * config entry, start the engine with it. Until the engine runs, the
 * status server's port shows a page saying what it waits for. The engine
 * keeps syncing while HA is away (restart, network); entity states are
 * sent again when the bridge reconnects.
 *
 * A changed config entry restarts the engine when an account, site or the
 * forecast band changed, and is applied in place when only auto-sync did.
 * Rejected credentials are reported once per configuration with
 * `tesla_sync/auth_failed`, which starts HA's reauthentication flow.
 */
import type { CurrentInterval, Interval } from "../amber/schemas.js";
import { configSchema } from "../config/schema.js";
import { configFromEnv } from "../config/env.js";
import {
  startService,
  type RunningService,
  type ServiceOptions,
} from "../engine/service.js";
import type { SyncEngine } from "../engine/sync-engine.js";
import type {
  AmberPort,
  StatusSnapshot,
  SyncOutcome,
  SyncResult,
  TeslaPort,
} from "../engine/types.js";
import { AuthError, ConfigError, describeError } from "../errors.js";
import type { EnergySample } from "../history/store.js";
import type { Logger } from "../log.js";
import type { StatusServer } from "../server/status-server.js";
import type { WebServer } from "../server/web-server.js";
import { systemClock, type Clock } from "../util/clock.js";
import {
  HaBridge,
  InvalidServiceRequestError,
  type BridgeStatus,
} from "./bridge.js";
import { HaConnection } from "./connection.js";
import {
  applyControlSwitches,
  tariffUploadedData,
  wireControls,
  type BridgeControls,
} from "./controls-bridge.js";
import { callControlService, isControlService } from "./control-services.js";
import { engineConfigFromHa, restartKey } from "./engine-config.js";
import {
  AEMO_REGIONS,
  controlEntities,
  coreEntities,
  FORECAST_BANDS,
} from "./entities.js";
import type { HaSettings } from "./env.js";
import { borrowedToken, HaFleetTokenProvider } from "./fleet-token.js";
import { ENGINE_FEATURES, type StateUpdate } from "./messages.js";
import { PowerwallMonitor } from "./powerwall-monitor.js";
import { previewTariff } from "./preview.js";
import type { EntityCommand, HaEngineConfig } from "./schemas.js";
import {
  engineStates,
  powerwallStates,
  priceStates,
  uploadedTariffState,
  type PowerwallReading,
  type UploadedTariff,
} from "./states.js";
import { startWaitingServer, type WaitingServer } from "./waiting-server.js";

/** Live-status poll period per access kind, ms. */
export const LIVE_STATUS_INTERVAL_MS = {
  // Teslemetry includes one live-data refresh per minute per site.
  teslemetry: 60_000,
  // The Fleet API bills data requests, and its energy data refreshes only
  // every few minutes on Tesla's side.
  tesla_fleet: 300_000,
} as const;

/** How often time-dependent states (current price, next sync) are recomputed, ms. */
const REFRESH_MS = 30_000;

/** Options for {@link startHaMode}. */
export interface HaModeOptions {
  settings: HaSettings;
  /** Environment for the settings the integration does not store. */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Sent in `hello` and shown on the engine device. */
  engineVersion: string;
  clock?: Clock;
  /** Starts the engine; default startService. */
  startEngine?: (options: ServiceOptions) => Promise<RunningService>;
  /** First delay before retrying a failed engine start, ms; default 60 000, doubling up to 15 min. */
  restartDelayMs?: number;
}

/** A running HA mode. */
export interface HaMode {
  readonly bridge: HaBridge;
  /** The running engine, or undefined while it waits. */
  readonly service: RunningService | undefined;
  /** Address of the waiting page while it is open. */
  readonly waitingPageUrl: string | undefined;
  /** Stops the engine, the bridge and every timer. */
  stop(): Promise<void>;
}

/**
 * Starts HA mode. Resolves once the first connection to HA is up, and the
 * engine follows when the integration delivers its configuration. Rejects
 * with BridgeError when HA rejects the token.
 */
export async function startHaMode(options: HaModeOptions): Promise<HaMode> {
  const mode = new HaModeRunner(options);
  await mode.start();
  return mode;
}

class HaModeRunner implements HaMode {
  readonly bridge: HaBridge;
  readonly #options: HaModeOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #server: { host: string; port: number };
  readonly #startEngine: (options: ServiceOptions) => Promise<RunningService>;

  #service: RunningService | undefined;
  #runningKey: string | undefined;
  #config: HaEngineConfig | undefined;
  #problem: string | undefined;
  #fleetTokens: HaFleetTokenProvider | undefined;
  #monitor: PowerwallMonitor | undefined;
  #unwireControls: (() => void) | undefined;
  #waiting: WaitingServer | undefined;
  #queue: Promise<void> = Promise.resolve();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelayMs: number;
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  #window: readonly Interval[] = [];
  #live: readonly CurrentInterval[] = [];
  #uploaded: UploadedTariff | undefined;
  #intervalLength: 5 | 30 | undefined;
  readonly #authReported = new Set<"amber" | "tesla">();

  constructor(options: HaModeOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ module: "ha-mode" });
    this.#clock = options.clock ?? systemClock;
    this.#startEngine = options.startEngine ?? startService;
    this.#retryDelayMs = options.restartDelayMs ?? 60_000;
    const base = configSchema.parse(configFromEnv(options.env));
    this.#server = { host: base.server.host, port: base.server.port };

    const connection = new HaConnection({
      wsUrl: options.settings.wsUrl,
      token: options.settings.token,
      logger: options.logger.child({ module: "ha-connection" }),
      authHint: options.settings.authHint,
    });
    this.bridge = new HaBridge({
      connection,
      engineVersion: options.engineVersion,
      ...(options.settings.entryId === undefined
        ? {}
        : { entryId: options.settings.entryId }),
      logger: options.logger,
      handlers: {
        onConfig: (config, reason) => {
          this.#onConfig(config, reason);
        },
        onCommand: (command) => this.#onCommand(command),
        onServiceCall: (service, data) => this.#onServiceCall(service, data),
      },
      features: ENGINE_FEATURES,
    });
    this.bridge.declare(coreEntities(), {
      engine: { sw_version: options.engineVersion },
    });
  }

  get service(): RunningService | undefined {
    return this.#service;
  }

  get waitingPageUrl(): string | undefined {
    return this.#waiting?.url;
  }

  async start(): Promise<void> {
    this.#logger.info(
      { url: this.#options.settings.wsUrl, kind: this.#options.settings.kind },
      "Starting in Home Assistant mode: the configuration comes from the Tesla Sync integration",
    );
    await this.#openWaitingPage();
    try {
      await this.bridge.start();
    } catch (error) {
      await this.#closeWaitingPage();
      throw error;
    }
    this.#refreshTimer = setInterval(() => {
      this.#publishTimeDependent();
    }, REFRESH_MS);
  }

  /** Stops everything; an arrow function, so callers may pass it around unbound. */
  readonly stop = async (): Promise<void> => {
    this.#stopped = true;
    if (this.#refreshTimer !== undefined) {
      clearInterval(this.#refreshTimer);
    }
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
    }
    this.bridge.stop();
    await this.#queue;
    await this.#stopEngine();
    await this.#closeWaitingPage();
  };

  // ------------------------------------------------------------ config

  #onConfig(config: HaEngineConfig, reason: "session" | "changed"): void {
    this.#config = config;
    this.#fleetTokens?.update(borrowedToken(config));
    if (reason === "changed") {
      // New credentials may have been entered; report the next rejection.
      this.#authReported.clear();
    }
    this.#enqueue(() => this.#apply());
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error: unknown) => {
      this.#logger.error(
        { err: error },
        `Unexpected error in Home Assistant mode: ${describeError(error)}`,
      );
    });
  }

  /** Starts, restarts or adjusts the engine for the latest configuration. */
  async #apply(): Promise<void> {
    const config = this.#config;
    if (config === undefined || this.#stopped) {
      return;
    }
    const key = restartKey(config);
    const service = this.#service;
    if (service !== undefined && key === this.#runningKey) {
      if (service.engine.autoSync !== config.options.auto_sync) {
        service.engine.setAutoSync(config.options.auto_sync);
      }
      await this.#switchControls(service, config);
      this.#publishEngine(service.engine.status());
      return;
    }
    if (service !== undefined) {
      this.#logger.info(
        "The Tesla Sync configuration changed; restarting the engine with it",
      );
      await this.#stopEngine();
    }
    await this.#startWith(config, key);
  }

  async #startWith(config: HaEngineConfig, key: string): Promise<void> {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    try {
      const engineConfig = engineConfigFromHa(config, this.#options.env);
      this.#fleetTokens =
        config.tesla.access_kind === "tesla_fleet"
          ? new HaFleetTokenProvider(
              borrowedToken(config),
              async () => borrowedToken(await this.bridge.readConfig()),
              this.#clock,
            )
          : undefined;
      await this.#closeWaitingPage();
      const service = await this.#startEngine({
        config: engineConfig,
        logger: this.#options.logger,
        clock: this.#clock,
        ...(this.#fleetTokens === undefined
          ? {}
          : { teslaTokens: this.#fleetTokens }),
        wrapPorts: (ports) => this.#observePorts(ports),
        onEngine: (engine) => {
          this.#observeEngine(engine);
        },
      });
      this.#service = service;
      this.#runningKey = key;
      this.#problem = undefined;
      this.#retryDelayMs = this.#options.restartDelayMs ?? 60_000;
      this.#publishEngine(service.engine.status());
      this.#attachControls(service);
      await this.#switchControls(service, config);
      await this.#startMonitor(
        service,
        config,
        engineConfig.dashboard.energySampleSeconds,
      );
    } catch (error) {
      await this.#engineFailed(error);
    }
  }

  async #engineFailed(error: unknown): Promise<void> {
    this.#service = undefined;
    this.#runningKey = undefined;
    this.#problem = `the engine could not start: ${describeError(error)}`;
    if (
      error instanceof AuthError &&
      error.vendor !== "aemo" &&
      error.vendor !== "home_assistant"
    ) {
      this.#logger.error(
        { vendor: error.vendor },
        `${error.message} Home Assistant asks for new credentials under Settings > Devices & services; the engine starts once they are saved.`,
      );
      await this.#reportAuth(error.vendor);
    } else if (error instanceof ConfigError) {
      this.#logger.error(
        `The engine could not start: ${error.message} Fix it in the Tesla Sync integration's options; the engine starts again once the entry changes.`,
      );
    } else {
      this.#logger.warn(
        { retryInMs: this.#retryDelayMs },
        `The engine could not start: ${describeError(error)}; retrying`,
      );
      this.#scheduleRetry();
    }
    await this.#openWaitingPage();
  }

  #scheduleRetry(): void {
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delay * 2, 15 * 60_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#enqueue(() => this.#apply());
    }, delay);
  }

  async #stopEngine(): Promise<void> {
    const service = this.#service;
    const monitor = this.#monitor;
    this.#service = undefined;
    this.#runningKey = undefined;
    this.#monitor = undefined;
    this.#unwireControls?.();
    this.#unwireControls = undefined;
    await monitor?.stop();
    await service?.stop();
  }

  /**
   * Starts the Powerwall readings: from the dashboard's history recorder
   * when it samples live_status already (`energySampleSeconds` above 0),
   * else by polling at the access kind's period.
   */
  async #startMonitor(
    service: RunningService,
    config: HaEngineConfig,
    energySampleSeconds: number,
  ): Promise<void> {
    const recorder = historyRecorderOf(service.server);
    const shared = recorder !== undefined && energySampleSeconds > 0;
    const monitor = new PowerwallMonitor({
      ...(shared ? {} : { source: service.tesla }),
      siteId: service.teslaSiteId,
      dataDir: engineDataDir(this.#options.env),
      logger: this.#options.logger,
      clock: this.#clock,
      intervalMs: shared
        ? energySampleSeconds * 1000
        : LIVE_STATUS_INTERVAL_MS[config.tesla.access_kind],
    });
    monitor.on("reading", (reading, totals) => {
      this.#publish(powerwallStates(reading, totals));
    });
    this.#monitor = monitor;
    await monitor.start();
    if (shared) {
      recorder.on("energy", (sample: EnergySample) => {
        void monitor.ingest(readingOfSample(sample), sample.at);
      });
      // The recorder took its first sample while the engine started,
      // before the listener existed; its store has it. A newer sample that
      // arrived meanwhile makes the monitor ignore this older one.
      const first = historyOf(service.server)?.latestEnergySample();
      if (first !== undefined) {
        await monitor.ingest(readingOfSample(first), first.at);
      }
    }
  }

  /** Registers the control entities and follows the controls' state and events. */
  #attachControls(service: RunningService): void {
    const controls: BridgeControls = service.controls;
    this.bridge.declare([...coreEntities(), ...controlEntities()], {
      engine: { sw_version: this.#options.engineVersion },
    });
    this.#unwireControls = wireControls(controls, this.bridge, this.#logger);
  }

  async #switchControls(
    service: RunningService,
    config: HaEngineConfig,
  ): Promise<void> {
    try {
      await applyControlSwitches(service.controls, config.options);
    } catch (error) {
      this.#logger.warn(
        { err: error },
        `Switching the price-event controls to the entry's options failed: ${describeError(error)}`,
      );
    }
  }

  // ------------------------------------------------------------ observing

  #observePorts(ports: { amber: AmberPort; tesla: TeslaPort }): {
    amber: AmberPort;
    tesla: TeslaPort;
  } {
    const { amber, tesla } = ports;
    return {
      amber: {
        getCurrentPrices: async (siteId, query) => {
          const response = await this.#watchAuth("amber", () =>
            amber.getCurrentPrices(siteId, query),
          );
          this.#window = response.intervals;
          this.#publishPrices();
          return response;
        },
        getPrices: (siteId, query) =>
          this.#watchAuth("amber", () => amber.getPrices(siteId, query)),
        counters: () => amber.counters(),
      },
      tesla: {
        getSiteInfo: (siteId) =>
          this.#watchAuth("tesla", () => tesla.getSiteInfo(siteId)),
        setTariff: (siteId, tariff) =>
          this.#watchAuth("tesla", () => tesla.setTariff(siteId, tariff)),
        counters: () => tesla.counters(),
      },
    };
  }

  async #watchAuth<T>(
    vendor: "amber" | "tesla",
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AuthError) {
        await this.#reportAuth(vendor);
      }
      throw error;
    }
  }

  async #reportAuth(vendor: "amber" | "tesla"): Promise<void> {
    if (this.#authReported.has(vendor)) {
      return;
    }
    this.#authReported.add(vendor);
    try {
      await this.bridge.reportAuthFailed(vendor);
      this.#logger.warn(
        { vendor },
        `Asked Home Assistant to reauthenticate ${vendor === "amber" ? "Amber" : "Tesla"}`,
      );
    } catch (error) {
      // Not reported yet: try again with the next rejection.
      this.#authReported.delete(vendor);
      this.#logger.debug(
        { err: error, vendor },
        "Could not report the rejected credentials to Home Assistant",
      );
    }
  }

  #observeEngine(engine: SyncEngine): void {
    engine.on("status", (status) => {
      this.#publishEngine(status);
    });
    engine.on("prices", (prices) => {
      this.#live = prices;
      this.#publishPrices();
    });
    engine.on("sync", (result) => {
      this.#onSync(engine, result);
    });
  }

  #onSync(engine: SyncEngine, result: SyncResult): void {
    if (result.outcome !== "uploaded") {
      return;
    }
    const status = engine.status();
    this.#uploaded = {
      slots: status.slots,
      at: result.at,
      summary: status.lastUpload?.summary ?? "",
      timeZone: status.timeZone,
    };
    this.#publish([uploadedTariffState(this.#uploaded, this.#clock.now())]);
    this.bridge
      .fireEvent(
        "tesla_sync_tariff_uploaded",
        tariffUploadedData(result, status.slots.length),
      )
      .catch((error: unknown) => {
        this.#logger.debug(
          { err: error },
          "The tariff-uploaded event did not reach Home Assistant",
        );
      });
  }

  // ------------------------------------------------------------ publishing

  #publish(updates: readonly StateUpdate[]): void {
    for (const update of updates) {
      this.bridge.setState(update.key, update.state, update.attributes);
    }
  }

  #publishPrices(): void {
    this.#publish(
      priceStates({
        intervals: this.#window,
        live: this.#live,
        now: this.#clock.now(),
      }),
    );
  }

  #publishEngine(status: StatusSnapshot): void {
    if (this.#uploaded === undefined && status.lastUpload !== null) {
      // The upload happened before this run (or in its startup sync, before
      // the "sync" listener could see it): the last built slots are the
      // uploaded ones, or within the change threshold of them.
      this.#uploaded = {
        slots: status.slots,
        at: status.lastUpload.at,
        summary: status.lastUpload.summary,
        timeZone: status.timeZone,
      };
    }
    this.#publish(
      engineStates(
        status,
        this.#uploaded,
        this.#config?.options.forecast_band ?? "predicted",
        this.#clock.now(),
      ),
    );
  }

  #publishTimeDependent(): void {
    this.#publishPrices();
    const service = this.#service;
    if (service !== undefined) {
      this.#publishEngine(service.engine.status());
    }
  }

  // ------------------------------------------------------------ commands

  async #onCommand(command: EntityCommand): Promise<void> {
    const engine = this.#service?.engine;
    if (command.command === "switch_set" && command.key === "auto_sync") {
      engine?.setAutoSync(command.value);
      this.bridge.setState("auto_sync", command.value);
      await this.#saveOption({ auto_sync: command.value });
      return;
    }
    if (command.command === "button_press" && command.key === "sync_now") {
      if (engine === undefined) {
        this.#logger.warn(
          `Sync now was pressed, but the engine is not running: ${this.#problem ?? "it is starting"}`,
        );
        return;
      }
      void engine.syncNow("manual");
      return;
    }
    if (command.command === "select_set" && command.key === "forecast_band") {
      const band = FORECAST_BANDS.find((item) => item === command.value);
      if (band === undefined) {
        this.#logger.warn(
          { value: command.value },
          `"${command.value}" is not a forecast band; choose predicted, low or high`,
        );
        return;
      }
      // Saving the option makes HA send config_changed, which restarts
      // the engine with the new band and then confirms it.
      await this.#saveOption({ forecast_band: band });
      return;
    }
    await this.#onControlCommand(command);
  }

  /** Applies the spike and curtailment switches, region and thresholds. */
  async #onControlCommand(command: EntityCommand): Promise<void> {
    const controls = this.#service?.controls;
    const options = this.#config?.options;
    if (command.command === "switch_set") {
      const key = command.key;
      if (key !== "spike_response" && key !== "curtailment") {
        this.#logger.debug({ key }, "No switch with this key");
        return;
      }
      if (controls !== undefined && options !== undefined) {
        await applyControlSwitches(controls, {
          spike_response: options.spike_response,
          curtailment: options.curtailment,
          [key]: command.value,
        });
      }
      this.bridge.setState(key, command.value);
      await this.#saveOption({ [key]: command.value });
      return;
    }
    if (command.command === "select_set" && command.key === "aemo_region") {
      const region = AEMO_REGIONS.find((item) => item === command.value);
      if (region === undefined) {
        this.#logger.warn(
          { value: command.value },
          `"${command.value}" is not a NEM region; choose one of ${AEMO_REGIONS.join(", ")}`,
        );
        return;
      }
      // The region is a build-time setting of the spike control, so the
      // saved option restarts the engine through config_changed.
      await this.#saveOption({ aemo_region: region });
      return;
    }
    if (command.command === "number_set") {
      const limits =
        command.key === "spike_threshold"
          ? { min: 0, max: 20_000 }
          : command.key === "curtailment_threshold"
            ? { min: -100, max: 100 }
            : undefined;
      if (limits === undefined) {
        this.#logger.debug({ key: command.key }, "No number with this key");
        return;
      }
      if (command.value < limits.min || command.value > limits.max) {
        this.#logger.warn(
          { key: command.key, value: command.value },
          `${command.key} ${command.value} is out of range; use ${limits.min} to ${limits.max}`,
        );
        return;
      }
      await this.#saveOption({ [command.key]: command.value });
      return;
    }
    this.#logger.debug(
      { key: command.key, command: command.command },
      "No handler for this command",
    );
  }

  async #saveOption(
    options: Parameters<HaBridge["setOptions"]>[0],
  ): Promise<void> {
    try {
      await this.bridge.setOptions(options);
    } catch (error) {
      this.#logger.warn(
        { err: error, options },
        "Could not save the setting in Home Assistant; it applies until the engine restarts",
      );
    }
  }

  async #onServiceCall(
    service: string,
    data: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const running = this.#service;
    if (running === undefined) {
      throw new Error(
        `The Tesla Sync engine is not running: ${this.#problem ?? "it is starting"}.`,
      );
    }
    if (service === "sync_now") {
      return syncResponse(await running.engine.syncNow("service"));
    }
    if (service === "preview_tariff") {
      const requested = data["forecast_band"];
      const band = FORECAST_BANDS.find((item) => item === requested);
      if (requested !== undefined && band === undefined) {
        throw new InvalidServiceRequestError(
          `forecast_band "${String(requested)}" is invalid; use predicted, low or high.`,
        );
      }
      const status = running.engine.status();
      return previewTariff(
        {
          amber: running.amber,
          tesla: running.tesla,
          amberSiteId: running.amberSiteId,
          teslaSiteId: running.teslaSiteId,
          intervalLength: await this.#siteIntervalLength(running),
          settings: running.engine.settings,
          fallbackTimeZone: status.timeZone,
          live: this.#live,
          overlays: running.controls.overlays(),
        },
        { ...(band === undefined ? {} : { band }), now: this.#clock.now() },
      );
    }
    if (isControlService(service)) {
      return callControlService(
        running.controls,
        service,
        data,
        engineDataDir(this.#options.env),
      );
    }
    throw new Error(`The engine has no service named ${service}.`);
  }

  async #siteIntervalLength(running: RunningService): Promise<5 | 30> {
    if (this.#intervalLength === undefined) {
      const site = await running.amber.getSite(running.amberSiteId);
      this.#intervalLength = site.intervalLength ?? 30;
    }
    return this.#intervalLength;
  }

  // ------------------------------------------------------------ waiting page

  async #openWaitingPage(): Promise<void> {
    if (this.#waiting !== undefined || this.#stopped) {
      return;
    }
    try {
      this.#waiting = await startWaitingServer({
        ...this.#server,
        logger: this.#logger,
        state: () => this.#waitingState(),
      });
    } catch (error) {
      this.#logger.warn(
        { err: error, ...this.#server },
        "Could not open the waiting page on the status port",
      );
    }
  }

  async #closeWaitingPage(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    await waiting?.close();
  }

  #waitingState(): { state: string; reason: string } {
    if (this.#problem !== undefined) {
      return { state: "engine-failed", reason: `Tesla Sync: ${this.#problem}` };
    }
    return describeBridgeStatus(this.bridge.status);
  }
}

/** Words for the waiting page. */
export function describeBridgeStatus(status: BridgeStatus): {
  state: string;
  reason: string;
} {
  switch (status.state) {
    case "connecting":
      return {
        state: status.state,
        reason: "Connecting to Home Assistant.",
      };
    case "waiting-for-ha":
      return {
        state: status.state,
        reason: `Home Assistant is ${status.haState}; the engine starts once it is running.`,
      };
    case "waiting-for-integration":
      return {
        state: status.state,
        reason: `Waiting for Home Assistant: ${status.reason}.`,
      };
    case "connected":
      return {
        state: status.state,
        reason:
          "Connected to the Tesla Sync integration; the engine is starting.",
      };
    case "failed":
      return { state: status.state, reason: status.reason };
    case "stopped":
      return { state: status.state, reason: "The engine is stopping." };
  }
}

/**
 * The `sync_now` service response. A "skipped" sync (a write waiting for
 * the write spacing) is reported as "refused", because the protocol's
 * outcomes are uploaded, unchanged, refused and failed; `engine_outcome`
 * keeps the engine's own word.
 */
export function syncResponse(result: SyncResult): Record<string, unknown> {
  const outcome: Exclude<SyncOutcome, "skipped"> =
    result.outcome === "skipped" ? "refused" : result.outcome;
  return {
    outcome,
    reason: result.reason,
    engine_outcome: result.outcome,
    trigger: result.trigger,
    at: result.at,
    writes: result.writes,
    ...(result.changedSlots === undefined
      ? {}
      : { changed_slots: result.changedSlots }),
    ...(result.confirmed === undefined ? {} : { confirmed: result.confirmed }),
    ...(result.tariffSummary === undefined
      ? {}
      : {
          tariff_summary: {
            slots: result.tariffSummary.slots,
            time_zone: result.tariffSummary.timeZone,
            buy_now: result.tariffSummary.currentBuy,
            sell_now: result.tariffSummary.currentSell,
            buy_min: result.tariffSummary.buyMin,
            buy_max: result.tariffSummary.buyMax,
            sell_min: result.tariffSummary.sellMin,
            sell_max: result.tariffSummary.sellMax,
          },
        }),
  };
}

/** The dashboard's history recorder, when the status server is the dashboard's web server. */
function historyRecorderOf(
  server: StatusServer | undefined,
): WebServer["recorder"] {
  return server !== undefined && "recorder" in server
    ? (server as WebServer).recorder
    : undefined;
}

/** The dashboard's history store, when the status server is the dashboard's web server. */
function historyOf(server: StatusServer | undefined): WebServer["history"] {
  return server !== undefined && "history" in server
    ? (server as WebServer).history
    : undefined;
}

function readingOfSample(sample: EnergySample): PowerwallReading {
  return {
    batteryLevel: sample.batteryPercent,
    solarPower: sample.solarW,
    gridPower: sample.gridW,
    batteryPower: sample.batteryW,
    homePower: sample.homeW,
  };
}

function engineDataDir(env: Record<string, string | undefined>): string {
  return configSchema.parse(configFromEnv(env)).dataDir;
}
