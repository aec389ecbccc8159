import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";

import { HaCommandError, HaConnection } from "../../src/bridge/connection.js";
import { getConfigMessage } from "../../src/bridge/messages.js";
import { haConfigSchema } from "../../src/bridge/schemas.js";
import { BridgeError } from "../../src/errors.js";
import { startFakeHa, type FakeHa } from "./fake-ha.js";
import { captureLog, type CapturedLog } from "./log-capture.js";
import { useTimerFakes } from "./timers.js";

let fake: FakeHa;
let log: CapturedLog;
let connection: HaConnection | undefined;
let tcp: Server | undefined;

beforeEach(async () => {
  useTimerFakes();
  fake = await startFakeHa();
  log = captureLog();
});

afterEach(async () => {
  connection?.close();
  connection = undefined;
  await fake.stop();
  if (tcp !== undefined) {
    tcp.close();
    tcp = undefined;
  }
  vi.useRealTimers();
});

function connect(
  overrides: { wsUrl?: string; token?: string } = {},
): HaConnection {
  connection = new HaConnection({
    wsUrl: overrides.wsUrl ?? fake.url,
    token: overrides.token ?? fake.token,
    logger: log.logger,
  });
  return connection;
}

/** Resolves once every frame sent before it has been answered. */
async function roundTrip(target: HaConnection): Promise<void> {
  await target.send(getConfigMessage(), haConfigSchema);
}

