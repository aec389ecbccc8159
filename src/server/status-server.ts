/**
 * The status server: a small HTTP API over the sync engine, plus a minimal
 * HTML status page. Routes (documented in docs/api.md):
 *
 * - `GET /health`: 200 `{"status":"ok"}` while the process serves requests.
 * - `GET /api/status`: the engine's StatusSnapshot as JSON.
 * - `POST /api/sync`: runs a manual sync and returns its SyncResult.
 * - `POST /api/auto-sync` with `{"enabled": boolean}`: turns auto-sync on or off.
 * - `GET /`: the HTML status page.
 *
 * The dashboard (src/server/web-server.ts) extends this server: it adds
 * routes, replaces `/` with the full dashboard, installs a RequestGuard for
 * its login, and serves the same routes on the ingress port through
 * {@link StatusServer.handler}.
 *
 * There is no login yet, so the server binds to 127.0.0.1 by default and
 * only people on this machine can reach it. Two guards keep other web pages
 * in a local browser from driving it: POST requests must send
 * `Content-Type: application/json` (which a cross-site form cannot, and a
 * cross-site fetch cannot without a CORS preflight this server never
 * grants), and on a loopback bind the Host header must name loopback, which
 * defeats DNS rebinding. Every JSON body passes through the log scrubber,
 * so a registered secret never leaves the process.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { z } from "zod";

import type {
  StatusSnapshot,
  SyncResult,
  SyncTrigger,
} from "../engine/types.js";
import { describeError } from "../errors.js";
import { scrubValue, type Logger } from "../log.js";
import { listen, SERVER_SETTINGS } from "./listen.js";
import { renderStatusPage } from "./status-page.js";

/** Largest request body accepted, bytes. */
const MAX_BODY_BYTES = 16 * 1024;

/** The engine methods the status server calls. */
export interface StatusEngine {
  status(): StatusSnapshot;
  syncNow(trigger: SyncTrigger): Promise<SyncResult>;
  setAutoSync(enabled: boolean): void;
}

/** Options for {@link startStatusServer}. */
export interface StatusServerOptions {
  engine: StatusEngine;
  logger: Logger;
  /** Bind address; default "127.0.0.1" (no login yet, so loopback only). */
  host?: string;
  /** TCP port; default 5001. 0 picks a free port. */
  port?: number;
  /** Checks every request after the loopback Host check; default none. */
  guard?: RequestGuard;
}

/**
 * Runs before routing with the request's method and path. Returns false
 * after answering the request itself (for example with a login redirect),
 * or throws HttpError to reject it.
 */
export type RequestGuard = (
  request: IncomingMessage,
  response: ServerResponse,
  target: { method: string; path: string },
) => Promise<boolean> | boolean;

/** A request handler registered on the server. */
export type RouteHandler = (
  request: IncomingMessage,
  response: ServerResponse,
) => Promise<void> | void;

/** A running status server. */
export interface StatusServer {
  /** Base URL, e.g. "http://127.0.0.1:5001". */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /**
   * Adds a route, for the dashboard that extends this server. Routes added
   * later win over built-in ones with the same method and path.
   */
  route(method: "GET" | "POST", path: string, handler: RouteHandler): void;
  /**
   * Returns a request listener that serves these routes behind `guard`
   * instead of the loopback Host check, for another listener such as the
   * ingress port.
   */
  handler(
    guard: RequestGuard,
  ): (request: IncomingMessage, response: ServerResponse) => void;
  /** Stops accepting connections and closes idle ones. */
  close(): Promise<void>;
}

const autoSyncBodySchema = z.strictObject({ enabled: z.boolean() });
/** A manual sync takes no parameters: no body, or an empty JSON object. */
const syncBodySchema = z.strictObject({});

