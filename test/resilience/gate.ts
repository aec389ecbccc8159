/**
 * An HTTP forwarding proxy on 127.0.0.1 placed between a client and a
 * vendor stand-in. It adds the two things the stand-ins cannot do
 * themselves: refusing connections (the listener closes, so clients get
 * ECONNREFUSED, and reopens on the same port later with the stand-in's
 * state intact) and counting requests in flight, so a test driving a
 * virtual clock knows when no real I/O is pending.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A running gate in front of one stand-in. */
export class VendorGate {
  readonly #target: URL;
  readonly #agent = new Agent({ keepAlive: false });
  readonly #sockets = new Set<Socket>();
  readonly #idleWaiters: Array<() => void> = [];
  #server: Server | undefined;
  #port = 0;
  #inFlight = 0;
  #echoes: Array<{ remaining: number; pathIncludes: string }> = [];

  private constructor(targetOrigin: string) {
    this.#target = new URL(targetOrigin);
  }

  /** Starts a gate forwarding to `targetOrigin` (e.g. "http://127.0.0.1:41234"). */
  static async start(targetOrigin: string): Promise<VendorGate> {
    const gate = new VendorGate(targetOrigin);
    await gate.accept();
    return gate;
  }

  /** Origin of the gate, e.g. "http://127.0.0.1:40001". */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Requests received and not yet answered or abandoned. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Returns `url` (a stand-in URL) with its origin replaced by the gate's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    return `${this.origin}${parsed.pathname}${parsed.search}`.replace(
      /\/$/,
      "",
    );
  }

  /** Listens again (on the same port after the first time). */
  async accept(): Promise<void> {
    if (this.#server !== undefined) {
      return;
    }
    const server = createServer((request, response) => {
      this.#forward(request, response);
    });
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection, so new ones are refused. */
  async refuse(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) {
      return;
    }
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
  }

  /**
   * Answers the next `count` requests itself with HTTP 400 and a body that
   * quotes the request's Authorization header and body, as a careless
   * server might, so a test can check that no credential travels on into
   * an error message. Only requests whose path contains `pathIncludes`
   * count.
   */
  echoCredentials(count = 1, pathIncludes = ""): void {
    this.#echoes.push({ remaining: count, pathIncludes });
  }

  /** Echo responses armed and not yet sent. */
  get pendingEchoes(): number {
    return this.#echoes.reduce((sum, entry) => sum + entry.remaining, 0);
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
    });
  }

  /** Closes the gate for good. */
  async close(): Promise<void> {
    await this.refuse();
    this.#agent.destroy();
  }

  #forward(request: IncomingMessage, response: ServerResponse): void {
    const echo = this.#echoes.find((entry) =>
      (request.url ?? "").includes(entry.pathIncludes),
    );
    if (echo !== undefined) {
      echo.remaining -= 1;
      this.#echoes = this.#echoes.filter((entry) => entry.remaining > 0);
      this.#echo(request, response);
      return;
    }
    const finish = this.#track();

    const upstream = httpRequest({
      agent: this.#agent,
      host: this.#target.hostname,
      port: this.#target.port,
      method: request.method,
      path: request.url,
      headers: { ...request.headers, host: this.#target.host },
    });
    upstream.on("response", (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    // The stand-in dropped the connection (its "reset" fault): pass the
    // reset on to the client instead of inventing a response.
    upstream.on("error", () => {
      request.socket.destroy();
      finish();
    });
    response.on("close", () => {
      upstream.destroy();
      finish();
    });
    request.pipe(upstream);
  }

  #echo(request: IncomingMessage, response: ServerResponse): void {
    const finish = this.#track();
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.stringify({
        error: "invalid_request",
        error_description: `rejected ${request.headers.authorization ?? "(no authorization)"} with body ${Buffer.concat(chunks).toString()}`,
      });
      response.writeHead(400, { "Content-Type": "application/json" });
      response.end(body);
    });
    response.on("close", finish);
  }

  /** Counts a request in flight; returns the function that ends it, once. */
  #track(): () => void {
    this.#inFlight += 1;
    let done = false;
    return () => {
      if (done) {
        return;
      }
      done = true;
      this.#inFlight -= 1;
      if (this.#inFlight === 0) {
        for (const resolve of this.#idleWaiters.splice(0)) {
          resolve();
        }
      }
    };
  }
}
