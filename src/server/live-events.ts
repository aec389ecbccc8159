/**
 * Server-Sent Events for the dashboard (`GET /api/events`): the page keeps
 * one stream open and receives `status` (the engine's status snapshot),
 * `sync` (a sync result), `energy` (a live_status reading) and `controls`
 * (spike, curtailment and force state) as they happen. Status snapshots
 * that arrive in the same turn of the event loop are sent once. A comment
 * line every 25 s keeps proxies from closing an idle stream. Every payload
 * passes through the secret scrubber.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import { scrubValue, type Logger } from "../log.js";
import type { Clock } from "../util/clock.js";

/** Event names sent on the stream. */
export type LiveEventName = "status" | "sync" | "energy" | "controls";

/** Time between keep-alive comments, ms. */
const KEEP_ALIVE_MS = 25_000;

/** The open event streams and what feeds them. */
export class LiveEvents {
  readonly #clients = new Set<ServerResponse>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #pending = new Map<LiveEventName, () => unknown>();
  readonly #controller = new AbortController();
  #flushScheduled = false;
  #keepAlive: Promise<void> | undefined;

  constructor(options: { clock: Clock; logger: Logger }) {
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** Number of open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** Turns `response` into an event stream until the client goes away. */
  open(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      // Stops nginx-style proxies (and HA's ingress) from buffering the stream.
      "X-Accel-Buffering": "no",
    });
    response.write("retry: 5000\n\n");
    this.#clients.add(response);
    request.on("close", () => {
      this.#clients.delete(response);
    });
    this.#keepAlive ??= this.#keepAliveLoop();
  }

  /**
   * Queues `name` with a payload computed when the queue is flushed, so a
   * burst of status changes sends one snapshot.
   */
  publish(name: LiveEventName, payload: () => unknown): void {
    if (this.#clients.size === 0) {
      return;
    }
    this.#pending.set(name, payload);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** Ends every stream and the keep-alive loop. */
  async close(): Promise<void> {
    this.#controller.abort(new Error("live events closed"));
    for (const client of this.#clients) {
      client.end();
    }
    this.#clients.clear();
    await this.#keepAlive;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const events = [...this.#pending];
    this.#pending.clear();
    for (const [name, payload] of events) {
      let data: string;
      try {
        data = JSON.stringify(scrubValue(payload()));
      } catch (error) {
        this.#logger.warn({ err: error, event: name }, "Live event not sent");
        continue;
      }
      this.#write(`event: ${name}\ndata: ${data}\n\n`);
    }
  }

  #write(text: string): void {
    for (const client of this.#clients) {
      if (!client.writableEnded) {
        client.write(text);
      }
    }
  }

  async #keepAliveLoop(): Promise<void> {
    const signal = this.#controller.signal;
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(KEEP_ALIVE_MS, signal);
      } catch {
        return;
      }
      this.#write(": keep-alive\n\n");
    }
  }
}
