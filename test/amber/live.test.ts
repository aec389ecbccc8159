import { once } from "node:events";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  AmberLiveFeed,
  type AmberLiveFeedOptions,
  type LivePrices,
} from "../../src/amber/live.js";
import { silentLogger } from "../../src/log.js";
import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";

const TOKEN = "psk_live_test_token_000077";
const SITE = DEFAULT_STAND_IN_SITE_ID;
const MINUTE = 60_000;

let standIn: AmberStandIn;
let feed: AmberLiveFeed | undefined;

beforeEach(async () => {
  standIn = await startAmberStandIn({
    token: TOKEN,
    pattern: "calm",
    intervalLength: 5,
  });
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
  await standIn.close();
});

function makeFeed(options: Partial<AmberLiveFeedOptions> = {}): AmberLiveFeed {
  feed = new AmberLiveFeed({
    url: standIn.wsUrl,
    token: TOKEN,
    siteId: SITE,
    logger: silentLogger,
    // A jitter factor of exactly 1 makes every reconnect delay the plain step.
    random: () => 0.5,
    ...options,
  });
  return feed;
}

/** Lets real socket I/O run until `condition` holds; fails after 5 000 turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 5000; turn += 1) {
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

describe("AmberLiveFeed", () => {
  it("subscribes to the site", async () => {
    const live = await startConnected();

    expect(live.status().state).toBe("subscribed");
    expect(standIn.liveConnectionCount()).toBe(1);
  });

  it("emits pushed prices by channel", async () => {
    const live = await startConnected();
    const received = once(live, "prices") as Promise<[LivePrices]>;
    standIn.pushLivePrices();
    const [prices] = await received;

    expect(prices.siteId).toBe(SITE);
    expect(prices.prices).toHaveLength(2);
    expect(prices.byChannel.general).toHaveLength(1);
    expect(prices.byChannel.feedIn).toHaveLength(1);
    expect(prices.byChannel.general[0]?.type).toBe("CurrentInterval");
    expect(prices.timestamp).toBe("2025-06-02T08:07:30.000Z");
    expect(live.status().lastPriceAt).toBe(Date.parse("2025-06-02T08:07:30Z"));
  });

  it("skips invalid pushes", async () => {
    const live = await startConnected();
    const received: LivePrices[] = [];
    live.on("prices", (prices) => received.push(prices));
    standIn.sendLiveMessage("not json");
    standIn.sendLiveMessage({
      service: "live-prices",
      action: "price-update",
      data: { prices: [{ type: "CurrentInterval", perKwh: "12" }] },
    });
    standIn.sendLiveMessage({ service: "live-prices", action: "price-update" });
    standIn.pushLivePrices();
    await until(() => received.length === 1);

    expect(live.status().invalidPushes).toBe(3);
    expect(live.status().state).toBe("subscribed");
  });

  it("drops unknown channels in a push", async () => {
    const live = await startConnected();
    const received = once(live, "prices") as Promise<[LivePrices]>;
    const general = {
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
    };
    standIn.sendLiveMessage({
      service: "live-prices",
      action: "price-update",
      data: { prices: [general, { ...general, channelType: "newChannel" }] },
    });
    const [prices] = await received;

    expect(prices.prices).toHaveLength(1);
    expect(prices.ignoredChannelTypes).toEqual(["newChannel"]);
  });

  it("keeps a connection that returns pongs", async () => {
    const live = await startConnected();
    await vi.advanceTimersByTimeAsync(30_000);
    await until(() => live.status().lastPongAt !== undefined);
    await vi.advanceTimersByTimeAsync(10_000);

    expect(live.status().state).toBe("subscribed");
    expect(live.status().connectAttempts).toBe(1);
  });

  it("reconnects after a missed pong", async () => {
    const live = await startConnected();
    standIn.wsFaults.silent = true;
    const disconnected = once(live, "disconnected");
    await vi.advanceTimersByTimeAsync(30_000);
    await vi.advanceTimersByTimeAsync(10_000);
    await disconnected;
    standIn.wsFaults.silent = false;

    expect(live.status().state).toBe("waiting");
    await vi.advanceTimersByTimeAsync(4_999);
    expect(live.status().connectAttempts).toBe(1);

    const reconnected = once(live, "connected");
    await vi.advanceTimersByTimeAsync(1);
    await reconnected;
    expect(live.status().connectAttempts).toBe(2);
  });

  it("backs off from 5 s to 60 s", async () => {
    const live = await startConnected();
    await standIn.close();
    await until(() => live.status().state === "waiting");
    const delays: number[] = [];

    for (let attempt = 0; attempt < 6; attempt += 1) {
      const before = live.status().connectAttempts;
      let waited = 0;
      while (live.status().connectAttempts === before) {
        await vi.advanceTimersByTimeAsync(1_000);
        waited += 1_000;
      }
      delays.push(waited);
      await until(() => live.status().state === "waiting");
    }

    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    // The stand-in is already closed; restart one so afterEach can close it.
    standIn = await startAmberStandIn({ token: TOKEN });
  });

  it("reconnects after a dropped connection", async () => {
    const live = await startConnected();
    const disconnected = once(live, "disconnected");
    standIn.wsFaults.dropConnections();
    const [event] = (await disconnected) as [{ code: number }];
    const reconnected = once(live, "connected");
    await vi.advanceTimersByTimeAsync(5_000);
    await reconnected;

    expect(event.code).toBe(1006);
    expect(live.status().connectAttempts).toBe(2);
  });

  it("goes stale after 6 minutes without prices", async () => {
    const live = await startConnected({ heartbeatIntervalMs: 60 * MINUTE });
    const stale: unknown[] = [];
    live.on("stale", (event) => stale.push(event));
    const disconnected = once(live, "disconnected");

    await vi.advanceTimersByTimeAsync(6 * MINUTE - 1);
    expect(stale).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(stale).toEqual([
      { lastPriceAt: undefined, silentForMs: 6 * MINUTE },
    ]);

    await disconnected;
    const reconnected = once(live, "connected");
    await vi.advanceTimersByTimeAsync(5_000);
    await reconnected;
  });

  it("resets staleness on each push", async () => {
    const live = await startConnected({ heartbeatIntervalMs: 60 * MINUTE });
    const stale: unknown[] = [];
    live.on("stale", (event) => stale.push(event));

    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    const received = once(live, "prices");
    standIn.pushLivePrices();
    await received;
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(stale).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(stale).toEqual([
      { lastPriceAt: expect.any(Number), silentForMs: 6 * MINUTE },
    ]);
  });

  it("reports stale once until prices return", async () => {
    const live = makeFeed({ heartbeatIntervalMs: 60 * MINUTE });
    const stale: unknown[] = [];
    live.on("stale", (event) => stale.push(event));
    await standIn.close();
    live.start();
    await vi.advanceTimersByTimeAsync(20 * MINUTE);

    expect(stale).toHaveLength(1);
    standIn = await startAmberStandIn({ token: TOKEN });
  });

  it.each([
    ["a 403 upgrade", "rejectUpgrade", TOKEN, 403],
    ["a 403 subscribe reply", "rejectSubscribe", TOKEN, 403],
    ["a wrong token", undefined, "psk_wrong_token_0000000", 401],
  ] as const)("disables itself on %s", async (_name, fault, token, status) => {
    if (fault !== undefined) {
      standIn.wsFaults[fault] = true;
    }
    const live = makeFeed({ token });
    const disabled = once(live, "disabled");
    live.start();
    const [event] = (await disabled) as [{ reason: string; status: number }];
    await vi.advanceTimersByTimeAsync(30 * MINUTE);

    expect(event.status).toBe(status);
    expect(event.reason).toContain(String(status));
    expect(event.reason).not.toContain(token);
    expect(live.status().state).toBe("disabled");
    expect(live.status().connectAttempts).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("disables itself for an unknown site", async () => {
    const live = makeFeed({ siteId: "01UNKNOWN" });
    const disabled = once(live, "disabled");
    live.start();
    const [event] = (await disabled) as [{ status: number }];

    expect(event.status).toBe(404);
  });

  it("stop cancels every timer", async () => {
    const live = await startConnected();
    live.stop();
    await until(() => standIn.liveConnectionCount() === 0);
    await vi.advanceTimersByTimeAsync(30 * MINUTE);

    expect(vi.getTimerCount()).toBe(0);
    expect(live.status().state).toBe("stopped");
    expect(live.status().connectAttempts).toBe(1);
  });

  it("stop cancels a pending reconnect", async () => {
    const live = await startConnected();
    standIn.wsFaults.dropConnections();
    await until(() => live.status().state === "waiting");
    live.stop();
    await vi.advanceTimersByTimeAsync(MINUTE);

    expect(live.status().connectAttempts).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("can start again after stop", async () => {
    const live = await startConnected();
    live.stop();
    const connected = once(live, "connected");
    live.start();
    await connected;

    expect(live.status().connectAttempts).toBe(2);
  });

  it("survives a throwing listener", async () => {
    const live = await startConnected();
    live.on("prices", () => {
      throw new Error("listener bug");
    });
    standIn.pushLivePrices();
    standIn.pushLivePrices();
    await until(() => live.status().lastPriceAt !== undefined);

    expect(live.status().state).toBe("subscribed");
  });
});