describe("HaConnection", () => {
  it("authenticates and sends commands", async () => {
    const target = connect();
    await target.start();

    const config = await target.send(getConfigMessage(), haConfigSchema);

    expect(target.connected).toBe(true);
    expect(target.haVersion).toBe("2026.10.4");
    expect(config.state).toBe("RUNNING");
    expect(fake.framesOf("supported_features")).toHaveLength(1);
    expect(fake.framesOf("supported_features")[0]?.id).toBe(1);
  });

  it("maps an error frame to HaCommandError", async () => {
    fake.handle("tesla_sync/hello", () => ({
      error: {
        code: "entry_not_loaded",
        message: "No Tesla Sync config entry is loaded",
      },
    }));
    const target = connect();
    await target.start();

    const sent = target.send({ type: "tesla_sync/hello" }, z.unknown());

    await expect(sent).rejects.toBeInstanceOf(HaCommandError);
    await expect(sent).rejects.toMatchObject({ haCode: "entry_not_loaded" });
  });

  it("rejects a result that fails its schema", async () => {
    fake.handle("tesla_sync/register", () => ({
      result: { registered: "all" },
    }));
    const target = connect();
    await target.start();

    const sent = target.send(
      { type: "tesla_sync/register" },
      z.object({ registered: z.number() }),
    );

    await expect(sent).rejects.toThrow(
      /unexpected result for tesla_sync\/register: field registered/,
    );
  });

  it("stops on invalid auth with a clear error", async () => {
    const target = connect({ token: "wrong-token-000000" });

    const started = target.start();

    await expect(started).rejects.toBeInstanceOf(BridgeError);
    await expect(started).rejects.toThrow(/rejected the access token/);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(fake.connections).toBe(0);
    expect(log.find("rejected the access token", "error")).toHaveLength(1);
    expect(log.text()).not.toContain("wrong-token-000000");
  });

  it("retries the first connect with backoff", async () => {
    const port = fake.port;
    await fake.stop();
    const target = connect({ wsUrl: `ws://127.0.0.1:${port}/api/websocket` });

    const started = target.start();
    await log.waitFor("not reachable");
    fake.port = port;
    await fake.listen();
    await vi.advanceTimersByTimeAsync(1_000);
    await started;

    expect(target.connected).toBe(true);
    expect(log.find("not reachable", "warn")).toHaveLength(1);
  });

  it("rejects in-flight commands on disconnect", async () => {
    fake.handle("tesla_sync/config", () => ({ noReply: true }));
    const target = connect();
    await target.start();
    const sent = target.send({ type: "tesla_sync/config" }, z.unknown());
    await fake.nextFrame("tesla_sync/config");

    const disconnected = once(target, "disconnected");
    await fake.stop();
    await disconnected;

    await expect(sent).rejects.toBeInstanceOf(BridgeError);
    await expect(sent).rejects.toThrow(/lost before tesla_sync\/config/);
  });

  it("rejects a send while disconnected", async () => {
    const target = connect();
    await target.start();
    const disconnected = once(target, "disconnected");
    await fake.stop();
    await disconnected;

    await expect(target.send(getConfigMessage(), z.unknown())).rejects.toThrow(
      /not connected to Home Assistant/,
    );
  });

  it("rejects a pending subscription on disconnect", async () => {
    fake.handle("tesla_sync/subscribe_commands", () => ({ noReply: true }));
    const target = connect();
    await target.start();
    const subscribed = target.subscribe(
      { type: "tesla_sync/subscribe_commands" },
      () => undefined,
    );
    await fake.nextFrame("tesla_sync/subscribe_commands");

    await fake.stop();

    await expect(subscribed).rejects.toBeInstanceOf(BridgeError);
  });

  it("reconnects after the server restarts", async () => {
    const target = connect();
    await target.start();
    const disconnected = once(target, "disconnected");
    await fake.stop();
    await disconnected;

    await fake.listen();
    const ready = once(target, "ready");
    await vi.advanceTimersByTimeAsync(0);
    await ready;

    expect(fake.connections).toBe(2);
    await roundTrip(target);
    expect(log.find("Reconnected to Home Assistant", "info")).toHaveLength(1);
  });

  it("reconnects after a frame that is not JSON", async () => {
    const target = connect();
    await target.start();

    for (const round of [1, 2]) {
      const disconnected = once(target, "disconnected");
      const ready = once(target, "ready");
      for (const socket of fake.openSockets) {
        socket.send("{not json");
      }
      await disconnected;
      await vi.advanceTimersByTimeAsync(1);
      await ready;

      expect(fake.connections).toBe(round + 1);
    }
    await roundTrip(target);

    const lines = log.lines.filter((line) =>
      line.msg.includes("frame that is not JSON"),
    );
    expect(lines.map((line) => line.level)).toEqual([40, 20]);
    expect(target.connected).toBe(true);
  });

  it("keeps a connection whose pings are answered", async () => {
    const target = connect();
    await target.start();
    const mark = fake.received.length;

    await vi.advanceTimersByTimeAsync(30_000);
    await fake.nextFrame("ping", mark);
    await roundTrip(target);
    await vi.advanceTimersByTimeAsync(5_000);
    await roundTrip(target);

    expect(fake.connections).toBe(1);
    expect(log.find("did not answer a ping")).toHaveLength(0);
  });

  it("reconnects when a ping gets no pong", async () => {
    fake.answerPings = false;
    const target = connect();
    await target.start();
    const disconnected = once(target, "disconnected");
    const reconnected = once(fake, "connection");
    const mark = fake.received.length;

    await vi.advanceTimersByTimeAsync(30_000);
    await fake.nextFrame("ping", mark);
    await vi.advanceTimersByTimeAsync(5_000);
    await disconnected;
    // The library's first retry waits 0 ms, which fake timers count as 1 ms
    // when it is scheduled from inside a timer callback.
    await vi.advanceTimersByTimeAsync(1);
    await reconnected;

    expect(log.find("did not answer a ping", "warn")).toHaveLength(1);
    expect(fake.connections).toBe(2);
  });

  it("drops a socket that never authenticates", async () => {
    fake.sendAuthRequired = false;
    const target = connect();
    const started = target.start();
    // The upgrade succeeds, then the server stays silent.
    await log.waitFor("waiting for auth_required");

    await vi.advanceTimersByTimeAsync(45_000);
    await log.waitFor("did not finish authentication");
    await log.waitFor("not reachable");
    fake.sendAuthRequired = true;
    await vi.advanceTimersByTimeAsync(1_000);
    await started;

    expect(target.connected).toBe(true);
    expect(fake.connections).toBe(1);
  });

  it("drops an upgrade that never finishes", async () => {
    tcp = createServer();
    const accepted = once(tcp, "connection") as Promise<[Socket]>;
    tcp.listen(0, "127.0.0.1");
    await once(tcp, "listening");
    const port = (tcp.address() as AddressInfo).port;
    const target = connect({ wsUrl: `ws://127.0.0.1:${port}/api/websocket` });

    void target.start().catch(() => undefined);
    const [socket] = await accepted;
    // Reading lets the socket see the client's FIN.
    socket.resume();
    const closed = once(socket, "close");
    await vi.advanceTimersByTimeAsync(15_000);
    await closed;

    expect(log.find("upgrade to Home Assistant timed out")).toHaveLength(1);
  });
});
