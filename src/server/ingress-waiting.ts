/**
 * The add-on's ingress port while the engine is not running: at startup,
 * while Home Assistant or the Tesla Sync integration is not ready, and
 * after a failed engine start. The Supervisor's watchdog polls `/health`
 * on this port and the sidebar panel opens `/`, so both must respond from
 * the first second. Once the engine runs, its own ingress listener
 * (web-server.ts) takes the port over.
 *
 * Routes: `GET /health` (200), `GET /api/status` (503 with the reason as
 * JSON) and `GET /` (a page that says what the engine waits for and
 * reloads every 10 s). Like the engine's ingress listener, it serves only
 * the allowed client addresses (the Supervisor's by default).
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { describeError } from "../errors.js";
import { scrubText, type Logger } from "../log.js";
import { clientAddress, normalizeAddress } from "./access.js";
import { INGRESS_SETTINGS, listen } from "./listen.js";
import { escapeHtml } from "./status-page.js";

/** Content of the waiting page. */
export interface IngressWaitingState {
  /** Short machine-readable state, such as "waiting-for-integration". */
  state: string;
  /** One or two sentences for people: what the engine waits for and what to do. */
  reason: string;
}

/** Options for {@link IngressWaitingPage}. */
export interface IngressWaitingOptions {
  /** Bind address of the ingress port, `dashboard.ingressHost`. */
  host: string;
  /** The ingress port, `dashboard.ingressPort`; 0 picks a free port. */
  port: number;
  /** Client addresses served, `dashboard.ingressAllowedAddresses`; others get 403. */
  allowedAddresses: readonly string[];
  logger: Logger;
  /** Called for every request, so the page is always current. */
  state: () => IngressWaitingState;
}

/**
 * The waiting listener on the ingress port. `open()` and `close()` may be
 * called any number of times and in any order. Each call waits for the
 * previous one, so the port is never bound twice.
 */
export class IngressWaitingPage {
  readonly #options: IngressWaitingOptions;
  readonly #allowed: ReadonlySet<string>;
  #server: Server | undefined;
  #url: string | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: IngressWaitingOptions) {
    this.#options = options;
    this.#allowed = new Set(options.allowedAddresses.map(normalizeAddress));
  }

  /** Address of the listener while it is open. */
  get url(): string | undefined {
    return this.#url;
  }

  /**
   * Starts listening unless it already does. A port that cannot be bound
   * is logged as a warning, because the engine runs without the page.
   */
  open(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#server === undefined) {
        await this.#listen();
      }
    });
  }

  /** Stops listening and drops open connections, so the engine can bind the port. */
  close(): Promise<void> {
    return this.#enqueue(async () => {
      const server = this.#server;
      this.#server = undefined;
      this.#url = undefined;
      if (server !== undefined) {
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeAllConnections();
        });
      }
    });
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #listen(): Promise<void> {
    const { host, port, logger } = this.#options;
    const server = createServer((request, response) => {
      this.#answer(request, response);
    });
    try {
      await listen(server, port, host, INGRESS_SETTINGS);
    } catch (error) {
      logger.warn(
        { host, port },
        `Could not open the ingress port while the engine waits, so Home Assistant's panel and watchdog get no response until the engine runs. ${describeError(error)}`,
      );
      return;
    }
    const bound = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#url = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;
    logger.debug({ url: this.#url }, "Ingress waiting page listening");
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    if (!this.#allowed.has(clientAddress(request))) {
      send(response, 403, "application/json", {
        error:
          "The ingress port only answers Home Assistant's ingress proxy; open Tesla Sync from the Home Assistant sidebar.",
      });
      return;
    }
    const state = this.#options.state();
    const reason = scrubText(state.reason);
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "application/json", {
        error: `${request.method ?? "This method"} is not allowed while the engine waits: ${reason}`,
      });
      return;
    }
    if (path === "/health") {
      send(response, 200, "application/json", { status: "ok" });
      return;
    }
    if (path === "/api/status") {
      send(response, 503, "application/json", {
        mode: "home-assistant",
        state: state.state,
        reason,
      });
      return;
    }
    if (path === "/") {
      send(
        response,
        200,
        "text/html; charset=utf-8",
        page(state.state, reason),
      );
      return;
    }
    send(response, 404, "application/json", {
      error: `No route for ${path} while the engine waits: ${reason}`,
    });
  }
}

function page(state: string, reason: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>Tesla Sync: waiting</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #ddd; } }
</style>
</head>
<body>
<h1>Tesla Sync is waiting</h1>
<p id="reason">${escapeHtml(reason)}</p>
<p>State: <code id="state">${escapeHtml(state)}</code>. This page reloads every 10 seconds and shows the dashboard once the engine runs.</p>
</body>
</html>
`;
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string | Record<string, unknown>,
): void {
  response.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
  });
  response.end(typeof body === "string" ? body : JSON.stringify(body));
}
