import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";

import {
  AmberLiveFeed,
  type AmberLiveFeedOptions,
  type LivePrices,
} from "../../src/amber/live.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";

const TOKEN = "psk_adversarial_live_token_6502";
const SITE = DEFAULT_STAND_IN_SITE_ID;
const MINUTE = 60_000;

let standIn: AmberStandIn;
let feed: AmberLiveFeed | undefined;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  standIn = await startAmberStandIn({ token: TOKEN, intervalLength: 5 });
  // Only timers and Date are fake, so sockets keep working in real time.
  vi.useFakeTimers({
    toFake: [
      "setTimeout",
      "clearTimeout",
      "setInterval",
      "clearInterval",
      "Date",
    ],
    now: Date.parse("2025-06-02T08:07:30Z"),
  });
});

afterEach(async () => {
  feed?.stop();
  feed = undefined;
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((close) => close()));
  await standIn.close();
});

function makeFeed(options: Partial<AmberLiveFeedOptions> = {}): AmberLiveFeed {
  feed = new AmberLiveFeed({
    url: standIn.wsUrl,
    token: TOKEN,
    siteId: SITE,
    logger: silentLogger,
    random: () => 0.5,
    ...options,
  });
  return feed;
}

/** Lets real socket I/O run until `condition` holds; fails after 20 000 turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 20_000; turn += 1) {
    if (condition()) {
      return;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error("condition never held");
}

async function startConnected(
  options: Partial<AmberLiveFeedOptions> = {},
): Promise<AmberLiveFeed> {
  const live = makeFeed(options);
  const connected = once(live, "connected");
  live.start();
  await connected;
  return live;
}

function collect(live: AmberLiveFeed): LivePrices[] {
  const received: LivePrices[] = [];
  live.on("prices", (prices) => received.push(prices));
  return received;
}

/** Builds a valid general-channel price push for `siteId`. */
function push(siteId: string | undefined = SITE): Record<string, unknown> {
  return {
    service: "live-prices",
    action: "price-update",
    timestamp: "2025-06-02T08:07:30Z",
    data: {
      ...(siteId === undefined ? {} : { siteId }),
      prices: [
        {
          type: "CurrentInterval",
          date: "2025-06-02",
          duration: 5,
          startTime: "2025-06-02T08:05:01Z",
          endTime: "2025-06-02T08:10:00Z",
          nemTime: "2025-06-02T18:10:00+10:00",
          perKwh: 38.51,
          spotPerKwh: 21.9,
          renewables: 27.4,
          channelType: "general",
          spikeStatus: "none",
          descriptor: "high",
          estimate: false,
        },
      ],
    },
  };
}

/**
 * Starts a bare WebSocket server that replies to every subscribe with 200
 * (or `reply`) and then hands the socket to `afterSubscribe`.
 */
async function startScriptedServer(
  afterSubscribe: (socket: WebSocket) => void,
  reply: Record<string, unknown> = { status: 200 },
): Promise<{ url: string; connections: () => number }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(server, "listening");
  let connections = 0;
  server.on("connection", (socket) => {
    connections += 1;
    socket.on("message", () => {
      socket.send(
        JSON.stringify({
          service: "live-prices",
          action: "subscribe",
          ...reply,
        }),
      );
      afterSubscribe(socket);
    });
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) {
          client.terminate();
        }
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, connections: () => connections };
}

/** Starts a TCP server that accepts connections and never responds. */
async function startSilentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve);
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as { port: number };
  return `ws://127.0.0.1:${port}`;
}

function capture(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = createLogger({
    level: "debug",
    format: "json",
    destination: stream,
  });
  return { logger, text: () => chunks.join("") };
}

