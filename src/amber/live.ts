/**
 * Amber's live-prices WebSocket (alpha). After the handshake, which carries
 * the bearer token, the client subscribes to one site and Amber pushes the
 * current interval of every channel whenever it changes. Pushes carry no
 * forecasts, so REST polling stays in charge of the rest of the day.
 *
 * The feed keeps the connection healthy on its own. It pings every 30 s and
 * drops a connection that sends no pong within 10 s. It reconnects with
 * exponential backoff from 5 s to 60 s, with jitter, and the backoff starts
 * over only after a connection stayed subscribed for 60 s. When no price has
 * arrived for 6 minutes, it emits "stale" and reconnects. An account without
 * live-price access (HTTP 401 or 403 on the upgrade, or a subscribe reply
 * with a 4xx status other than 408 or 429) gets one "disabled" event and no
 * more retries. Timers use the global setTimeout and setInterval, so tests
 * can drive the feed with fake timers.
 */
import { EventEmitter } from "node:events";

import WebSocket from "ws";
import { z } from "zod";

import { describeError, InvalidPayloadError } from "../errors.js";
import { registerSecret, scrubText, type Logger } from "../log.js";
import {
  groupByChannel,
  parseIntervalList,
  type ChannelGroups,
} from "./prices.js";
import { currentIntervalSchema, type CurrentInterval } from "./schemas.js";

export const AMBER_LIVE_URL = "wss://api-ws.amber.com.au";

/**
 * Largest message accepted, in bytes: 1 MiB. A push carries one current
 * interval per channel, about 2 kB; ws would otherwise buffer up to 100 MiB.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Options for an AmberLiveFeed. */
export interface AmberLiveFeedOptions {
  /** WebSocket URL; default "wss://api-ws.amber.com.au". */
  url?: string;
  /** Amber API token, sent as `authorization: Bearer` on the handshake. */
  token: string;
  /** Site to subscribe to. */
  siteId: string;
  logger: Logger;
  /** Interval between pings in ms; default 30 000. */
  heartbeatIntervalMs?: number;
  /** Time to wait for a pong before dropping the connection, in ms; default 10 000. */
  pongTimeoutMs?: number;
  /** Time without a price push after which the feed is stale, in ms; default 360 000. */
  staleAfterMs?: number;
  /** First reconnect delay in ms; default 5 000. It doubles per failed attempt. */
  reconnectBaseMs?: number;
  /** Maximum reconnect delay in ms; default 60 000. */
  reconnectMaxMs?: number;
  /** Random source in [0, 1) for reconnect jitter; tests pass a constant. */
  random?: () => number;
}

/** One live-price push, parsed. */
export interface LivePrices {
  siteId: string;
  /** The push's `timestamp` as Amber sent it, if any. */
  timestamp: string | number | undefined;
  /** Epoch ms at which the push arrived. */
  receivedAt: number;
  /** Current intervals in Amber's order, unknown channels removed. */
  prices: CurrentInterval[];
  byChannel: ChannelGroups<CurrentInterval>;
  /** Channel types that were dropped because this version does not recognise them. */
  ignoredChannelTypes: string[];
}

/** Events of an AmberLiveFeed and their arguments. */
export interface AmberLiveFeedEvents {
  /** A valid price push arrived. */
  prices: [LivePrices];
  /** A subscription was confirmed (status 200). */
  connected: [{ siteId: string }];
  /** A subscribed connection closed; the feed reconnects unless stopped or disabled. */
  disconnected: [{ reason: string; code: number }];
  /** No price push arrived for `staleAfterMs`; the feed reconnects and REST should take over. */
  stale: [{ lastPriceAt: number | undefined; silentForMs: number }];
  /** Amber rejected live prices for this account or token; the feed stops retrying. */
  disabled: [{ reason: string; status: number | undefined }];
}

/**
 * Connection state of an AmberLiveFeed: "idle" before start, "waiting" for a
 * reconnect timer, "disabled" after Amber rejected live prices.
 */
export type LiveFeedState =
  "idle" | "connecting" | "subscribed" | "waiting" | "disabled" | "stopped";

/** A snapshot of an AmberLiveFeed for status pages and tests. */
export interface LiveFeedStatus {
  state: LiveFeedState;
  /** Epoch ms of the last valid price push. */
  lastPriceAt: number | undefined;
  /** Epoch ms of the last pong. */
  lastPongAt: number | undefined;
  /** Connection attempts made since the feed was created, the first included. */
  connectAttempts: number;
  /** Pushes skipped because they did not parse. */
  invalidPushes: number;
  /** Reason the feed was disabled, or undefined while it is not disabled. */
  disabledReason: string | undefined;
}

