/**
 * A stand-in for Amber Electric's API on loopback, for tests and the demo:
 * a real HTTP server for the REST endpoints (`/v1/sites`,
 * `/v1/sites/{id}/prices/current`, `/v1/sites/{id}/prices`) and the
 * live-prices WebSocket on the same port (paths "/ws" and "/"). Prices come
 * from the deterministic price model. Like Amber, it checks the bearer
 * token, sends RateLimit headers on every 200 and responds with 429 beyond
 * 50 requests per 300 s. Fault switches make it fail in the ways Amber does.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

import { WebSocketServer, type WebSocket } from "ws";

import {
  CHANNEL_TYPES,
  type ChannelType,
  type Interval,
  type Site,
} from "../amber/schemas.js";
import type { Clock } from "../util/clock.js";
import { FaultSwitch, type Fault } from "./faults.js";
import {
  currentIntervals,
  intervalsBetween,
  type PriceModelOptions,
  type PricePattern,
} from "./price-model.js";

const MINUTE_MS = 60_000;
const HALF_HOUR_MS = 30 * MINUTE_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const NEM_OFFSET_MS = 10 * HOUR_MS;

/** Amber's limit on `next + previous` for `/prices/current`. */
const MAX_CURRENT_INTERVALS = 2048;
/** Amber's limit on `endDate - startDate` for `/prices`, in days. */
const MAX_RANGE_DAYS = 7;

/** The site served when the options name none. */
export const DEFAULT_STAND_IN_SITE_ID = "01J9STANDINSITE000000000001";

/** Options for startAmberStandIn. */
export interface AmberStandInOptions {
  /** The only token the stand-in accepts. */
  token: string;
  /** Sites on the account; default one active site with general and feed-in channels. */
  sites?: Site[];
  /** Time source in epoch ms; takes precedence over `clock`. Default Date.now. */
  now?: () => number;
  /** Time source, used when `now` is not given. */
  clock?: Clock;
  /** Price pattern; default "calm". */
  pattern?: PricePattern;
  /** Interval length of the default site in minutes; default 5. */
  intervalLength?: 5 | 30;
  /** Seed for the price model; default 1. */
  seed?: number;
  /** Forecast horizon in hours; default 30. Shorten it to make forecasts run out early. */
  forecastHours?: number;
  /** TCP port; default 0 (an ephemeral port). */
  port?: number;
  /** Interface to listen on; default "127.0.0.1". */
  host?: string;
  /** Requests allowed per rate-limit window; default 50, as Amber. */
  rateLimit?: number;
  /** Rate-limit window in ms; default 300 000, as Amber. */
  rateWindowMs?: number;
  /** Push live prices to subscribers every this many ms of real time; default never. */
  livePushIntervalMs?: number;
  /**
   * Channel types that Amber might add later. Price responses append a copy
   * of the general intervals for each, so tests can check that clients skip
   * them. Default none.
   */
  unknownChannelTypes?: string[];
}

/** One REST request as the stand-in received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, such as "/v1/sites". */
  path: string;
  query: Record<string, string>;
  /** Arrival time from the stand-in's time source, in epoch ms. */
  at: number;
  /** Status sent, or undefined when the request got no response (timeout, reset). */
  status: number | undefined;
}

/** Switches that make the live-prices WebSocket misbehave. */
export class WebSocketFaults {
  /** Answer the WebSocket handshake with HTTP 403, as Amber does for accounts without access. */
  rejectUpgrade = false;
  /** Answer subscribe messages with status 403 instead of 200. */
  rejectSubscribe = false;
  /** Send no pongs and no price pushes, as a half-dead connection. */
  silent = false;

  readonly #sockets: () => Iterable<WebSocket>;

  constructor(sockets: () => Iterable<WebSocket>) {
    this.#sockets = sockets;
  }

  /** Drops every open live-prices connection without a close frame. Returns how many were dropped. */
  dropConnections(): number {
    let dropped = 0;
    for (const socket of this.#sockets()) {
      socket.terminate();
      dropped += 1;
    }
    return dropped;
  }

