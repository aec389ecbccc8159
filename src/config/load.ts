/**
 * Loads the engine's configuration from a YAML file and the `TESLA_SYNC_*`
 * environment variables (the environment wins), checks it with zod and
 * decides the mode: "demo" when no account is configured at all, "live"
 * when both Amber and Tesla access are complete. Anything in between is a
 * ConfigError naming the missing key and how to set it.
 */
import { readFile } from "node:fs/promises";

import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";

import { ConfigError } from "../errors.js";
import { registerSecret } from "../log.js";
import { configFromEnv, envNameForKey } from "./env.js";
import {
  configSchema,
  DEFAULT_TESLEMETRY_URL,
  FLEET_REGION_URLS,
  type EngineConfig,
  type ParsedConfig,
  type TeslaAccess,
} from "./schema.js";

/** Where the configuration comes from. */
export interface LoadConfigOptions {
  /** Path of a YAML file; when absent only the environment is read. */
  configFile?: string;
  /** Environment to read; default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Reads the file (if any) and the environment, and returns a checked configuration. */
export async function loadConfig(
  options: LoadConfigOptions = {},
): Promise<EngineConfig> {
  const env = options.env ?? process.env;
  const file =
    options.configFile === undefined
      ? {}
      : await readConfigFile(options.configFile);
  return resolveConfig(file, env, options.configFile);
}

/**
 * Merges `file` (a parsed YAML document) with `env`, checks the result and
 * decides the mode. Registers every secret with the logger's scrubber.
 */
export function resolveConfig(
  file: unknown,
  env: Record<string, string | undefined>,
  fileName = "the configuration",
): EngineConfig {
  if (file !== null && (typeof file !== "object" || Array.isArray(file))) {
    throw new ConfigError(
      `${fileName} must be a YAML mapping of keys such as amber: and tesla:, not ${Array.isArray(file) ? "a list" : `a ${typeof file}`}.`,
    );
  }
  const merged = deepMerge(
    (file ?? {}) as Record<string, unknown>,
    configFromEnv(env),
  );

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(describeIssues(result.error.issues, fileName));
  }
  const parsed = result.data;

  registerSecret(parsed.amber.token);
  registerSecret(parsed.tesla.token);
  registerSecret(parsed.tesla.fleet.refreshToken);
  registerSecret(parsed.dashboard.password);

  return decideMode(parsed);
}

async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === "ENOENT"
        ? `Configuration file ${path} not found. Check the --config path, or leave it out to use environment variables.`
        : `Could not read configuration file ${path} (${code ?? (error as Error).message}). Check its permissions.`,
      { cause: error },
    );
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos !== undefined
        ? ` at line ${error.linePos[0].line}`
        : "";
    throw new ConfigError(
      `Configuration file ${path} is not valid YAML${where}: ${(error as Error).message.split("\n")[0] ?? ""}. Fix the syntax and start again.`,
      { cause: error },
    );
  }
}

function decideMode(parsed: ParsedConfig): EngineConfig {
  const amberToken = parsed.amber.token;
  const teslaAccess = teslaAccessOf(parsed);
  const anyTesla =
    parsed.tesla.token !== undefined ||
    parsed.tesla.fleet.clientId !== undefined ||
    parsed.tesla.fleet.refreshToken !== undefined;

  if (amberToken === undefined && !anyTesla) {
    return { ...parsed, mode: "demo" };
  }
  if (amberToken === undefined) {
    throw missing(
      "amber.token",
      "the Amber API token from app.amber.com.au/developers",
    );
  }
  if (teslaAccess === undefined) {
    if (parsed.tesla.auth === "teslemetry") {
      throw missing(
        "tesla.token",
        "a Teslemetry access token (or set tesla.auth to fleet)",
      );
    }
    throw missing(
      parsed.tesla.fleet.clientId === undefined
        ? "tesla.fleet.clientId"
        : "tesla.fleet.refreshToken",
      "the client id and refresh token of your Tesla developer application",
    );
  }

  const teslaBaseUrl =
    parsed.tesla.baseUrl ??
    (parsed.tesla.auth === "fleet"
      ? FLEET_REGION_URLS[parsed.tesla.fleet.region]
      : DEFAULT_TESLEMETRY_URL);

  return { ...parsed, mode: "live", amberToken, teslaAccess, teslaBaseUrl };
}

function teslaAccessOf(parsed: ParsedConfig): TeslaAccess | undefined {
  if (parsed.tesla.auth === "teslemetry") {
    return parsed.tesla.token === undefined
      ? undefined
      : { kind: "teslemetry", token: parsed.tesla.token };
  }
  const { clientId, refreshToken, tokenUrl } = parsed.tesla.fleet;
  if (clientId === undefined || refreshToken === undefined) {
    return undefined;
  }
  return { kind: "fleet", clientId, refreshToken, tokenUrl };
}

function missing(key: string, what: string): ConfigError {
  const env = envNameForKey(key);
  return new ConfigError(
    `${key} is missing: set it to ${what} in the configuration file${env === undefined ? "" : ` or in ${env}`}. With no account configured at all, the engine runs the demo instead.`,
  );
}

function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  fileName: string,
): string {
  const lines = issues.slice(0, 5).map((issue) => {
    const key = issue.path.map(String).join(".") || "(root)";
    const env = envNameForKey(key);
    const source = env === undefined ? fileName : `${fileName} or ${env}`;
    if (issue.code === "unrecognized_keys") {
      const where = key === "(root)" ? "" : ` under ${key}`;
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}${where} in ${fileName}: remove or correct ${issue.keys.length > 1 ? "them" : "it"} (see docs/configuration.md)`;
    }
    return `${key}: ${issue.message} (set in ${source})`;
  });
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : "";
  return `Invalid configuration: ${lines.join("; ")}${more}.`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Returns `base` with `override` merged in; values in `override` win. */
function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = result[key];
    result[key] =
      isPlainObject(existing) && isPlainObject(value)
        ? deepMerge(existing, value)
        : value;
  }
  return result;
}
