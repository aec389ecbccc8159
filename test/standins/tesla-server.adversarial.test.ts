import { request } from "node:http";

import { afterEach, describe, expect, it, vi } from "vitest";

import {
  STAND_IN_TOKEN_PATH,
  startTeslaStandIn,
  type TeslaStandIn,
} from "../../src/standins/tesla-server.js";

const TOKEN = "tesla-standin-adversarial-token";

let standIn: TeslaStandIn | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await standIn?.close();
  standIn = undefined;
});

async function start(authMode: "teslemetry" | "fleet"): Promise<TeslaStandIn> {
  standIn = await startTeslaStandIn({ authMode, token: TOKEN });
  return standIn;
}

/** Sends a raw request and resolves with its status, or 0 when the connection dropped. */
function send(
  url: string,
  method: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method, headers }, (response) => {
      response.resume();
      response.on("end", () => {
        resolve(response.statusCode ?? 0);
      });
    });
    outgoing.on("error", () => {
      resolve(0);
    });
    outgoing.end(body);
  });
}

describe("tesla stand-in hostile requests", () => {
  it.each<[string, string | Buffer, number]>([
    ["a body that is not JSON", "{{{", 400],
    ["a JSON array", "[]", 400],
    ["binary garbage", Buffer.from([0xff, 0x00, 0xfe]), 400],
    ["a body over 1 MB", "x".repeat(1_100_000), 413],
  ])("answers a write with %s", async (_name, body, status) => {
    const server = await start("teslemetry");
    const url = `${server.url}/api/1/energy_sites/${server.siteId}/backup`;

    expect(
      await send(url, "POST", body, { Authorization: `Bearer ${TOKEN}` }),
    ).toBe(status);
    expect(server.writes).toEqual([]);
  });

  it.each<[string, string]>([
    ["an empty form", ""],
    ["a form without a token", "grant_type=refresh_token&client_id=x"],
    ["binary garbage", "\u0000\u00ff=%%%"],
  ])("answers a token request with %s", async (_name, body) => {
    const server = await start("fleet");

    expect(
      await send(`${server.url}${STAND_IN_TOKEN_PATH}`, "POST", body),
    ).toBe(400);
    expect(server.tokenGrants()).toBe(0);
  });

  it("rejects a token in the query string", async () => {
    const server = await start("teslemetry");
    const status = await send(
      `${server.url}/api/1/products?token=${TOKEN}`,
      "GET",
      "",
    );

    expect(status).toBe(401);
  });
});

describe("tesla stand-in close", () => {
  it("cancels a pending slow fault", async () => {
    const server = await start("teslemetry");
    server.faults.arm({ kind: "slow", delayMs: 60_000 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const status = send(
      `${server.url}/api/1/energy_sites/${server.siteId}/backup`,
      "POST",
      JSON.stringify({ backup_reserve_percent: 40 }),
      { Authorization: `Bearer ${TOKEN}` },
    );
    while (server.requests.length === 0 || vi.getTimerCount() === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await server.close();
    standIn = undefined;
    await vi.runAllTimersAsync();

    expect(await status).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(server.writes).toEqual([]);
  });
});