  /** Turns every switch off. */
  clear(): void {
    this.rejectUpgrade = false;
    this.rejectSubscribe = false;
    this.silent = false;
  }
}

/** A running stand-in. */
export interface AmberStandIn {
  /** REST base URL, such as "http://127.0.0.1:41234/v1". */
  restUrl: string;
  /** Live-prices WebSocket URL, such as "ws://127.0.0.1:41234/ws". */
  wsUrl: string;
  /** REST fault switches, consumed per request. */
  faults: FaultSwitch;
  /** WebSocket fault switches. */
  wsFaults: WebSocketFaults;
  /** Every REST request received, oldest first. */
  requests: RecordedRequest[];
  /** The sites on the account. */
  sites: Site[];
  /** Sends the current prices to every live-prices subscriber now. Returns the number of messages sent. */
  pushLivePrices(): number;
  /**
   * Sends `message` (text as is, anything else as JSON) to every subscribed
   * live-prices connection, to test how clients handle odd pushes. Returns
   * the number of messages sent.
   */
  sendLiveMessage(message: unknown): number;
  /** Number of open live-prices connections. */
  liveConnectionCount(): number;
  /** Changes the price pattern for every later response and push. */
  setPattern(pattern: PricePattern): void;
  /** Changes the forecast horizon in hours. */
  setForecastHours(hours: number): void;
  /** Stops the server and drops every connection. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Starts the stand-in and resolves once it listens. */
export async function startAmberStandIn(
  options: AmberStandInOptions,
): Promise<AmberStandIn> {
  const standIn = new AmberStandInServer(options);
  await standIn.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  return standIn.handle();
}

class AmberStandInServer {
  readonly faults = new FaultSwitch();
  readonly wsFaults: WebSocketFaults;
  readonly requests: RecordedRequest[] = [];
  readonly sites: Site[];

  readonly #token: string;
  readonly #now: () => number;
  readonly #seed: number;
  readonly #rateLimit: number;
  readonly #rateWindowMs: number;
  readonly #unknownChannelTypes: string[];
  #pattern: PricePattern;
  #forecastHours: number;

