/**
 * The dashboard's routes on top of the status API (all documented in
 * docs/api.md): the page at `/`, its assets, `GET /api/dashboard` (status,
 * controls, latest energy reading and the page's access details in one
 * call), the history routes, the live event stream and the price-event
 * controls. Query strings and bodies are parsed with zod.
 */
import type { IncomingMessage } from "node:http";

import { z } from "zod";

import { ConfigError } from "../errors.js";
import { bucketEnergy, sumEnergy } from "../history/energy.js";
import type { HistoryStore } from "../history/store.js";
import { requestContext } from "./access.js";
import type { Asset } from "./assets.js";
import type { DashboardControls } from "./controls.js";
import { controlsSnapshot } from "./controls.js";
import type { LiveEvents } from "./live-events.js";
import { ICON_SVG, PAGE_CSP, renderDashboardPage } from "./pages.js";
import {
  HttpError,
  parseJsonBody,
  readBody,
  sendJson,
  type StatusEngine,
  type StatusServer,
} from "./status-server.js";

const HOUR_MS = 3_600_000;

/** Options for {@link addDashboardRoutes}. */
export interface DashboardRoutesOptions {
  server: StatusServer;
  engine: StatusEngine;
  engineMode: "live" | "demo";
  /** Undefined when the history database could not be opened. */
  history: HistoryStore | undefined;
  controls: DashboardControls;
  events: LiveEvents;
  assets: ReadonlyMap<string, Asset>;
  /** Current time, ms. */
  now: () => number;
}

const hoursSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(24 * 31)
  .default(24);
