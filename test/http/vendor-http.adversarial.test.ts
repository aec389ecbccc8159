import { inspect } from "node:util";
import { gzipSync } from "node:zlib";

import { afterEach, describe, expect, it } from "vitest";

import {
  InvalidPayloadError,
  RequestRejectedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { parseRetryAfter, VendorHttp } from "../../src/http/vendor-http.js";
import { registerSecret } from "../../src/log.js";
import { sendJson, startRawServer, type RawServer } from "./raw-server.js";

const TOKEN = "psk_adversarial_http_token_5150";
registerSecret(TOKEN);

const servers: RawServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(
  handler: Parameters<typeof startRawServer>[0],
): Promise<RawServer> {
  const server = await startRawServer(handler);
  servers.push(server);
  return server;
}

function client(
  server: RawServer,
  options: { timeoutMs?: number; maxBodyBytes?: number } = {},
): VendorHttp {
  return new VendorHttp({
    vendor: "amber",
    baseUrl: server.url,
    timeoutMs: options.timeoutMs ?? 2000,
    headers: () => ({ Authorization: `Bearer ${TOKEN}` }),
    ...(options.maxBodyBytes === undefined
      ? {}
      : { maxBodyBytes: options.maxBodyBytes }),
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the request to fail");
}

/** Renders `error` with every nested field and cause, for searching. */
function everything(error: unknown): string {
  return inspect(error, { depth: Infinity, showHidden: true });
}

describe("VendorHttp body size", () => {
  it("rejects a body over the size limit", async () => {
    const server = await serve((_request, response) => {
      sendJson(response, 200, `[${" ".repeat(20_000_000)}]`);
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain("bytes");
  });

  it("honours a smaller maxBodyBytes", async () => {
    const server = await serve((_request, response) => {
      sendJson(response, 200, `[${" ".repeat(5_000)}]`);
    });
    const error = await failure(
      client(server, { maxBodyBytes: 1000 }).send({
        method: "GET",
        path: "/sites",
      }),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain("1000 bytes");
  });
});

describe("VendorHttp odd bodies", () => {
  it("parses deeply nested JSON without a crash", async () => {
    const depth = 200_000;
    const server = await serve((_request, response) => {
      sendJson(response, 200, "[".repeat(depth) + "]".repeat(depth));
    });
    const response = await client(server).send({
      method: "GET",
      path: "/sites",
    });

    expect(Array.isArray(response.body)).toBe(true);
  });

  it("rejects an HTML page sent with 200", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/html" });
      response.end("<html><body>Bad gateway</body></html>");
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain("<html>");
  });

  it("parses JSON sent with a wrong content type", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/plain" });
      response.end("[1,2]");
    });
    const response = await client(server).send({
      method: "GET",
      path: "/sites",
    });

    expect(response.body).toEqual([1, 2]);
  });

  it("returns null for a 204", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(204);
      response.end();
    });
    const response = await client(server).send({
      method: "GET",
      path: "/sites",
    });

    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it("decodes a gzip body", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      });
      response.end(gzipSync("[42]"));
    });
    const response = await client(server).send({
      method: "GET",
      path: "/sites",
    });

    expect(response.body).toEqual([42]);
  });

  it("reports a corrupt gzip body as unavailable", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      });
      response.end(Buffer.from("this is not gzip at all"));
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
  });
});

describe("VendorHttp redirects", () => {
  it.each([301, 302, 307, 308])(
    "rejects a %i without following it",
    async (status) => {
      const elsewhere = await serve((_request, response) => {
        sendJson(response, 200, []);
      });
      const server = await serve((_request, response) => {
        sendJson(response, status, [], {
          Location: `${elsewhere.url}/sites`,
        });
      });
      const error = await failure(
        client(server).send({ method: "GET", path: "/sites" }),
      );

      expect(error).toBeInstanceOf(RequestRejectedError);
      expect((error as RequestRejectedError).status).toBe(status);
      expect((error as Error).message).toContain(elsewhere.url);
      expect(elsewhere.requests).toHaveLength(0);
    },
  );
});

describe("VendorHttp slow and broken connections", () => {
  it("times out a response that trickles forever", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.write("[");
      const timer = setInterval(() => {
        response.write(" ");
      }, 20);
      response.on("close", () => {
        clearInterval(timer);
      });
    });
    const error = await failure(
      client(server, { timeoutMs: 300 }).send({
        method: "GET",
        path: "/sites",
      }),
    );

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toContain("timed out");
  });

  it("reports a reset in the middle of the body", async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": "1000",
      });
      response.write('[{"type":"CurrentInterval",');
      setImmediate(() => request.socket.destroy());
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
  });
});

describe("VendorHttp secrets in errors", () => {
  it("keeps the token out of a transport error's causes", async () => {
    const server = await serve((request) => {
      request.socket.destroy();
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(everything(error)).not.toContain(TOKEN);
  });

  it("keeps the token out of a timeout's causes", async () => {
    const server = await serve(() => undefined);
    const error = await failure(
      client(server, { timeoutMs: 100 }).send({
        method: "GET",
        path: "/sites",
      }),
    );

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(everything(error)).not.toContain(TOKEN);
  });

  it("keeps an echoed token out of a rejection", async () => {
    const server = await serve((request, response) => {
      sendJson(response, 400, {
        message: `bad request with ${request.headers.authorization ?? ""}`,
      });
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(RequestRejectedError);
    expect(everything(error)).not.toContain(TOKEN);
  });

  it("keeps an echoed token out of a non-JSON body error", async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, { "Content-Type": "text/html" });
      response.end(`<p>${request.headers.authorization ?? ""}</p>`);
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect(everything(error)).not.toContain(TOKEN);
  });

  it("keeps the token out of a corrupt gzip error", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      });
      response.end(Buffer.from("this is not gzip at all"));
    });
    const error = await failure(
      client(server).send({ method: "GET", path: "/sites" }),
    );

    expect(everything(error)).not.toContain(TOKEN);
  });
});

describe("parseRetryAfter hostile headers", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it.each<[string, Record<string, string>, number | undefined]>([
    ["zero", { "retry-after": "0" }, 0],
    ["a past HTTP date", { "retry-after": "Wed, 31 Dec 2025 23:00:00 GMT" }, 0],
    ["garbage RateLimit-Reset", { "ratelimit-reset": "soon-ish" }, undefined],
    ["a negative RateLimit-Reset", { "ratelimit-reset": "-30" }, undefined],
    ["an empty Retry-After", { "retry-after": "" }, undefined],
  ])("reads %s", (_name, headers, expected) => {
    expect(parseRetryAfter(headers, now)).toBe(expected);
  });

  it.each<[string, Record<string, string>]>([
    ["Retry-After 1e9", { "retry-after": "1e9" }],
    ["Retry-After 99999999999", { "retry-after": "99999999999" }],
    ["RateLimit-Reset 1e9", { "ratelimit-reset": "1e9" }],
    ["a date far ahead", { "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" }],
  ])("caps %s at an hour", (_name, headers) => {
    expect(parseRetryAfter(headers, now)).toBe(3_600_000);
  });

  it("treats a negative Retry-After as no hint", () => {
    expect(parseRetryAfter({ "retry-after": "-5" }, now)).toBeUndefined();
  });
});