  readonly #server: Server;
  readonly #webSockets = new WebSocketServer({
    noServer: true,
    autoPong: false,
  });
  /** Open live-prices connections and the site each subscribed to. */
  readonly #subscriptions = new Map<WebSocket, string | undefined>();
  /** Accepted request times within the rate-limit window, oldest first. */
  readonly #acceptedTimes: number[] = [];
  readonly #pendingTimers = new Set<NodeJS.Timeout>();
  #pushTimer: NodeJS.Timeout | undefined;
  #livePushIntervalMs: number | undefined;
  #address: AddressInfo | undefined;

  constructor(options: AmberStandInOptions) {
    this.#token = options.token;
    const clock = options.clock;
    // Date.now is looked up on every call so that fake timers installed later apply.
    this.#now =
      options.now ??
      (clock === undefined ? () => Date.now() : () => clock.now());
    this.#seed = options.seed ?? 1;
    this.#pattern = options.pattern ?? "calm";
    this.#forecastHours = options.forecastHours ?? 30;
    this.#rateLimit = options.rateLimit ?? 50;
    this.#rateWindowMs = options.rateWindowMs ?? 300_000;
    this.#livePushIntervalMs = options.livePushIntervalMs;
    this.#unknownChannelTypes = options.unknownChannelTypes ?? [];
    this.sites = options.sites ?? [defaultSite(options.intervalLength ?? 5)];
    this.wsFaults = new WebSocketFaults(() => this.#subscriptions.keys());

    this.#server = createServer((request, response) => {
      this.#onRequest(request, response);
    });
    this.#server.on("upgrade", (request, socket: Socket, head) => {
      this.#onUpgrade(request, socket, head);
    });
    this.#webSockets.on("connection", (socket) => {
      this.#onConnection(socket);
    });
  }

  async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") {
      throw new Error("Amber stand-in did not get a TCP address");
    }
    this.#address = address;

    if (this.#livePushIntervalMs !== undefined) {
      this.#pushTimer = setInterval(() => {
        this.pushLivePrices();
      }, this.#livePushIntervalMs);
    }
  }

  handle(): AmberStandIn {
    const address = this.#address;
    if (address === undefined) {
      throw new Error("Amber stand-in is not listening");
    }
    const host =
      address.family === "IPv6" ? `[${address.address}]` : address.address;
    const origin = `${host}:${address.port}`;

    return {
      restUrl: `http://${origin}/v1`,
      wsUrl: `ws://${origin}/ws`,
      faults: this.faults,
      wsFaults: this.wsFaults,
      requests: this.requests,
      sites: this.sites,
      pushLivePrices: () => this.pushLivePrices(),
      sendLiveMessage: (message) => this.sendLiveMessage(message),
      liveConnectionCount: () => this.#subscriptions.size,
      setPattern: (pattern) => {
        this.#pattern = pattern;
      },
      setForecastHours: (hours) => {
        this.#forecastHours = hours;
      },
      close: () => this.close(),
    };
  }

  pushLivePrices(): number {
    if (this.wsFaults.silent) {
      return 0;
    }
    let sent = 0;
    for (const [socket, siteId] of this.#subscriptions) {
      const site = this.sites.find((candidate) => candidate.id === siteId);
      if (site === undefined || socket.readyState !== socket.OPEN) {
        continue;
      }
      const now = this.#now();
      socket.send(
        JSON.stringify({
          service: "live-prices",
          action: "price-update",
          timestamp: new Date(now).toISOString(),
          data: {
            siteId: site.id,
            prices: currentIntervals(now, this.#modelOptions(site)),
          },
        }),
      );
      sent += 1;
    }
    return sent;
  }

  sendLiveMessage(message: unknown): number {
    const text =
      typeof message === "string" ? message : JSON.stringify(message);
    let sent = 0;
    for (const [socket, siteId] of this.#subscriptions) {
      if (siteId !== undefined && socket.readyState === socket.OPEN) {
        socket.send(text);
        sent += 1;
      }
    }
    return sent;
  }

  async close(): Promise<void> {
    if (this.#pushTimer !== undefined) {
      clearInterval(this.#pushTimer);
    }
    for (const timer of this.#pendingTimers) {
      clearTimeout(timer);
    }
    this.#pendingTimers.clear();
    for (const socket of this.#subscriptions.keys()) {
      socket.terminate();
    }
    this.#subscriptions.clear();
    this.#webSockets.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  // REST

  #onRequest(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://stand-in.invalid");
    const record: RecordedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      at: this.#now(),
      status: undefined,
    };
    this.requests.push(record);

    const send = (reply: Reply): void => {
      record.status = reply.status;
      writeReply(response, reply);
    };

    const fault = this.faults.take(url.pathname);
    if (fault === undefined) {
      send(this.#route(request, url));
      return;
    }

    switch (fault.kind) {
      case "timeout":
        return;
      case "reset":
        request.socket.destroy();
        return;
      case "slow": {
        const timer = setTimeout(() => {
          this.#pendingTimers.delete(timer);
          send(this.#route(request, url));
        }, fault.delayMs ?? 2000);
        this.#pendingTimers.add(timer);
        return;
      }
      default:
        send(this.#faultReply(fault, request, url));
    }
  }

  #faultReply(fault: Fault, request: IncomingMessage, url: URL): Reply {
    switch (fault.kind) {
      case "rate-limit": {
        const seconds = fault.retryAfterSeconds ?? 30;
        return {
          status: 429,
          body: { message: "Too many requests" },
          headers: {
            "Retry-After": String(seconds),
            ...this.#rateLimitHeaders(0, seconds),
          },
        };
      }
      case "rate-limit-no-headers":
        return { status: 429, body: { message: "Too many requests" } };
      case "server-error":
        return { status: 500, body: { message: "Internal Server Error" } };
      case "unavailable":
        return { status: 503, body: { message: "Service Unavailable" } };
      case "unauthorized":
        return {
          status: 401,
          body: { message: "API key is missing or invalid" },
        };
      case "malformed-json":
        return { status: 200, body: '[{"type": "CurrentInterval", "perKwh": ' };
      case "wrong-shape": {
        const reply = this.#route(request, url);
        return reply.status === 200
          ? { ...reply, body: corrupt(reply.body) }
          : reply;
      }
      default:
        // "result-false" and later kinds do not apply to Amber.
        return this.#route(request, url);
    }
  }

  #route(request: IncomingMessage, url: URL): Reply {
    if (request.headers.authorization !== `Bearer ${this.#token}`) {
      return {
        status: 401,
        body: { message: "API key is missing or invalid" },
      };
    }

    const now = this.#now();
    const remaining = this.#takeRateLimitSlot(now);
    if (remaining === undefined) {
      return {
        status: 429,
        body: { message: "Too many requests" },
        headers: this.#rateLimitHeaders(0, this.#secondsToReset(now)),
      };
    }

    const reply = this.#routeAuthorised(request, url, now);
    if (reply.status === 200) {
      reply.headers = {
        ...reply.headers,
        ...this.#rateLimitHeaders(remaining, this.#secondsToReset(now)),
      };
    }
    return reply;
  }

  #routeAuthorised(request: IncomingMessage, url: URL, now: number): Reply {
    if (request.method !== "GET") {
      return { status: 405, body: { message: "Method not allowed" } };
    }
    if (url.pathname === "/v1/sites") {
      return { status: 200, body: this.sites };
    }

    const match = /^\/v1\/sites\/([^/]+)\/(prices(?:\/current)?)$/.exec(
      url.pathname,
    );
    if (match === null) {
      return { status: 404, body: { message: "Not found" } };
    }
    const siteId = decodePathSegment(match[1] ?? "");
    const site = this.sites.find((candidate) => candidate.id === siteId);
    if (site === undefined) {
      return { status: 404, body: { message: "Site not found" } };
    }

    const resolution = url.searchParams.get("resolution");
    if (resolution !== null && resolution !== "5" && resolution !== "30") {
      return badRequest(`resolution must be 5 or 30, got "${resolution}"`);
    }
    // Like Amber, the resolution is accepted and then ignored.

    return match[2] === "prices"
      ? this.#pricesForDates(site, url.searchParams, now)
      : this.#currentPrices(site, url.searchParams, now);
  }

  #currentPrices(site: Site, query: URLSearchParams, now: number): Reply {
    const next = countParam(query, "next");
    const previous = countParam(query, "previous");
    if (typeof next === "string") {
      return badRequest(next);
    }
    if (typeof previous === "string") {
      return badRequest(previous);
    }
    if (next + previous > MAX_CURRENT_INTERVALS) {
      return {
        status: 422,
        body: {
          message: `next + previous must be at most ${MAX_CURRENT_INTERVALS}, got ${next + previous}`,
        },
      };
    }

    const model = this.#modelOptions(site);
    const length = model.intervalLength * MINUTE_MS;
    const currentStart = Math.floor(now / length) * length;
    const all = intervalsBetween({
      ...model,
      now,
      startMs: currentStart - previous * length,
      endMs: Math.max(
        currentStart + length,
        Math.min(
          now + this.#forecastHours * HOUR_MS,
          currentStart + length + next * HALF_HOUR_MS,
        ),
      ),
    });

    const body: Interval[] = [];
    for (const channel of model.channels ?? []) {
      const ofChannel = all.filter(
        (interval) => interval.channelType === channel,
      );
      const forecasts = ofChannel.filter(
        (interval) => interval.type === "ForecastInterval",
      );
      body.push(
        ...ofChannel.filter((interval) => interval.type !== "ForecastInterval"),
        ...forecasts.slice(0, next),
      );
    }
    return { status: 200, body: this.#withUnknownChannels(body) };
  }

  #pricesForDates(site: Site, query: URLSearchParams, now: number): Reply {
    const today = new Date(now + NEM_OFFSET_MS).toISOString().slice(0, 10);
    const startDate = query.get("startDate") ?? today;
    const endDate = query.get("endDate") ?? today;
    const start = nemMidnight(startDate);
    const end = nemMidnight(endDate);
    if (start === undefined) {
      return badRequest(`startDate must be an ISO date, got "${startDate}"`);
    }
    if (end === undefined) {
      return badRequest(`endDate must be an ISO date, got "${endDate}"`);
    }
    if (end < start) {
      return badRequest("endDate must not be before startDate");
    }
    if ((end - start) / DAY_MS > MAX_RANGE_DAYS) {
      return {
        status: 422,
        body: {
          message: `The date range must be at most ${MAX_RANGE_DAYS} days`,
        },
      };
    }

    const body = intervalsBetween({
      ...this.#modelOptions(site),
      now,
      startMs: start,
      endMs: Math.min(end + DAY_MS, now + this.#forecastHours * HOUR_MS),
    });
    return { status: 200, body: this.#withUnknownChannels(body) };
  }

  #withUnknownChannels(intervals: Interval[]): unknown[] {
    const general = intervals.filter(
      (interval) => interval.channelType === "general",
    );
    const copies = this.#unknownChannelTypes.flatMap((channelType) =>
      general.map((interval) => ({ ...interval, channelType })),
    );
    return [...intervals, ...copies];
  }

  #modelOptions(site: Site): PriceModelOptions & { channels: ChannelType[] } {
    const present = new Set(site.channels.map((channel) => channel.type));
    return {
      intervalLength: site.intervalLength ?? 30,
      pattern: this.#pattern,
      seed: this.#seed,
      channels: CHANNEL_TYPES.filter((type) => present.has(type)),
    };
  }

  /** Records a request in the window; returns the requests left, or undefined when over the limit. */
  #takeRateLimitSlot(now: number): number | undefined {
    this.#pruneRateWindow(now);
    if (this.#acceptedTimes.length >= this.#rateLimit) {
      return undefined;
    }
    this.#acceptedTimes.push(now);
    return this.#rateLimit - this.#acceptedTimes.length;
  }

  #pruneRateWindow(now: number): void {
    while (
      this.#acceptedTimes.length > 0 &&
      (this.#acceptedTimes[0] ?? now) + this.#rateWindowMs <= now
    ) {
      this.#acceptedTimes.shift();
    }
  }

  #secondsToReset(now: number): number {
    const oldest = this.#acceptedTimes[0];
    const resetAt = (oldest ?? now) + this.#rateWindowMs;
    return Math.max(1, Math.ceil((resetAt - now) / 1000));
  }

  #rateLimitHeaders(
    remaining: number,
    resetSeconds: number,
  ): Record<string, string> {
    return {
      "RateLimit-Limit": String(this.#rateLimit),
      "RateLimit-Remaining": String(remaining),
      "RateLimit-Reset": String(resetSeconds),
      "RateLimit-Policy": `${this.#rateLimit};w=${Math.round(this.#rateWindowMs / 1000)}`,
    };
  }

  // WebSocket

  #onUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(request.url ?? "/", "http://stand-in.invalid")
      .pathname;
    if (path !== "/" && path !== "/ws") {
      rejectUpgrade(socket, 404, "Not Found");
      return;
    }
    if (this.wsFaults.rejectUpgrade) {
      rejectUpgrade(socket, 403, "Forbidden");
      return;
    }
    if (request.headers.authorization !== `Bearer ${this.#token}`) {
      rejectUpgrade(socket, 401, "Unauthorized");
      return;
    }
    this.#webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      this.#webSockets.emit("connection", webSocket, request);
    });
  }

  #onConnection(socket: WebSocket): void {
    this.#subscriptions.set(socket, undefined);
    socket.on("ping", (data) => {
      if (!this.wsFaults.silent) {
        socket.pong(data);
      }
    });
    socket.on("message", (data) => {
      this.#onMessage(socket, rawText(data));
    });
    socket.on("close", () => {
      this.#subscriptions.delete(socket);
    });
    socket.on("error", () => {
      this.#subscriptions.delete(socket);
    });
  }

  #onMessage(socket: WebSocket, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      socket.send(
        JSON.stringify({ status: 400, message: "Message is not JSON" }),
      );
      return;
    }

    const subscribe = asSubscribe(message);
    if (subscribe === undefined) {
      socket.send(JSON.stringify({ status: 400, message: "Unknown message" }));
      return;
    }

    const reply = { service: "live-prices", action: "subscribe" };
    if (this.wsFaults.rejectSubscribe) {
      socket.send(
        JSON.stringify({
          ...reply,
          status: 403,
          message: "Live prices are not enabled for this account",
        }),
      );
      return;
    }
    if (!this.sites.some((site) => site.id === subscribe.siteId)) {
      socket.send(
        JSON.stringify({ ...reply, status: 404, message: "Site not found" }),
      );
      return;
    }

    this.#subscriptions.set(socket, subscribe.siteId);
    socket.send(
      JSON.stringify({
        ...reply,
        status: 200,
        data: { siteId: subscribe.siteId },
      }),
    );
  }
}

