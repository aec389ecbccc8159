/**
 * A stand-in for the Home Assistant Supervisor's discovery API on 127.0.0.1.
 * Its responses have the Supervisor's shape: `{"result": "ok", "data": {...}}` on
 * success, `{"result": "error", "message": ...}` with 400, 401, 403 or 404
 * on failure, and 403 for a service the add-on does not list under discovery.
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { z } from "zod";

/** One request the stand-in received. */
export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/** Faults the next requests meet. */
export interface SupervisorFaults {
  /** Number of requests to fail with HTTP 500 before responding normally. */
  failNext: number;
  /** Makes POST /discovery return a body without the Supervisor's `data.uuid`. */
  malformedPublish: boolean;
  /** Makes DELETE return HTTP 500. */
  failDelete: boolean;
  /** When set, POST /discovery waits for this promise before it responds. */
  holdPublish: Promise<void> | undefined;
}

export interface SupervisorStandIn {
  url: string;
  /** Requests handled so far. */
  requests: RecordedRequest[];
  /** Requests received so far, including those still held. */
  readonly arrivals: number;
  /** Published messages by uuid. */
  messages: Map<string, { service: string; config: Record<string, unknown> }>;
  faults: SupervisorFaults;
  close(): Promise<void>;
}

const discoveryBody = z.strictObject({
  service: z.string(),
  config: z.record(z.string(), z.unknown()),
});

/**
 * Starts the stand-in. `token` is the add-on's SUPERVISOR_TOKEN and
 * `services` the add-on's config.yaml `discovery` list.
 */
export async function startSupervisorStandIn(options: {
  token: string;
  services: string[];
}): Promise<SupervisorStandIn> {
  const requests: RecordedRequest[] = [];
  const messages: SupervisorStandIn["messages"] = new Map();
  const faults: SupervisorFaults = {
    failNext: 0,
    malformedPublish: false,
    failDelete: false,
    holdPublish: undefined,
  };

  let arrivals = 0;
  const server = createServer((request, response) => {
    arrivals += 1;
    void readBody(request)
      .then(async (text) => {
        if (request.method === "POST" && faults.holdPublish !== undefined) {
          await faults.holdPublish;
        }
        return text;
      })
      .then((text) => {
        handle(request, response, text);
      });
  });

  function reply(
    response: ServerResponse,
    status: number,
    payload: unknown,
  ): void {
    response.writeHead(status, { "Content-Type": "application/json" });
    response.end(JSON.stringify(payload));
  }

  function handle(
    request: IncomingMessage,
    response: ServerResponse,
    text: string,
  ): void {
    const path = request.url ?? "/";
    let body: unknown;
    try {
      body = text === "" ? undefined : (JSON.parse(text) as unknown);
    } catch {
      body = text;
    }
    requests.push({
      method: request.method ?? "",
      path,
      authorization: request.headers.authorization,
      body,
    });

    if (faults.failNext > 0) {
      faults.failNext -= 1;
      reply(response, 500, { result: "error", message: "Supervisor is busy" });
      return;
    }
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      reply(response, 401, { result: "error", message: "Unauthorized" });
      return;
    }

    if (request.method === "POST" && path === "/discovery") {
      const parsed = discoveryBody.safeParse(body);
      if (!parsed.success) {
        reply(response, 400, {
          result: "error",
          message: "Invalid discovery message",
        });
        return;
      }
      if (!options.services.includes(parsed.data.service)) {
        reply(response, 403, {
          result: "error",
          message:
            "Add-ons must list services they provide via discovery in their config!",
        });
        return;
      }
      if (faults.malformedPublish) {
        reply(response, 200, { result: "ok", data: {} });
        return;
      }
      const uuid = randomUUID().replaceAll("-", "");
      messages.set(uuid, parsed.data);
      reply(response, 200, { result: "ok", data: { uuid } });
      return;
    }

    const deleteMatch = /^\/discovery\/([^/]+)$/.exec(path);
    if (request.method === "DELETE" && deleteMatch?.[1] !== undefined) {
      if (faults.failDelete) {
        reply(response, 500, {
          result: "error",
          message: "Supervisor is busy",
        });
        return;
      }
      if (!messages.delete(deleteMatch[1])) {
        reply(response, 404, {
          result: "error",
          message: "Discovery message not found",
        });
        return;
      }
      reply(response, 200, { result: "ok", data: {} });
      return;
    }

    reply(response, 404, { result: "error", message: "Not found" });
  }

  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get arrivals() {
      return arrivals;
    },
    messages,
    faults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error === undefined) {
            resolve();
          } else {
            reject(error);
          }
        });
        server.closeAllConnections();
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
