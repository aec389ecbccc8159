/**
 * A small stand-in for Home Assistant's WebSocket API on 127.0.0.1, enough
 * for the bridge: the auth handshake, result and event frames, `ping`,
 * `get_config`, `subscribe_events` and the `tesla_sync/*` commands with the
 * integration's default results. Tests replace a command's handler with
 * `handle()` and push command events with `pushCommand()`.
 */
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";

import { WebSocketServer, type WebSocket } from "ws";

/** A frame the fake received after auth. */
export interface ReceivedFrame {
  id: number;
  type: string;
  [field: string]: unknown;
}

/** Return value of a handler: a result, an error, or no response at all. */
export type HandlerReply =
  | { result: unknown }
  | { error: { code: string; message: string } }
  | { noReply: true };

/** A command handler; `socket` is the connection the frame came on. */
export type FakeHandler = (
  frame: ReceivedFrame,
  socket: WebSocket,
) => HandlerReply;

/** The entry id the fake integration reports. */
export const FAKE_ENTRY_ID = "01JD5W9V4K0Q7Z3YB6T1N8M2PX";

/** The config the fake integration returns for `tesla_sync/config`. */
export function fakeEngineConfig(
  overrides: { options?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    amber: {
      token: "psk_fake_amber_token_0123456789",
      site_id: "01F5A5CRKMZ5BCX9P1S4V990AM",
      nmi: "61021234567",
    },
    tesla: {
      access_kind: "teslemetry",
      token: "fake-teslemetry-token-0123",
      energy_site_id: 1689999999999999,
    },
    options: {
      forecast_band: "predicted",
      auto_sync: true,
      spike_response: false,
      aemo_region: "NSW1",
      spike_threshold: 300,
      curtailment: false,
      curtailment_threshold: 1,
      ...overrides.options,
    },
  };
}

/** Features of the first release of protocol 1. */
export const FIRST_RELEASE_FEATURES = [
  "config",
  "register",
  "update",
  "subscribe_commands",
  "command_result",
  "fire_event",
  "auth_failed",
  "set_options",
] as const;

/** Features of the second release: engine features, error codes and the action groups. */
export const SECOND_RELEASE_FEATURES = [
  ...FIRST_RELEASE_FEATURES,
  "engine_features",
  "command_error_code",
  "force",
  "custom_schedule",
  "spike_test",
] as const;

/** Options for {@link startFakeHa}. */
export interface FakeHaOptions {
  /** The only access token accepted; default "fake-ha-token-0123456789". */
  token?: string;
}