function defaultSite(intervalLength: 5 | 30): Site {
  return {
    id: DEFAULT_STAND_IN_SITE_ID,
    nmi: "4103000001",
    channels: [
      { identifier: "E1", type: "general", tariff: "EA116" },
      { identifier: "B1", type: "feedIn", tariff: "EA116" },
    ],
    network: "Ausgrid",
    status: "active",
    activeFrom: "2024-01-01",
    intervalLength,
  };
}

function writeReply(response: ServerResponse, reply: Reply): void {
  const text =
    typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    "Content-Type": "application/json",
    ...reply.headers,
  });
  response.end(text);
}

/**
 * Decodes a percent-encoded path segment, or returns undefined when the
 * encoding is malformed. decodeURIComponent throws URIError on "%E0%A4%A",
 * which inside the request handler would crash the whole process.
 */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function badRequest(message: string): Reply {
  return { status: 400, body: { message } };
}

/** Reads a non-negative integer parameter, default 0; returns an error message when invalid. */
function countParam(query: URLSearchParams, name: string): number | string {
  const text = query.get(name);
  if (text === null) {
    return 0;
  }
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    return `${name} must be a non-negative integer, got "${text}"`;
  }
  return value;
}

/** Returns epoch ms of 00:00 NEM time on an ISO date, or undefined when invalid. */
function nemMidnight(date: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    return undefined;
  }
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  if (
    !Number.isFinite(utcMidnight) ||
    !new Date(utcMidnight).toISOString().startsWith(date)
  ) {
    return undefined;
  }
  return utcMidnight - NEM_OFFSET_MS;
}

/** Replaces a field of the first item with a value of the wrong type. */
function corrupt(body: unknown): unknown {
  if (!Array.isArray(body) || body.length === 0) {
    return { unexpected: body };
  }
  const [first, ...rest] = body as Array<Record<string, unknown>>;
  const broken =
    first !== undefined && "perKwh" in first
      ? { ...first, perKwh: String(first["perKwh"]) }
      : { ...first, nmi: 3052282872 };
  return [broken, ...rest];
}

function asSubscribe(message: unknown): { siteId: string } | undefined {
  if (message === null || typeof message !== "object") {
    return undefined;
  }
  const { service, action, data } = message as Record<string, unknown>;
  if (service !== "live-prices" || action !== "subscribe") {
    return undefined;
  }
  const siteId =
    data !== null && typeof data === "object"
      ? (data as Record<string, unknown>)["siteId"]
      : undefined;
  return typeof siteId === "string" ? { siteId } : undefined;
}

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString("utf8");
  }
  return Buffer.from(
    data instanceof ArrayBuffer ? new Uint8Array(data) : data,
  ).toString("utf8");
}

function rejectUpgrade(socket: Socket, status: number, reason: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}
