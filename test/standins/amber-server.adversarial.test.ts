import { once } from "node:events";

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";

import {
  DEFAULT_STAND_IN_SITE_ID,
  startAmberStandIn,
  type AmberStandIn,
} from "../../src/standins/amber-server.js";

const TOKEN = "psk_adversarial_standin_token_1202";

let standIn: AmberStandIn;

beforeEach(async () => {
  standIn = await startAmberStandIn({ token: TOKEN });
});

afterEach(async () => {
  await standIn.close();
});

function get(path: string, token = TOKEN): Promise<Response> {
  return fetch(`${standIn.restUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

describe("amber stand-in hostile requests", () => {
  it.each([
    ["a malformed percent escape", "/sites/%E0%A4%A/prices/current", 404],
    ["a lone percent sign", "/sites/%/prices", 404],
    ["an encoded slash", `/sites/${DEFAULT_STAND_IN_SITE_ID}%2Fx/prices`, 404],
    ["a huge next", "/sites/x/prices/current?next=1e400", 404],
  ])("answers %s and stays up", async (_name, path, status) => {
    const response = await get(path);
    const after = await get("/sites");

    expect(response.status).toBe(status);
    expect(after.status).toBe(200);
  });

  it.each([
    ["a float", "next=1.5"],
    ["a negative", "next=-1"],
    ["an exponent", "next=1e3"],
    ["an overflow", "next=99999999999999999999"],
  ])("rejects %s count with 400", async (_name, query) => {
    const response = await get(
      `/sites/${DEFAULT_STAND_IN_SITE_ID}/prices/current?${query}`,
    );

    expect(response.status).toBe(400);
  });

  it("rejects a POST without reading its body", async () => {
    const response = await fetch(`${standIn.restUrl}/sites`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: "x".repeat(1_000_000),
    });

    expect(response.status).toBe(405);
  });
});

describe("amber stand-in hostile live messages", () => {
  it.each<[string, string | Buffer]>([
    ["not JSON", "{{{"],
    ["an array", "[1,2,3]"],
    ["null", "null"],
    ["binary garbage", Buffer.from([0xff, 0x00, 0xfe])],
    [
      "a subscribe without data",
      '{"service":"live-prices","action":"subscribe"}',
    ],
  ])("answers %s with status 400", async (_name, message) => {
    const socket = new WebSocket(standIn.wsUrl, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await once(socket, "open");
    const reply = once(socket, "message") as Promise<[Buffer]>;
    socket.send(message);
    const [data] = await reply;
    socket.terminate();

    expect(JSON.parse(data.toString("utf8"))).toMatchObject({ status: 400 });
  });
});
