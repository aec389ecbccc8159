/**
 * The page the status server's port shows in HA mode while the engine is
 * not running yet. It shows what the engine is waiting for (Home Assistant,
 * the Tesla Sync integration, new credentials). Once the engine starts,
 * this server closes and the engine's own status server takes the port.
 *
 * Routes: `GET /health` (200), `GET /api/status` (503 with the reason as
 * JSON), `GET /` (an HTML page that reloads every 10 s). It offers no
 * action, so it needs no login.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { escapeHtml } from "../server/status-page.js";
import { scrubText, type Logger } from "../log.js";

/** Content of the page. */
export interface WaitingState {
  /** Short state, such as "waiting-for-integration". */
  state: string;
  /** One sentence for people. */
  reason: string;
}

/** A running waiting server. */
export interface WaitingServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Options for {@link startWaitingServer}. */
export interface WaitingServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Called for every request, so the page is always current. */
  state: () => WaitingState;
}

/** Starts the waiting page and resolves once it listens. */
export async function startWaitingServer(
  options: WaitingServerOptions,
): Promise<WaitingServer> {
  const server: Server = createServer((request, response) => {
    answer(request, response, options.state());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  options.logger.debug({ url }, "Waiting page listening");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function answer(
  request: IncomingMessage,
  response: ServerResponse,
  state: WaitingState,
): void {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  const reason = scrubText(state.reason);
  if (request.method !== "GET") {
    send(
      response,
      405,
      "application/json",
      JSON.stringify({
        error: `${request.method ?? "This method"} is not allowed while the engine waits: ${reason}`,
      }),
    );
    return;
  }
  if (path === "/health") {
    send(response, 200, "application/json", JSON.stringify({ status: "ok" }));
    return;
  }
  if (path === "/api/status") {
    send(
      response,
      503,
      "application/json",
      JSON.stringify({ mode: "home-assistant", state: state.state, reason }),
    );
    return;
  }
  if (path === "/") {
    send(response, 200, "text/html; charset=utf-8", page(state.state, reason));
    return;
  }
  send(
    response,
    404,
    "application/json",
    JSON.stringify({ error: `No route for ${path} while the engine waits.` }),
  );
}

function page(state: string, reason: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>Tesla Sync: waiting</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #ddd; } }
code { font-size: 0.9em; }
</style>
</head>
<body>
<h1>Tesla Sync is waiting</h1>
<p>${escapeHtml(reason)}</p>
<p>State: <code>${escapeHtml(state)}</code>. This page reloads every 10 seconds.</p>
</body>
</html>
`;
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
): void {
  response.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
  });
  response.end(body);
}
