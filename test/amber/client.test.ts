import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RequestBudget } from "../../src/amber/budget.js";
import {
  AmberClient,
  type AmberClientOptions,
} from "../../src/amber/client.js";
import { groupByChannel } from "../../src/amber/prices.js";
import {
  AuthError,
  ConfigError,
  InvalidPayloadError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { createLogger, silentLogger } from "../../src/log.js";
import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
  type AmberStandInOptions,
} from "../../src/standins/amber-server.js";
import type { Fault } from "../../src/standins/faults.js";
import { intervalsBetween } from "../../src/standins/price-model.js";
import { drive, ManualClock } from "./manual-clock.js";

const TOKEN = "psk_client_test_token_0042";
const SITE = DEFAULT_STAND_IN_SITE_ID;
/** 18:07:30 NEM time on 2 June 2025. */
const START = Date.parse("2025-06-02T08:07:30Z");
const WINDOW = 300_000;

let clock: ManualClock;
let standIn: AmberStandIn;

async function startStandIn(
  options: Partial<AmberStandInOptions> = {},
): Promise<void> {
  standIn = await startAmberStandIn({
    token: TOKEN,
    now: () => clock.now(),
    pattern: "calm",
    intervalLength: 5,
    ...options,
  });
}

beforeEach(async () => {
  clock = new ManualClock(START);
  await startStandIn();
});

afterEach(async () => {
  await standIn.close();
});

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

/** Runs `call` to completion, moving the manual clock whenever nothing is in flight. */
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

/** Milliseconds between consecutive requests the stand-in received. */
function gaps(): number[] {
  const times = standIn.requests.map((request) => request.at);
  return times.slice(1).map((at, i) => at - (times[i] ?? 0));
}

describe("AmberClient requests", () => {
  it("lists sites", async () => {
    const { client, budget } = makeClient();
    const sites = await run(budget, client.listSites());

    expect(sites).toEqual(standIn.sites);
    expect(client.counters()).toEqual({ "GET /sites": 1 });
  });

  it("finds one site", async () => {
    const { client, budget } = makeClient();
    const site = await run(budget, client.getSite(SITE));

    expect(site.id).toBe(SITE);
    expect(site.intervalLength).toBe(5);
  });

  it("names an unknown site", async () => {
    const { client, budget } = makeClient();
    const error = await runError(budget, client.getSite("01UNKNOWN"));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("01UNKNOWN");
    expect((error as Error).message).toContain(SITE);
  });

  it("fetches current prices with next and previous", async () => {
    const { client, budget } = makeClient();
    const prices = await run(
      budget,
      client.getCurrentPrices(SITE, { next: 24, previous: 2 }),
    );
    const groups = groupByChannel(prices.intervals);

    expect(standIn.requests[0]?.query).toEqual({ next: "24", previous: "2" });
    expect(groups.general).toHaveLength(27);
    expect(groups.feedIn).toHaveLength(27);
    expect(prices.ignoredChannelTypes).toEqual([]);
    expect(client.counters()).toEqual({ "GET /sites/{id}/prices/current": 1 });
  });

  it("sends both dates for a range", async () => {
    const { client, budget } = makeClient();
    await run(
      budget,
      client.getPrices(SITE, {
        startDate: "2025-06-02",
        endDate: "2025-06-02",
      }),
    );

    expect(standIn.requests[0]?.query).toEqual({
      startDate: "2025-06-02",
      endDate: "2025-06-02",
    });
    expect(client.counters()).toEqual({ "GET /sites/{id}/prices": 1 });
  });

  it("keeps boundary timestamps intact", async () => {
    await standIn.close();
    clock = new ManualClock(Date.parse("2025-06-02T08:00:00Z"));
    await startStandIn({ intervalLength: 30 });
    const { client, budget } = makeClient();
    const prices = await run(
      budget,
      client.getCurrentPrices(SITE, { next: 4, previous: 1 }),
    );
    const expected = intervalsBetween({
      now: clock.now(),
      intervalLength: 30,
      pattern: "calm",
      startMs: Date.parse("2025-06-02T07:30:00Z"),
      endMs: Date.parse("2025-06-02T10:30:00Z"),
    });
    const current = prices.intervals.find((i) => i.type === "CurrentInterval");

    expect(prices.intervals).toEqual(expected);
    expect(current?.startTime).toBe("2025-06-02T08:00:01Z");
    expect(current?.endTime).toBe("2025-06-02T08:30:00Z");
    expect(current?.nemTime).toBe("2025-06-02T18:30:00+10:00");
  });

  it("drops an unknown channel type", async () => {
    await standIn.close();
    await startStandIn({ unknownChannelTypes: ["communityBattery"] });
    const { client, budget } = makeClient();
    const prices = await run(
      budget,
      client.getCurrentPrices(SITE, { next: 3 }),
    );

    expect(prices.ignoredChannelTypes).toEqual(["communityBattery"]);
    expect(prices.intervals).toHaveLength(8);
  });

  it.each<[string, { next?: number; previous?: number }]>([
    ["too many intervals", { next: 2000, previous: 49 }],
    ["a negative count", { next: -1 }],
    ["a fractional count", { previous: 1.5 }],
  ])("rejects %s before sending", async (_name, query) => {
    const { client, budget } = makeClient();
    const error = await runError(budget, client.getCurrentPrices(SITE, query));

    expect(error).toBeInstanceOf(ConfigError);
    expect(standIn.requests).toHaveLength(0);
  });

  it("accepts exactly 2048 intervals", async () => {
    const { client, budget } = makeClient();
    await run(
      budget,
      client.getCurrentPrices(SITE, { next: 2000, previous: 48 }),
    );

    expect(standIn.requests[0]?.status).toBe(200);
  });

  it.each([
    ["more than 7 days", "2025-06-01", "2025-06-09"],
    ["an end before the start", "2025-06-02", "2025-06-01"],
    ["a malformed date", "2025-6-2", "2025-06-02"],
    ["an impossible date", "2025-02-30", "2025-03-01"],
  ])("rejects %s before sending", async (_name, startDate, endDate) => {
    const { client, budget } = makeClient();
    const error = await runError(
      budget,
      client.getPrices(SITE, { startDate, endDate }),
    );

    expect(error).toBeInstanceOf(ConfigError);
    expect(standIn.requests).toHaveLength(0);
  });

  it("accepts a 7-day range", async () => {
    const { client, budget } = makeClient();
    await run(
      budget,
      client.getPrices(SITE, {
        startDate: "2025-05-26",
        endDate: "2025-06-02",
      }),
    );

    expect(standIn.requests[0]?.status).toBe(200);
  });

  it("rejects an empty token", () => {
    expect(() => makeClient({ token: " " })).toThrow(ConfigError);
  });
});

