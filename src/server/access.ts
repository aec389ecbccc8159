/**
 * Who may use the dashboard, decided before any route runs. Each listener
 * has one access mode:
 * - "open": the demo without a password, allowed only on 127.0.0.1. No
 *   login; POST requests must come from the same origin (the Origin header,
 *   when sent, names this host) and, as on every listener, carry JSON, which
 *   a cross-site form cannot send.
 * - "login": the standalone dashboard. Every route except `/health`, the
 *   login page and its assets needs a session cookie: API routes return 401
 *   JSON, pages redirect to the login page. POST requests must also carry the
 *   session's CSRF token in X-CSRF-Token and pass the same-origin check.
 * - "ingress": Home Assistant's ingress port. Only the Supervisor's
 *   addresses (172.30.32.2 by default) get an answer, everyone else 403;
 *   Home Assistant has logged the user in. The X-Ingress-Path header gives
 *   the base path the page prefixes to its URLs, and POST requests carry a
 *   per-process CSRF token that the page received.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

import { HttpError, type RequestGuard } from "./status-server.js";
import {
  parseCookies,
  SESSION_COOKIE,
  tokensEqual,
  type Session,
  type SessionStore,
} from "./sessions.js";

/** Access mode of a listener; see the file comment. */
export type AccessMode = "open" | "login" | "ingress";

/** Facts the guard established about a request, for the route handlers. */
export interface RequestContext {
  mode: AccessMode;
  /** Prefix for every URL in the page: "" or the validated X-Ingress-Path. */
  basePath: string;
  /** Token the page sends back in X-CSRF-Token; undefined in open mode. */
  csrfToken: string | undefined;
  /** The session in login mode, once logged in. */
  session: Session | undefined;
  /** Session id from the cookie, for logout. */
  sessionId: string | undefined;
  /** Display name Home Assistant sent with an ingress request. */
  user: string | undefined;
  /** Client address, without an IPv4-mapped IPv6 prefix. */
  address: string;
  /** Whether the request arrived over HTTPS, directly or per X-Forwarded-Proto. */
  secure: boolean;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

/** Returns the context the guard attached to `request`. */
export function requestContext(request: IncomingMessage): RequestContext {
  const context = contexts.get(request);
  if (context === undefined) {
    // Every listener installs a guard, so this is a wiring mistake.
    throw new Error("request reached a dashboard route without its guard");
  }
  return context;
}

/** Routes that need no login, as "METHOD /path". */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  "GET /health",
  "GET /login",
  "POST /login",
  "GET /assets/login.js",
  "GET /assets/app.css",
  "GET /assets/icon.svg",
]);

/** The Supervisor's address on the add-on network, the only ingress client by default. */
export const SUPERVISOR_INGRESS_ADDRESS = "172.30.32.2";

/** Options for {@link createStandaloneGuard}. */
export interface StandaloneGuardOptions {
  mode: "open" | "login";
  sessions: SessionStore;
}

/** Returns the guard of the standalone listener ("open" or "login" mode). */
export function createStandaloneGuard(
  options: StandaloneGuardOptions,
): RequestGuard {
  return (request, response, target) => {
    const cookies = parseCookies(request.headers.cookie);
    const sessionId = cookies.get(SESSION_COOKIE);
    const session =
      options.mode === "login" ? options.sessions.get(sessionId) : undefined;
    const context: RequestContext = {
      mode: options.mode,
      basePath: "",
      csrfToken: session?.csrfToken,
      session,
      sessionId,
      user: undefined,
      address: clientAddress(request),
      secure: isSecure(request),
    };
    contexts.set(request, context);

    const routeKey = `${target.method} ${target.path}`;
    if (target.method === "POST") {
      checkSameOrigin(request);
    }
    if (options.mode === "open" || PUBLIC_ROUTES.has(routeKey)) {
      return true;
    }
    if (session === undefined) {
      if (target.path.startsWith("/api/")) {
        throw new HttpError(
          401,
          "Log in first: open the dashboard in a browser, or POST /login with the password.",
        );
      }
      redirect(response, "/login");
      return false;
    }
    if (target.method === "POST") {
      checkCsrfToken(request, session.csrfToken);
    }
    return true;
  };
}

/** Options for {@link createIngressGuard}. */
export interface IngressGuardOptions {
  /** Client addresses allowed; default the Supervisor's. */
  allowedAddresses: readonly string[];
  /** The per-process CSRF token the ingress page receives. */
  csrfToken: string;
}

