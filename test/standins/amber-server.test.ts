import { once } from "node:events";

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { groupByChannel, parsePricesBody } from "../../src/amber/prices.js";
import { currentIntervalSchema } from "../../src/amber/schemas.js";
import { InvalidPayloadError } from "../../src/errors.js";
import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";

const TOKEN = "psk_standin_test_token_0001";
const SITE = DEFAULT_STAND_IN_SITE_ID;
/** 12:07:30 NEM time on 2 June 2025. */
const START = Date.parse("2025-06-02T02:07:30Z");
const HOUR = 3_600_000;

let now = START;
let standIn: AmberStandIn;

beforeEach(async () => {
  now = START;
  standIn = await startAmberStandIn({
    token: TOKEN,
    now: () => now,
    pattern: "calm",
    intervalLength: 5,
  });
});

afterEach(async () => {
  await standIn.close();
});

async function get(
  path: string,
  token: string | null = TOKEN,
): Promise<Response> {
  return fetch(`${standIn.restUrl}${path}`, {
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
}

async function getJson(path: string): Promise<unknown> {
  const response = await get(path);
  expect(response.status).toBe(200);
  return response.json();
}

describe("amber stand-in REST", () => {
  it("lists sites with rate-limit headers", async () => {
    const response = await get("/sites");

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(standIn.sites);
    expect(response.headers.get("ratelimit-limit")).toBe("50");
    expect(response.headers.get("ratelimit-remaining")).toBe("49");
    expect(response.headers.get("ratelimit-policy")).toBe("50;w=300");
    expect(Number(response.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
  });

  it.each([
    ["a wrong token", "psk_wrong_token_000000"],
    ["no token", null],
  ])("rejects %s with 401", async (_name, token) => {
    const response = await get("/sites", token);

    expect(response.status).toBe(401);
  });

  it.each([
    ["/sites/NOPE/prices/current", 404],
    ["/sites/NOPE/prices", 404],
    ["/unknown", 404],
    [`/sites/${SITE}/prices/current?next=2000&previous=49`, 422],
    [`/sites/${SITE}/prices/current?next=-1`, 400],
    [`/sites/${SITE}/prices/current?previous=abc`, 400],
    [`/sites/${SITE}/prices/current?resolution=7`, 400],
    [`/sites/${SITE}/prices?startDate=2025-06-01&endDate=2025-06-09`, 422],
    [`/sites/${SITE}/prices?startDate=2025-06-03&endDate=2025-06-02`, 400],
    [`/sites/${SITE}/prices?startDate=2025-02-30`, 400],
  ])("status for %s is %i", async (path, status) => {
    const response = await get(path);

    expect(response.status).toBe(status);
    expect(response.headers.get("ratelimit-limit")).toBeNull();
  });

  it("serves next and previous intervals", async () => {
    const body = await getJson(
      `/sites/${SITE}/prices/current?next=20&previous=3`,
    );
    const groups = groupByChannel(parsePricesBody(body).intervals);

    for (const channel of [groups.general, groups.feedIn]) {
      const types = channel.map((interval) => interval.type);
      expect(types.filter((t) => t === "ActualInterval")).toHaveLength(3);
      expect(types.filter((t) => t === "CurrentInterval")).toHaveLength(1);
      expect(types.filter((t) => t === "ForecastInterval")).toHaveLength(20);
    }
    expect(groups.controlledLoad).toEqual([]);
  });

  it("serves only the current interval by default", async () => {
    const body = await getJson(`/sites/${SITE}/prices/current`);
    const intervals = parsePricesBody(body).intervals;

    expect(intervals.map((interval) => interval.type)).toEqual([
      "CurrentInterval",
      "CurrentInterval",
    ]);
    expect(intervals.map((interval) => interval.channelType)).toEqual([
      "general",
      "feedIn",
    ]);
  });

  it("ignores resolution on a 5-minute site", async () => {
    const body = await getJson(
      `/sites/${SITE}/prices/current?next=4&resolution=30`,
    );
    const durations = parsePricesBody(body).intervals.map((i) => i.duration);

    expect(durations.every((duration) => duration === 5)).toBe(true);
  });

  it("mixes 5 and 30 minutes in a long forecast", async () => {
    const body = await getJson(`/sites/${SITE}/prices/current?next=288`);
    const general = groupByChannel(parsePricesBody(body).intervals).general;
    const last = general[general.length - 1];

    expect(new Set(general.map((i) => i.duration))).toEqual(new Set([5, 30]));
    expect(Date.parse(last?.endTime ?? "")).toBeGreaterThanOrEqual(
      START + 24 * HOUR,
    );
  });

  it("serves whole NEM days for a date range", async () => {
    const body = await getJson(
      `/sites/${SITE}/prices?startDate=2025-06-01&endDate=2025-06-02`,
    );
    const general = groupByChannel(parsePricesBody(body).intervals).general;

    expect(general[0]?.startTime).toBe("2025-05-31T14:00:01Z");
    expect(general[0]?.date).toBe("2025-06-01");
    expect(general.some((i) => i.type === "CurrentInterval")).toBe(true);
    expect(general.every((i) => i.date <= "2025-06-02")).toBe(true);
  });

  it("defaults the date range to today", async () => {
    const body = await getJson(`/sites/${SITE}/prices`);
    const dates = new Set(parsePricesBody(body).intervals.map((i) => i.date));

    expect(dates).toEqual(new Set(["2025-06-02"]));
  });

  it("accepts a range of exactly 7 days", async () => {
    const response = await get(
      `/sites/${SITE}/prices?startDate=2025-05-26&endDate=2025-06-02`,
    );

    expect(response.status).toBe(200);
  });

  it("cuts forecasts at the horizon", async () => {
    standIn.setForecastHours(2);
    const body = await getJson(`/sites/${SITE}/prices/current?next=288`);
    const general = groupByChannel(parsePricesBody(body).intervals).general;
    const lastStart = Date.parse(general[general.length - 1]?.startTime ?? "");

    expect(lastStart).toBeLessThan(START + 2 * HOUR);
    expect(general.length).toBeLessThan(40);
  });

  it("changes prices with the pattern", async () => {
    const path = `/sites/${SITE}/prices?startDate=2025-06-02&endDate=2025-06-02`;
    const calm = parsePricesBody(await getJson(path)).intervals;
    standIn.setPattern("spike");
    const spike = parsePricesBody(await getJson(path)).intervals;

    expect(calm.some((i) => i.spikeStatus === "spike")).toBe(false);
    expect(spike.some((i) => i.spikeStatus === "spike")).toBe(true);
  });

  it("returns 429 past 50 requests in 300 s", async () => {
    for (let i = 0; i < 50; i += 1) {
      expect((await get("/sites")).status).toBe(200);
    }
    const limited = await get("/sites");
    now += 300_000;
    const after = await get("/sites");

    expect(limited.status).toBe(429);
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(limited.headers.get("ratelimit-reset"))).toBe(300);
    expect(after.status).toBe(200);
  });

  it("records each request", async () => {
    now = START + 1234;
    await get(`/sites/${SITE}/prices/current?next=1`);

    expect(standIn.requests).toEqual([
      {
        method: "GET",
        path: `/v1/sites/${SITE}/prices/current`,
        query: { next: "1" },
        at: START + 1234,
        status: 200,
      },
    ]);
  });
});

describe("amber stand-in faults", () => {
  it.each([
    ["server-error", 500],
    ["unavailable", 503],
    ["unauthorized", 401],
    ["rate-limit-no-headers", 429],
  ] as const)("%s returns %i", async (kind, status) => {
    standIn.faults.arm({ kind });
    const faulted = await get("/sites");
    const next = await get("/sites");

    expect(faulted.status).toBe(status);
    expect(faulted.headers.get("retry-after")).toBeNull();
    expect(faulted.headers.get("ratelimit-reset")).toBeNull();
    expect(next.status).toBe(200);
  });

  it("rate-limit sends reset headers", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 42 });
    const response = await get("/sites");

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("42");
    expect(response.headers.get("ratelimit-reset")).toBe("42");
    expect(response.headers.get("ratelimit-remaining")).toBe("0");
  });

  it("malformed-json sends a broken body", async () => {
    standIn.faults.arm({ kind: "malformed-json" });
    const response = await get(`/sites/${SITE}/prices/current`);
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it("wrong-shape breaks a price field", async () => {
    standIn.faults.arm({ kind: "wrong-shape" });
    const body = await getJson(`/sites/${SITE}/prices/current`);

    expect(() => parsePricesBody(body)).toThrow(InvalidPayloadError);
    expect(() => parsePricesBody(body)).toThrow("[0].perKwh");
  });

  it("timeout never responds", async () => {
    standIn.faults.arm({ kind: "timeout" });
    const request = fetch(`${standIn.restUrl}/sites`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(200),
    });

    await expect(request).rejects.toThrow();
    expect(standIn.requests[0]?.status).toBeUndefined();
  });

  it("reset drops the connection", async () => {
    standIn.faults.arm({ kind: "reset" });

    await expect(get("/sites")).rejects.toThrow();
  });

  it("slow responds after the delay", async () => {
    standIn.faults.arm({ kind: "slow", delayMs: 20 });
    const response = await get("/sites");

    expect(response.status).toBe(200);
  });

  it("matches faults by path", async () => {
    standIn.faults.arm({ kind: "server-error", pathIncludes: "/prices" });
    const sites = await get("/sites");
    const prices = await get(`/sites/${SITE}/prices/current`);

    expect(sites.status).toBe(200);
    expect(prices.status).toBe(500);
  });
});

/** A WebSocket client that queues every message for the test to take in order. */
class TestSocket {
  readonly socket: WebSocket;
  readonly #messages: unknown[] = [];
  readonly #waiters: Array<(message: unknown) => void> = [];

  constructor(url: string, token = TOKEN) {
    this.socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
    });
    this.socket.on("message", (data: Buffer) => {
      const message: unknown = JSON.parse(data.toString("utf8"));
      const waiter = this.#waiters.shift();
      if (waiter === undefined) {
        this.#messages.push(message);
      } else {
        waiter(message);
      }
    });
  }

  async open(): Promise<void> {
    if (this.socket.readyState !== WebSocket.OPEN) {
      await once(this.socket, "open");
    }
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  next(): Promise<unknown> {
    const queued = this.#messages.shift();
    if (queued !== undefined) {
      return Promise.resolve(queued);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async subscribe(siteId = SITE): Promise<unknown> {
    await this.open();
    this.send({
      service: "live-prices",
      action: "subscribe",
      data: { siteId },
    });
    return this.next();
  }
}

async function upgradeStatus(url: string, token = TOKEN): Promise<number> {
  const socket = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
  });
  const [, response] = (await once(socket, "unexpected-response")) as [
    unknown,
    { statusCode: number },
  ];
  // ws reports the aborted handshake as an error event; without a listener
  // it would surface as an uncaught exception after the test.
  socket.on("error", () => undefined);
  socket.terminate();
  return response.statusCode;
}

