/**
 * The WebSocket connection to Home Assistant. It builds on
 * `home-assistant-js-websocket` (command ids, result matching, reconnects)
 * with a socket of its own made with `ws`:
 *
 * - The HTTP upgrade must finish within `handshakeTimeoutMs` (15 s) and
 *   `auth_ok` must arrive within `authTimeoutMs` (45 s) of the connect.
 *   Otherwise the socket is terminated: a half-open TCP connection, such as
 *   one through a proxy whose upstream died, would else wait forever.
 * - A heartbeat sends `ping` every `heartbeatIntervalMs` (30 s) and forces a
 *   reconnect when no `pong` arrives within `pongTimeoutMs` (5 s).
 * - The first connect retries with exponential backoff capped at
 *   `maxRetryDelayMs` (30 s). Once connected, the library reconnects after
 *   a loss, waiting 0, 1, 2 ... and at most 5 s between tries.
 * - HA rejecting the token (`auth_invalid`) stops every retry and emits
 *   "auth-invalid", because retrying a bad token cannot succeed.
 * - Commands in flight when the socket drops reject with BridgeError.
 * - A frame that is not JSON never reaches the library, whose parser would
 *   throw it as an uncaught exception. The first such frame is logged at
 *   warn (repeats at debug), and the socket is dropped so the library
 *   reconnects.
 */
import { EventEmitter } from "node:events";

import {
  createConnection,
  ERR_CANNOT_CONNECT,
  ERR_CONNECTION_LOST,
  ERR_INVALID_AUTH,
  type Connection,
  type HaWebSocket,
} from "home-assistant-js-websocket";
import WebSocket from "ws";
import type { z } from "zod";

