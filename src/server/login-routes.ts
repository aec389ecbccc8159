/**
 * Login routes of the standalone dashboard: `GET /login` (the form),
 * `POST /login` (`{"password": "…"}` → session cookie) and `POST /logout`.
 * Attempts pass the LoginLimiter before the password is checked, so a
 * locked address gets 429 with Retry-After without costing a hash.
 */
import { z } from "zod";

import type { Logger } from "../log.js";
import { redirect, requestContext } from "./access.js";
import type { LoginLimiter } from "./login-limiter.js";
import { renderLoginPage, PAGE_CSP } from "./pages.js";
import { verifyPassword, type PasswordHash } from "./password.js";
import {
  SESSION_COOKIE,
  serializeCookie,
  type SessionStore,
} from "./sessions.js";
import {
  HttpError,
  parseJsonBody,
  readBody,
  sendJson,
  type StatusServer,
} from "./status-server.js";

const loginBodySchema = z.strictObject({
  password: z.string().min(1).max(1024),
});

/** Options for {@link addLoginRoutes}. */
export interface LoginRoutesOptions {
  server: StatusServer;
  sessions: SessionStore;
  limiter: LoginLimiter;
  /** Hash of the password; undefined when no login is possible (ingress without a password). */
  passwordHash: PasswordHash | undefined;
  /** Shown on the login page when `passwordHash` is undefined. */
  noPasswordMessage: string;
  logger: Logger;
}

/** Registers the login and logout routes on `server`. */
export function addLoginRoutes(options: LoginRoutesOptions): void {
  const { server, sessions, limiter, logger } = options;

  server.route("GET", "/login", (request, response) => {
    const context = requestContext(request);
    if (context.mode !== "login" || context.session !== undefined) {
      redirect(response, `${context.basePath}/`);
      return;
    }
    response.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-store",
      "Content-Security-Policy": PAGE_CSP,
      "X-Frame-Options": "SAMEORIGIN",
    });
    response.end(
      renderLoginPage({
        basePath: context.basePath,
        ...(options.passwordHash === undefined
          ? { message: options.noPasswordMessage }
          : {}),
      }),
    );
  });

  server.route("POST", "/login", async (request, response) => {
    const context = requestContext(request);
    if (context.mode !== "login") {
      throw new HttpError(404, "This dashboard has no login.");
    }
    const parsed = loginBodySchema.safeParse(
      parseJsonBody(await readBody(request)),
    );
    if (!parsed.success) {
      throw new HttpError(400, 'Send a JSON body {"password": "…"}.');
    }
    if (options.passwordHash === undefined) {
      throw new HttpError(403, options.noPasswordMessage);
    }

    const check = limiter.check(context.address);
    if (!check.allowed) {
      const seconds = Math.max(1, Math.ceil(check.retryAfterMs / 1000));
      response.setHeader("Retry-After", String(seconds));
      throw new HttpError(
        429,
        `Too many wrong passwords${check.scope === "global" ? " on this dashboard" : " from this address"}; try again in ${seconds} s.`,
      );
    }
    if (!(await verifyPassword(parsed.data.password, options.passwordHash))) {
      limiter.recordFailure(context.address);
      logger.debug({ address: context.address }, "Dashboard login failed");
      throw new HttpError(401, "Wrong password.");
    }

    limiter.recordSuccess(context.address);
    sessions.delete(context.sessionId);
    const { id } = sessions.create();
    response.setHeader(
      "Set-Cookie",
      serializeCookie(SESSION_COOKIE, id, {
        maxAgeSeconds: sessions.ttlMs / 1000,
        secure: context.secure,
      }),
    );
    logger.info({ address: context.address }, "Dashboard login");
    sendJson(response, 200, { loggedIn: true });
  });

  server.route("POST", "/logout", async (request, response) => {
    const context = requestContext(request);
    await readBody(request);
    sessions.delete(context.sessionId);
    response.setHeader(
      "Set-Cookie",
      serializeCookie(SESSION_COOKIE, "", {
        maxAgeSeconds: 0,
        secure: context.secure,
      }),
    );
    sendJson(response, 200, { loggedIn: false });
  });
}
