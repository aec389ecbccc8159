/**
 * Supervisor discovery. When the engine runs as a Home Assistant add-on, it
 * posts a discovery message for the `tesla_sync` service to the Supervisor,
 * which passes it on to Home Assistant. Home Assistant then offers to set up
 * the integration through its config flow's `hassio` step. The message is
 * deleted again on shutdown.
 *
 * Discovery only saves the user a few clicks, so it never stops the engine:
 * each failure is logged once at warn and the engine runs on.
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { z } from "zod";

import { AuthError, describeError, RequestRejectedError } from "../errors.js";
import { withRetry } from "../http/retry.js";
import { parsePayload, VendorHttp } from "../http/vendor-http.js";
import { registerSecret, type Logger } from "../log.js";
import { systemClock, type Clock } from "../util/clock.js";

/** The Supervisor's API as add-on containers reach it. */
export const DEFAULT_SUPERVISOR_URL = "http://supervisor";

/** Service name, equal to the integration's domain and to config.yaml's `discovery` entry. */
export const DISCOVERY_SERVICE = "tesla_sync";

/**
 * The `config` of the discovery message. Home Assistant passes it to the
 * integration as `discovery_info.config`, with the add-on's name added under `addon`.
 */
export interface DiscoveryConfig {
  /** Host name of the add-on container on the Supervisor's network. */
  host: string;
  /** Port of the engine's ingress server inside the container (config.yaml `ingress_port`). */
  port: number;
  /** Version of the engine, from package.json. */
  engine_version: string;
}

/** Options of {@link SupervisorDiscovery}. */
export interface SupervisorDiscoveryOptions {
  /** The add-on's `SUPERVISOR_TOKEN`. */
  token: string;
  config: DiscoveryConfig;
  logger: Logger;
  /** Base URL of the Supervisor API. Default `http://supervisor`; tests point it at a stand-in. */
  baseUrl?: string;
  /** Timeout of each request, in milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Max attempts at publishing while the Supervisor is unreachable or returns 5xx. Default 4. */
  maxAttempts?: number;
  /** First wait between attempts, in milliseconds, doubling each time. Default 2 000. */
  retryDelayMs?: number;
  clock?: Clock;
  /** Random source for retry jitter, in [0, 1). */
  random?: () => number;
}

const publishResponseSchema = z.object({
  result: z.literal("ok"),
  data: z.object({ uuid: z.string().min(1) }),
});

/** Publishes and withdraws the engine's Supervisor discovery message. */
export class SupervisorDiscovery {
  readonly #http: VendorHttp;
  readonly #config: DiscoveryConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #random: (() => number) | undefined;
  readonly #stopping = new AbortController();
  #publishing: Promise<string | undefined> | undefined;
  #uuid: string | undefined;

  constructor(options: SupervisorDiscoveryOptions) {
    registerSecret(options.token);
    this.#config = options.config;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#retryDelayMs = options.retryDelayMs ?? 2_000;
    this.#random = options.random;
    this.#http = new VendorHttp({
      vendor: "home_assistant",
      baseUrl: options.baseUrl ?? DEFAULT_SUPERVISOR_URL,
      timeoutMs: options.timeoutMs ?? 10_000,
      headers: () => ({ Authorization: `Bearer ${options.token}` }),
    });
  }

  /** The Supervisor's id of the published message, while one is published. */
  get uuid(): string | undefined {
    return this.#uuid;
  }

  /**
   * Posts the discovery message, retrying while the Supervisor is unreachable.
   * Resolves with the message's uuid, or undefined after a failure (logged
   * once) or a {@link withdraw}. Never rejects.
   */
  publish(): Promise<string | undefined> {
    this.#publishing ??= this.#publish();
    return this.#publishing;
  }

  /**
   * Deletes the published message, after stopping a publish still in
   * progress. Failures are logged and never rejected.
   */
  async withdraw(): Promise<void> {
    this.#stopping.abort(new Error("discovery withdrawn"));
    await this.#publishing;

    const uuid = this.#uuid;
    if (uuid === undefined) {
      return;
    }
    this.#uuid = undefined;

    try {
      await this.#http.send({
        method: "DELETE",
        path: `/discovery/${encodeURIComponent(uuid)}`,
      });
      this.#logger.debug({ uuid }, "Supervisor discovery message deleted");
    } catch (error) {
      if (error instanceof RequestRejectedError && error.status === 404) {
        this.#logger.debug(
          { uuid },
          "Supervisor discovery message was already gone",
        );
        return;
      }
      this.#logger.warn(
        { uuid, err: error },
        `Failed to delete the Supervisor discovery message ${uuid}: ${describeError(error)}. Home Assistant drops it when the add-on stops.`,
      );
    }
  }

  async #publish(): Promise<string | undefined> {
    const body = { service: DISCOVERY_SERVICE, config: this.#config };
    try {
      const response = await withRetry(
        () => this.#http.send({ method: "POST", path: "/discovery", body }),
        {
          clock: this.#clock,
          maxAttempts: this.#maxAttempts,
          baseDelayMs: this.#retryDelayMs,
          maxDelayMs: 60_000,
          signal: this.#stopping.signal,
          ...(this.#random === undefined ? {} : { random: this.#random }),
          onRetry: (error, attempt, delayMs) => {
            this.#logger.debug(
              { attempt, delayMs },
              `Supervisor discovery attempt ${attempt} failed (${describeError(error)}); retrying`,
            );
          },
        },
      );
      const parsed = parsePayload(
        "home_assistant",
        "Supervisor discovery response",
        publishResponseSchema,
        response.body,
      );
      this.#uuid = parsed.data.uuid;
      this.#logger.info(
        { uuid: parsed.data.uuid, service: DISCOVERY_SERVICE },
        "Announced Tesla Sync to Home Assistant through Supervisor discovery",
      );
      return parsed.data.uuid;
    } catch (error) {
      if (this.#stopping.signal.aborted) {
        this.#logger.debug(
          "Supervisor discovery stopped before it was published",
        );
        return undefined;
      }
      this.#logger.warn(
        { err: error, service: DISCOVERY_SERVICE },
        publishFailure(error),
      );
      return undefined;
    }
  }
}

