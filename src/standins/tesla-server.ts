/**
 * A loopback stand-in for Tesla's Fleet API energy endpoints and its OAuth
 * token endpoint, for tests and the demo. It serves one or more simulated
 * Powerwall sites (see powerwall-model.ts), checks writes as Tesla does,
 * records accepted writes in order, limits each token to 30 requests per
 * 60 s as Teslemetry does, and takes armed faults from a FaultSwitch.
 *
 * It has two auth modes. "teslemetry" accepts one static token. "fleet"
 * accepts access tokens issued by its own token endpoint, which rotates the
 * refresh token on every grant and rejects a refresh token used twice.
 */
import { randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { DateTime } from "luxon";

import { ConfigError } from "../errors.js";
import {
  EXPORT_RULES,
  OPERATION_MODES,
  type ExportRule,
  type OperationMode,
} from "../tesla/schemas.js";
import type { Clock } from "../util/clock.js";
import { FaultSwitch, type Fault } from "./faults.js";
import {
  advancePowerwall,
  chargePercent,
  createPowerwallState,
  type PowerwallSettings,
  type PowerwallSpec,
  type PowerwallState,
} from "./powerwall-model.js";

/** Path of the OAuth token endpoint, as on Tesla's fleet-auth host. */
export const STAND_IN_TOKEN_PATH = "/oauth2/v3/token";

/** One simulated energy site. */
export interface TeslaStandInSiteOptions {
  /** energy_site_id; default 1000000000001 plus the site's index. */
  siteId?: number;
  siteName?: string;
  /** Overrides the server-wide `timeZone` for this site. */
  timeZone?: string;
  /** tariff_content_v2 on the site at start; default a two-rate TOU tariff. */
  tariff?: Record<string, unknown>;
  settings?: Partial<PowerwallSettings>;
  /** Starting charge, percent; default 50. */
  socPercent?: number;
  spec?: Partial<Omit<PowerwallSpec, "timeZone">>;
}

/** Options for startTeslaStandIn. */
export interface TeslaStandInOptions {
  /** "teslemetry" (one static token) or "fleet" (tokens from the OAuth endpoint). */
  authMode: "teslemetry" | "fleet";
  /** The Teslemetry token accepted in "teslemetry" mode; default random. */
  token?: string;
  /** The client id the token endpoint accepts; default "stand-in-client". */
  clientId?: string;
  /** The first valid refresh token in "fleet" mode; default random. */
  initialRefreshToken?: string;
  /** Lifetime of issued access tokens, ms; default 8 hours. */
  accessTokenTtlMs?: number;
  /**
   * installation_time_zone of every site; default "Australia/Sydney". An
   * empty string is served as Tesla sometimes does, and the model then
   * runs on Australia/Sydney.
   */
  timeZone?: string;
  /** Sites to serve; default one site. */
  sites?: TeslaStandInSiteOptions[];
  /** Whether the product list also carries a vehicle, as real accounts do; default true. */
  includeVehicle?: boolean;
  /** Time source for token expiry, rate limits and the model; `now` wins over `clock`. */
  clock?: Pick<Clock, "now">;
  now?: () => number;
  /** Requests allowed per token per window, or false for no limit; default 30 per 60000 ms. */
  rateLimit?: { requests: number; windowMs: number } | false;
  /** Whether every API request gets HTTP 421, as from a Fleet host of the wrong region. */
  misdirected?: boolean;
  /** Called for every request before the response is sent; may be async. */
  onRequest?: (request: StandInRequestInfo) => void | Promise<void>;
  /** TCP port; default 0 (ephemeral). */
  port?: number;
  /** Listen address; default "127.0.0.1". */
  host?: string;
}

/** Request details passed to onRequest. */
export interface StandInRequestInfo {
  at: number;
  method: string;
  path: string;
  /** Bearer token from the Authorization header, if any. */
  token: string | undefined;
  /** Raw request body. */
  body: string;
}

/** An accepted write, in arrival order. */
export interface StandInWrite {
  at: number;
  siteId: number;
  /** Last path segment, e.g. "time_of_use_settings". */
  endpoint: string;
  /** The parsed request body. */
  body: unknown;
}

/** One request and its response status (0 when no response was sent). */
export interface StandInRequestRecord {
  at: number;
  method: string;
  path: string;
  status: number;
}

/** A site's state in the stand-in. */
export interface StandInSiteState {
  siteId: number;
  tariff: Record<string, unknown>;
  settings: PowerwallSettings;
  /** The model advanced to now. */
  powerwall: PowerwallState;
}

/** A running stand-in. */
export interface TeslaStandIn {
  /** API base URL, e.g. "http://127.0.0.1:40123". */
  url: string;
  /** Token endpoint URL for FleetOAuthProvider. */
  tokenUrl: string;
  /** energy_site_id of the first site. */
  siteId: number;
  siteIds: number[];
  /** The static token in "teslemetry" mode. */
  token: string | undefined;
  /** The client id the token endpoint accepts. */
  clientId: string;
  writes: StandInWrite[];
  requests: StandInRequestRecord[];
  faults: FaultSwitch;
  /** Returns a site's state; default the first site. */
  state(siteId?: number): StandInSiteState;
  /** Returns the one refresh token the token endpoint accepts now. */
  currentRefreshToken(): string;
  /** Returns the number of refresh grants that issued new tokens. */
  tokenGrants(): number;
  /** Makes every issued access token expired, so the next API call gets 401. */
  expireAccessTokens(): void;
  close(): Promise<void>;
}

interface SiteRecord {
  siteId: number;
  siteName: string;
  /** Served as installation_time_zone; may be "". */
  servedTimeZone: string;
  tariff: Record<string, unknown>;
  model: PowerwallState;
  modelAt: number;
}

interface Reply {
  status: number;
  body?: unknown;
  /** Body sent as is, not as JSON. */
  rawBody?: string;
  headers?: Record<string, string>;
}

const DEFAULT_TIME_ZONE = "Australia/Sydney";
const MAX_BODY_BYTES = 1_000_000;
const WRITE_ENDPOINTS = new Set([
  "time_of_use_settings",
  "grid_import_export",
  "operation",
  "backup",
]);

/** Starts the stand-in on loopback and resolves once it listens. */
export async function startTeslaStandIn(
  options: TeslaStandInOptions,
): Promise<TeslaStandIn> {
  const standIn = new TeslaStandInServer(options);
  return standIn.listen(options.port ?? 0, options.host ?? "127.0.0.1");
}

class TeslaStandInServer {
  readonly #options: TeslaStandInOptions;
  readonly #now: () => number;
  readonly #sites: SiteRecord[];
  readonly #faults = new FaultSwitch();
  readonly #writes: StandInWrite[] = [];
  readonly #requests: StandInRequestRecord[] = [];
  readonly #staticToken: string | undefined;
  readonly #clientId: string;
  readonly #accessTtlMs: number;
  /** Issued access tokens and their expiry, ms since the epoch. */
  readonly #accessTokens = new Map<string, number>();
  /** Request times per token, for the rate limit. */
  readonly #recentRequests = new Map<string, number[]>();
  #refreshToken: string;
  #grants = 0;
  #server: Server | undefined;
  /** Running "slow" delays; close() ends each with false. */
  readonly #delays = new Map<NodeJS.Timeout, (elapsed: boolean) => void>();

  constructor(options: TeslaStandInOptions) {
    this.#options = options;
    const clock = options.clock;
    this.#now = options.now ?? (clock ? () => clock.now() : () => Date.now());
    this.#staticToken =
      options.authMode === "teslemetry"
        ? (options.token ?? `stand-in-teslemetry-${randomHex()}`)
        : undefined;
    this.#clientId = options.clientId ?? "stand-in-client";
    this.#refreshToken =
      options.initialRefreshToken ?? `stand-in-refresh-${randomHex()}`;
    this.#accessTtlMs = options.accessTokenTtlMs ?? 8 * 3_600_000;

    const siteOptions = options.sites ?? [{}];
    if (siteOptions.length === 0) {
      throw new ConfigError(
        "The Tesla stand-in needs at least one site; leave `sites` unset for one default site.",
      );
    }
    const now = this.#now();
    this.#sites = siteOptions.map((site, index) =>
      this.#createSite(site, index, now),
    );
  }

  async listen(port: number, host: string): Promise<TeslaStandIn> {
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          response.writeHead(500, { "Content-Type": "application/json" });
          response.end(
            JSON.stringify({ response: null, error: String(error) }),
          );
        }
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });

    const address = server.address() as AddressInfo;
    const url = `http://${host}:${address.port}`;
    return {
      url,
      tokenUrl: `${url}${STAND_IN_TOKEN_PATH}`,
      siteId: this.#firstSite().siteId,
      siteIds: this.#sites.map((site) => site.siteId),
      token: this.#staticToken,
      clientId: this.#clientId,
      writes: this.#writes,
      requests: this.#requests,
      faults: this.#faults,
      state: (siteId) => this.#state(siteId),
      currentRefreshToken: () => this.#refreshToken,
      tokenGrants: () => this.#grants,
      expireAccessTokens: () => {
        for (const token of this.#accessTokens.keys()) {
          this.#accessTokens.set(token, Number.NEGATIVE_INFINITY);
        }
      },
      close: () => this.#close(),
    };
  }

  #firstSite(): SiteRecord {
    const first = this.#sites[0];
    if (first === undefined) {
      throw new ConfigError("The Tesla stand-in has no sites.");
    }
    return first;
  }

  #createSite(
    site: TeslaStandInSiteOptions,
    index: number,
    now: number,
  ): SiteRecord {
    const servedTimeZone =
      site.timeZone ?? this.#options.timeZone ?? DEFAULT_TIME_ZONE;
    const modelTimeZone =
      servedTimeZone === "" ? DEFAULT_TIME_ZONE : servedTimeZone;
    if (!DateTime.now().setZone(modelTimeZone).isValid) {
      throw new ConfigError(
        `Stand-in time zone "${modelTimeZone}" is not an IANA zone; use a name such as Australia/Sydney.`,
      );
    }
    return {
      siteId: site.siteId ?? 1_000_000_000_001 + index,
      siteName: site.siteName ?? `Stand-in site ${index + 1}`,
      servedTimeZone,
      tariff: structuredClone(site.tariff ?? defaultTariff()),
      model: createPowerwallState(
        { ...site.spec, timeZone: modelTimeZone },
        site.settings,
        site.socPercent,
      ),
      modelAt: now,
    };
  }

  async #handle(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const at = this.#now();
    const method = request.method ?? "GET";
    const path = new URL(request.url ?? "/", "http://stand-in").pathname;
    const record: StandInRequestRecord = { at, method, path, status: 0 };
    this.#requests.push(record);

    const body = await readBody(request);
    if (body === undefined) {
      this.#send(response, record, {
        status: 413,
        body: errorBody("payload_too_large", "Body over 1 MB"),
      });
      return;
    }
    const token = bearerToken(request.headers.authorization);
    await this.#options.onRequest?.({ at, method, path, token, body });

    const fault = this.#faults.take(path);
    if (fault !== undefined) {
      const handled = await this.#applyFault(fault, request, response, record);
      if (handled) {
        return;
      }
    }

    const reply =
      path === STAND_IN_TOKEN_PATH
        ? this.#handleToken(method, body)
        : this.#handleApi(method, path, token, body, fault);
    this.#send(response, record, reply);
  }

  /** Applies `fault`; returns false when the request then gets its normal response. */
  async #applyFault(
    fault: Fault,
    request: IncomingMessage,
    response: ServerResponse,
    record: StandInRequestRecord,
  ): Promise<boolean> {
    const isToken = record.path === STAND_IN_TOKEN_PATH;
    switch (fault.kind) {
      case "timeout":
        // Leave the request open; close() drops the connection.
        return true;
      case "reset":
        request.socket.destroy();
        return true;
      case "rate-limit":
        this.#send(response, record, {
          status: 429,
          body: errorBody("rate_limited", "Too many requests"),
          headers: { "Retry-After": String(fault.retryAfterSeconds ?? 30) },
        });
        return true;
      case "rate-limit-no-headers":
        this.#send(response, record, {
          status: 429,
          body: errorBody("rate_limited", "Too many requests"),
        });
        return true;
      case "server-error":
        this.#send(response, record, {
          status: 500,
          body: errorBody("internal_error", "Internal server error"),
        });
        return true;
      case "unavailable":
        this.#send(response, record, {
          status: 503,
          body: errorBody("service_unavailable", "Service unavailable"),
        });
        return true;
      case "malformed-json":
        this.#send(response, record, {
          status: 200,
          rawBody: "<html><body>Bad gateway</body></html>",
        });
        return true;
      case "wrong-shape":
        this.#send(response, record, {
          status: 200,
          body: isToken
            ? { unexpected: true }
            : { response: { unexpected: true } },
        });
        return true;
      case "unauthorized":
        this.#send(response, record, {
          status: 401,
          body: errorBody(
            "invalid_token",
            "The access token is invalid or has expired",
          ),
        });
        return true;
      case "slow":
        // After close() the request is dropped instead of getting a late response.
        return !(await this.#delay(fault.delayMs ?? 1000));
      case "result-false":
        // Handled in #handleApi for writes; reads get their normal response.
        return false;
    }
  }

  #handleToken(method: string, body: string): Reply {
    if (this.#options.authMode !== "fleet" || method !== "POST") {
      return { status: 404, body: errorBody("not_found", "Not found") };
    }
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "refresh_token") {
      return {
        status: 400,
        body: errorBody(
          "unsupported_grant_type",
          "Only refresh_token is supported",
        ),
      };
    }
    if (form.get("client_id") !== this.#clientId) {
      return {
        status: 400,
        body: errorBody("invalid_client", "Unknown client_id"),
      };
    }
    if (form.get("refresh_token") !== this.#refreshToken) {
      return {
        status: 400,
        body: errorBody("invalid_grant", "login_required"),
      };
    }

    const accessToken = `stand-in-access-${randomHex()}`;
    this.#refreshToken = `stand-in-refresh-${randomHex()}`;
    this.#accessTokens.set(accessToken, this.#now() + this.#accessTtlMs);
    this.#grants += 1;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        refresh_token: this.#refreshToken,
        expires_in: Math.round(this.#accessTtlMs / 1000),
        token_type: "Bearer",
      },
    };
  }

  #handleApi(
    method: string,
    path: string,
    token: string | undefined,
    body: string,
    fault: Fault | undefined,
  ): Reply {
    if (!path.startsWith("/api/1/")) {
      return { status: 404, body: errorBody("not_found", "Not found") };
    }
    if (!this.#isAuthorized(token)) {
      return {
        status: 401,
        body: errorBody(
          "invalid_token",
          "The access token is invalid or has expired",
        ),
      };
    }
    const limited = this.#rateLimit(token ?? "");
    if (limited !== undefined) {
      return limited;
    }
    if (this.#options.misdirected === true) {
      return {
        status: 421,
        body: errorBody(
          "user out of region",
          "Use the base URL of the account's region",
        ),
      };
    }

    if (path === "/api/1/products" && method === "GET") {
      return { status: 200, body: this.#products() };
    }
    const match = /^\/api\/1\/energy_sites\/(\d+)\/([a-z_]+)$/.exec(path);
    const site = this.#sites.find(
      (candidate) => String(candidate.siteId) === match?.[1],
    );
    const endpoint = match?.[2] ?? "";
    if (site === undefined) {
      return {
        status: 404,
        body: errorBody("not_found", "Unknown energy site"),
      };
    }
    this.#advance(site);

    if (method === "GET" && endpoint === "site_info") {
      return { status: 200, body: { response: this.#siteInfo(site) } };
    }
    if (method === "GET" && endpoint === "live_status") {
      return { status: 200, body: { response: this.#liveStatus(site) } };
    }
    if (method === "POST" && WRITE_ENDPOINTS.has(endpoint)) {
      if (fault?.kind === "result-false") {
        return {
          status: 200,
          body: {
            response: {
              result: false,
              reason: fault.reason ?? "The energy site rejected the request",
            },
          },
        };
      }
      return this.#write(site, endpoint, body);
    }
    return { status: 404, body: errorBody("not_found", "Not found") };
  }

  #isAuthorized(token: string | undefined): boolean {
    if (token === undefined) {
      return false;
    }
    if (this.#options.authMode === "teslemetry") {
      return token === this.#staticToken;
    }
    const expiresAt = this.#accessTokens.get(token);
    return expiresAt !== undefined && this.#now() < expiresAt;
  }

  /** Counts the request against the token's window; returns a 429 when over the limit. */
  #rateLimit(token: string): Reply | undefined {
    const limit = this.#options.rateLimit ?? { requests: 30, windowMs: 60_000 };
    if (limit === false) {
      return undefined;
    }
    const now = this.#now();
    const recent = (this.#recentRequests.get(token) ?? []).filter(
      (time) => time > now - limit.windowMs,
    );
    const oldest = recent[0];
    if (recent.length >= limit.requests && oldest !== undefined) {
      this.#recentRequests.set(token, recent);
      const waitSeconds = Math.max(
        1,
        Math.ceil((oldest + limit.windowMs - now) / 1000),
      );
      return {
        status: 429,
        body: errorBody(
          "rate_limited",
          `Limit of ${limit.requests} requests per ${limit.windowMs / 1000} s reached`,
        ),
        headers: { "Retry-After": String(waitSeconds) },
      };
    }
    recent.push(now);
    this.#recentRequests.set(token, recent);
    return undefined;
  }

  #write(site: SiteRecord, endpoint: string, text: string): Reply {
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return {
        status: 400,
        body: errorBody("invalid_request", "Body is not JSON"),
      };
    }
    const fields = asRecord(body) ?? {};
    const settings = { ...site.model.settings };

    switch (endpoint) {
      case "time_of_use_settings": {
        const tariff = asRecord(
          asRecord(fields["tou_settings"])?.["tariff_content_v2"],
        );
        if (tariff === undefined) {
          return {
            status: 400,
            body: errorBody(
              "invalid_field",
              "tou_settings.tariff_content_v2 is required",
            ),
          };
        }
        site.tariff = clampNegativeRates(tariff);
        break;
      }
      case "grid_import_export": {
        const rule = fields["customer_preferred_export_rule"];
        const disallow =
          fields["disallow_charge_from_grid_with_solar_installed"];
        const ruleValid = rule === undefined || isExportRule(rule);
        const disallowValid =
          disallow === undefined || typeof disallow === "boolean";
        if (
          (rule === undefined && disallow === undefined) ||
          !ruleValid ||
          !disallowValid
        ) {
          return {
            status: 400,
            body: errorBody(
              "invalid_field",
              "Send customer_preferred_export_rule (never, pv_only, battery_ok) and/or disallow_charge_from_grid_with_solar_installed (boolean)",
            ),
          };
        }
        if (isExportRule(rule)) {
          settings.exportRule = rule;
        }
        if (typeof disallow === "boolean") {
          settings.gridChargingAllowed = !disallow;
        }
        break;
      }
      case "operation": {
        const mode = fields["default_real_mode"];
        if (!isOperationMode(mode)) {
          return {
            status: 400,
            body: errorBody(
              "invalid_field",
              "default_real_mode must be self_consumption, autonomous or backup",
            ),
          };
        }
        settings.operationMode = mode;
        break;
      }
      case "backup": {
        const percent = fields["backup_reserve_percent"];
        if (typeof percent !== "number" || !(percent >= 0 && percent <= 100)) {
          return {
            status: 400,
            body: errorBody(
              "invalid_field",
              "backup_reserve_percent must be a number from 0 to 100",
            ),
          };
        }
        settings.backupReservePercent = percent;
        break;
      }
    }

    site.model = { ...site.model, settings };
    this.#writes.push({ at: this.#now(), siteId: site.siteId, endpoint, body });
    const result =
      endpoint === "operation" || endpoint === "backup"
        ? { code: 201, message: "Updated" }
        : { result: true, reason: "" };
    return { status: 200, body: { response: result } };
  }

  #advance(site: SiteRecord): void {
    const now = this.#now();
    site.model = advancePowerwall(
      site.model,
      Math.max(0, now - site.modelAt),
      site.tariff,
      now,
    );
    site.modelAt = now;
  }

  #state(siteId?: number): StandInSiteState {
    const site =
      siteId === undefined
        ? this.#firstSite()
        : this.#sites.find((candidate) => candidate.siteId === siteId);
    if (site === undefined) {
      throw new ConfigError(
        `Energy site ${String(siteId)} not found in the stand-in; use one of ${this.#sites.map((candidate) => candidate.siteId).join(", ")}.`,
      );
    }
    const now = this.#now();
    const powerwall = advancePowerwall(
      site.model,
      Math.max(0, now - site.modelAt),
      site.tariff,
      now,
    );
    return {
      siteId: site.siteId,
      tariff: structuredClone(site.tariff),
      settings: { ...powerwall.settings },
      powerwall,
    };
  }

  #products(): unknown {
    const energy = this.#sites.map((site, index) => ({
      energy_site_id: site.siteId,
      resource_type: "battery",
      site_name: site.siteName,
      id: `STE20240101-${String(index + 1).padStart(5, "0")}`,
      gateway_id: `1152100-00-E--TG1230000000${index + 1}`,
      asset_site_id: `a0000000-0000-4000-8000-00000000000${index + 1}`,
      warp_site_number: `STE20240101-${String(index + 1).padStart(5, "0")}`,
      percentage_charged: chargePercent(site.model),
      energy_left: site.model.energyWh,
      total_pack_energy: site.model.spec.capacityWh,
      battery_type: "ac_powerwall",
      backup_capable: true,
      battery_power: site.model.flows.batteryW,
      storm_mode_enabled: false,
      powerwall_onboarding_settings_set: true,
      sync_grid_alert_enabled: true,
      breaker_alert_enabled: false,
      components: {
        battery: true,
        battery_type: "ac_powerwall",
        solar: true,
        solar_type: "pv_panel",
        grid: true,
        load_meter: true,
        market_type: "residential",
        wall_connectors: [],
      },
      features: { rate_plan_manager_no_pricing_constraint: true },
    }));
    const vehicles =
      this.#options.includeVehicle === false
        ? []
        : [
            {
              id: 100021,
              user_id: 800001,
              vehicle_id: 99999,
              vin: "5YJ3E1EA0KF000000",
              color: null,
              access_type: "OWNER",
              display_name: "Stand-in car",
              state: "asleep",
              in_service: false,
              calendar_enabled: true,
              api_version: 71,
            },
          ];
    const products = [...vehicles, ...energy];
    return { response: products, count: products.length };
  }

  #siteInfo(site: SiteRecord): Record<string, unknown> {
    const { settings, spec } = site.model;
    return {
      id: `STE20240101-${String(this.#sites.indexOf(site) + 1).padStart(5, "0")}`,
      site_name: site.siteName,
      backup_reserve_percent: settings.backupReservePercent,
      default_real_mode: settings.operationMode,
      installation_date: "2024-01-01T00:00:00+10:00",
      installation_time_zone: site.servedTimeZone,
      user_settings: {
        storm_mode_enabled: false,
        sync_grid_alert_enabled: true,
      },
      components: {
        solar: true,
        solar_type: "pv_panel",
        battery: true,
        grid: true,
        backup: true,
        gateway: "teg",
        load_meter: true,
        tou_capable: true,
        storm_mode_capable: true,
        battery_type: "ac_powerwall",
        configurable: true,
        grid_services_enabled: false,
        customer_preferred_export_rule: settings.exportRule,
        disallow_charge_from_grid_with_solar_installed:
          !settings.gridChargingAllowed,
        edit_setting_energy_exports: true,
        edit_setting_grid_charging: true,
        batteries: [
          {
            device_id: "stand-in-battery-1",
            part_name: "Powerwall 2",
            nameplate_max_charge_power: spec.maxChargeW,
            nameplate_max_discharge_power: spec.maxDischargeW,
            nameplate_energy: spec.capacityWh,
          },
        ],
        gateways: [
          {
            device_id: "stand-in-gateway",
            part_name: "Tesla Backup Gateway 2",
            is_active: true,
          },
        ],
        wall_connectors: [],
      },
      version: "24.44.1 stand-in",
      battery_count: 1,
      tou_settings: { optimization_strategy: "economics", schedule: [] },
      nameplate_power: spec.maxDischargeW,
      nameplate_energy: spec.capacityWh,
      max_site_meter_power_ac: 1_000_000_000,
      min_site_meter_power_ac: -1_000_000_000,
      tariff_content_v2: structuredClone(site.tariff),
      vpp_backup_reserve_percent: 0,
    };
  }

  #liveStatus(site: SiteRecord): Record<string, unknown> {
    const { flows, spec } = site.model;
    const timestamp = DateTime.fromMillis(this.#now(), {
      zone: spec.timeZone,
    }).toISO({
      suppressMilliseconds: true,
    });
    return {
      solar_power: Math.round(flows.solarW),
      percentage_charged: chargePercent(site.model),
      energy_left: site.model.energyWh,
      total_pack_energy: spec.capacityWh,
      backup_capable: true,
      battery_power: Math.round(flows.batteryW),
      load_power: Math.round(flows.loadW),
      grid_status: "Active",
      grid_services_active: false,
      grid_power: Math.round(flows.gridW),
      grid_services_power: 0,
      generator_power: 0,
      island_status: "on_grid",
      storm_mode_active: false,
      timestamp,
      wall_connectors: [],
    };
  }

  #send(
    response: ServerResponse,
    record: StandInRequestRecord,
    reply: Reply,
  ): void {
    record.status = reply.status;
    const text = reply.rawBody ?? JSON.stringify(reply.body ?? null);
    response.writeHead(reply.status, {
      "Content-Type":
        reply.rawBody === undefined ? "application/json" : "text/html",
      ...reply.headers,
    });
    response.end(text);
  }

  /** Resolves true after `ms`, or false as soon as the stand-in closes. */
  #delay(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve(true);
      }, ms);
      this.#delays.set(timer, resolve);
    });
  }

  async #close(): Promise<void> {
    for (const [timer, resolve] of this.#delays) {
      clearTimeout(timer);
      resolve(false);
    }
    this.#delays.clear();
    const server = this.#server;
    if (server === undefined) {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
  }
}

