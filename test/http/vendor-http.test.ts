import { afterEach, describe, expect, it } from "vitest";

import { z } from "zod";

import {
  AuthError,
  InvalidPayloadError,
  type Vendor,
} from "../../src/errors.js";
import { parsePayload, VendorHttp } from "../../src/http/vendor-http.js";
import { registerSecret } from "../../src/log.js";
import { sendJson, startRawServer, type RawServer } from "./raw-server.js";

const TOKEN = "vendor-http-test-token-8172";
registerSecret(TOKEN);

let server: RawServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function rejection(vendor: Vendor, status: number): Promise<AuthError> {
  server = await startRawServer((_request, response) => {
    sendJson(response, status, { message: "Unauthorized" });
  });
  const http = new VendorHttp({
    vendor,
    baseUrl: server.url,
    timeoutMs: 2000,
    headers: () => ({ Authorization: `Bearer ${TOKEN}` }),
  });
  try {
    await http.send({ method: "GET", path: "/sites" });
  } catch (error) {
    if (error instanceof AuthError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected the request to be rejected");
}

describe("VendorHttp credential rejection", () => {
  it.each([
    ["amber", 401, ["amber.token", "TESLA_SYNC_AMBER_TOKEN", "integration"]],
    [
      "tesla",
      403,
      [
        "tesla.token",
        "TESLA_SYNC_TESLA_TOKEN",
        "tesla.fleet.refreshToken",
        "TESLA_SYNC_FLEET_REFRESH_TOKEN",
      ],
    ],
    ["home_assistant", 401, ["TESLA_SYNC_HA_TOKEN", "SUPERVISOR_TOKEN"]],
    ["aemo", 403, ["needs no login"]],
  ] as const)("names the %s settings", async (vendor, status, expected) => {
    const error = await rejection(vendor, status);

    expect(error.vendor).toBe(vendor);
    expect(error.message).toContain(`(HTTP ${status})`);
    for (const text of expected) {
      expect(error.message).toContain(text);
    }
  });

  it("keeps the token out of the message", async () => {
    const error = await rejection("amber", 401);

    expect(error.message).not.toContain(TOKEN);
  });
});

describe("parsePayload", () => {
  const schema = z.object({ items: z.array(z.object({ id: z.number() })) });

  function payloadError(body: unknown): InvalidPayloadError {
    try {
      parsePayload("tesla", "site list", schema, body);
    } catch (error) {
      if (error instanceof InvalidPayloadError) {
        return error;
      }
      throw error;
    }
    throw new Error("expected the payload to be rejected");
  }

  it("returns a valid body", () => {
    expect(parsePayload("tesla", "site list", schema, { items: [] })).toEqual({
      items: [],
    });
  });

  it("names the first field", () => {
    const error = payloadError({ items: [{ id: "1" }] });

    expect(error.path).toBe("items.0.id");
    expect(error.message).toMatch(
      /^tesla sent an invalid site list: field items\.0\.id: .+\.$/,
    );
  });

  it("lists up to ten problems", () => {
    const items = Array.from({ length: 13 }, () => ({ id: "x" }));

    const error = payloadError({ items });

    expect(error.message).toContain("field items.9.id");
    expect(error.message).not.toContain("field items.10.id");
    expect(error.message).toMatch(/; and 3 more problems\.$/);
  });

  it("leaves the consequence to the caller", () => {
    const error = payloadError({ items: [{ id: "1" }] });

    expect(error.message).not.toContain("last good");
    expect(error.message).not.toContain("..");
  });
});
