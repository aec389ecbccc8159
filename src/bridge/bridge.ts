/**
 * The engine's side of the bridge protocol (docs/bridge-protocol.md). On
 * every (re)connect it runs the session in the protocol's order:
 *
 * 1. `get_config` until HA is `RUNNING` and lists `tesla_sync`; while it
 *    waits, a `homeassistant_started` or `component_loaded` event, or the
 *    retry timer, starts the next attempt;
 * 2. `tesla_sync/hello`, which checks the protocol version;
 * 3. `tesla_sync/config`, handed to `onConfig`;
 * 4. `tesla_sync/subscribe_commands`;
 * 5. `tesla_sync/register` with every declared entity;
 * 6. one `tesla_sync/update` with every state known so far.
 *
 * Later state changes are coalesced for `batchMs` (250 ms) into one
 * `tesla_sync/update`. Commands from HA go to the handlers, and the response to a
 * service call goes back as `tesla_sync/command_result`.
 *
 * Every frame except the config read passes through the log scrubber,
 * because HA logs the frames it rejects and a token must never reach HA's
 * log.
 */
import { EventEmitter } from "node:events";

import { BridgeError, describeError } from "../errors.js";
import { scrubValue, type Logger } from "../log.js";
import { HaCommandError, type HaConnection } from "./connection.js";
import {
  authFailedMessage,
  commandResultMessage,
  configMessage,
  fireEventMessage,
  getConfigMessage,
  helloMessage,
  PROTOCOL_VERSION,
  registerMessage,
  setOptionsMessage,
  subscribeCommandsMessage,
  subscribeEventsMessage,
  updateMessage,
  type BridgeEventType,
  type DeviceDetails,
  type DeviceKey,
  type EntityDeclaration,
  type EntryOptions,
  type StateUpdate,
  type StateValue,
} from "./messages.js";
import {
  commandEventSchema,
  componentLoadedEventSchema,
  emptyResultSchema,
  engineConfigSchema,
  haConfigSchema,
  helloResultSchema,
  registerResultSchema,
  updateResultSchema,
  type CommandEvent,
  type EntityCommand,
  type HaEngineConfig,
} from "./schemas.js";

/** The integration's domain, as `get_config` lists it in `components`. */
const DOMAIN = "tesla_sync";

/** Defaults of {@link HaBridgeOptions}, ms. */
export const BRIDGE_DEFAULTS = { batchMs: 250, retryMs: 10_000 } as const;

/** State of the bridge, for logs and the status page. */
export type BridgeStatus =
  | { state: "connecting" }
  | { state: "waiting-for-ha"; haState: string }
  | { state: "waiting-for-integration"; reason: string }
  | {
      state: "connected";
      entryId: string;
      integrationVersion: string;
      haVersion: string | undefined;
    }
  | { state: "failed"; reason: string }
  | { state: "stopped" };

/** Callbacks for what HA sends. */
export interface BridgeHandlers {
  /** A configuration was read: after each `hello` ("session") and each `config_changed`. */
  onConfig(
    config: HaEngineConfig,
    reason: "session" | "changed",
  ): void | Promise<void>;
  /** A switch, select or number change, or a button press, for a declared key. */
  onCommand(command: EntityCommand): void | Promise<void>;
  /**
   * A service call; resolves with the response, or throws to fail the call
   * with its message. Throw {@link InvalidServiceRequestError} for wrong user
   * input, so HA shows it as a problem with the input.
   */
  onServiceCall(
    service: string,
    data: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
}

/** Options for {@link HaBridge}. */
export interface HaBridgeOptions {
  connection: HaConnection;
  /** Sent in `hello`; shown in HA's diagnostics. */
  engineVersion: string;
  /** The config entry to serve; needed only when several are loaded. */
  entryId?: string;
  logger: Logger;
  handlers: BridgeHandlers;
  /** Coalescing window for state updates, ms; default 250. */
  batchMs?: number;
  /** Time between session attempts while HA or the integration is not ready, ms; default 10 000. */
  retryMs?: number;
  /**
   * Action groups `onServiceCall` handles (such as ENGINE_FEATURES), sent
   * in `subscribe_commands` only when the integration lists
   * `engine_features`; default none.
   */
  features?: readonly string[];
}

/**
 * Wrong input in a service call (a schedule that breaks a rule, a price
 * below the threshold). Sent with `error_code: "invalid_request"` when the
 * integration lists `command_error_code`.
 */
export class InvalidServiceRequestError extends BridgeError {}

interface Session {
  generation: number;
  entryId: string;
  features: ReadonlySet<string>;
}

interface StoredState {
  state?: StateValue;
  attributes?: Record<string, unknown>;
}

/** One engine's session with the Tesla Sync integration, kept across reconnects. */
export class HaBridge extends EventEmitter<{ status: [BridgeStatus] }> {
  readonly #connection: HaConnection;
  readonly #engineVersion: string;
  readonly #entryId: string | undefined;
  readonly #logger: Logger;
  readonly #handlers: BridgeHandlers;
  readonly #batchMs: number;
  readonly #retryMs: number;
  readonly #features: readonly string[];

