import { Writable } from "node:stream";
import { inspect } from "node:util";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RequestBudget } from "../../src/amber/budget.js";
import {
  AmberClient,
  type AmberClientOptions,
} from "../../src/amber/client.js";
import {
  InvalidPayloadError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";
import {
  sendJson,
  startRawServer,
  type RawHandler,
  type RawServer,
} from "../http/raw-server.js";
import { drive, ManualClock } from "./manual-clock.js";

const TOKEN = "psk_adversarial_amber_token_8086";
const SITE = DEFAULT_STAND_IN_SITE_ID;
/** 18:07:30 NEM time on 2 June 2025. */
const START = Date.parse("2025-06-02T08:07:30Z");

let clock: ManualClock;
let standIn: AmberStandIn;
const rawServers: RawServer[] = [];

beforeEach(async () => {
  clock = new ManualClock(START);
  standIn = await startAmberStandIn({
    token: TOKEN,
    now: () => clock.now(),
    intervalLength: 5,
  });
});

afterEach(async () => {
  await standIn.close();
  await Promise.all(rawServers.splice(0).map((server) => server.close()));
});

async function serve(handler: RawHandler): Promise<RawServer> {
  const server = await startRawServer(handler);
  rawServers.push(server);
  return server;
}

function makeClient(options: Partial<AmberClientOptions> = {}): {
  client: AmberClient;
  budget: RequestBudget;
} {
  const budget =
    options.budget ?? new RequestBudget({ clock, random: () => 0 });
  const client = new AmberClient({
    baseUrl: standIn.restUrl,
    token: TOKEN,
    logger: silentLogger,
    clock,
    budget,
    random: () => 1,
    ...options,
  });
  return { client, budget };
}

function run<T>(budget: RequestBudget, call: Promise<T>): Promise<T> {
  return drive(call, clock, () => budget.stats().inFlight === 0);
}

async function runError(
  budget: RequestBudget,
  call: Promise<unknown>,
): Promise<unknown> {
  try {
    await run(budget, call);
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

/** Gaps in ms between consecutive requests the stand-in received. */
function gaps(): number[] {
  const times = standIn.requests.map((request) => request.at);
  return times.slice(1).map((time, index) => time - (times[index] ?? 0));
}

/** Builds a valid general-channel CurrentInterval with `overrides` applied. */
function interval(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
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
    advancedPrice: { low: 35, predicted: 38.2, high: 44.9 },
    ...overrides,
  };
}

/** Serves `body` as the price list, as text when it is a string. */
async function pricesFrom(body: unknown): Promise<AmberClient> {
  const server = await serve((_request, response) => {
    sendJson(response, 200, body);
  });
  return makeClient({ baseUrl: server.url }).client;
}

function nested(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
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

describe("AmberClient hostile price lists", () => {
  it.each<[string, unknown, string]>([
    ["perKwh as a string", [interval({ perKwh: "38.5" })], "[0].perKwh"],
    ["perKwh null", [interval({ perKwh: null })], "[0].perKwh"],
    ["NaN in the body", '[{"perKwh": NaN}]', "(body)"],
    ["Infinity in the body", '[{"perKwh": Infinity}]', "(body)"],
    [
      "a missing channelType",
      [interval({ channelType: undefined })],
      "[0].channelType",
    ],
    [
      "a partial advancedPrice",
      [interval({ advancedPrice: { predicted: 20 } })],
      "[0].advancedPrice.low",
    ],
    ["an object", { prices: [interval()] }, "(root)"],
    ["null", "null", "(root)"],
  ])("rejects %s", async (_name, body, path) => {
    const client = await pricesFrom(body);
    const error = await runError(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe(path);
  });

  it("reads 1e400 as an invalid perKwh", async () => {
    const client = await pricesFrom(
      JSON.stringify([interval()]).replace('"perKwh":38.51', '"perKwh":1e400'),
    );
    const error = await runError(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain("Infinity");
  });

  it("returns an empty list as empty", async () => {
    const client = await pricesFrom([]);
    const prices = await run(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(prices.intervals).toEqual([]);
  });

  it.each<[string, unknown[]]>([
    ["duplicates for one slot", [interval(), interval({ perKwh: 99 })]],
    [
      "intervals out of order",
      [
        interval({
          startTime: "2025-06-02T08:10:01Z",
          endTime: "2025-06-02T08:15:00Z",
          nemTime: "2025-06-02T18:15:00+10:00",
        }),
        interval(),
      ],
    ],
    [
      "a 30-minute interval over 5-minute ones",
      [
        interval(),
        interval({
          type: "ForecastInterval",
          duration: 30,
          startTime: "2025-06-02T08:00:01Z",
          endTime: "2025-06-02T08:30:00Z",
          nemTime: "2025-06-02T18:30:00+10:00",
          estimate: undefined,
        }),
      ],
    ],
    [
      "a date in another year",
      [
        interval({
          date: "2031-06-02",
          startTime: "2031-06-02T08:05:01Z",
          endTime: "2031-06-02T08:10:00Z",
          nemTime: "2031-06-02T18:10:00+10:00",
        }),
      ],
    ],
  ])("passes %s through unchanged", async (_name, body) => {
    const client = await pricesFrom(body);
    const prices = await run(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(prices.intervals).toHaveLength(body.length);
    expect(prices.intervals.map((item) => item.startTime)).toEqual(
      body.map((item) => (item as { startTime: string }).startTime),
    );
  });
});

describe("AmberClient inconsistent intervals", () => {
  it.each<[string, Record<string, unknown>]>([
    [
      "a startTime after its endTime",
      {
        startTime: "2025-06-02T08:15:01Z",
        endTime: "2025-06-02T08:10:00Z",
      },
    ],
    [
      "a span over 30 minutes",
      {
        startTime: "2025-06-02T07:10:01Z",
        endTime: "2025-06-02T08:10:00Z",
      },
    ],
  ])("rejects %s", async (_name, overrides) => {
    const client = await pricesFrom([interval(), interval(overrides)]);
    const error = await runError(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toMatch(/^\[1\]/);
  });

  it("accepts a start on the boundary", async () => {
    const client = await pricesFrom([
      interval({ startTime: "2025-06-02T08:05:00Z" }),
    ]);
    const prices = await run(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(prices.intervals).toHaveLength(1);
  });
});

describe("AmberClient deeply nested bodies", () => {
  it.each<[string, string, string]>([
    ["as the body", `{"a":${nested(100_000)}}`, "(root)"],
    [
      "as a price",
      JSON.stringify([interval()]).replace("38.51", nested(100_000)),
      "[0].perKwh",
    ],
  ])("rejects deep nesting %s", async (_name, body, path) => {
    const client = await pricesFrom(body);
    const error = await runError(
      new RequestBudget({ clock }),
      client.getCurrentPrices(SITE),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe(path);
  });
});

describe("AmberClient rate-limit hints", () => {
  it("waits out a Retry-After of 0 within maxAttempts", async () => {
    standIn.faults.arm({
      kind: "rate-limit",
      retryAfterSeconds: 0,
      count: Infinity,
    });
    const { client, budget } = makeClient({ maxAttempts: 3 });
    const error = await runError(budget, client.listSites());

    expect(error).toBeInstanceOf(RateLimitedError);
    expect(standIn.requests).toHaveLength(3);
  });

  it("ignores a garbage RateLimit-Reset on a 200", async () => {
    const server = await serve((_request, response) => {
      sendJson(response, 200, [], {
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "soon",
      });
    });
    const { client, budget } = makeClient({ baseUrl: server.url });
    await run(budget, client.getCurrentPrices(SITE));
    await run(budget, client.getCurrentPrices(SITE));

    expect(clock.sleeps).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });
});

describe("AmberClient rate-limit caps", () => {
  it("caps a huge Retry-After at the budget's maximum pause", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 1e9 });
    const { client, budget } = makeClient();
    await run(budget, client.listSites());

    expect(gaps()).toEqual([300_000]);
  });

  it("caps a huge RateLimit-Reset on a 200", async () => {
    const server = await serve((_request, response, index) => {
      sendJson(response, 200, [], {
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": index === 0 ? "1e9" : "10",
      });
    });
    const { client, budget } = makeClient({ baseUrl: server.url });
    await run(budget, client.getCurrentPrices(SITE));
    await run(budget, client.getCurrentPrices(SITE));

    expect(clock.sleeps).toEqual([300_000]);
    expect(budget.stats().pausedUntil).toBe(clock.now() + 10_000);
  });
});

describe("AmberClient storms", () => {
  it("stops retrying a 5xx storm and recovers after", async () => {
    standIn.faults.arm({ kind: "server-error", count: Infinity });
    const { client, budget } = makeClient({ maxAttempts: 3 });
    const errors = [
      await runError(budget, client.listSites()),
      await runError(budget, client.listSites()),
    ];
    standIn.faults.clear();
    const sites = await run(budget, client.listSites());

    expect(errors[0]).toBeInstanceOf(UpstreamUnavailableError);
    expect(errors[1]).toBeInstanceOf(UpstreamUnavailableError);
    expect(standIn.requests).toHaveLength(7);
    expect(sites).toHaveLength(1);
    expect(budget.stats().pausedUntil).toBeUndefined();
  });

  it("holds 20 callers that arrive during a 429 pause", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 60 });
    const { client, budget } = makeClient();
    const first = client.listSites();
    while (budget.stats().pausedUntil === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const later = Array.from({ length: 20 }, () => client.listSites());
    const results = await run(budget, Promise.all([first, ...later]));
    const times = standIn.requests.map((request) => request.at);

    expect(results).toHaveLength(21);
    expect(times.filter((time) => time === START)).toHaveLength(1);
    expect(times.filter((time) => time === START + 60_000)).toHaveLength(21);
    expect(budget.stats().rateLimited).toBe(1);
  });
});

describe("AmberClient shutdown", () => {
  it("rejects at once when aborted during a 429 pause", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 300 });
    const shutdown = new AbortController();
    const { client, budget } = makeClient({ signal: shutdown.signal });
    const call = client.listSites();
    const failed = call.then(
      () => undefined,
      (error: unknown) => error,
    );
    while (clock.pending() === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    shutdown.abort(new Error("engine stopping"));
    const error = await failed;

    expect((error as Error).message).toBe("engine stopping");
    expect(clock.pending()).toBe(0);
    expect(standIn.requests).toHaveLength(1);
    expect(budget.stats().inFlight).toBe(0);
  });

  it("rejects every queued caller when aborted", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 300 });
    const shutdown = new AbortController();
    const { client, budget } = makeClient({ signal: shutdown.signal });
    const first = client.listSites().then(
      () => undefined,
      (error: unknown) => error,
    );
    while (budget.stats().pausedUntil === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const queued = Array.from({ length: 5 }, () =>
      client.getCurrentPrices(SITE).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    shutdown.abort(new Error("engine stopping"));
    const errors = await Promise.all([first, ...queued]);

    expect(errors.map((error) => (error as Error).message)).toEqual(
      Array.from({ length: 6 }, () => "engine stopping"),
    );
    expect(clock.pending()).toBe(0);
    expect(standIn.requests).toHaveLength(1);
  });

  it("aborts a request in flight", async () => {
    standIn.faults.arm({ kind: "timeout" });
    const shutdown = new AbortController();
    const { client } = makeClient({
      signal: shutdown.signal,
      timeoutMs: 60_000,
    });
    const failed = client.listSites().then(
      () => undefined,
      (error: unknown) => error,
    );
    while (standIn.requests.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    shutdown.abort(new Error("engine stopping"));
    const error = await failed;

    expect((error as Error).message).toBe("engine stopping");
    expect(standIn.requests).toHaveLength(1);
  });

  it("sends nothing once aborted", async () => {
    const shutdown = new AbortController();
    shutdown.abort(new Error("engine stopped"));
    const { client } = makeClient({ signal: shutdown.signal });
    const error = await client.listSites().then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect((error as Error).message).toBe("engine stopped");
    expect(standIn.requests).toHaveLength(0);
  });
});

describe("AmberClient secrets", () => {
  it("keeps the token out of logs and errors under every fault", async () => {
    const { logger, text } = capture();
    const errors: unknown[] = [];
    const { client, budget } = makeClient({
      logger,
      timeoutMs: 200,
      maxAttempts: 2,
    });
    const faults = [
      { kind: "timeout" },
      { kind: "reset" },
      { kind: "server-error" },
      { kind: "rate-limit-no-headers" },
      { kind: "malformed-json" },
      { kind: "wrong-shape" },
      { kind: "unauthorized" },
    ] as const;
    for (const fault of faults) {
      standIn.faults.clear();
      standIn.faults.arm({ ...fault, count: 2 });
      errors.push(await runError(budget, client.getCurrentPrices(SITE)));
    }

    expect(text()).not.toBe("");
    expect(text()).not.toContain(TOKEN);
    for (const error of errors) {
      expect(inspect(error, { depth: Infinity })).not.toContain(TOKEN);
    }
  });

  it("sends the token in a header only", async () => {
    const { client, budget } = makeClient();
    await run(budget, client.listSites());

    expect(JSON.stringify(standIn.requests)).not.toContain(TOKEN);
  });
});
