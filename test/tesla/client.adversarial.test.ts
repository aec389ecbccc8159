import { Writable } from "node:stream";
import { inspect } from "node:util";

import { afterEach, describe, expect, it } from "vitest";

import {
  AuthError,
  InvalidPayloadError,
  RateLimitedError,
  RequestRejectedError,
  UpstreamUnavailableError,
  WriteRejectedError,
} from "../../src/errors.js";
import { createLogger, silentLogger, type Logger } from "../../src/log.js";
import { startTeslaStandIn } from "../../src/standins/tesla-server.js";
import { StaticTokenProvider } from "../../src/tesla/auth.js";
import {
  TeslaClient,
  type TeslaClientOptions,
} from "../../src/tesla/client.js";
import { ManualClock } from "../amber/manual-clock.js";
import {
  sendJson,
  startRawServer,
  type RawHandler,
  type RawServer,
} from "../http/raw-server.js";
import { manualClock } from "./helpers.js";

const TOKEN = "tesla-adversarial-teslemetry-token-0451";
const SITE_ID = 1_000_000_000_001;

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function serve(handler: RawHandler): Promise<RawServer> {
  const server = await startRawServer(handler);
  cleanups.push(() => server.close());
  return server;
}

function makeClient(
  baseUrl: string,
  options: Partial<TeslaClientOptions> = {},
): TeslaClient {
  return new TeslaClient({
    baseUrl,
    tokens: new StaticTokenProvider(TOKEN),
    logger: silentLogger,
    clock: manualClock(),
    random: () => 1,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
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

describe("TeslaClient odd write responses", () => {
  it.each<[string, number, unknown, new (...args: never[]) => Error]>([
    ["an empty response object", 200, { response: {} }, InvalidPayloadError],
    ["a null response", 200, { response: null }, InvalidPayloadError],
    [
      "result as a string",
      200,
      { response: { result: "true" } },
      InvalidPayloadError,
    ],
    ["no envelope", 200, { result: true }, InvalidPayloadError],
    ["an array", 200, [], InvalidPayloadError],
    ["an HTML page", 200, "<html>Bad gateway</html>", InvalidPayloadError],
    ["a 204", 204, "", InvalidPayloadError],
    [
      "code 500 in the body",
      200,
      { response: { code: 500, message: "Internal error" } },
      WriteRejectedError,
    ],
    [
      "result false with a reason",
      200,
      { response: { result: false, reason: "Site offline" } },
      WriteRejectedError,
    ],
    ["a 404", 404, { error: "not_found" }, RequestRejectedError],
  ])("treats %s as a failed write", async (_name, status, body, kind) => {
    const server = await serve((_request, response) => {
      if (status === 204) {
        response.writeHead(204);
        response.end();
        return;
      }
      sendJson(response, status, body);
    });
    const error = await failure(
      makeClient(server.url).setBackupReserve(SITE_ID, 20),
    );

    expect(error).toBeInstanceOf(kind);
    expect(server.requests).toHaveLength(1);
  });

  it.each([301, 302, 307, 308])(
    "does not follow a %i on a write",
    async (status) => {
      const elsewhere = await serve((_request, response) => {
        sendJson(response, 200, { response: { result: true } });
      });
      const server = await serve((_request, response) => {
        sendJson(
          response,
          status,
          { response: { result: true } },
          { Location: `${elsewhere.url}/api/1/energy_sites/${SITE_ID}/backup` },
        );
      });
      const error = await failure(
        makeClient(server.url).setBackupReserve(SITE_ID, 20),
      );

      expect(error).toBeInstanceOf(RequestRejectedError);
      expect(elsewhere.requests).toHaveLength(0);
    },
  );
});

describe("TeslaClient retry storms", () => {
  it("stops a 5xx storm on reads and recovers after", async () => {
    const { logger, text } = capture();
    let failing = true;
    const server = await serve((_request, response) => {
      if (failing) {
        sendJson(response, 500, { error: "internal_error" });
        return;
      }
      sendJson(response, 200, { response: [] });
    });
    const client = makeClient(server.url, { logger });
    const errors = [
      await failure(client.listEnergySites()),
      await failure(client.listEnergySites()),
    ];
    failing = false;
    const sites = await client.listEnergySites();

    expect(errors[0]).toBeInstanceOf(UpstreamUnavailableError);
    expect(errors[1]).toBeInstanceOf(UpstreamUnavailableError);
    expect(server.requests).toHaveLength(7);
    expect(sites).toEqual([]);
    expect(text()).toContain("Tesla requests succeed again");
  });

  it("retries a Retry-After of 0 within maxAttempts", async () => {
    const server = await serve((_request, response) => {
      sendJson(
        response,
        429,
        { error: "rate_limited" },
        { "Retry-After": "0" },
      );
    });
    const clock = manualClock();
    const error = await failure(
      makeClient(server.url, { clock }).setBackupReserve(SITE_ID, 20),
    );

    expect(error).toBeInstanceOf(RateLimitedError);
    expect(server.requests).toHaveLength(3);
    expect(clock.sleeps).toEqual([0, 0]);
  });

  it("surfaces a huge Retry-After capped at an hour", async () => {
    const server = await serve((_request, response) => {
      sendJson(
        response,
        429,
        { error: "rate_limited" },
        { "Retry-After": "1e9" },
      );
    });
    const clock = manualClock();
    const error = await failure(
      makeClient(server.url, { clock }).getLiveStatus(SITE_ID),
    );

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_600_000);
    expect(clock.sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });
});

describe("TeslaClient shutdown", () => {
  it("rejects at once when aborted during a Retry-After wait", async () => {
    const server = await serve((_request, response) => {
      sendJson(
        response,
        429,
        { error: "rate_limited" },
        { "Retry-After": "60" },
      );
    });
    const clock = new ManualClock(Date.parse("2026-01-15T02:00:00Z"));
    const shutdown = new AbortController();
    const client = makeClient(server.url, { clock, signal: shutdown.signal });
    const failed = failure(client.getLiveStatus(SITE_ID));
    while (clock.pending() === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    shutdown.abort(new Error("engine stopping"));
    const error = await failed;

    expect((error as Error).message).toBe("engine stopping");
    expect(clock.pending()).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it("rejects at once when aborted during the auth pause", async () => {
    const server = await serve((_request, response) => {
      sendJson(response, 401, { error: "invalid_token" });
    });
    const clock = new ManualClock(Date.parse("2026-01-15T02:00:00Z"));
    const shutdown = new AbortController();
    const client = makeClient(server.url, { clock, signal: shutdown.signal });
    const failed = failure(client.getSiteInfo(SITE_ID));
    while (clock.pending() === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    shutdown.abort(new Error("engine stopping"));
    const error = await failed;

    expect((error as Error).message).toBe("engine stopping");
    expect(clock.pending()).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it("aborts a request in flight", async () => {
    const server = await serve(() => undefined);
    const shutdown = new AbortController();
    const client = makeClient(server.url, {
      signal: shutdown.signal,
      timeoutMs: 60_000,
    });
    const failed = failure(client.getSiteInfo(SITE_ID));
    while (server.requests.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    shutdown.abort(new Error("engine stopping"));
    const error = await failed;

    expect((error as Error).message).toBe("engine stopping");
    expect(server.requests).toHaveLength(1);
  });
});

describe("TeslaClient secrets", () => {
  it("keeps the token out of logs, errors and causes", async () => {
    const { logger, text } = capture();
    const clock = manualClock();
    const standIn = await startTeslaStandIn({
      authMode: "teslemetry",
      token: TOKEN,
      now: () => clock.now(),
    });
    cleanups.push(() => standIn.close());
    const client = makeClient(standIn.url, { logger, clock, timeoutMs: 200 });
    const errors: unknown[] = [];
    const kinds = [
      "timeout",
      "reset",
      "server-error",
      "unavailable",
      "rate-limit-no-headers",
      "malformed-json",
      "wrong-shape",
      "unauthorized",
    ] as const;
    for (const kind of kinds) {
      standIn.faults.clear();
      standIn.faults.arm({ kind, count: 3 });
      errors.push(await failure(client.getSiteInfo(standIn.siteId)));
      standIn.faults.clear();
      standIn.faults.arm({ kind, count: 3 });
      errors.push(await failure(client.setBackupReserve(standIn.siteId, 20)));
    }

    expect(errors.some((error) => error instanceof AuthError)).toBe(true);
    expect(text()).not.toBe("");
    expect(text()).not.toContain(TOKEN);
    for (const error of errors) {
      expect(inspect(error, { depth: Infinity })).not.toContain(TOKEN);
    }
  });

  it("sends the token in the Authorization header only", async () => {
    const server = await serve((_request, response) => {
      sendJson(response, 200, { response: [] });
    });
    await makeClient(server.url).listEnergySites();

    expect(server.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(server.requests[0]?.url).not.toContain(TOKEN);
    expect(server.requests[0]?.body).not.toContain(TOKEN);
  });
});