import { BridgeError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { OutgoingMessage } from "./messages.js";
import { haErrorSchema } from "./schemas.js";

/** Defaults of {@link HaConnectionOptions}, ms. */
export const CONNECTION_DEFAULTS = {
  handshakeTimeoutMs: 15_000,
  authTimeoutMs: 45_000,
  heartbeatIntervalMs: 30_000,
  pongTimeoutMs: 5_000,
  initialRetryDelayMs: 1_000,
  maxRetryDelayMs: 30_000,
} as const;

/** A command whose result from Home Assistant is an error frame. */
export class HaCommandError extends BridgeError {
  constructor(
    /** The command's `type`, such as "tesla_sync/hello". */
    readonly command: string,
    /** HA's error code, such as "entry_not_loaded". */
    readonly haCode: string,
    message: string,
  ) {
    super(`${command} failed with ${haCode}: ${message}`);
  }
}

/** Options for {@link HaConnection}. Durations in ms. */
export interface HaConnectionOptions {
  /** WebSocket URL, such as "ws://supervisor/core/websocket". */
  wsUrl: string;
  /** Access token sent in the `auth` message. */
  token: string;
  logger: Logger;
  /** Advice for when HA rejects the token; ends the error message. */
  authHint?: string;
  /** Limit for the HTTP upgrade; default 15 000. */
  handshakeTimeoutMs?: number;
  /** Limit from connect to `auth_ok`; default 45 000. */
  authTimeoutMs?: number;
  /** Time between pings; default 30 000. */
  heartbeatIntervalMs?: number;
  /** Time to wait for a pong before reconnecting; default 5 000. */
  pongTimeoutMs?: number;
  /** First delay between failed first-connect attempts; default 1 000. */
  initialRetryDelayMs?: number;
  /** Cap of that delay; default 30 000. */
  maxRetryDelayMs?: number;
}

/** Events of {@link HaConnection}. */
export interface HaConnectionEvents {
  /** Authenticated, on the first connect and after every reconnect. */
  ready: [];
  /** The socket closed; a reconnect is under way. */
  disconnected: [];
  /** HA rejected the token; the connection has stopped for good. */
  "auth-invalid": [BridgeError];
}

/** One authenticated WebSocket session with Home Assistant, kept alive. */
export class HaConnection extends EventEmitter<HaConnectionEvents> {
  readonly #options: Required<Omit<HaConnectionOptions, "authHint">> & {
    authHint: string;
  };
  readonly #logger: Logger;
  #connection: Connection | undefined;
  #socket: WebSocket | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer:
    { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;
  #closed = false;
  #failures = 0;
  #lostAt: number | undefined;
  /** Frames that were not JSON, over the connection's lifetime. */
  #malformedFrames = 0;

  constructor(options: HaConnectionOptions) {
    super();
    this.#options = {
      ...CONNECTION_DEFAULTS,
      ...definedOnly(options),
      wsUrl: options.wsUrl,
      token: options.token,
      logger: options.logger,
      authHint:
        options.authHint ?? "Use a long-lived access token of an admin user.",
    };
    this.#logger = options.logger;
  }

  /** Whether a socket is open and authenticated. */
  get connected(): boolean {
    return this.#connection?.connected ?? false;
  }

  /** HA's version, as `auth_ok` reported it; undefined before the first connect. */
  get haVersion(): string | undefined {
    return this.#connection?.haVersion;
  }

  /**
   * Connects, retrying until HA responds. Resolves after the first
   * successful connect; rejects with BridgeError when HA rejects the token
   * or when {@link close} is called first.
   */
  async start(): Promise<void> {
    let delay = this.#options.initialRetryDelayMs;
    while (!this.#closed) {
      try {
        const connection = await createConnection({
          createSocket: () => this.#createSocket(),
          setupRetry: 0,
        });
        this.#attach(connection);
        return;
      } catch (error) {
        if (error === ERR_INVALID_AUTH) {
          throw this.#authInvalid();
        }
        this.#failures += 1;
        const fields = { url: this.#options.wsUrl, retryInMs: delay };
        const message = `Home Assistant is not reachable at ${this.#options.wsUrl}; retrying`;
        if (this.#failures === 1) {
          this.#logger.warn(fields, message);
        } else {
          this.#logger.debug(fields, message);
        }
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.#options.maxRetryDelayMs);
      }
    }
    throw new BridgeError("The Home Assistant connection was closed.");
  }

  /**
   * Sends a command and parses its result with `schema`. Rejects with
   * HaCommandError for an error frame and with BridgeError when the
   * connection is down or drops before the result.
   */
  async send<S extends z.ZodType>(
    message: OutgoingMessage,
    schema: S,
  ): Promise<z.output<S>> {
    const connection = this.#requireConnection(message.type);
    let result: unknown;
    try {
      result = await connection.sendMessagePromise({ ...message });
    } catch (error) {
      throw this.#commandFailure(message.type, error);
    }
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path =
        issue === undefined || issue.path.length === 0
          ? "(root)"
          : issue.path.join(".");
      throw new BridgeError(
        `Home Assistant returned an unexpected result for ${message.type}: field ${path}: ${issue?.message ?? "invalid"}. Update the Tesla Sync integration and the engine to matching versions.`,
      );
    }
    return parsed.data;
  }

  /**
   * Starts a subscription command and calls `onEvent` for every event
   * frame. The subscription is not replayed after a reconnect, because the
   * bridge must repeat its whole session from `hello`. Returns a function
   * that ends the subscription.
   */
  async subscribe(
    message: OutgoingMessage,
    onEvent: (event: unknown) => void,
  ): Promise<() => Promise<void>> {
    const connection = this.#requireConnection(message.type);
    // The library never settles a subscription whose socket closes before
    // the result arrives, so a disconnect rejects it here.
    let onDisconnect: (() => void) | undefined;
    const lost = new Promise<never>((_resolve, reject) => {
      onDisconnect = () => {
        reject(this.#commandFailure(message.type, ERR_CONNECTION_LOST));
      };
      this.once("disconnected", onDisconnect);
    });
    try {
      return await Promise.race([
        connection.subscribeMessage(
          onEvent,
          { ...message },
          {
            resubscribe: false,
          },
        ),
        lost,
      ]);
    } catch (error) {
      throw this.#commandFailure(message.type, error);
    } finally {
      if (onDisconnect !== undefined) {
        this.off("disconnected", onDisconnect);
      }
    }
  }

  /** Closes the socket and stops every timer and retry. */
  close(): void {
    this.#closed = true;
    this.#stopHeartbeat();
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer.timer);
      this.#retryTimer.wake();
      this.#retryTimer = undefined;
    }
    this.#connection?.close();
    this.#socket?.terminate();
    this.#connection = undefined;
    this.#socket = undefined;
  }

  #attach(connection: Connection): void {
    this.#connection = connection;
    this.#logger.info(
      { url: this.#options.wsUrl, haVersion: connection.haVersion },
      `Connected to Home Assistant ${connection.haVersion}`,
    );
    this.#failures = 0;
    connection.addEventListener("ready", () => {
      const downMs =
        this.#lostAt === undefined ? undefined : Date.now() - this.#lostAt;
      this.#lostAt = undefined;
      this.#logger.info(
        { haVersion: connection.haVersion, downMs },
        "Reconnected to Home Assistant",
      );
      this.#startHeartbeat();
      this.emit("ready");
    });
    connection.addEventListener("disconnected", () => {
      this.#stopHeartbeat();
      if (this.#closed) {
        return;
      }
      this.#lostAt = Date.now();
      this.#logger.warn("Lost the connection to Home Assistant; reconnecting");
      this.emit("disconnected");
    });
    connection.addEventListener("reconnect-error", () => {
      const error = this.#authInvalid();
      this.emit("auth-invalid", error);
    });
    this.#startHeartbeat();
    this.emit("ready");
  }

  #authInvalid(): BridgeError {
    const error = new BridgeError(
      `Home Assistant at ${this.#options.wsUrl} rejected the access token (auth_invalid). ${this.#options.authHint} The engine stopped connecting; restart it after fixing the token.`,
    );
    this.#logger.error({ url: this.#options.wsUrl }, error.message);
    this.close();
    return error;
  }

  #requireConnection(command: string): Connection {
    const connection = this.#connection;
    if (connection === undefined || !connection.connected) {
      throw new BridgeError(
        `Cannot send ${command}: not connected to Home Assistant. It is sent again once the connection is back.`,
      );
    }
    return connection;
  }

  #commandFailure(command: string, error: unknown): BridgeError {
    if (error instanceof BridgeError) {
      return error;
    }
    const parsed = haErrorSchema.safeParse(error);
    if (parsed.success) {
      return new HaCommandError(command, parsed.data.code, parsed.data.message);
    }
    const frame = errorFrameOf(error);
    if (error === ERR_CONNECTION_LOST || frame?.code === ERR_CONNECTION_LOST) {
      return new BridgeError(
        `The connection to Home Assistant was lost before ${command} was answered.`,
      );
    }
    return new BridgeError(
      `${command} failed: ${frame?.message ?? describeError(error)}`,
    );
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(() => {
      this.#ping();
    }, this.#options.heartbeatIntervalMs);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
    if (this.#pongTimer !== undefined) {
      clearTimeout(this.#pongTimer);
      this.#pongTimer = undefined;
    }
  }

  #ping(): void {
    const connection = this.#connection;
    if (connection === undefined || !connection.connected) {
      return;
    }
    if (this.#pongTimer !== undefined) {
      return;
    }
    const socket = this.#socket;
    this.#pongTimer = setTimeout(() => {
      this.#pongTimer = undefined;
      this.#logger.warn(
        { pongTimeoutMs: this.#options.pongTimeoutMs },
        "Home Assistant did not answer a ping; reconnecting",
      );
      connection.reconnect(true);
      // reconnect(true) only requests a close of the old socket; a half-open one
      // would linger for ws's close timeout, so it is dropped at once.
      socket?.terminate();
    }, this.#options.pongTimeoutMs);
    connection.ping().then(
      () => {
        if (this.#pongTimer !== undefined) {
          clearTimeout(this.#pongTimer);
          this.#pongTimer = undefined;
        }
      },
      () => {
        // The socket closed while the ping was in flight; the reconnect
        // path takes over and the heartbeat restarts on "ready".
      },
    );
  }

  /** Opens and authenticates one socket; rejects with the library's error numbers. */
  #createSocket(): Promise<HaWebSocket> {
    const { wsUrl, token, handshakeTimeoutMs, authTimeoutMs } = this.#options;
    return new Promise<HaWebSocket>((resolve, reject) => {
      if (this.#closed) {
        reject(ERR_CANNOT_CONNECT);
        return;
      }
      const socket = new WebSocket(wsUrl);
      let settled = false;
      let invalidAuth = false;

      const finish = (error: number | undefined): void => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(handshakeTimer);
        clearTimeout(authTimer);
        socket.off("open", onOpen);
        socket.off("message", onMessage);
        socket.off("close", onClose);
        socket.off("error", onError);
        if (error === undefined) {
          this.#socket = socket;
          this.#guardFrames(socket);
          resolve(socket as unknown as HaWebSocket);
          return;
        }
        // Terminating a socket that is still connecting emits "error";
        // the failure is already reported through `reject`.
        socket.on("error", () => undefined);
        socket.terminate();
        reject(error);
      };

      const handshakeTimer = setTimeout(() => {
        this.#logger.debug(
          { handshakeTimeoutMs },
          "WebSocket upgrade to Home Assistant timed out",
        );
        finish(ERR_CANNOT_CONNECT);
      }, handshakeTimeoutMs);
      const authTimer = setTimeout(() => {
        this.#logger.debug(
          { authTimeoutMs },
          "Home Assistant did not finish authentication in time; dropping the socket",
        );
        finish(ERR_CANNOT_CONNECT);
      }, authTimeoutMs);

      const onOpen = (): void => {
        clearTimeout(handshakeTimer);
        this.#logger.debug("WebSocket open; waiting for auth_required");
      };
      const onMessage = (data: WebSocket.RawData): void => {
        let frame: unknown;
        try {
          frame = JSON.parse(rawToString(data));
        } catch {
          this.#logger.debug("Home Assistant sent a frame that is not JSON");
          return;
        }
        const type =
          typeof frame === "object" && frame !== null && "type" in frame
            ? frame.type
            : undefined;
        if (type === "auth_required") {
          socket.send(JSON.stringify({ type: "auth", access_token: token }));
        } else if (type === "auth_invalid") {
          invalidAuth = true;
          finish(ERR_INVALID_AUTH);
        } else if (type === "auth_ok") {
          const version =
            typeof frame === "object" &&
            frame !== null &&
            "ha_version" in frame &&
            typeof frame.ha_version === "string"
              ? frame.ha_version
              : "unknown";
          Object.assign(socket, { haVersion: version });
          // Lets HA group several frames into one JSON array, which the
          // library unpacks; it must be the first message, with id 1.
          socket.send(
            JSON.stringify({
              id: 1,
              type: "supported_features",
              features: { coalesce_messages: 1 },
            }),
          );
          finish(undefined);
        }
      };
      const onClose = (code: number): void => {
        this.#logger.debug({ code }, "WebSocket closed before auth_ok");
        finish(invalidAuth ? ERR_INVALID_AUTH : ERR_CANNOT_CONNECT);
      };
      const onError = (error: Error): void => {
        this.#logger.debug(
          { err: error },
          "WebSocket to Home Assistant failed",
        );
        finish(ERR_CANNOT_CONNECT);
      };

      socket.on("open", onOpen);
      socket.on("message", onMessage);
      socket.on("close", onClose);
      socket.on("error", onError);
    });
  }

  /**
   * Wraps the "message" listeners the library adds to `socket` so that a
   * frame that is not JSON is dropped, logged, and ends the socket instead
   * of reaching the library's `JSON.parse`.
   */
  #guardFrames(socket: WebSocket): void {
    const wrappers = new Map<MessageListener, MessageListener>();
    let broken = false;
    const onMalformed = (data: WebSocket.Data, error: unknown): void => {
      this.#malformedFrames += 1;
      const fields = {
        url: this.#options.wsUrl,
        frameBytes: Buffer.byteLength(rawToString(data)),
        malformedFrames: this.#malformedFrames,
        err: error,
      };
      const message =
        "Home Assistant sent a WebSocket frame that is not JSON; reconnecting";
      if (this.#malformedFrames === 1) {
        this.#logger.warn(fields, message);
      } else {
        this.#logger.debug(fields, message);
      }
      socket.terminate();
    };
    const add = socket.addEventListener.bind(socket);
    const remove = socket.removeEventListener.bind(socket);
    const guarded = {
      addEventListener: (
        type: string,
        listener: MessageListener,
        options?: { once?: boolean },
      ): void => {
        if (type !== "message") {
          add(type as "close", listener as () => void, options);
          return;
        }
        const wrapper: MessageListener = (event) => {
          if (broken) {
            return;
          }
          try {
            JSON.parse(rawToString(event.data));
          } catch (error) {
            broken = true;
            onMalformed(event.data, error);
            return;
          }
          listener(event);
        };
        wrappers.set(listener, wrapper);
        add("message", wrapper, options);
      },
      removeEventListener: (type: string, listener: MessageListener): void => {
        const wrapper = type === "message" ? wrappers.get(listener) : undefined;
        if (wrapper !== undefined) {
          wrappers.delete(listener);
          remove("message", wrapper);
          return;
        }
        remove(type as "close", listener as () => void);
      },
    };
    Object.assign(socket, guarded);
  }

  /** Waits `ms`, or less when {@link close} is called. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#retryTimer = undefined;
        resolve();
      }, ms);
      this.#retryTimer = { timer, wake: resolve };
    });
  }
}

function errorFrameOf(
  error: unknown,
): { code: unknown; message: string | undefined } | undefined {
  if (typeof error !== "object" || error === null || !("error" in error)) {
    return undefined;
  }
  const inner = error.error;
  if (typeof inner !== "object" || inner === null) {
    return undefined;
  }
  return {
    code: "code" in inner ? inner.code : undefined,
    message:
      "message" in inner && typeof inner.message === "string"
        ? inner.message
        : undefined,
  };
}

/** A listener for the socket's "message" events, as the library adds it. */
type MessageListener = (event: WebSocket.MessageEvent) => void;

function rawToString(data: WebSocket.Data): string {
  if (typeof data === "string") {
    return data;
  }
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString("utf8");
  }
  if (data instanceof ArrayBuffer) {
    return Buffer.from(data).toString("utf8");
  }
  return data.toString("utf8");
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