describe("AmberClient failures", () => {
  it.each<[string, Fault, number]>([
    ["server-error", { kind: "server-error" }, 2],
    ["unavailable", { kind: "unavailable", count: 2 }, 3],
    ["reset", { kind: "reset" }, 2],
    ["slow", { kind: "slow", delayMs: 30 }, 1],
  ])("%s recovers by retrying", async (_name, fault, requests) => {
    standIn.faults.arm(fault);
    const { client, budget } = makeClient();
    const sites = await run(budget, client.listSites());

    expect(sites).toHaveLength(1);
    expect(standIn.requests).toHaveLength(requests);
    expect(client.counters()).toEqual({ "GET /sites": requests });
  });

  it("retries 5xx with exponential backoff", async () => {
    standIn.faults.arm({ kind: "server-error", count: 3 });
    const { client, budget } = makeClient();
    await run(budget, client.listSites());

    expect(gaps()).toEqual([1000, 2000, 4000]);
  });

  it("gives up after maxAttempts", async () => {
    standIn.faults.arm({ kind: "server-error", count: Infinity });
    const { client, budget } = makeClient({ maxAttempts: 3 });
    const error = await runError(budget, client.listSites());

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as UpstreamUnavailableError).status).toBe(500);
    expect(standIn.requests).toHaveLength(3);
  });

  it("retries a timeout", async () => {
    standIn.faults.arm({ kind: "timeout" });
    const { client, budget } = makeClient({ timeoutMs: 300 });
    const sites = await run(budget, client.listSites());

    expect(sites).toHaveLength(1);
    expect(standIn.requests.map((request) => request.status)).toEqual([
      undefined,
      200,
    ]);
  });

  it("reports a timeout when retries run out", async () => {
    standIn.faults.arm({ kind: "timeout", count: 2 });
    const { client, budget } = makeClient({ timeoutMs: 200, maxAttempts: 2 });
    const error = await runError(budget, client.listSites());

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toContain("timed out");
  });

  it.each<[string, Fault | undefined, string]>([
    ["an unauthorized fault", { kind: "unauthorized" }, TOKEN],
    ["a wrong token", undefined, "psk_wrong_token_0000000"],
  ])("fails fast on %s", async (_name, fault, token) => {
    if (fault !== undefined) {
      standIn.faults.arm(fault);
    }
    const { client, budget } = makeClient({ token });
    const error = await runError(budget, client.listSites());

    expect(error).toBeInstanceOf(AuthError);
    expect(standIn.requests).toHaveLength(1);
    expect((error as Error).message).not.toContain(token);
  });

  it.each<[string, Fault, string]>([
    ["malformed-json", { kind: "malformed-json" }, "(body)"],
    ["wrong-shape", { kind: "wrong-shape" }, "[0].perKwh"],
  ])("rejects %s without retrying", async (_name, fault, path) => {
    standIn.faults.arm(fault);
    const { client, budget } = makeClient();
    const error = await runError(budget, client.getCurrentPrices(SITE));

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe(path);
    expect(standIn.requests).toHaveLength(1);
  });

  it("names the field of a bad site list", async () => {
    standIn.faults.arm({ kind: "wrong-shape" });
    const { client, budget } = makeClient();
    const error = await runError(budget, client.listSites());

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe("0.nmi");
  });
});