/**
 * Returns a copy of `tariff` with negative energy rates (buy and sell) set to
 * 0, as Tesla documents that it rounds negative prices to zero.
 */
function clampNegativeRates(
  tariff: Record<string, unknown>,
): Record<string, unknown> {
  const copy = structuredClone(tariff);
  const sides = [copy, asRecord(copy["sell_tariff"])];
  for (const side of sides) {
    const charges = asRecord(side?.["energy_charges"]) ?? {};
    for (const season of Object.values(charges)) {
      const rates = asRecord(asRecord(season)?.["rates"]) ?? {};
      for (const [label, rate] of Object.entries(rates)) {
        if (typeof rate === "number" && rate < 0) {
          rates[label] = 0;
        }
      }
    }
  }
  return copy;
}

/** Returns a two-rate tariff: 0.40 $/kWh from 16:00 to 21:00, 0.20 otherwise, 0.05 feed-in. */
function defaultTariff(): Record<string, unknown> {
  const allDay = (fromHour: number, toHour: number): unknown => ({
    fromDayOfWeek: 0,
    toDayOfWeek: 6,
    fromHour,
    fromMinute: 0,
    toHour,
    toMinute: 0,
  });
  const seasons = {
    Year: {
      fromMonth: 1,
      fromDay: 1,
      toMonth: 12,
      toDay: 31,
      tou_periods: {
        ON_PEAK: { periods: [allDay(16, 21)] },
        OFF_PEAK: { periods: [allDay(21, 16)] },
      },
    },
  };
  const side = (
    name: string,
    peak: number,
    offPeak: number,
  ): Record<string, unknown> => ({
    name,
    utility: "Stand-in Energy",
    code: "STAND_IN:TOU",
    currency: "AUD",
    daily_charges: [{ name: "Charge", amount: 0 }],
    demand_charges: { ALL: { rates: { ALL: 0 } }, Year: { rates: {} } },
    energy_charges: {
      ALL: { rates: { ALL: 0 } },
      Year: { rates: { ON_PEAK: peak, OFF_PEAK: offPeak } },
    },
    seasons,
  });
  return {
    version: 1,
    ...side("Stand-in TOU", 0.4, 0.2),
    sell_tariff: side("Stand-in TOU feed-in", 0.05, 0.05),
  };
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      return undefined;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1];
}

function errorBody(error: string, description: string): unknown {
  return { response: null, error, error_description: description };
}

function isExportRule(value: unknown): value is ExportRule {
  return (EXPORT_RULES as readonly unknown[]).includes(value);
}

function isOperationMode(value: unknown): value is OperationMode {
  return (OPERATION_MODES as readonly unknown[]).includes(value);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function randomHex(): string {
  return randomBytes(12).toString("hex");
}
