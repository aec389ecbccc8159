/**
 * Processes and HA API helpers for the end-to-end test: a real `hass` run
 * inside the Debian root that scripts/python-env.sh builds, the engine as
 * `node dist/src/cli.js run`, HA's onboarding and config-flow REST APIs,
 * and a WebSocket client. scripts/test-e2e.sh prepares the environment
 * and passes it in the TESLA_SYNC_E2E_* variables.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, openSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

import { z } from "zod";

import { HaConnection } from "../../src/bridge/connection.js";
import { silentLogger } from "../../src/log.js";

/** Paths that scripts/test-e2e.sh prepared. */
export interface E2eEnvironment {
  /** Temporary directory, as a host path. */
  dir: string;
  /** The same directory inside the Debian root. */
  chrootDir: string;
  /** The Debian root. */
  root: string;
  /** Python of the e2e virtualenv, inside the root. */
  python: string;
}

/** Reads the environment of scripts/test-e2e.sh; undefined when the test runs outside it. */
export function e2eEnvironment(): E2eEnvironment | undefined {
  const dir = process.env["TESLA_SYNC_E2E_DIR"];
  const chrootDir = process.env["TESLA_SYNC_E2E_CHROOT_DIR"];
  const root = process.env["TESLA_SYNC_E2E_ROOT"];
  const python = process.env["TESLA_SYNC_E2E_PYTHON"];
  if (
    dir === undefined ||
    chrootDir === undefined ||
    root === undefined ||
    python === undefined
  ) {
    return undefined;
  }
  return { dir, chrootDir, root, python };
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port =
    typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail =
        lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${detail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A child process whose output goes to a file and whose pid is recorded for the script's cleanup. */
export class ManagedProcess {
  readonly #name: string;
  readonly #pidFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);

  constructor(name: string, pidFile: string) {
    this.#name = name;
    this.#pidFile = pidFile;
  }

  get running(): boolean {
    return (
      this.#child !== undefined &&
      this.#child.exitCode === null &&
      this.#child.signalCode === null
    );
  }

  /** Starts `command`, appending its stdout and stderr to `logPath`. */
  start(
    command: string,
    args: string[],
    options: { logPath: string; env?: NodeJS.ProcessEnv; cwd?: string },
  ): void {
    const fd = openSync(options.logPath, "a");
    const child = spawn(command, args, {
      stdio: ["ignore", fd, fd],
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    closeSync(fd);
    if (child.pid !== undefined) {
      appendFileSync(this.#pidFile, `${child.pid}\n`);
    }
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        resolve(code);
      });
    });
  }

  /**
   * Sends SIGTERM and waits; SIGKILL after `graceMs`. Resolves with the exit
   * code, or null when the process was killed or was not running.
   */
  async stop(graceMs = 60_000): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running) {
      return null;
    }
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      console.warn(
        `${this.#name} did not stop within ${graceMs} ms; killing it`,
      );
      child.kill("SIGKILL");
    }, graceMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

/** Runs `hass -c DIR` inside the Debian root. */
export class HassProcess extends ManagedProcess {
  readonly #environment: E2eEnvironment;

  constructor(environment: E2eEnvironment) {
    super("hass", join(environment.dir, "pids"));
    this.#environment = environment;
  }

  /** Starts Home Assistant; its output goes to hass-output.log in the temporary directory. */
  launch(): void {
    const { root, python, chrootDir, dir } = this.#environment;
    // chroot and env both exec, so the spawned pid is Python's and SIGTERM
    // reaches Home Assistant itself.
    this.start(
      "chroot",
      [
        root,
        "/usr/bin/env",
        "-i",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=/root",
        "LANG=C.UTF-8",
        python,
        "-m",
        "homeassistant",
        "-c",
        `${chrootDir}/config`,
        "--skip-pip",
      ],
      { logPath: join(dir, "hass-output.log") },
    );
  }
}

/** Waits until HA's HTTP server responds at all. */
export async function waitForHttp(
  baseUrl: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `Home Assistant's HTTP server at ${baseUrl}`,
    async () => {
      const response = await fetch(`${baseUrl}/api/onboarding`);
      return response.status < 500 ? true : undefined;
    },
    timeoutMs,
  );
}