const subscribeReplySchema = z.object({
  action: z.literal("subscribe"),
  status: z.number(),
  message: z.string().optional(),
});

const priceUpdateSchema = z.object({
  service: z.literal("live-prices"),
  action: z.literal("price-update"),
  timestamp: z.union([z.string(), z.number()]).optional(),
  data: z.object({
    /** Site the prices belong to; absent in older pushes. */
    siteId: z.string().optional(),
    prices: z.array(z.unknown()),
  }),
});

export class AmberLiveFeed extends EventEmitter<AmberLiveFeedEvents> {
  readonly #url: string;
  readonly #token: string;
  readonly #siteId: string;
  readonly #logger: Logger;
  readonly #heartbeatIntervalMs: number;
  readonly #pongTimeoutMs: number;
  readonly #staleAfterMs: number;
  readonly #reconnectBaseMs: number;
  readonly #reconnectMaxMs: number;
  readonly #random: () => number;

  #state: LiveFeedState = "idle";
  #socket: WebSocket | undefined;
  /** HTTP status of a rejected upgrade on the current socket. */
  #upgradeStatus: number | undefined;
  /** Reconnects since the last connection that lasted `reconnectMaxMs`; sets the backoff step. */
  #failedAttempts = 0;
  /** Epoch ms at which the current connection was subscribed. */
  #subscribedAt: number | undefined;
  #connectAttempts = 0;
  #lastPriceAt: number | undefined;
  #lastPongAt: number | undefined;
  #stale = false;
  /** Whether a subscription succeeded since the last start, so later ones log at debug. */
  #subscribedSinceStart = false;
  #invalidPushes = 0;
  #disabledReason: string | undefined;
  /** Failure kinds logged since the last subscription, so repeats log at debug. */
  readonly #loggedFailures = new Set<string>();

  #heartbeatTimer: NodeJS.Timeout | undefined;
  #pongTimer: NodeJS.Timeout | undefined;
  #staleTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;