/** Starts the status server and resolves once it listens. */
export async function startStatusServer(
  options: StatusServerOptions,
): Promise<StatusServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger.child({ module: "status-server" });
  const { engine } = options;
  const routes = new Map<string, RouteHandler>();
  const loopbackOnly = isLoopback(host);

  routes.set("GET /health", (_request, response) => {
    sendJson(response, 200, { status: "ok" });
  });
  routes.set("GET /api/status", (_request, response) => {
    sendJson(response, 200, engine.status());
  });
  routes.set("POST /api/sync", async (request, response) => {
    const text = await readBody(request);
    if (
      text.trim() !== "" &&
      !syncBodySchema.safeParse(parseJsonBody(text)).success
    ) {
      throw new HttpError(400, "Send an empty JSON object {} or no body.");
    }
    sendJson(response, 200, await engine.syncNow("manual"));
  });
  routes.set("POST /api/auto-sync", async (request, response) => {
    const body = parseJsonBody(await readBody(request));
    const parsed = autoSyncBodySchema.safeParse(body);
    if (!parsed.success) {
      throw new HttpError(
        400,
        'Send a JSON body {"enabled": true} or {"enabled": false}.',
      );
    }
    engine.setAutoSync(parsed.data.enabled);
    sendJson(response, 200, { autoSync: parsed.data.enabled });
  });
  routes.set("GET /", (_request, response) => {
    response.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-store",
      "Content-Security-Policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    });
    response.end(
      renderStatusPage(scrubValue(engine.status()) as StatusSnapshot),
    );
  });

  const hostGuard: RequestGuard = (request) => {
    if (!hostHeaderIsLoopback(request.headers.host)) {
      throw new HttpError(
        421,
        "This server only answers requests addressed to 127.0.0.1 or localhost.",
      );
    }
    return true;
  };
  const mainGuards: RequestGuard[] = [];
  if (loopbackOnly) {
    mainGuards.push(hostGuard);
  }
  if (options.guard !== undefined) {
    mainGuards.push(options.guard);
  }

  const server = createServer((request, response) => {
    void handle(request, response, mainGuards);
  });

  async function handle(
    request: IncomingMessage,
    response: ServerResponse,
    guards: readonly RequestGuard[],
  ): Promise<void> {
    const method = request.method ?? "GET";
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    try {
      for (const guard of guards) {
        if (!(await guard(request, response, { method, path }))) {
          return;
        }
      }
      const handler = routes.get(`${method} ${path}`);
      if (handler === undefined) {
        const known = [...routes.keys()].some((key) =>
          key.endsWith(` ${path}`),
        );
        throw known
          ? new HttpError(405, `${method} is not allowed on ${path}.`)
          : new HttpError(
              404,
              `No route for ${path}. See docs/api.md for the API.`,
            );
      }
      if (method === "POST" && !isJsonRequest(request)) {
        throw new HttpError(
          415,
          "POST requests must send Content-Type: application/json.",
        );
      }
      await handler(request, response);
      logger.debug(
        { method, path, status: response.statusCode },
        "Status request served",
      );
    } catch (error) {
      if (error instanceof HttpError) {
        logger.debug({ method, path, status: error.status }, error.message);
        sendJson(response, error.status, { error: error.message });
        return;
      }
      logger.warn({ err: error, method, path }, "Status request failed");
      if (!response.headersSent) {
        sendJson(response, 500, {
          error: `Internal error: ${describeError(error)}`,
        });
      } else {
        response.end();
      }
    }
  }

  await listen(server, options.port ?? 5001, host, SERVER_SETTINGS);

  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  // The dashboard (web-server.ts) logs the address people need, with its
  // access mode, so this line only repeats it unless nothing guards it.
  if (loopbackOnly || options.guard !== undefined) {
    logger.debug({ url }, `Status server listening at ${url}/`);
  } else {
    logger.warn(
      { url },
      `Status page at ${url}/ is reachable from the network without a login, so keep it behind a trusted proxy`,
    );
  }

  return {
    url,
    port,
    server,
    route(method, path, handler) {
      routes.set(`${method} ${path}`, handler);
    },
    handler(guard) {
      return (request, response) => {
        void handle(request, response, [guard]);
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** An error sent as JSON `{"error": message}` with its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Sends `body` as JSON after scrubbing registered secrets from it. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(scrubValue(body));
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  response.end(text);
}

function isJsonRequest(request: IncomingMessage): boolean {
  const type = request.headers["content-type"] ?? "";
  return type.split(";")[0]?.trim().toLowerCase() === "application/json";
}

/** Reads a request body as UTF-8; over 16 KiB is HttpError 413. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(
        413,
        `Request body larger than ${MAX_BODY_BYTES} bytes.`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses JSON text; invalid JSON is HttpError 400. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "The request body is not valid JSON.");
  }
}

function isLoopback(host: string): boolean {
  return (
    host === "127.0.0.1" ||
    host === "localhost" ||
    host === "::1" ||
    host.startsWith("127.")
  );
}

function hostHeaderIsLoopback(header: string | undefined): boolean {
  if (header === undefined) {
    return false;
  }
  const name = header.startsWith("[")
    ? header.slice(1, header.indexOf("]"))
    : header.split(":")[0];
  return (
    name === "localhost" ||
    name === "::1" ||
    (name?.startsWith("127.") ?? false)
  );
}
