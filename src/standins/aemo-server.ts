/**
 * A loopback stand-in for AEMO's NEM summary feed. It serves
 * `GET /aemo/apps/api/report/ELEC_NEM_SUMMARY` in the shape AEMO's
 * visualisation API uses, with a price per region that tests and the demo
 * set, and the shared fault switches for failures.
 *
 * `SETTLEMENTDATE` is the end of the 5-minute dispatch interval that
 * contains the stand-in's `now`, written in NEM time (UTC+10) without an
 * offset, as AEMO writes it.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

import { NEM_REGIONS, type NemRegion } from "../aemo/schemas.js";
import { NEM_SUMMARY_PATH } from "../aemo/client.js";
import { FaultSwitch, type Fault } from "./faults.js";

const FIVE_MINUTES_MS = 5 * 60_000;
const NEM_OFFSET_MS = 10 * 3_600_000;

/** Options of {@link startAemoStandIn}. */
export interface AemoStandInOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (an ephemeral port). */
  port?: number;
  /** Time source for SETTLEMENTDATE, epoch ms; default Date.now. */
  now?: () => number;
  /** Starting prices, $/MWh; regions not listed start at 85. */
  prices?: Partial<Record<NemRegion, number>>;
}

/** Price and status the stand-in reports for one region. */
export interface RegionQuote {
  priceMwh: number;
  firm: boolean;
}

/** A running AEMO stand-in. */
export interface AemoStandIn {
  /** Base URL to pass to AemoClient, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Armed faults apply to the next matching requests. */
  faults: FaultSwitch;
  /** Sets the price of `region` in $/MWh; `firm` defaults to true. */
  setPrice(
    region: NemRegion,
    priceMwh: number,
    options?: { firm?: boolean },
  ): void;
  /** Drops `region` from the report until setPrice adds it back, as when AEMO omits a row. */
  removeRegion(region: NemRegion): void;
  /** The price each region currently reports. */
  quotes(): Partial<Record<NemRegion, RegionQuote>>;
  /** Number of requests received, faulted ones included. */
  requestCount(): number;
  /** Stops the server and drops open connections, hung ones included. */
  close(): Promise<void>;
}

/** Starts the stand-in and resolves once it listens. */
export async function startAemoStandIn(
  options: AemoStandInOptions = {},
): Promise<AemoStandIn> {
  const now = options.now ?? Date.now;
  const faults = new FaultSwitch();
  const quotes = new Map<NemRegion, RegionQuote>();
  for (const region of NEM_REGIONS) {
    quotes.set(region, {
      priceMwh: options.prices?.[region] ?? 85,
      firm: true,
    });
  }
  const sockets = new Set<Socket>();
  let requests = 0;

  const server = createServer((request, response) => {
    requests += 1;
    handle(request, response, { now, faults, quotes });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await listen(server, options.port ?? 0, options.host ?? "127.0.0.1");
  const address = server.address() as AddressInfo;
  const host =
    address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    faults,
    setPrice(region, priceMwh, priceOptions = {}) {
      if (!Number.isFinite(priceMwh)) {
        throw new RangeError(
          `price for ${region} must be a finite number of $/MWh, got ${priceMwh}`,
        );
      }
      quotes.set(region, { priceMwh, firm: priceOptions.firm ?? true });
    },
    removeRegion(region) {
      quotes.delete(region);
    },
    quotes() {
      return Object.fromEntries(quotes) as Partial<
        Record<NemRegion, RegionQuote>
      >;
    },
    requestCount: () => requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close((error) =>
          error === undefined ? resolve() : reject(error),
        );
      }),
  };
}

interface HandlerContext {
  now: () => number;
  faults: FaultSwitch;
  quotes: Map<NemRegion, RegionQuote>;
}