/** Returns the warning for a failed publish: what failed, and how the user gets the integration anyway. */
function publishFailure(error: unknown): string {
  const fallback =
    "Home Assistant will not offer the Tesla Sync integration by itself: add it under Settings > Devices & services.";
  if (error instanceof AuthError) {
    return `The Supervisor rejected the discovery message for ${DISCOVERY_SERVICE}: the add-on's config.yaml must list ${DISCOVERY_SERVICE} under discovery, and SUPERVISOR_TOKEN must be the add-on's own token. ${fallback}`;
  }
  const reason = describeError(error).replace(/\.+$/, "");
  return `Supervisor discovery for ${DISCOVERY_SERVICE} failed: ${reason}. ${fallback}`;
}

/** Engine details that go into the discovery message. */
export interface DiscoveryDetails {
  /** Port of the engine's ingress server. */
  port: number;
  /** Version of the engine, from package.json. */
  engineVersion: string;
}

/**
 * Creates the discovery client when the engine runs as an add-on, which it
 * recognises by `SUPERVISOR_TOKEN` in `env`. Returns undefined otherwise.
 * `TESLA_SYNC_SUPERVISOR_URL` overrides the Supervisor's address for tests.
 */
export function createSupervisorDiscovery(
  env: Readonly<Record<string, string | undefined>>,
  details: DiscoveryDetails,
  logger: Logger,
  overrides: Partial<
    Omit<SupervisorDiscoveryOptions, "token" | "config" | "logger">
  > = {},
): SupervisorDiscovery | undefined {
  const token = env["SUPERVISOR_TOKEN"];
  if (token === undefined || token === "") {
    return undefined;
  }
  const baseUrl = env["TESLA_SYNC_SUPERVISOR_URL"];
  return new SupervisorDiscovery({
    ...overrides,
    token,
    logger: logger.child({ module: "supervisor-discovery" }),
    ...(baseUrl === undefined || baseUrl === "" ? {} : { baseUrl }),
    config: {
      host: hostname(),
      port: details.port,
      engine_version: details.engineVersion,
    },
  });
}

/** Ingress port used when `TESLA_SYNC_INGRESS_PORT` is not set, as in config.yaml. */
export const DEFAULT_INGRESS_PORT = 8099;

/**
 * Starts publishing the discovery message in the background when the engine
 * runs as an add-on, and returns the client so that shutdown can call
 * `withdraw()`. Returns undefined outside an add-on. The port comes from
 * `TESLA_SYNC_INGRESS_PORT` (set by addon/run.sh, default 8099) and the
 * version from package.json.
 */
export function startSupervisorDiscovery(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): SupervisorDiscovery | undefined {
  const port = Number(env["TESLA_SYNC_INGRESS_PORT"] ?? DEFAULT_INGRESS_PORT);
  const discovery = createSupervisorDiscovery(
    env,
    {
      port: Number.isInteger(port) && port > 0 ? port : DEFAULT_INGRESS_PORT,
      engineVersion: packageVersion(),
    },
    logger,
  );
  void discovery?.publish();
  return discovery;
}

/**
 * Returns the version in the repository's package.json, found by walking up
 * from this module (src/supervisor in tests, dist/src/supervisor when built),
 * or "unknown" when no package.json of this package is found.
 */
export function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 5; level += 1) {
    const candidate = join(directory, "package.json");
    if (existsSync(candidate)) {
      const parsed = packageJsonSchema.safeParse(
        JSON.parse(readFileSync(candidate, "utf8")),
      );
      if (parsed.success && parsed.data.name === "tesla-sync") {
        return parsed.data.version;
      }
    }
    directory = dirname(directory);
  }
  return "unknown";
}

const packageJsonSchema = z.object({ name: z.string(), version: z.string() });