describe("AmberLiveFeed odd messages", () => {
  it.each<[string, unknown]>([
    ["an array", [1, 2, 3]],
    ["null", "null"],
    ["a number", "42"],
    ["a JSON string", '"price-update"'],
    ["a subscribe reply without status", { action: "subscribe" }],
    ["prices that are not an array", { ...push(), data: { prices: {} } }],
  ])("ignores %s and keeps going", async (_name, message) => {
    const live = await startConnected();
    const received = collect(live);
    standIn.sendLiveMessage(message);
    standIn.pushLivePrices();
    await until(() => received.length === 1);

    expect(live.status().state).toBe("subscribed");
    expect(live.status().connectAttempts).toBe(1);
  });

  it("reads a binary frame holding JSON", async () => {
    const server = await startScriptedServer((socket) => {
      socket.send(Buffer.from(JSON.stringify(push())), { binary: true });
    });
    const live = makeFeed({ url: server.url });
    const received = collect(live);
    live.start();
    await until(() => received.length === 1);

    expect(received[0]?.prices[0]?.perKwh).toBe(38.51);
  });

  it("skips binary garbage", async () => {
    const server = await startScriptedServer((socket) => {
      socket.send(Buffer.from([0xff, 0xfe, 0x00, 0x80]), { binary: true });
      socket.send(JSON.stringify(push()));
    });
    const live = makeFeed({ url: server.url });
    const received = collect(live);
    live.start();
    await until(() => received.length === 1);

    expect(live.status().invalidPushes).toBe(1);
  });
});

describe("AmberLiveFeed huge messages", () => {
  it("drops a connection that sends over 1 MiB", async () => {
    const padding = " ".repeat(2 * 1024 * 1024);
    const server = await startScriptedServer((socket) => {
      socket.send(JSON.stringify(push()) + padding);
    });
    const live = makeFeed({ url: server.url });
    const received = collect(live);
    live.start();
    await until(() => live.status().state === "waiting");

    expect(received).toHaveLength(0);
    expect(server.connections()).toBe(1);
  });
});

describe("AmberLiveFeed other sites", () => {
  it("skips a push for another site", async () => {
    const live = await startConnected();
    const received = collect(live);
    standIn.sendLiveMessage(push("01OTHERSITE0000000000000000"));
    standIn.sendLiveMessage(push(SITE));
    await until(() => received.length === 1);

    expect(received[0]?.siteId).toBe(SITE);
    expect(live.status().invalidPushes).toBe(1);
  });

  it("accepts a push without a site id", async () => {
    const live = await startConnected();
    const received = collect(live);
    standIn.sendLiveMessage(push(undefined));
    await until(() => received.length === 1);

    expect(live.status().invalidPushes).toBe(0);
  });
});

describe("AmberLiveFeed floods", () => {
  it("keeps up with 5000 pushes in a burst", async () => {
    const live = await startConnected();
    const received = collect(live);
    const text = JSON.stringify(push());
    for (let index = 0; index < 5000; index += 1) {
      standIn.sendLiveMessage(text);
    }
    await until(() => received.length === 5000);

    expect(live.status().invalidPushes).toBe(0);
    expect(live.listenerCount("prices")).toBe(1);
    // Heartbeat and staleness timers only: pushes must not add timers.
    expect(vi.getTimerCount()).toBe(2);
  });
});

describe("AmberLiveFeed closes", () => {
  it.each([1000, 1001, 1008, 1011, 1013, 4000, 4999])(
    "reconnects after close code %i",
    async (code) => {
      let closeNext = true;
      const server = await startScriptedServer((socket) => {
        if (closeNext) {
          closeNext = false;
          socket.close(code, "bye");
        }
      });
      const live = makeFeed({ url: server.url });
      const disconnected = once(live, "disconnected") as Promise<
        [{ code: number }]
      >;
      live.start();
      const [event] = await disconnected;
      await vi.advanceTimersByTimeAsync(5_000);
      await until(() => live.status().state === "subscribed");

      expect(event.code).toBe(code);
      expect(live.status().connectAttempts).toBe(2);
    },
  );
});