function handle(
  request: IncomingMessage,
  response: ServerResponse,
  context: HandlerContext,
): void {
  const path = new URL(request.url ?? "/", "http://stand-in").pathname;
  if (path !== NEM_SUMMARY_PATH) {
    sendJson(response, 404, { message: `no report at ${path}` });
    return;
  }
  if (request.method !== "GET") {
    sendJson(response, 405, {
      message: `${request.method ?? "?"} is not allowed`,
    });
    return;
  }

  const fault = context.faults.take(path);
  if (fault === undefined) {
    sendJson(response, 200, summaryBody(context));
    return;
  }
  applyFault(fault, request, response, context);
}

function applyFault(
  fault: Fault,
  request: IncomingMessage,
  response: ServerResponse,
  context: HandlerContext,
): void {
  switch (fault.kind) {
    case "timeout":
      // Keep the connection open and send nothing; close() destroys it.
      return;
    case "reset":
      request.socket.destroy();
      return;
    case "rate-limit":
      response.setHeader("Retry-After", String(fault.retryAfterSeconds ?? 30));
      sendJson(response, 429, { message: "Too many requests" });
      return;
    case "rate-limit-no-headers":
      sendJson(response, 429, { message: "Too many requests" });
      return;
    case "server-error":
      sendJson(response, 500, { message: "Internal server error" });
      return;
    case "unavailable":
      sendJson(response, 503, { message: "Service unavailable" });
      return;
    case "malformed-json":
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end('{"ELEC_NEM_SUMMARY":[{"REGIONID":"NSW1",');
      return;
    case "wrong-shape":
      sendJson(response, 200, {
        ELEC_NEM_SUMMARY: [
          { REGIONID: "NSW1", SETTLEMENTDATE: "soon", PRICE: "high" },
        ],
      });
      return;
    case "unauthorized":
      sendJson(response, 401, { message: "Unauthorized" });
      return;
    case "result-false":
      // This fault exists for Tesla writes only, so send the normal summary.
      sendJson(response, 200, summaryBody(context));
      return;
    case "slow":
      setTimeout(
        () => sendJson(response, 200, summaryBody(context)),
        fault.delayMs ?? 1_000,
      );
      return;
  }
}

function summaryBody(context: HandlerContext): unknown {
  const settlement = formatNemTime(intervalEnd(context.now()));
  const rows = NEM_REGIONS.flatMap((region, index) => {
    const quote = context.quotes.get(region);
    if (quote === undefined) {
      return [];
    }
    return {
      SETTLEMENTDATE: settlement,
      REGIONID: region,
      PRICE: quote.priceMwh,
      PRICE_STATUS: quote.firm ? "FIRM" : "NOT FIRM",
      APCFLAG: 0,
      MARKETSUSPENDEDFLAG: 0,
      TOTALDEMAND: 1_200 + 900 * index,
      NETINTERCHANGE: index % 2 === 0 ? -150.5 : 210.25,
      SCHEDULEDGENERATION: 1_000 + 800 * index,
      SEMISCHEDULEDGENERATION: 300 + 50 * index,
      INTERCONNECTORFLOWS: JSON.stringify([
        {
          name: `${region}-LINK`,
          value: 120.5,
          exportlimit: 600,
          importlimit: -500,
        },
      ]),
    };
  });
  return {
    ELEC_NEM_SUMMARY: rows,
    ELEC_NEM_SUMMARY_PRICES: [],
    ELEC_NEM_SUMMARY_MARKET_NOTICE: [],
  };
}

/** End of the 5-minute interval containing `ms`; a time on a boundary ends the interval before it. */
function intervalEnd(ms: number): number {
  return Math.ceil(ms / FIVE_MINUTES_MS) * FIVE_MINUTES_MS;
}

/** Formats epoch ms as NEM time "YYYY-MM-DDTHH:MM:SS" without an offset. */
export function formatNemTime(ms: number): string {
  return new Date(ms + NEM_OFFSET_MS).toISOString().slice(0, 19);
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(text);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
