/**
 * Connection settings for Home Assistant, read from the environment:
 *
 * - standalone: `TESLA_SYNC_HA_URL` (HA's address, such as
 *   http://homeassistant.local:8123) and `TESLA_SYNC_HA_TOKEN` (a
 *   long-lived access token of an admin user);
 * - as an add-on: `SUPERVISOR_TOKEN`, which the Supervisor sets when the
 *   add-on has `homeassistant_api: true`; the engine then connects to the
 *   Supervisor's proxy at ws://supervisor/core/websocket.
 *
 * `TESLA_SYNC_HA_ENTRY_ID` picks the config entry when several Tesla Sync
 * entries are loaded. When none of these is set, the engine does not run
 * in HA mode.
 */
import { ConfigError } from "../errors.js";
import { registerSecret } from "../log.js";

/** The Supervisor's proxy of HA's WebSocket API. */
export const SUPERVISOR_WS_URL = "ws://supervisor/core/websocket";

/** Settings of the connection to Home Assistant. */
export interface HaSettings {
  /** "addon" with the Supervisor token, "standalone" with a long-lived token. */
  kind: "addon" | "standalone";
  wsUrl: string;
  token: string;
  /** The config entry to serve, when several are loaded. */
  entryId: string | undefined;
  /** Advice for the log when HA rejects the token. */
  authHint: string;
}

/**
 * Reads the HA settings from `env`; undefined when HA mode is not asked
 * for. Throws ConfigError when only one of URL and token is set or the URL
 * is invalid. Registers the token with the log scrubber.
 */
export function haSettingsFromEnv(
  env: Record<string, string | undefined>,
): HaSettings | undefined {
  const url = nonEmpty(env["TESLA_SYNC_HA_URL"]);
  const token = nonEmpty(env["TESLA_SYNC_HA_TOKEN"]);
  const supervisorToken = nonEmpty(env["SUPERVISOR_TOKEN"]);
  const entryId = nonEmpty(env["TESLA_SYNC_HA_ENTRY_ID"]);

  if (url !== undefined || token !== undefined) {
    if (url === undefined) {
      throw new ConfigError(
        "TESLA_SYNC_HA_TOKEN is set but TESLA_SYNC_HA_URL is missing: set it to Home Assistant's address, such as http://homeassistant.local:8123.",
      );
    }
    if (token === undefined) {
      throw new ConfigError(
        "TESLA_SYNC_HA_URL is set but TESLA_SYNC_HA_TOKEN is missing: create a long-lived access token in your Home Assistant profile (Security tab) and set it.",
      );
    }
    registerSecret(token);
    return {
      kind: "standalone",
      wsUrl: websocketUrl(url),
      token,
      entryId,
      authHint:
        "Set TESLA_SYNC_HA_TOKEN to a long-lived access token of an admin user (profile > Security in Home Assistant).",
    };
  }
  if (supervisorToken !== undefined) {
    registerSecret(supervisorToken);
    return {
      kind: "addon",
      wsUrl: SUPERVISOR_WS_URL,
      token: supervisorToken,
      entryId,
      authHint:
        "The add-on needs homeassistant_api: true in its config.yaml; reinstall or rebuild the add-on.",
    };
  }
  return undefined;
}

/**
 * Turns HA's address into its WebSocket URL: http(s)://host:port becomes
 * ws(s)://host:port/api/websocket. A ws:// or wss:// URL with a path is
 * used as it is.
 */
export function websocketUrl(address: string): string {
  let parsed: URL;
  try {
    parsed = new URL(address);
  } catch {
    throw new ConfigError(
      `TESLA_SYNC_HA_URL="${address}" is not a URL. Set it to Home Assistant's address, such as http://homeassistant.local:8123.`,
    );
  }
  const schemes: Record<string, string> = {
    "http:": "ws:",
    "https:": "wss:",
    "ws:": "ws:",
    "wss:": "wss:",
  };
  const scheme = schemes[parsed.protocol];
  if (scheme === undefined) {
    throw new ConfigError(
      `TESLA_SYNC_HA_URL="${address}" must start with http://, https://, ws:// or wss://.`,
    );
  }
  const keepsPath =
    (parsed.protocol === "ws:" || parsed.protocol === "wss:") &&
    parsed.pathname !== "/";
  const base = parsed.pathname.replace(/\/+$/, "");
  const path = keepsPath ? parsed.pathname : `${base}/api/websocket`;
  return `${scheme}//${parsed.host}${path}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}
