/**
 * Binds an HTTP server and turns the usual bind failures into ConfigErrors
 * that name the address, the cause and the setting that changes it.
 */
import type { Server } from "node:http";

import { ConfigError } from "../errors.js";

/** The settings that choose a listener's address, as "key (VARIABLE)" text. */
export interface ListenSettings {
  port: string;
  host: string;
}

/** Settings of the status server and standalone dashboard. */
export const SERVER_SETTINGS: ListenSettings = {
  port: "server.port (TESLA_SYNC_PORT)",
  host: "server.host (TESLA_SYNC_HOST)",
};

/** Settings of the add-on's ingress listener. */
export const INGRESS_SETTINGS: ListenSettings = {
  port: "dashboard.ingressPort (TESLA_SYNC_INGRESS_PORT)",
  host: "dashboard.ingressHost (TESLA_SYNC_INGRESS_HOST)",
};

/**
 * Starts `server` listening on `host`:`port` and resolves once it does.
 * Throws ConfigError for a port in use (EADDRINUSE), a port that needs
 * privileges (EACCES) and an address this machine does not have
 * (EADDRNOTAVAIL). Any other error is rethrown as it is.
 */
export async function listen(
  server: Server,
  port: number,
  host: string,
  settings: ListenSettings,
): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    throw explainListenError(error, port, host, settings);
  }
}

function explainListenError(
  error: unknown,
  port: number,
  host: string,
  settings: ListenSettings,
): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (code) {
    case "EADDRINUSE":
      return new ConfigError(
        `Cannot listen on ${address}: another program already uses port ${port}. Stop that program (or the other Tesla Sync), or set ${settings.port} to a free port.`,
        { cause: error },
      );
    case "EACCES":
      return new ConfigError(
        `Cannot listen on ${address}: this user may not open port ${port}. Set ${settings.port} to a port above 1023.`,
        { cause: error },
      );
    case "EADDRNOTAVAIL":
      return new ConfigError(
        `Cannot listen on ${address}: ${host} is not an address of this machine. Set ${settings.host} to one of its addresses, such as 127.0.0.1 or 0.0.0.0.`,
        { cause: error },
      );
    default:
      return error;
  }
}