const pricesQuerySchema = z.strictObject({ hours: hoursSchema });
const energyQuerySchema = z.strictObject({
  hours: hoursSchema,
  /** Bucket length for `intervals`, minutes. */
  bucket: z.coerce
    .number()
    .int()
    .refine((value) => [5, 15, 30, 60].includes(value), {
      message: "must be 5, 15, 30 or 60",
    })
    .default(60),
});
const syncsQuerySchema = z.strictObject({
  hours: hoursSchema,
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const enabledBodySchema = z.strictObject({ enabled: z.boolean() });
const forceBodySchema = z.strictObject({
  direction: z.enum(["charge", "discharge"]),
  /** Duration, minutes. */
  minutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
});
const emptyBodySchema = z.strictObject({});

/** Registers the page, asset, history, event and control routes. */
export function addDashboardRoutes(options: DashboardRoutesOptions): void {
  const { server, engine, controls, events } = options;

  server.route("GET", "/", (request, response) => {
    const context = requestContext(request);
    response.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-store",
      "Content-Security-Policy": PAGE_CSP,
      "X-Frame-Options": "SAMEORIGIN",
      "Referrer-Policy": "same-origin",
    });
    response.end(
      renderDashboardPage({
        basePath: context.basePath,
        csrfToken: context.csrfToken,
        access: context.mode,
        engineMode: options.engineMode,
        user: context.user,
        autoSync: options.engine.status().autoSync,
      }),
    );
  });

  for (const [name, asset] of options.assets) {
    server.route("GET", `/assets/${name}`, (_request, response) => {
      response.writeHead(200, {
        "Content-Type": asset.contentType,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      });
      response.end(asset.body);
    });
  }
  server.route("GET", "/assets/icon.svg", (_request, response) => {
    response.writeHead(200, {
      "Content-Type": "image/svg+xml",
      "Cache-Control": "max-age=86400",
    });
    response.end(ICON_SVG);
  });

  server.route("GET", "/api/dashboard", (request, response) => {
    const context = requestContext(request);
    sendJson(response, 200, {
      status: engine.status(),
      controls: controlsSnapshot(controls),
      energy: options.history?.latestEnergySample() ?? null,
      history: { available: options.history !== undefined },
      access: {
        mode: context.mode,
        csrfToken: context.csrfToken ?? null,
        user: context.user ?? null,
      },
    });
  });

  server.route("GET", "/api/history/prices", (request, response) => {
    const history = requireHistory(options.history);
    const query = parseQuery(request, pricesQuerySchema);
    const to = options.now();
    const from = to - query.hours * HOUR_MS;
    sendJson(response, 200, {
      from: iso(from),
      to: iso(to),
      prices: history.prices(from, to).map((point) => ({
        ...point,
        start: iso(point.start),
      })),
    });
  });

  server.route("GET", "/api/history/energy", (request, response) => {
    const history = requireHistory(options.history);
    const query = parseQuery(request, energyQuerySchema);
    const to = options.now();
    const from = to - query.hours * HOUR_MS;
    const intervals = history.energyIntervals(from, to);
    sendJson(response, 200, {
      from: iso(from),
      to: iso(to),
      bucketMinutes: query.bucket,
      totals: sumEnergy(intervals),
      intervals: bucketEnergy(intervals, query.bucket * 60_000).map(
        (interval) => ({ ...interval, start: iso(interval.start) }),
      ),
      samples: history
        .energySamples(from, to)
        .map((sample) => ({ ...sample, at: iso(sample.at) })),
    });
  });

  server.route("GET", "/api/history/syncs", (request, response) => {
    const history = requireHistory(options.history);
    const query = parseQuery(request, syncsQuerySchema);
    const to = options.now() + 1;
    const from = to - query.hours * HOUR_MS;
    sendJson(response, 200, {
      syncs: history
        .syncs(from, to, query.limit)
        .map((record) => ({ ...record, at: iso(record.at) })),
    });
  });

  server.route("GET", "/api/events", (request, response) => {
    events.open(request, response);
  });

  server.route("POST", "/api/controls/spike", async (request, response) => {
    const spike = controls.spike;
    if (spike === undefined) {
      throw notSetUp("Spike response");
    }
    const body = await parseBody(request, enabledBodySchema);
    await (body.enabled ? spike.enable() : spike.disable());
    sendJson(response, 200, spike.snapshot());
  });

  server.route(
    "POST",
    "/api/controls/curtailment",
    async (request, response) => {
      const curtailment = controls.curtailment;
      if (curtailment === undefined) {
        throw notSetUp("Solar curtailment");
      }
      const body = await parseBody(request, enabledBodySchema);
      await (body.enabled ? curtailment.enable() : curtailment.disable());
      sendJson(response, 200, curtailment.snapshot());
    },
  );

  server.route("POST", "/api/controls/force", async (request, response) => {
    const force = controls.force;
    if (force === undefined) {
      throw notSetUp("Force charge and discharge");
    }
    const body = await parseBody(request, forceBodySchema);
    let snapshot;
    try {
      snapshot = await force.start(body.direction, body.minutes);
    } catch (error) {
      // The control rejects a duration above its configured maximum.
      if (error instanceof ConfigError) {
        throw new HttpError(400, error.message);
      }
      throw error;
    }
    sendJson(response, 200, snapshot);
  });

  server.route(
    "POST",
    "/api/controls/force/cancel",
    async (request, response) => {
      const force = controls.force;
      if (force === undefined) {
        throw notSetUp("Force charge and discharge");
      }
      await parseBody(request, emptyBodySchema, true);
      await force.cancel();
      sendJson(response, 200, force.snapshot());
    },
  );
}

function requireHistory(history: HistoryStore | undefined): HistoryStore {
  if (history === undefined || history.closed) {
    throw new HttpError(
      503,
      "The history database is not available; the engine log says why at startup.",
    );
  }
  return history;
}

function notSetUp(what: string): HttpError {
  return new HttpError(404, `${what} is not set up in this engine.`);
}

/** Parses the query string of `request` with `schema`; a mismatch is HttpError 400. */
function parseQuery<T extends z.ZodType>(
  request: IncomingMessage,
  schema: T,
): z.output<T> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const parsed = schema.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) {
    throw new HttpError(400, `Invalid query: ${describeIssues(parsed.error)}.`);
  }
  return parsed.data;
}

/** Reads and parses a JSON body with `schema`; an empty body counts as `{}` when `emptyAllowed`. */
async function parseBody<T extends z.ZodType>(
  request: IncomingMessage,
  schema: T,
  emptyAllowed = false,
): Promise<z.output<T>> {
  const text = await readBody(request);
  const value = emptyAllowed && text.trim() === "" ? {} : parseJsonBody(text);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError(400, `Invalid body: ${describeIssues(parsed.error)}.`);
  }
  return parsed.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown key ${issue.keys.join(", ")}`
        : `${issue.path.map(String).join(".") || "(root)"} ${issue.message}`,
    )
    .join("; ");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