/** Tokens from HA's onboarding. */
export interface OnboardingTokens {
  accessToken: string;
  refreshToken: string;
}

/** Creates the owner account through the onboarding API and exchanges the auth code for tokens. */
export async function onboard(
  baseUrl: string,
  password: string,
): Promise<OnboardingTokens> {
  const clientId = `${baseUrl}/`;
  const created = await fetch(`${baseUrl}/api/onboarding/users`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_id: clientId,
      name: "E2E Owner",
      username: "e2e",
      password,
      language: "en",
    }),
  });
  if (!created.ok) {
    throw new Error(
      `POST /api/onboarding/users failed: HTTP ${created.status} ${await created.text()}`,
    );
  }
  const { auth_code: code } = z
    .object({ auth_code: z.string() })
    .parse(await created.json());
  const token = await fetch(`${baseUrl}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      client_id: clientId,
    }).toString(),
  });
  if (!token.ok) {
    throw new Error(`POST /auth/token failed: HTTP ${token.status}`);
  }
  const parsed = z
    .object({ access_token: z.string(), refresh_token: z.string() })
    .parse(await token.json());
  return {
    accessToken: parsed.access_token,
    refreshToken: parsed.refresh_token,
  };
}

/** Opens an authenticated WebSocket client (the engine's own connection class). */
export async function connectWebSocket(
  baseUrl: string,
  token: string,
): Promise<HaConnection> {
  const connection = new HaConnection({
    wsUrl: `${baseUrl.replace(/^http/, "ws")}/api/websocket`,
    token,
    logger: silentLogger,
  });
  await connection.start();
  return connection;
}

/** Sends a WebSocket command and returns its result unparsed. */
export async function command(
  connection: HaConnection,
  message: Record<string, unknown>,
): Promise<unknown> {
  return connection.send(
    { type: String(message["type"]), ...message },
    z.unknown(),
  );
}

const flowStepSchema = z.looseObject({
  type: z.string(),
  flow_id: z.string().optional(),
  step_id: z.string().optional(),
  errors: z.record(z.string(), z.string()).nullable().optional(),
  reason: z.string().optional(),
  result: z.looseObject({ entry_id: z.string() }).optional(),
});
export type FlowStep = z.infer<typeof flowStepSchema>;

/** Starts a config flow or posts one step of it through HA's REST API. */
export async function flowStep(
  baseUrl: string,
  token: string,
  path: string,
  body: Record<string, unknown>,
): Promise<FlowStep> {
  const response = await fetch(
    `${baseUrl}/api/config/config_entries/flow${path}`,
    {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify(body),
    },
  );
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`POST flow${path} failed: HTTP ${response.status} ${text}`);
  }
  return flowStepSchema.parse(JSON.parse(text));
}

/** An entity's state as `get_states` returns it. */
export interface HaState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed: string;
  last_updated: string;
}

/** Reads every state. */
export async function getStates(connection: HaConnection): Promise<HaState[]> {
  return z
    .array(
      z.object({
        entity_id: z.string(),
        state: z.string(),
        attributes: z.record(z.string(), z.unknown()),
        last_changed: z.string(),
        last_updated: z.string(),
      }),
    )
    .parse(await command(connection, { type: "get_states" }));
}

/** An entity registry entry. */
export interface RegistryEntry {
  entity_id: string;
  unique_id: string;
  platform: string;
  entity_category: string | null;
}

/** Reads the entity registry entries of one integration. */
export async function registryEntries(
  connection: HaConnection,
  platform: string,
): Promise<RegistryEntry[]> {
  const entries = z
    .array(
      z.looseObject({
        entity_id: z.string(),
        unique_id: z.string(),
        platform: z.string(),
        entity_category: z.string().nullable().optional(),
      }),
    )
    .parse(await command(connection, { type: "config/entity_registry/list" }));
  return entries
    .filter((entry) => entry.platform === platform)
    .map((entry) => ({
      entity_id: entry.entity_id,
      unique_id: entry.unique_id,
      platform: entry.platform,
      entity_category: entry.entity_category ?? null,
    }));
}
