/**
 * A bare HTTP server on 127.0.0.1 for adversarial tests: each test decides
 * byte by byte what the "vendor" sends back. It records every request,
 * including its Authorization header, and close() destroys open sockets,
 * so a handler may leave a response hanging.
 */
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request as the raw server received it. */
export interface RawRequest {
  method: string;
  /** Path with the query string. */
  url: string;
  authorization: string | undefined;
  body: string;
}

/** Handles one request; `index` counts requests from 0. */
export type RawHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  index: number,
) => void;

/** A running raw server. */
export interface RawServer {
  /** Origin such as "http://127.0.0.1:40123". */
  url: string;
  requests: RawRequest[];
  close(): Promise<void>;
}

/** Starts a raw server on an ephemeral loopback port. */
export async function startRawServer(handler: RawHandler): Promise<RawServer> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const index = requests.length;
      requests.push({
        method: request.method ?? "GET",
        url: request.url ?? "/",
        authorization: request.headers.authorization,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      handler(request, response, index);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** Sends `body` as JSON with `status` and extra headers. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    ...headers,
  });
  response.end(text);
}