describe("AmberLiveFeed reconnect storms", () => {
  it("backs off when every subscription closes at once", async () => {
    const server = await startScriptedServer((socket) => {
      socket.close(1011, "overloaded");
    });
    const live = makeFeed({ url: server.url });
    live.start();
    await until(() => live.status().state === "waiting");
    const delays: number[] = [];

    for (let attempt = 0; attempt < 5; attempt += 1) {
      const before = live.status().connectAttempts;
      let waited = 0;
      while (live.status().connectAttempts === before) {
        await vi.advanceTimersByTimeAsync(1_000);
        waited += 1_000;
      }
      delays.push(waited);
      await until(() => live.status().state === "waiting");
    }

    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 60_000]);
  });

  it("resets the backoff after a long-lived connection", async () => {
    let drop: (() => void) | undefined;
    const server = await startScriptedServer((socket) => {
      drop = () => {
        socket.close(1011, "restart");
      };
    });
    const live = makeFeed({
      url: server.url,
      heartbeatIntervalMs: 60 * MINUTE,
    });
    live.start();
    await until(() => live.status().state === "subscribed");
    drop?.();
    await until(() => live.status().state === "waiting");
    await vi.advanceTimersByTimeAsync(5_000);
    await until(() => live.status().state === "subscribed");
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    drop?.();
    await until(() => live.status().state === "waiting");
    const before = live.status().connectAttempts;
    await vi.advanceTimersByTimeAsync(5_000);

    expect(live.status().connectAttempts).toBe(before + 1);
  });
});

describe("AmberLiveFeed subscribe replies", () => {
  it.each([500, 502, 503, 429])(
    "retries after a %i subscribe reply",
    async (status) => {
      const server = await startScriptedServer(() => undefined, {
        status,
        message: "try again later",
      });
      const live = makeFeed({ url: server.url });
      const disabled: unknown[] = [];
      live.on("disabled", (event) => disabled.push(event));
      live.start();
      await until(() => live.status().state === "waiting");
      await vi.advanceTimersByTimeAsync(5_000);
      await until(() => server.connections() === 2);

      expect(disabled).toEqual([]);
      expect(live.status().disabledReason).toBeUndefined();
    },
  );

  it.each([401, 403, 404])(
    "disables itself on a %i subscribe reply",
    async (status) => {
      const server = await startScriptedServer(() => undefined, { status });
      const live = makeFeed({ url: server.url });
      const disabled = once(live, "disabled");
      live.start();
      await disabled;
      await vi.advanceTimersByTimeAsync(30 * MINUTE);

      expect(live.status().state).toBe("disabled");
      expect(server.connections()).toBe(1);
    },
  );
});

describe("AmberLiveFeed stop", () => {
  it("stops cleanly while connecting", async () => {
    const url = await startSilentServer();
    const live = makeFeed({ url });
    live.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(live.status().state).toBe("connecting");
    live.stop();
    await vi.advanceTimersByTimeAsync(30 * MINUTE);

    expect(live.status().state).toBe("stopped");
    expect(live.status().connectAttempts).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops cleanly during a flood", async () => {
    const live = await startConnected();
    const received = collect(live);
    for (let index = 0; index < 1000; index += 1) {
      standIn.pushLivePrices();
    }
    await until(() => received.length > 0);
    live.stop();
    await until(() => standIn.liveConnectionCount() === 0);

    expect(live.status().state).toBe("stopped");
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("AmberLiveFeed secrets", () => {
  it("keeps the token out of logs and events", async () => {
    const { logger, text } = capture();
    const events: unknown[] = [];
    const server = await startScriptedServer((socket) => {
      socket.send(`not json ${TOKEN}`);
      socket.send(JSON.stringify({ ...push(), data: { prices: [TOKEN] } }));
      socket.close(4001, TOKEN);
    });
    const live = makeFeed({ url: server.url, logger });
    live.on("disconnected", (event) => events.push(event));
    live.on("disabled", (event) => events.push(event));
    live.on("stale", (event) => events.push(event));
    live.start();
    await until(() => events.length > 0);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);

    expect(text()).not.toBe("");
    expect(text()).not.toContain(TOKEN);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });
});