  constructor(options: AmberLiveFeedOptions) {
    super();
    registerSecret(options.token);
    this.#url = options.url ?? AMBER_LIVE_URL;
    this.#token = options.token;
    this.#siteId = options.siteId;
    this.#logger = options.logger.child({
      module: "amber-live",
      siteId: options.siteId,
    });
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
    this.#pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.#staleAfterMs = options.staleAfterMs ?? 360_000;
    this.#reconnectBaseMs = options.reconnectBaseMs ?? 5_000;
    this.#reconnectMaxMs = options.reconnectMaxMs ?? 60_000;
    this.#random = options.random ?? Math.random;
  }

  /** Connects and subscribes. Calling it again while running does nothing. */
  start(): void {
    if (this.#state !== "idle" && this.#state !== "stopped") {
      return;
    }
    this.#failedAttempts = 0;
    this.#stale = false;
    this.#subscribedSinceStart = false;
    this.#armStaleTimer();
    this.#connect();
  }

  /** Closes the connection and cancels every timer and socket listener. */
  stop(): void {
    if (this.#state === "stopped" || this.#state === "idle") {
      return;
    }
    this.#state = "stopped";
    this.#clearTimers();
    this.#dropSocket();
    this.#logger.debug("Amber live prices stopped");
  }

  /** Returns a snapshot of the feed. */
  status(): LiveFeedStatus {
    return {
      state: this.#state,
      lastPriceAt: this.#lastPriceAt,
      lastPongAt: this.#lastPongAt,
      connectAttempts: this.#connectAttempts,
      invalidPushes: this.#invalidPushes,
      disabledReason: this.#disabledReason,
    };
  }

  #connect(): void {
    this.#state = "connecting";
    this.#connectAttempts += 1;
    this.#upgradeStatus = undefined;

    // A larger message makes ws close the connection with code 1009, and the
    // feed then reconnects like after any other close.
    const socket = new WebSocket(this.#url, {
      headers: { authorization: `Bearer ${this.#token}` },
      maxPayload: MAX_MESSAGE_BYTES,
    });
    this.#socket = socket;

    socket.on("open", () => {
      this.#onOpen(socket);
    });
    socket.on("message", (data: WebSocket.RawData) => {
      this.#onMessage(rawText(data));
    });
    socket.on("pong", () => {
      this.#lastPongAt = Date.now();
      clearTimeout(this.#pongTimer);
      this.#pongTimer = undefined;
    });
    socket.on("unexpected-response", (_request, response) => {
      // With this listener present, ws leaves aborting the handshake to us.
      this.#upgradeStatus = response.statusCode;
      socket.terminate();
    });
    socket.on("error", (error) => {
      if (this.#upgradeStatus !== undefined) {
        // The close handler reports the rejected upgrade.
        return;
      }
      this.#logFailure("socket-error", "Amber live prices connection failed", {
        error: describeError(error),
      });
    });
    socket.on("close", (code, reason) => {
      // The reason is the server's text and goes into events that the
      // dashboard shows, so registered secrets are removed from it.
      this.#onClose(socket, code, scrubText(reason.toString("utf8")));
    });
  }

  #onOpen(socket: WebSocket): void {
    socket.send(
      JSON.stringify({
        service: "live-prices",
        action: "subscribe",
        data: { siteId: this.#siteId },
      }),
    );
    this.#heartbeatTimer = setInterval(() => {
      this.#ping(socket);
    }, this.#heartbeatIntervalMs);
  }

  #ping(socket: WebSocket): void {
    if (this.#pongTimer !== undefined) {
      return;
    }
    socket.ping();
    this.#pongTimer = setTimeout(() => {
      this.#pongTimer = undefined;
      this.#logFailure(
        "pong-timeout",
        "Amber live prices sent no pong; reconnecting",
        {
          pongTimeoutMs: this.#pongTimeoutMs,
        },
      );
      socket.terminate();
    }, this.#pongTimeoutMs);
  }

  #onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#skipInvalidPush(`a message that is not JSON: ${text.slice(0, 80)}`);
      return;
    }

    const reply = subscribeReplySchema.safeParse(message);
    if (reply.success) {
      this.#onSubscribeReply(reply.data.status, reply.data.message);
      return;
    }

    const update = priceUpdateSchema.safeParse(message);
    if (update.success) {
      const { siteId, prices } = update.data.data;
      if (siteId !== undefined && siteId !== this.#siteId) {
        this.#skipInvalidPush(
          `prices for another site, ${siteId.slice(0, 40)}`,
        );
        return;
      }
      this.#onPriceUpdate(update.data.timestamp, prices);
      return;
    }

    const action = (message as { action?: unknown } | null)?.action;
    if (action === "price-update") {
      this.#skipInvalidPush("a price update without data.prices");
      return;
    }
    this.#logger.debug(
      { action },
      "Amber live prices sent an unknown message; ignored",
    );
  }

  #onSubscribeReply(status: number, message: string | undefined): void {
    const detail =
      message === undefined ? "" : ` (${scrubText(message).slice(0, 200)})`;
    if (isTransientStatus(status)) {
      // A server error or rate limit is no sign that the account lacks
      // access, so it gets the usual reconnect with backoff.
      this.#logFailure(
        `subscribe-${status}`,
        `Amber live prices could not subscribe, status ${status}${detail}; reconnecting`,
        { status },
      );
      this.#clearConnectionTimers();
      this.#dropSocket();
      this.#scheduleReconnect();
      return;
    }
    if (status !== 200) {
      this.#disable(
        `Amber rejected the live-price subscription for site ${this.#siteId} with status ${status}${detail}. Live prices are probably not enabled for this account, so prices come from REST polling only.`,
        status,
      );
      return;
    }

    // The backoff is reset when this connection closes after lasting long
    // enough (see #onClose), not here: a server that accepts and then drops
    // every subscription would otherwise be retried every 5 s forever.
    this.#state = "subscribed";
    this.#subscribedAt = Date.now();
    if (this.#loggedFailures.size > 0) {
      this.#logger.info("Amber live prices reconnected");
      this.#loggedFailures.clear();
    } else if (!this.#subscribedSinceStart) {
      this.#logger.info("Amber live prices subscribed");
    } else {
      this.#logger.debug("Amber live prices subscribed again");
    }
    this.#subscribedSinceStart = true;
    this.#emitSafely("connected", { siteId: this.#siteId });
  }

  #onPriceUpdate(
    timestamp: string | number | undefined,
    body: unknown[],
  ): void {
    let parsed: { intervals: CurrentInterval[]; ignoredChannelTypes: string[] };
    try {
      parsed = parseIntervalList(
        body,
        currentIntervalSchema,
        "live price update",
      );
    } catch (error) {
      if (error instanceof InvalidPayloadError) {
        this.#skipInvalidPush(error.message);
        return;
      }
      throw error;
    }

    this.#lastPriceAt = Date.now();
    this.#stale = false;
    this.#armStaleTimer();
    this.#logger.debug(
      { count: parsed.intervals.length },
      "Amber live prices received",
    );
    this.#emitSafely("prices", {
      siteId: this.#siteId,
      timestamp,
      receivedAt: this.#lastPriceAt,
      prices: parsed.intervals,
      byChannel: groupByChannel(parsed.intervals),
      ignoredChannelTypes: parsed.ignoredChannelTypes,
    });
  }

  #skipInvalidPush(problem: string): void {
    this.#invalidPushes += 1;
    const first = this.#invalidPushes === 1;
    this.#logger[first ? "warn" : "debug"](
      { invalidPushes: this.#invalidPushes },
      `Amber live prices sent ${problem}; skipped`,
    );
  }

  #onClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.#socket) {
      return;
    }
    const wasSubscribed = this.#state === "subscribed";
    if (
      wasSubscribed &&
      this.#subscribedAt !== undefined &&
      Date.now() - this.#subscribedAt >= this.#reconnectMaxMs
    ) {
      this.#failedAttempts = 0;
    }
    this.#socket = undefined;
    this.#clearConnectionTimers();

    const status = this.#upgradeStatus;
    if (status === 401 || status === 403) {
      this.#disable(
        status === 403
          ? `Amber rejected the live-price connection with HTTP 403. Live prices are not enabled for this account, so prices come from REST polling only.`
          : `Amber rejected the token for live prices with HTTP 401. Check the Amber token in the configuration.`,
        status,
      );
      return;
    }
    if (this.#state === "stopped" || this.#state === "disabled") {
      return;
    }

    if (wasSubscribed) {
      this.#emitSafely("disconnected", {
        reason:
          reason ||
          (status === undefined ? "connection closed" : `HTTP ${status}`),
        code,
      });
    } else {
      this.#logFailure(
        `connect-${status ?? code}`,
        "Amber live prices could not connect",
        {
          code,
          status,
        },
      );
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#failedAttempts += 1;
    const step = Math.min(
      this.#reconnectMaxMs,
      this.#reconnectBaseMs * 2 ** (this.#failedAttempts - 1),
    );
    const delayMs = Math.round(step * (0.8 + 0.4 * this.#random()));
    this.#state = "waiting";
    this.#logger.debug({ delayMs }, "Amber live prices reconnect scheduled");
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delayMs);
  }

  #armStaleTimer(): void {
    clearTimeout(this.#staleTimer);
    this.#staleTimer = setTimeout(() => {
      this.#onStale();
    }, this.#staleAfterMs);
  }

  #onStale(): void {
    const lastPriceAt = this.#lastPriceAt;
    if (!this.#stale) {
      this.#stale = true;
      this.#logFailure("stale", "Amber live prices are stale; reconnecting", {
        lastPriceAt,
      });
      this.#emitSafely("stale", {
        lastPriceAt,
        silentForMs:
          lastPriceAt === undefined
            ? this.#staleAfterMs
            : Date.now() - lastPriceAt,
      });
    }
    this.#armStaleTimer();
    // Dropping the socket leads to #onClose, which schedules the reconnect.
    this.#socket?.terminate();
  }

  #disable(reason: string, status: number | undefined): void {
    this.#state = "disabled";
    this.#disabledReason = reason;
    this.#clearTimers();
    this.#dropSocket();
    this.#logger.warn({ status }, reason);
    this.#emitSafely("disabled", { reason, status });
  }

  #dropSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) {
      return;
    }
    socket.removeAllListeners();
    // ws may still report the abort; a listener keeps that from being an uncaught error.
    socket.on("error", () => undefined);
    socket.terminate();
  }

  #clearConnectionTimers(): void {
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#pongTimer);
    this.#heartbeatTimer = undefined;
    this.#pongTimer = undefined;
  }

  #clearTimers(): void {
    this.#clearConnectionTimers();
    clearTimeout(this.#staleTimer);
    clearTimeout(this.#reconnectTimer);
    this.#staleTimer = undefined;
    this.#reconnectTimer = undefined;
  }

  #logFailure(
    kind: string,
    message: string,
    fields: Record<string, unknown>,
  ): void {
    const first = !this.#loggedFailures.has(kind);
    this.#loggedFailures.add(kind);
    this.#logger[first ? "warn" : "debug"](fields, message);
  }

  /** Emits an event; a listener that throws is logged instead of breaking the socket handler. */
  #emitSafely<K extends keyof AmberLiveFeedEvents>(
    event: K,
    ...args: AmberLiveFeedEvents[K]
  ): void {
    try {
      (this.emit as (name: K, ...rest: AmberLiveFeedEvents[K]) => boolean)(
        event,
        ...args,
      );
    } catch (error) {
      this.#logger.error(
        { event, error: describeError(error) },
        "An Amber live-price listener failed",
      );
    }
  }
}

/** True for subscribe statuses worth retrying: 408, 429 and 5xx. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString("utf8");
  }
  if (data instanceof ArrayBuffer) {
    return Buffer.from(new Uint8Array(data)).toString("utf8");
  }
  return data.toString("utf8");
}