/** A running fake. */
export class FakeHa extends EventEmitter<{
  frame: [ReceivedFrame];
  connection: [];
}> {
  readonly token: string;
  /** Every frame received after auth, across connections, oldest first. */
  readonly received: ReceivedFrame[] = [];
  /** HA's state as `get_config` reports it. */
  state = "RUNNING";
  /** Loaded components as `get_config` reports them. */
  components = ["http", "websocket_api", "tesla_sync"];
  /** When false, pings get no pong. */
  answerPings = true;
  /** When false, new sockets never get `auth_required` (a half-open server). */
  sendAuthRequired = true;
  /**
   * Features the `hello` result lists. Like the integration, the fake
   * rejects `subscribe_commands` `features` without `engine_features` and
   * `command_result` `error_code` without `command_error_code`.
   */
  features: readonly string[] = FIRST_RELEASE_FEATURES;
  /** Number of authenticated connections so far. */
  connections = 0;
  port = 0;

  #server: WebSocketServer | undefined;
  readonly #handlers = new Map<string, FakeHandler>();
  /** Subscription ids of `tesla_sync/subscribe_commands` per socket. */
  readonly #commandSubscriptions = new Map<WebSocket, number>();
  /** `subscribe_events` subscriptions per socket: id -> event type. */
  readonly #eventSubscriptions = new Map<WebSocket, Map<number, string>>();

  constructor(options: FakeHaOptions = {}) {
    super();
    this.token = options.token ?? "fake-ha-token-0123456789";
    this.#installDefaults();
  }

  /** The WebSocket URL, as the engine uses it. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/api/websocket`;
  }

  /** Sockets that completed auth and are still open. */
  get openSockets(): WebSocket[] {
    const sockets: WebSocket[] = [];
    for (const client of this.#server?.clients ?? []) {
      if (client.readyState === client.OPEN) {
        sockets.push(client);
      }
    }
    return sockets;
  }

  /** Starts listening; on a restart the same port is used again. */
  async listen(): Promise<void> {
    const server = new WebSocketServer({ host: "127.0.0.1", port: this.port });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    this.port = (server.address() as AddressInfo).port;
    server.on("connection", (socket) => {
      this.#accept(socket);
    });
    this.#server = server;
  }

  /** Drops every socket without a close frame and stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) {
      return;
    }
    for (const client of server.clients) {
      client.terminate();
    }
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    this.#commandSubscriptions.clear();
    this.#eventSubscriptions.clear();
  }

  /** Replaces the handler of one command type. */
  handle(type: string, handler: FakeHandler): void {
    this.#handlers.set(type, handler);
  }

  /** Frames of one type received so far. */
  framesOf(type: string): ReceivedFrame[] {
    return this.received.filter((frame) => frame.type === type);
  }

  /** Resolves with the next frame of `type` (or an earlier one not yet taken, when `since` is given). */
  nextFrame(
    type: string,
    since = this.received.length,
  ): Promise<ReceivedFrame> {
    const earlier = this.received
      .slice(since)
      .find((frame) => frame.type === type);
    if (earlier !== undefined) {
      return Promise.resolve(earlier);
    }
    return new Promise((resolve) => {
      const onFrame = (frame: ReceivedFrame): void => {
        if (frame.type === type) {
          this.off("frame", onFrame);
          resolve(frame);
        }
      };
      this.on("frame", onFrame);
    });
  }

  /** Sends a command event on every live `subscribe_commands` subscription. Returns how many got it. */
  pushCommand(event: Record<string, unknown>): number {
    let sent = 0;
    for (const [socket, id] of this.#commandSubscriptions) {
      if (socket.readyState === socket.OPEN) {
        socket.send(JSON.stringify({ id, type: "event", event }));
        sent += 1;
      }
    }
    return sent;
  }

  /** Fires a bus event to every `subscribe_events` subscriber of its type. */
  fireBusEvent(eventType: string, data: Record<string, unknown>): void {
    for (const [socket, subscriptions] of this.#eventSubscriptions) {
      for (const [id, type] of subscriptions) {
        if (type === eventType && socket.readyState === socket.OPEN) {
          socket.send(
            JSON.stringify({
              id,
              type: "event",
              event: { event_type: eventType, data },
            }),
          );
        }
      }
    }
  }

  #accept(socket: WebSocket): void {
    let authenticated = false;
    if (this.sendAuthRequired) {
      socket.send(
        JSON.stringify({ type: "auth_required", ha_version: "2026.10.4" }),
      );
    }
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as ReceivedFrame;
      if (!authenticated) {
        if (frame.type !== "auth") {
          socket.close();
          return;
        }
        if (frame["access_token"] !== this.token) {
          socket.send(
            JSON.stringify({
              type: "auth_invalid",
              message: "Invalid access token or password",
            }),
          );
          socket.close();
          return;
        }
        authenticated = true;
        this.connections += 1;
        socket.send(
          JSON.stringify({ type: "auth_ok", ha_version: "2026.10.4" }),
        );
        this.emit("connection");
        return;
      }
      this.received.push(frame);
      this.emit("frame", frame);
      this.#answer(frame, socket);
    });
    socket.on("close", () => {
      this.#commandSubscriptions.delete(socket);
      this.#eventSubscriptions.delete(socket);
    });
  }

  #answer(frame: ReceivedFrame, socket: WebSocket): void {
    if (frame.type === "supported_features") {
      socket.send(
        JSON.stringify({
          id: frame.id,
          type: "result",
          success: true,
          result: null,
        }),
      );
      return;
    }
    if (frame.type === "ping") {
      if (this.answerPings) {
        socket.send(JSON.stringify({ id: frame.id, type: "pong" }));
      }
      return;
    }
    const handler = this.#handlers.get(frame.type);
    const reply: HandlerReply =
      handler === undefined
        ? {
            error: {
              code: "unknown_command",
              message: `Unknown command ${frame.type}`,
            },
          }
        : handler(frame, socket);
    if ("noReply" in reply) {
      return;
    }
    if ("error" in reply) {
      socket.send(
        JSON.stringify({
          id: frame.id,
          type: "result",
          success: false,
          error: reply.error,
        }),
      );
      return;
    }
    socket.send(
      JSON.stringify({
        id: frame.id,
        type: "result",
        success: true,
        result: reply.result,
      }),
    );
  }

  #installDefaults(): void {
    this.handle("get_config", () => ({
      result: {
        state: this.state,
        components: this.components,
        version: "2026.10.4",
        time_zone: "Australia/Sydney",
      },
    }));
    this.handle("subscribe_events", (frame, socket) => {
      const subscriptions =
        this.#eventSubscriptions.get(socket) ?? new Map<number, string>();
      subscriptions.set(frame.id, String(frame["event_type"]));
      this.#eventSubscriptions.set(socket, subscriptions);
      return { result: null };
    });
    this.handle("unsubscribe_events", (frame, socket) => {
      const id = Number(frame["subscription"]);
      this.#eventSubscriptions.get(socket)?.delete(id);
      if (this.#commandSubscriptions.get(socket) === id) {
        this.#commandSubscriptions.delete(socket);
      }
      return { result: null };
    });
    this.handle("tesla_sync/hello", () => ({
      result: {
        protocol: 1,
        integration_version: "0.1.0",
        entry_id: FAKE_ENTRY_ID,
        features: [...this.features],
      },
    }));
    this.handle("tesla_sync/config", () => ({ result: fakeEngineConfig() }));
    this.handle("tesla_sync/subscribe_commands", (frame, socket) => {
      if ("features" in frame && !this.features.includes("engine_features")) {
        return invalidFormat("features");
      }
      this.#commandSubscriptions.set(socket, frame.id);
      return { result: null };
    });
    this.handle("tesla_sync/register", (frame) => ({
      result: {
        registered: Array.isArray(frame["entities"])
          ? frame["entities"].length
          : 0,
      },
    }));
    this.handle("tesla_sync/update", (frame) => ({
      result: {
        updated: Array.isArray(frame["updates"]) ? frame["updates"].length : 0,
      },
    }));
    this.handle("tesla_sync/command_result", (frame) =>
      "error_code" in frame && !this.features.includes("command_error_code")
        ? invalidFormat("error_code")
        : { result: null },
    );
    for (const type of [
      "tesla_sync/fire_event",
      "tesla_sync/auth_failed",
      "tesla_sync/set_options",
    ]) {
      this.handle(type, () => ({ result: null }));
    }
  }
}

/** HA's answer to a key the command schema does not list. */
function invalidFormat(key: string): HandlerReply {
  return {
    error: {
      code: "invalid_format",
      message: `extra keys not allowed @ data['${key}']`,
    },
  };
}

/** Starts a fake on an ephemeral port. */
export async function startFakeHa(
  options: FakeHaOptions = {},
): Promise<FakeHa> {
  const fake = new FakeHa(options);
  await fake.listen();
  return fake;
}
