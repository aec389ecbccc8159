/**
 * Turns the engine's configuration into {@link WebServerOptions}: the
 * standalone listener from `server.*`, login, ingress and history from
 * `dashboard.*`, and the live_status and Amber sources of the history.
 * Ingress is on when `dashboard.ingress` is true or, when unset, when the
 * Supervisor's SUPERVISOR_TOKEN is in the environment (the add-on).
 */
import type { ParsedConfig } from "../config/schema.js";
import type { AmberPort } from "../engine/types.js";
import type { LiveStatusSource } from "../history/recorder.js";
import type { WebServerOptions } from "./web-server.js";

/** The clients and sites the history reads from. */
export interface DashboardSources {
  tesla: LiveStatusSource;
  teslaSiteId: string;
  amber: Pick<AmberPort, "getCurrentPrices">;
  amberSiteId: string;
  /** The Amber site's billing interval, minutes. */
  intervalLength: 5 | 30;
}

/** Returns the dashboard options that `config` and `env` decide. */
export function dashboardOptionsFromConfig(
  config: ParsedConfig,
  sources: DashboardSources,
  env: Record<string, string | undefined> = process.env,
): Omit<WebServerOptions, "engine" | "logger" | "engineMode"> {
  const dashboard = config.dashboard;
  const supervisor = (env["SUPERVISOR_TOKEN"] ?? "") !== "";
  const ingress = dashboard.ingress ?? supervisor;
  const energySeconds = dashboard.energySampleSeconds;
  return {
    dataDir: config.dataDir,
    host: config.server.host,
    port: config.server.port,
    ...(dashboard.password === undefined
      ? {}
      : { password: dashboard.password }),
    ...(ingress
      ? {
          ingress: {
            port: dashboard.ingressPort,
            host: dashboard.ingressHost,
            allowedAddresses: dashboard.ingressAllowedAddresses,
          },
        }
      : {}),
    sessionTtlMs: dashboard.sessionHours * 3_600_000,
    history: {
      retentionDays: dashboard.historyDays,
      ...(energySeconds === 0
        ? {}
        : {
            energy: {
              source: sources.tesla,
              siteId: sources.teslaSiteId,
              periodMs: energySeconds * 1000,
            },
          }),
      amber: {
        port: sources.amber,
        siteId: sources.amberSiteId,
        intervalLength: sources.intervalLength,
      },
    },
  };
}