/** Returns the guard of the ingress listener. */
export function createIngressGuard(options: IngressGuardOptions): RequestGuard {
  const allowed = new Set(options.allowedAddresses.map(normalizeAddress));
  return (request, _response, target) => {
    const address = clientAddress(request);
    if (!allowed.has(address)) {
      throw new HttpError(
        403,
        "The ingress port only answers Home Assistant's ingress proxy; open Tesla Sync from the Home Assistant sidebar.",
      );
    }
    const display = headerValue(request, "x-remote-user-display-name");
    const name = headerValue(request, "x-remote-user-name");
    contexts.set(request, {
      mode: "ingress",
      basePath: ingressBasePath(headerValue(request, "x-ingress-path")),
      csrfToken: options.csrfToken,
      session: undefined,
      sessionId: undefined,
      user: display ?? name,
      address,
      secure: isSecure(request),
    });
    if (target.method === "POST") {
      checkCsrfToken(request, options.csrfToken);
    }
    return true;
  };
}

/**
 * Validates an X-Ingress-Path value and returns it without a trailing
 * slash ("" when absent). The value is written into the page, so anything
 * but path characters is rejected with HttpError 400.
 */
export function ingressBasePath(header: string | undefined): string {
  if (header === undefined || header === "" || header === "/") {
    return "";
  }
  const path = header.endsWith("/") ? header.slice(0, -1) : header;
  if (
    path.length > 256 ||
    !/^(\/[A-Za-z0-9._~-]+)+$/.test(path) ||
    path.split("/").some((part) => part === "." || part === "..")
  ) {
    throw new HttpError(
      400,
      "X-Ingress-Path must be a plain path such as /api/hassio_ingress/abc123.",
    );
  }
  return path;
}

/** Returns the client address of `request`, without an IPv4-mapped IPv6 prefix. */
export function clientAddress(request: IncomingMessage): string {
  return normalizeAddress(request.socket.remoteAddress ?? "");
}

/** Strips the IPv4-mapped IPv6 prefix ("::ffff:") from an address. */
export function normalizeAddress(address: string): string {
  return address.toLowerCase().startsWith("::ffff:") && address.includes(".")
    ? address.slice(7)
    : address;
}

/** True for a bind address reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  return (
    host === "localhost" ||
    host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** Whether the request came over HTTPS, directly or through a proxy that sets X-Forwarded-Proto: https. */
function isSecure(request: IncomingMessage): boolean {
  if ((request.socket as Partial<TLSSocket>).encrypted === true) {
    return true;
  }
  const forwarded = headerValue(request, "x-forwarded-proto");
  return forwarded?.split(",")[0]?.trim().toLowerCase() === "https";
}

/**
 * Rejects a POST that a browser marks as cross-site: an Origin header
 * naming another host than Host (or X-Forwarded-Host behind a proxy), or
 * Sec-Fetch-Site "cross-site". Clients that send neither (curl, scripts)
 * pass, because they carry no ambient browser credentials.
 */
function checkSameOrigin(request: IncomingMessage): void {
  if (headerValue(request, "sec-fetch-site") === "cross-site") {
    throw new HttpError(403, "Cross-site request rejected.");
  }
  const origin = headerValue(request, "origin");
  if (origin === undefined) {
    return;
  }
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    throw new HttpError(
      403,
      "Cross-site request rejected: invalid Origin header.",
    );
  }
  const hosts = [
    headerValue(request, "host"),
    headerValue(request, "x-forwarded-host")?.split(",")[0]?.trim(),
  ].map((host) => host?.toLowerCase());
  if (!hosts.includes(originHost)) {
    throw new HttpError(
      403,
      `Cross-site request rejected: Origin ${origin} is not this dashboard.`,
    );
  }
}

function checkCsrfToken(request: IncomingMessage, expected: string): void {
  if (!tokensEqual(headerValue(request, "x-csrf-token"), expected)) {
    throw new HttpError(
      403,
      "Missing or wrong X-CSRF-Token header; reload the dashboard and try again.",
    );
  }
}

function headerValue(
  request: IncomingMessage,
  name: string,
): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Sends a redirect to `location`. */
export function redirect(response: ServerResponse, location: string): void {
  response.writeHead(302, { Location: location, "Cache-Control": "no-store" });
  response.end();
}