describe("AmberClient rate limits", () => {
  it("waits until the given reset", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 42 });
    const { client, budget } = makeClient();
    await run(budget, client.listSites());

    expect(gaps()).toEqual([42_000]);
    expect(budget.stats().rateLimited).toBe(1);
  });

  it("backs off exponentially without headers", async () => {
    standIn.faults.arm({ kind: "rate-limit-no-headers", count: 3 });
    const { client, budget } = makeClient();
    await run(budget, client.listSites());

    expect(gaps()).toEqual([10_000, 20_000, 40_000]);
    expect(budget.stats().rateLimited).toBe(3);
  });

  it("pauses every caller after a 429", async () => {
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 60 });
    const { client, budget } = makeClient();
    const first = client.listSites();
    const second = client.getCurrentPrices(SITE);
    await run(budget, Promise.all([first, second]));
    const times = standIn.requests.map((request) => request.at);

    expect(times).toHaveLength(3);
    expect(times[0]).toBe(START);
    expect(times[1]).toBe(START);
    expect(times[2]).toBe(START + 60_000);
  });

  it("keeps 100 queued calls under the limit", async () => {
    const { client, budget } = makeClient();
    const calls = Array.from({ length: 100 }, () =>
      client.getCurrentPrices(SITE),
    );
    await run(budget, Promise.all(calls));
    const times = standIn.requests.map((request) => request.at);
    let maxInWindow = 0;
    for (const from of times) {
      const inWindow = times.filter((t) => t >= from && t < from + WINDOW);
      maxInWindow = Math.max(maxInWindow, inWindow.length);
    }

    expect(standIn.requests).toHaveLength(100);
    expect(standIn.requests.every((request) => request.status === 200)).toBe(
      true,
    );
    expect(maxInWindow).toBe(45);
    expect(budget.stats()).toMatchObject({ sent: 100, rateLimited: 0 });
    expect(budget.stats().waits).toBe(55);
  });

  it("shares one budget between clients", async () => {
    const budget = new RequestBudget({ clock, limit: 4 });
    const { client: first } = makeClient({ budget });
    const { client: second } = makeClient({ budget });
    const calls = [first, second, first, second, first, second].map((client) =>
      client.listSites(),
    );
    await run(budget, Promise.all(calls));
    const times = standIn.requests.map((request) => request.at);

    expect(times.filter((t) => t === START)).toHaveLength(4);
    expect(times.filter((t) => t === START + WINDOW)).toHaveLength(2);
  });
});

describe("AmberClient logging", () => {
  function capture(): {
    lines: () => Array<Record<string, unknown>>;
    stream: Writable;
  } {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString("utf8"));
        callback();
      },
    });
    const lines = (): Array<Record<string, unknown>> =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    return { lines, stream };
  }

  it("warns once, then logs recovery", async () => {
    const { lines, stream } = capture();
    const logger = createLogger({
      level: "debug",
      format: "json",
      destination: stream,
    });
    standIn.faults.arm({ kind: "server-error", count: 3 });
    const { client, budget } = makeClient({ logger });
    await run(budget, client.listSites());
    const levels = lines().map(
      (line) => `${String(line["level"])} ${String(line["msg"])}`,
    );

    expect(levels).toEqual([
      "40 Amber request failed; retrying",
      "20 Amber request failed; retrying",
      "20 Amber request failed; retrying",
      "30 Amber requests succeed again",
    ]);
  });

  it("never logs the token", async () => {
    const { lines, stream } = capture();
    const logger = createLogger({
      level: "debug",
      format: "json",
      destination: stream,
    });
    standIn.faults.arm({ kind: "unauthorized" });
    const { client, budget } = makeClient({ logger });
    await runError(budget, client.listSites());
    await run(budget, client.listSites());
    const text = JSON.stringify(lines());

    expect(lines().length).toBeGreaterThan(0);
    expect(text).not.toContain(TOKEN);
  });

  it("warns about an unknown channel once", async () => {
    await standIn.close();
    await startStandIn({ unknownChannelTypes: ["communityBattery"] });
    const { lines, stream } = capture();
    const logger = createLogger({
      level: "debug",
      format: "json",
      destination: stream,
    });
    const { client, budget } = makeClient({ logger });
    await run(budget, client.getCurrentPrices(SITE));
    await run(budget, client.getCurrentPrices(SITE));
    const channelLines = lines().filter(
      (line) => line["channelType"] === "communityBattery",
    );

    expect(channelLines.map((line) => line["level"])).toEqual([40, 20]);
  });
});