  #declarations: EntityDeclaration[] = [];
  #devices: Partial<Record<DeviceKey, DeviceDetails>> | undefined;
  /** Last state of every key, as sent or to be sent. */
  readonly #states = new Map<string, StoredState>();
  /** Keys whose state changed since the last update sent. */
  #dirty = new Map<string, StoredState>();
  /** JSON of the last state sent per key, to skip repeats. */
  readonly #sent = new Map<string, string>();

  #status: BridgeStatus = { state: "connecting" };
  #session: Session | undefined;
  #generation = 0;
  #attempting = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Connection generation whose startup events are subscribed. */
  #watchedGeneration = -1;
  /** Waiting reasons already logged at warn, so repeats go to debug. */
  readonly #warned = new Set<string>();

  constructor(options: HaBridgeOptions) {
    super();
    this.#connection = options.connection;
    this.#engineVersion = options.engineVersion;
    this.#entryId = options.entryId;
    this.#logger = options.logger.child({ module: "ha-bridge" });
    this.#handlers = options.handlers;
    this.#batchMs = options.batchMs ?? BRIDGE_DEFAULTS.batchMs;
    this.#retryMs = options.retryMs ?? BRIDGE_DEFAULTS.retryMs;
    this.#features = options.features ?? [];

    this.#connection.on("ready", () => {
      this.#generation += 1;
      this.#session = undefined;
      void this.#attempt();
    });
    this.#connection.on("disconnected", () => {
      this.#generation += 1;
      this.#session = undefined;
      this.#clearRetry();
      this.#setStatus({ state: "connecting" });
    });
    this.#connection.on("auth-invalid", (error) => {
      this.#setStatus({ state: "failed", reason: error.message });
    });
  }

  /** Current state of the bridge. */
  get status(): BridgeStatus {
    return this.#status;
  }

  /** Whether a session is open, so commands reach the integration. */
  get connected(): boolean {
    return this.#session !== undefined;
  }

  /**
   * Connects and starts the session. Resolves once the first connect
   * succeeded; the session itself follows in the background. Rejects with
   * BridgeError when HA rejects the token.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    try {
      await this.#connection.start();
    } catch (error) {
      this.#setStatus({ state: "failed", reason: describeError(error) });
      throw error;
    }
  }

  /** Ends the session and closes the connection. */
  stop(): void {
    this.#stopped = true;
    this.#clearRetry();
    if (this.#batchTimer !== undefined) {
      clearTimeout(this.#batchTimer);
      this.#batchTimer = undefined;
    }
    this.#session = undefined;
    this.#connection.close();
    this.#setStatus({ state: "stopped" });
  }

  /**
   * Sets the entities to register, sent again after every `hello`. While a
   * session is open the new list is registered at once.
   */
  declare(
    entities: readonly EntityDeclaration[],
    devices?: Partial<Record<DeviceKey, DeviceDetails>>,
  ): void {
    this.#declarations = [...entities];
    this.#devices = devices;
    const session = this.#session;
    if (session !== undefined) {
      void this.#register(session).catch((error: unknown) => {
        this.#logger.warn(
          { err: error },
          "Registering the changed entity list failed; it is sent again on the next connect",
        );
      });
    }
  }

  /**
   * Records a state and sends it within `batchMs`, coalesced with other
   * changes. `attributes` replaces the entity's attributes; leaving it out
   * keeps the previous ones. Keys that were not declared are ignored.
   */
  setState(
    key: string,
    state: StateValue | undefined,
    attributes?: Record<string, unknown>,
  ): void {
    if (!this.#declarations.some((entity) => entity.key === key)) {
      this.#logger.debug({ key }, "State for an undeclared entity ignored");
      return;
    }
    const previous = this.#states.get(key);
    const stored: StoredState = {
      ...(state === undefined ? {} : { state }),
      ...(attributes === undefined
        ? previous?.attributes === undefined
          ? {}
          : { attributes: previous.attributes }
        : { attributes }),
    };
    this.#states.set(key, stored);
    const json = JSON.stringify(stored);
    if (this.#sent.get(key) === json && !this.#dirty.has(key)) {
      return;
    }
    this.#dirty.set(key, stored);
    this.#scheduleFlush();
  }

  /** Fires one of the integration's bus events; dropped with a debug line when no session is open. */
  async fireEvent(
    eventType: BridgeEventType,
    data: Record<string, unknown>,
  ): Promise<void> {
    const session = this.#sessionWith("fire_event");
    if (session === undefined) {
      this.#logger.debug({ eventType }, "No session; event not fired");
      return;
    }
    await this.#connection.send(
      fireEventMessage(
        session.entryId,
        eventType,
        scrubValue(data) as Record<string, unknown>,
      ),
      emptyResultSchema,
    );
  }

  /** Writes changed settings into the entry's options, so they survive restarts. */
  async setOptions(options: Partial<EntryOptions>): Promise<void> {
    const session = this.#sessionWith("set_options");
    if (session === undefined) {
      throw new BridgeError(
        "Cannot save the setting in Home Assistant: the bridge has no session. It applies until the engine restarts.",
      );
    }
    await this.#connection.send(
      setOptionsMessage(session.entryId, options),
      emptyResultSchema,
    );
  }

  /** Asks HA to start reauthentication for `vendor`. */
  async reportAuthFailed(vendor: "amber" | "tesla"): Promise<void> {
    const session = this.#sessionWith("auth_failed");
    if (session === undefined) {
      throw new BridgeError(
        `Cannot report the rejected ${vendor} credentials: the bridge has no session.`,
      );
    }
    await this.#connection.send(
      authFailedMessage(session.entryId, vendor),
      emptyResultSchema,
    );
  }

  /** Reads the configuration again, such as for a fresh Tesla Fleet token. */
  async readConfig(): Promise<HaEngineConfig> {
    const session = this.#session;
    if (session === undefined) {
      throw new BridgeError(
        "Cannot read the configuration: the bridge has no session with Home Assistant.",
      );
    }
    return this.#connection.send(
      configMessage(session.entryId),
      engineConfigSchema,
    );
  }

  /** Runs the session order once; on anything not ready it schedules the next attempt. */
  async #attempt(): Promise<void> {
    if (this.#attempting || this.#stopped || this.#session !== undefined) {
      return;
    }
    this.#attempting = true;
    this.#clearRetry();
    const generation = this.#generation;
    try {
      await this.#openSession(generation);
    } catch (error) {
      if (generation === this.#generation && !this.#stopped) {
        this.#session = undefined;
        this.#onSessionError(error);
      }
    } finally {
      this.#attempting = false;
    }
    // A reconnect during this attempt found it still running and skipped
    // its own; start it now.
    if (
      generation !== this.#generation &&
      this.#session === undefined &&
      this.#connection.connected &&
      !this.#stopped
    ) {
      void this.#attempt();
    }
  }

  async #openSession(generation: number): Promise<void> {
    const ha = await this.#connection.send(getConfigMessage(), haConfigSchema);
    if (ha.state !== "RUNNING") {
      await this.#watchStartup(generation);
      this.#wait({ state: "waiting-for-ha", haState: ha.state });
      return;
    }
    if (!ha.components.includes(DOMAIN)) {
      await this.#watchStartup(generation);
      this.#wait({
        state: "waiting-for-integration",
        reason:
          "the Tesla Sync integration is not loaded in Home Assistant; add it under Settings > Devices & services",
      });
      return;
    }

    const hello = await this.#connection.send(
      helloMessage(this.#engineVersion, this.#entryId),
      helloResultSchema,
    );
    if (hello.protocol !== PROTOCOL_VERSION) {
      throw new ProtocolMismatchError(hello.protocol);
    }
    const session: Session = {
      generation,
      entryId: hello.entry_id,
      features: new Set(hello.features),
    };

    const config = await this.#connection.send(
      configMessage(session.entryId),
      engineConfigSchema,
    );
    if (generation !== this.#generation) {
      return;
    }
    await this.#handlers.onConfig(config, "session");

    await this.#connection.subscribe(
      subscribeCommandsMessage(
        session.entryId,
        session.features.has("engine_features") ? this.#features : undefined,
      ),
      (event) => {
        this.#onCommandEvent(session, event);
      },
    );
    if (generation !== this.#generation) {
      return;
    }
    this.#session = session;
    await this.#register(session);
    this.#warned.clear();
    this.#logger.info(
      {
        entryId: session.entryId,
        integrationVersion: hello.integration_version,
        entities: this.#declarations.length,
      },
      `Connected to the Tesla Sync integration ${hello.integration_version}; ${this.#declarations.length} entities registered`,
    );
    this.#setStatus({
      state: "connected",
      entryId: session.entryId,
      integrationVersion: hello.integration_version,
      haVersion: this.#connection.haVersion,
    });
    this.#sendSnapshot();
  }

  async #register(session: Session): Promise<void> {
    await this.#connection.send(
      registerMessage(session.entryId, this.#declarations, this.#devices),
      registerResultSchema,
    );
  }

  /** Subscribes to the events that mean "try again now"; once per connection. */
  async #watchStartup(generation: number): Promise<void> {
    if (this.#watchedGeneration === generation) {
      return;
    }
    this.#watchedGeneration = generation;
    const retry = (): void => {
      if (generation === this.#generation) {
        void this.#attempt();
      }
    };
    await this.#connection.subscribe(
      subscribeEventsMessage("homeassistant_started"),
      retry,
    );
    await this.#connection.subscribe(
      subscribeEventsMessage("component_loaded"),
      (event) => {
        const loaded = componentLoadedEventSchema.safeParse(event);
        if (loaded.success && loaded.data.data.component === DOMAIN) {
          retry();
        }
      },
    );
  }

  #onSessionError(error: unknown): void {
    if (error instanceof ProtocolMismatchError) {
      this.#fail(error.message);
      return;
    }
    if (error instanceof HaCommandError) {
      switch (error.haCode) {
        case "protocol_unsupported":
          this.#fail(
            `The Tesla Sync integration does not speak protocol ${PROTOCOL_VERSION}: ${error.message}. Update the integration and the engine to matching versions.`,
          );
          return;
        case "entry_ambiguous":
          this.#wait({
            state: "waiting-for-integration",
            reason: `${error.message}. Set TESLA_SYNC_HA_ENTRY_ID to the entry this engine serves.`,
          });
          return;
        case "entry_not_loaded":
        case "unknown_command":
          this.#wait({
            state: "waiting-for-integration",
            reason:
              "the Tesla Sync integration has no loaded config entry; add or enable it under Settings > Devices & services",
          });
          return;
        case "no_tesla_fleet":
        case "tesla_fleet_token_failed":
          this.#wait({
            state: "waiting-for-integration",
            reason: `Home Assistant cannot provide the Tesla Fleet token: ${error.message}`,
          });
          return;
      }
    }
    if (!this.#connection.connected) {
      // The disconnect handler has taken over; "ready" starts again.
      return;
    }
    this.#wait({
      state: "waiting-for-integration",
      reason: `the session failed: ${describeError(error)}`,
    });
  }

  /** Records a waiting state, logs it (warn the first time) and schedules a retry. */
  #wait(
    status: Extract<
      BridgeStatus,
      { state: "waiting-for-ha" | "waiting-for-integration" }
    >,
  ): void {
    const reason =
      status.state === "waiting-for-ha"
        ? `Home Assistant is ${status.haState}; waiting until it is RUNNING`
        : `Waiting for Home Assistant: ${status.reason}`;
    if (
      status.state === "waiting-for-integration" &&
      !this.#warned.has(reason)
    ) {
      this.#warned.add(reason);
      this.#logger.warn({ retryInMs: this.#retryMs }, reason);
    } else {
      this.#logger.debug({ retryInMs: this.#retryMs }, reason);
    }
    this.#setStatus(status);
    this.#clearRetry();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#attempt();
    }, this.#retryMs);
  }

  #fail(reason: string): void {
    this.#logger.error(reason);
    this.#setStatus({ state: "failed", reason });
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  #onCommandEvent(session: Session, event: unknown): void {
    if (this.#session !== session) {
      return;
    }
    const parsed = commandEventSchema.safeParse(event);
    if (!parsed.success) {
      this.#logger.debug(
        { event: scrubValue(event) },
        "Ignored a command this engine does not know",
      );
      return;
    }
    void this.#dispatch(session, parsed.data);
  }

  async #dispatch(session: Session, command: CommandEvent): Promise<void> {
    switch (command.command) {
      case "config_changed":
        await this.#reloadConfig(session);
        return;
      case "entry_unloaded":
        this.#logger.info(
          { entryId: session.entryId },
          "The Tesla Sync config entry unloaded; waiting for it to load again",
        );
        this.#session = undefined;
        this.#wait({
          state: "waiting-for-integration",
          reason: "the Tesla Sync config entry was unloaded",
        });
        return;
      case "service_call":
        await this.#answerServiceCall(session, command);
        return;
      default:
        await this.#relayEntityCommand(command);
    }
  }

  async #reloadConfig(session: Session): Promise<void> {
    try {
      const config = await this.#connection.send(
        configMessage(session.entryId),
        engineConfigSchema,
      );
      await this.#handlers.onConfig(config, "changed");
    } catch (error) {
      this.#logger.warn(
        { err: error },
        "Reading the changed configuration failed; the engine keeps the previous one",
      );
    }
  }

  async #relayEntityCommand(command: EntityCommand): Promise<void> {
    if (!this.#declarations.some((entity) => entity.key === command.key)) {
      this.#logger.debug(
        { key: command.key, command: command.command },
        "Command for an entity this engine did not declare ignored",
      );
      return;
    }
    try {
      await this.#handlers.onCommand(command);
    } catch (error) {
      this.#logger.warn(
        { err: error, key: command.key, command: command.command },
        `Applying ${command.command} for ${command.key} failed`,
      );
    }
  }

  async #answerServiceCall(
    session: Session,
    call: Extract<CommandEvent, { command: "service_call" }>,
  ): Promise<void> {
    let message;
    try {
      const response = await this.#handlers.onServiceCall(
        call.service,
        call.data,
      );
      message = commandResultMessage(session.entryId, call.request_id, {
        success: true,
        response: scrubValue(response) as Record<string, unknown>,
      });
    } catch (error) {
      const text =
        error instanceof Error ? error.message : describeError(error);
      const errorCode =
        error instanceof InvalidServiceRequestError
          ? "invalid_request"
          : "failed";
      this.#logger.debug(
        { err: error, service: call.service, errorCode },
        "Service call failed",
      );
      message = commandResultMessage(session.entryId, call.request_id, {
        success: false,
        error: scrubValue(text.slice(0, 1000)) as string,
        ...(session.features.has("command_error_code") ? { errorCode } : {}),
      });
    }
    if (this.#session !== session) {
      this.#logger.debug(
        { service: call.service },
        "The session ended before the service call finished; HA has failed the call",
      );
      return;
    }
    try {
      await this.#connection.send(message, emptyResultSchema);
    } catch (error) {
      this.#logger.debug(
        { err: error, service: call.service },
        "Service call answer not delivered (HA timed out or disconnected)",
      );
    }
  }

  #scheduleFlush(): void {
    if (this.#batchTimer !== undefined || this.#session === undefined) {
      return;
    }
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#flush();
    }, this.#batchMs);
  }

  /** Sends every state known so far; used once per session. */
  #sendSnapshot(): void {
    this.#dirty = new Map(this.#states);
    this.#sent.clear();
    this.#flush();
  }

  #flush(): void {
    const session = this.#session;
    if (session === undefined || this.#dirty.size === 0) {
      return;
    }
    const batch = this.#dirty;
    this.#dirty = new Map();
    this.#sending = this.#sending.then(() => this.#sendBatch(session, batch));
  }

  async #sendBatch(
    session: Session,
    batch: Map<string, StoredState>,
  ): Promise<void> {
    if (this.#session !== session) {
      this.#requeue(batch);
      return;
    }
    const updates = [...batch].map(([key, stored]) => toUpdate(key, stored));
    try {
      await this.#connection.send(
        updateMessage(session.entryId, updates),
        updateResultSchema,
      );
      this.#markSent(batch);
    } catch (error) {
      if (
        error instanceof HaCommandError &&
        (error.haCode === "invalid_state" || error.haCode === "unknown_entity")
      ) {
        await this.#sendOneByOne(session, batch, error);
        return;
      }
      // Disconnected: the next session sends every state again.
      this.#requeue(batch);
    }
  }

  /** After a rejected batch, sends each update alone so one bad value loses only itself. */
  async #sendOneByOne(
    session: Session,
    batch: Map<string, StoredState>,
    cause: HaCommandError,
  ): Promise<void> {
    this.#logger.warn(
      { err: cause },
      "Home Assistant rejected a state batch; sending its updates one by one",
    );
    for (const [key, stored] of batch) {
      try {
        await this.#connection.send(
          updateMessage(session.entryId, [toUpdate(key, stored)]),
          updateResultSchema,
        );
        this.#markSent(new Map([[key, stored]]));
      } catch (error) {
        this.#logger.warn(
          { err: error, key },
          `Home Assistant rejected the state of ${key}`,
        );
      }
    }
  }

  #markSent(batch: Map<string, StoredState>): void {
    for (const [key, stored] of batch) {
      this.#sent.set(key, JSON.stringify(stored));
    }
  }

  #requeue(batch: Map<string, StoredState>): void {
    for (const [key, stored] of batch) {
      if (!this.#dirty.has(key)) {
        this.#dirty.set(key, stored);
      }
    }
  }

  #sessionWith(feature: string): Session | undefined {
    const session = this.#session;
    if (session === undefined) {
      return undefined;
    }
    if (!session.features.has(feature)) {
      this.#logger.debug(
        { feature },
        "The integration does not list this feature; command not sent",
      );
      return undefined;
    }
    return session;
  }

  #setStatus(status: BridgeStatus): void {
    if (JSON.stringify(status) === JSON.stringify(this.#status)) {
      return;
    }
    this.#status = status;
    this.emit("status", status);
  }
}

/** The `hello` result names a protocol version this engine does not speak. */
class ProtocolMismatchError extends BridgeError {
  constructor(protocol: number) {
    super(
      `The Tesla Sync integration speaks bridge protocol ${protocol}; this engine speaks ${PROTOCOL_VERSION}. Update the integration and the engine to matching versions.`,
    );
  }
}

function toUpdate(key: string, stored: StoredState): StateUpdate {
  return scrubValue({ key, ...stored }) as StateUpdate;
}