describe("amber stand-in live prices", () => {
  it("confirms a subscription", async () => {
    const client = new TestSocket(standIn.wsUrl);
    const reply = await client.subscribe();

    expect(reply).toMatchObject({
      service: "live-prices",
      action: "subscribe",
      status: 200,
    });
    client.socket.terminate();
  });

  it("pushes current prices", async () => {
    const client = new TestSocket(standIn.wsUrl);
    await client.subscribe();
    const sent = standIn.pushLivePrices();
    const push = (await client.next()) as {
      action: string;
      timestamp: string;
      data: { prices: unknown[] };
    };

    expect(sent).toBe(1);
    expect(push.action).toBe("price-update");
    expect(push.timestamp).toBe(new Date(START).toISOString());
    expect(push.data.prices).toHaveLength(2);
    for (const price of push.data.prices) {
      expect(currentIntervalSchema.safeParse(price).success).toBe(true);
    }
    client.socket.terminate();
  });

  it("serves the root path too", async () => {
    const client = new TestSocket(standIn.wsUrl.replace(/\/ws$/, "/"));

    expect(await client.subscribe()).toMatchObject({ status: 200 });
    client.socket.terminate();
  });

  it.each([
    ["a wrong token", "/ws", "psk_wrong_token_000000", false, 401],
    ["an unknown path", "/other", TOKEN, false, 404],
    ["rejectUpgrade", "/ws", TOKEN, true, 403],
  ])(
    "rejects %s at the upgrade",
    async (_name, path, token, reject, status) => {
      standIn.wsFaults.rejectUpgrade = reject;
      const url = standIn.wsUrl.replace(/\/ws$/, path);

      expect(await upgradeStatus(url, token)).toBe(status);
    },
  );

  it("rejectSubscribe replies 403", async () => {
    standIn.wsFaults.rejectSubscribe = true;
    const client = new TestSocket(standIn.wsUrl);

    expect(await client.subscribe()).toMatchObject({
      action: "subscribe",
      status: 403,
    });
    expect(standIn.pushLivePrices()).toBe(0);
    client.socket.terminate();
  });

  it("rejects an unknown site", async () => {
    const client = new TestSocket(standIn.wsUrl);

    expect(await client.subscribe("NOPE")).toMatchObject({ status: 404 });
    client.socket.terminate();
  });

  it("silent sends no pushes or pongs", async () => {
    const client = new TestSocket(standIn.wsUrl);
    await client.subscribe();
    standIn.wsFaults.silent = true;
    let pongs = 0;
    client.socket.on("pong", () => {
      pongs += 1;
    });
    client.socket.ping();
    // The server handles frames in order, so this reply proves it saw the ping.
    await client.subscribe();
    standIn.wsFaults.silent = false;
    client.socket.ping();
    await once(client.socket, "pong");
    standIn.wsFaults.silent = true;

    expect(standIn.pushLivePrices()).toBe(0);
    expect(pongs).toBe(1);
    client.socket.terminate();
  });

  it("drops connections on request", async () => {
    const client = new TestSocket(standIn.wsUrl);
    await client.subscribe();
    const closed = once(client.socket, "close");

    expect(standIn.wsFaults.dropConnections()).toBe(1);
    const [code] = (await closed) as [number];
    expect(code).toBe(1006);
  });
});
