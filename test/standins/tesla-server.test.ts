import { DateTime } from "luxon";
import { afterEach, describe, expect, it } from "vitest";

import { ConfigError } from "../../src/errors.js";
import type { FaultKind } from "../../src/standins/faults.js";
import {
  advancePowerwall,
  createPowerwallState,
  homeLoadAt,
  solarPowerAt,
  type PowerwallSettings,
  type PowerwallState,
} from "../../src/standins/powerwall-model.js";
import {
  startTeslaStandIn,
  type TeslaStandIn,
  type TeslaStandInOptions,
} from "../../src/standins/tesla-server.js";
import {
  liveStatusResponseSchema,
  productsResponseSchema,
  siteInfoResponseSchema,
} from "../../src/tesla/schemas.js";

const ZONE = "Australia/Sydney";
/** 2026-01-15 00:00 in Sydney (a Thursday in summer). */
const MIDNIGHT = DateTime.fromISO("2026-01-15T00:00:00", {
  zone: ZONE,
}).toMillis();
const HOUR = 3_600_000;

let standIns: TeslaStandIn[] = [];

afterEach(async () => {
  await Promise.all(standIns.map((standIn) => standIn.close()));
  standIns = [];
});

/** Starts a stand-in with a settable clock and closes it after the test. */
async function start(
  options: Partial<TeslaStandInOptions> = {},
): Promise<{ standIn: TeslaStandIn; time: { now: number } }> {
  const time = { now: MIDNIGHT + 12 * HOUR };
  const standIn = await startTeslaStandIn({
    authMode: "teslemetry",
    token: "stand-in-test-token",
    now: () => time.now,
    ...options,
  });
  standIns.push(standIn);
  return { standIn, time };
}

interface CallOptions {
  token?: string | null;
  json?: unknown;
  text?: string;
  form?: Record<string, string>;
  signal?: AbortSignal;
}

/** Sends one request to the stand-in and returns status, headers and parsed body. */
async function call(
  standIn: TeslaStandIn,
  method: "GET" | "POST",
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? standIn.token : options.token;
  if (token !== null && token !== undefined) {
    headers["Authorization"] = `Bearer ${token}`;
  }
  let body: string | undefined;
  if (options.form !== undefined) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  } else if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.text !== undefined) {
    body = options.text;
  }
  const response = await fetch(`${standIn.url}${path}`, {
    method,
    headers,
    body,
    signal: options.signal,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    parsed = undefined;
  }
  return {
    status: response.status,
    headers: response.headers,
    body: parsed,
    text,
  };
}

function sitePath(standIn: TeslaStandIn, endpoint: string): string {
  return `/api/1/energy_sites/${standIn.siteId}/${endpoint}`;
}

/** Builds a one-season tariff: cheap 00:00-06:00, dear 17:00-21:00, middle otherwise. */
function threeRateTariff(
  rates = { cheap: 0.05, middle: 0.25, dear: 0.6 },
): Record<string, unknown> {
  const period = (fromHour: number, toHour: number): unknown => ({
    fromDayOfWeek: 0,
    toDayOfWeek: 6,
    fromHour,
    fromMinute: 0,
    toHour,
    toMinute: 0,
  });
  return {
    version: 1,
    name: "Test",
    energy_charges: {
      ALL: { rates: { ALL: 0 } },
      Year: {
        rates: { CHEAP: rates.cheap, MIDDLE: rates.middle, DEAR: rates.dear },
      },
    },
    seasons: {
      Year: {
        fromMonth: 1,
        fromDay: 1,
        toMonth: 12,
        toDay: 31,
        tou_periods: {
          CHEAP: { periods: [period(0, 6)] },
          MIDDLE: { periods: [period(6, 17), period(21, 0)] },
          DEAR: { periods: [period(17, 21)] },
        },
      },
    },
    sell_tariff: {
      energy_charges: {
        ALL: { rates: { ALL: 0 } },
        Year: { rates: { CHEAP: -0.02, MIDDLE: 0.04, DEAR: 0.3 } },
      },
    },
  };
}

describe("stand-in reads", () => {
  it("lists sites and a vehicle", async () => {
    const { standIn } = await start({ sites: [{}, { siteName: "Shed" }] });
    const response = await call(standIn, "GET", "/api/1/products");

    expect(response.status).toBe(200);
    const raw = (response.body as { response: unknown[] }).response;
    expect(raw).toHaveLength(3);
    const sites = productsResponseSchema.parse(response.body).response;
    expect(sites.map((site) => site.energy_site_id)).toEqual(standIn.siteIds);
    expect(sites[1]?.site_name).toBe("Shed");
  });

  it("serves site_info in the configured zone", async () => {
    const { standIn } = await start({ timeZone: "Australia/Perth" });
    const response = await call(standIn, "GET", sitePath(standIn, "site_info"));

    expect(response.status).toBe(200);
    const info = siteInfoResponseSchema.parse(response.body).response;
    expect(info.installation_time_zone).toBe("Australia/Perth");
    expect(info.default_real_mode).toBe("autonomous");
    expect(info.backup_reserve_percent).toBe(20);
    expect(info.components.customer_preferred_export_rule).toBe("battery_ok");
    expect(info.tariff_content_v2).toHaveProperty("seasons");
  });

  it("serves an empty time zone as Tesla can", async () => {
    const { standIn } = await start({ timeZone: "" });
    const response = await call(standIn, "GET", sitePath(standIn, "site_info"));
    const info = siteInfoResponseSchema.parse(response.body).response;
    expect(info.installation_time_zone).toBe("");
  });

  it("serves live_status from the model", async () => {
    const { standIn } = await start();
    const response = await call(
      standIn,
      "GET",
      sitePath(standIn, "live_status"),
    );

    expect(response.status).toBe(200);
    const status = liveStatusResponseSchema.parse(response.body).response;
    expect(status.solar_power).toBeGreaterThan(4000);
    expect(status.percentage_charged).toBeCloseTo(50, 0);
    expect(status.grid_power).toBeCloseTo(
      status.load_power - status.solar_power - status.battery_power,
      -1,
    );
    expect(status.timestamp).toBe("2026-01-15T12:00:00+11:00");
  });

  it("advances the model with the clock", async () => {
    const { standIn, time } = await start();
    await call(standIn, "GET", sitePath(standIn, "live_status"));
    time.now += 2 * HOUR;
    await call(standIn, "GET", sitePath(standIn, "live_status"));

    const totals = standIn.state().powerwall.totals;
    expect(totals.solarWh).toBeGreaterThan(8000);
    expect(totals.homeWh).toBeGreaterThan(800);
  });

  it("answers 404 for an unknown site", async () => {
    const { standIn } = await start();
    const response = await call(
      standIn,
      "GET",
      "/api/1/energy_sites/42/site_info",
    );
    expect(response.status).toBe(404);
  });

  it("answers 404 for GET on a write endpoint", async () => {
    const { standIn } = await start();
    const response = await call(
      standIn,
      "GET",
      sitePath(standIn, "grid_import_export"),
    );
    expect(response.status).toBe(404);
  });

  it("rejects an empty site list", async () => {
    await expect(
      startTeslaStandIn({ authMode: "teslemetry", sites: [] }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it("rejects an unknown time zone", async () => {
    await expect(
      startTeslaStandIn({ authMode: "teslemetry", timeZone: "Mars/Olympus" }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it("answers 421 when misdirected", async () => {
    const { standIn } = await start({ misdirected: true });
    const response = await call(standIn, "GET", sitePath(standIn, "site_info"));
    expect(response.status).toBe(421);
  });
});

describe("stand-in teslemetry auth", () => {
  it.each([
    ["missing token", null],
    ["wrong token", "not-the-token"],
  ])("rejects a %s with 401", async (_name, token) => {
    const { standIn } = await start();
    const response = await call(standIn, "GET", "/api/1/products", { token });
    expect(response.status).toBe(401);
  });

  it("has no token endpoint", async () => {
    const { standIn } = await start();
    const response = await call(standIn, "POST", "/oauth2/v3/token", {
      form: { grant_type: "refresh_token", client_id: "x", refresh_token: "y" },
    });
    expect(response.status).toBe(404);
  });
});

describe("stand-in fleet auth", () => {
  async function startFleet(
    options: Partial<TeslaStandInOptions> = {},
  ): Promise<{ standIn: TeslaStandIn; time: { now: number } }> {
    return start({
      authMode: "fleet",
      clientId: "client-1",
      initialRefreshToken: "refresh-initial-0001",
      accessTokenTtlMs: HOUR,
      ...options,
    });
  }

  function grant(
    standIn: TeslaStandIn,
    refreshToken: string,
    clientId = "client-1",
  ) {
    return call(standIn, "POST", "/oauth2/v3/token", {
      token: null,
      form: {
        grant_type: "refresh_token",
        client_id: clientId,
        refresh_token: refreshToken,
      },
    });
  }

  it("rotates the refresh token", async () => {
    const { standIn } = await startFleet();
    const response = await grant(standIn, "refresh-initial-0001");

    expect(response.status).toBe(200);
    const body = response.body as {
      access_token: string;
      refresh_token: string;
      expires_in: number;
    };
    expect(body.refresh_token).not.toBe("refresh-initial-0001");
    expect(body.refresh_token).toBe(standIn.currentRefreshToken());
    expect(body.expires_in).toBe(3600);
    expect(standIn.tokenGrants()).toBe(1);
  });

  it("rejects a reused refresh token", async () => {
    const { standIn } = await startFleet();
    await grant(standIn, "refresh-initial-0001");
    const reused = await grant(standIn, "refresh-initial-0001");

    expect(reused.status).toBe(400);
    expect(reused.body).toMatchObject({
      error: "invalid_grant",
      error_description: "login_required",
    });
    expect(standIn.tokenGrants()).toBe(1);
  });

  it("rejects an unknown client id", async () => {
    const { standIn } = await startFleet();
    const response = await grant(standIn, "refresh-initial-0001", "client-2");
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "invalid_client" });
  });

  it("expires access tokens after the TTL", async () => {
    const { standIn, time } = await startFleet();
    const granted = await grant(standIn, "refresh-initial-0001");
    const accessToken = (granted.body as { access_token: string }).access_token;

    const fresh = await call(standIn, "GET", "/api/1/products", {
      token: accessToken,
    });
    expect(fresh.status).toBe(200);
    time.now += HOUR;
    const expired = await call(standIn, "GET", "/api/1/products", {
      token: accessToken,
    });
    expect(expired.status).toBe(401);
  });

  it("expires access tokens on request", async () => {
    const { standIn } = await startFleet();
    const granted = await grant(standIn, "refresh-initial-0001");
    const accessToken = (granted.body as { access_token: string }).access_token;

    standIn.expireAccessTokens();
    const response = await call(standIn, "GET", "/api/1/products", {
      token: accessToken,
    });
    expect(response.status).toBe(401);
  });
});

describe("stand-in rate limit", () => {
  it("allows 30 requests per 60 s per token", async () => {
    const { standIn, time } = await start();
    for (let index = 0; index < 30; index += 1) {
      const response = await call(standIn, "GET", "/api/1/products");
      expect(response.status).toBe(200);
    }
    time.now += 15_000;
    const limited = await call(standIn, "GET", "/api/1/products");

    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("45");
    time.now += 45_000;
    const after = await call(standIn, "GET", "/api/1/products");
    expect(after.status).toBe(200);
  });

  it("can be switched off", async () => {
    const { standIn } = await start({ rateLimit: false });
    for (let index = 0; index < 35; index += 1) {
      const response = await call(standIn, "GET", "/api/1/products");
      expect(response.status).toBe(200);
    }
  });
});

describe("stand-in writes", () => {
  it("records writes in order and applies them", async () => {
    const { standIn } = await start();
    const tariff = threeRateTariff();
    const sequence: Array<[string, unknown]> = [
      ["time_of_use_settings", { tou_settings: { tariff_content_v2: tariff } }],
      ["grid_import_export", { customer_preferred_export_rule: "never" }],
      [
        "grid_import_export",
        { disallow_charge_from_grid_with_solar_installed: true },
      ],
      ["operation", { default_real_mode: "self_consumption" }],
      ["backup", { backup_reserve_percent: 35 }],
    ];
    for (const [endpoint, body] of sequence) {
      const response = await call(
        standIn,
        "POST",
        sitePath(standIn, endpoint),
        { json: body },
      );
      expect(response.status).toBe(200);
    }

    expect(standIn.writes.map((write) => [write.endpoint, write.body])).toEqual(
      sequence,
    );
    const info = siteInfoResponseSchema.parse(
      (await call(standIn, "GET", sitePath(standIn, "site_info"))).body,
    ).response;
    expect(info.tariff_content_v2).toMatchObject({
      energy_charges: tariff["energy_charges"],
    });
    expect(info.components.customer_preferred_export_rule).toBe("never");
    expect(info.components.disallow_charge_from_grid_with_solar_installed).toBe(
      true,
    );
    expect(info.default_real_mode).toBe("self_consumption");
    expect(info.backup_reserve_percent).toBe(35);
  });

  it.each([
    ["time_of_use_settings", { result: true, reason: "" }],
    ["grid_import_export", { result: true, reason: "" }],
    ["operation", { code: 201, message: "Updated" }],
    ["backup", { code: 201, message: "Updated" }],
  ])("answers %s like Tesla", async (endpoint, expected) => {
    const { standIn } = await start();
    const bodies: Record<string, unknown> = {
      time_of_use_settings: {
        tou_settings: { tariff_content_v2: threeRateTariff() },
      },
      grid_import_export: { customer_preferred_export_rule: "pv_only" },
      operation: { default_real_mode: "backup" },
      backup: { backup_reserve_percent: 10 },
    };
    const response = await call(standIn, "POST", sitePath(standIn, endpoint), {
      json: bodies[endpoint],
    });
    expect(response.body).toEqual({ response: expected });
  });

  it("stores negative rates as zero", async () => {
    const { standIn } = await start();
    await call(standIn, "POST", sitePath(standIn, "time_of_use_settings"), {
      json: {
        tou_settings: {
          tariff_content_v2: threeRateTariff({
            cheap: -0.1,
            middle: 0.2,
            dear: 0.5,
          }),
        },
      },
    });

    const tariff = standIn.state().tariff as {
      energy_charges: { Year: { rates: Record<string, number> } };
      sell_tariff: {
        energy_charges: { Year: { rates: Record<string, number> } };
      };
    };
    expect(tariff.energy_charges.Year.rates["CHEAP"]).toBe(0);
    expect(tariff.energy_charges.Year.rates["DEAR"]).toBe(0.5);
    expect(tariff.sell_tariff.energy_charges.Year.rates["CHEAP"]).toBe(0);
    expect(tariff.sell_tariff.energy_charges.Year.rates["DEAR"]).toBe(0.3);
  });

  it.each([
    ["tariff missing", "time_of_use_settings", { tou_settings: {} }],
    [
      "tariff as a list",
      "time_of_use_settings",
      { tou_settings: { tariff_content_v2: [] } },
    ],
    [
      "export rule unknown",
      "grid_import_export",
      { customer_preferred_export_rule: "always" },
    ],
    [
      "grid flag as text",
      "grid_import_export",
      { disallow_charge_from_grid_with_solar_installed: "yes" },
    ],
    ["grid body empty", "grid_import_export", {}],
    ["mode unknown", "operation", { default_real_mode: "economics" }],
    ["reserve above 100", "backup", { backup_reserve_percent: 101 }],
    ["reserve as text", "backup", { backup_reserve_percent: "20" }],
  ])("rejects %s with 400", async (_name, endpoint, body) => {
    const { standIn } = await start();
    const before = standIn.state();
    const response = await call(standIn, "POST", sitePath(standIn, endpoint), {
      json: body,
    });

    expect(response.status).toBe(400);
    expect(standIn.writes).toEqual([]);
    expect(standIn.state().tariff).toEqual(before.tariff);
    expect(standIn.state().settings).toEqual(before.settings);
  });

  it("rejects a body that is not JSON", async () => {
    const { standIn } = await start();
    const response = await call(standIn, "POST", sitePath(standIn, "backup"), {
      text: "{reserve",
    });
    expect(response.status).toBe(400);
  });
});

describe("stand-in faults", () => {
  it.each<[FaultKind, number, unknown]>([
    ["rate-limit", 429, undefined],
    ["rate-limit-no-headers", 429, undefined],
    ["server-error", 500, undefined],
    ["unavailable", 503, undefined],
    ["unauthorized", 401, undefined],
    ["wrong-shape", 200, { response: { unexpected: true } }],
  ])("answers %s with HTTP %i", async (kind, status, body) => {
    const { standIn } = await start();
    standIn.faults.arm({
      kind,
      pathIncludes: "site_info",
      retryAfterSeconds: 7,
    });
    const faulted = await call(standIn, "GET", sitePath(standIn, "site_info"));
    const next = await call(standIn, "GET", sitePath(standIn, "site_info"));

    expect(faulted.status).toBe(status);
    if (body !== undefined) {
      expect(faulted.body).toEqual(body);
    }
    expect(next.status).toBe(200);
  });

  it("sends Retry-After only with rate-limit", async () => {
    const { standIn } = await start();
    standIn.faults.arm({ kind: "rate-limit", retryAfterSeconds: 7 });
    standIn.faults.arm({ kind: "rate-limit-no-headers" });

    const first = await call(standIn, "GET", "/api/1/products");
    const second = await call(standIn, "GET", "/api/1/products");
    expect(first.headers.get("retry-after")).toBe("7");
    expect(second.headers.get("retry-after")).toBeNull();
  });

  it("answers malformed-json with a non-JSON body", async () => {
    const { standIn } = await start();
    standIn.faults.arm({ kind: "malformed-json" });
    const response = await call(standIn, "GET", "/api/1/products");

    expect(response.status).toBe(200);
    expect(response.body).toBeUndefined();
    expect(response.text).toContain("<html>");
  });

  it("never answers on timeout", async () => {
    const { standIn } = await start();
    standIn.faults.arm({ kind: "timeout" });
    const request = call(standIn, "GET", "/api/1/products", {
      signal: AbortSignal.timeout(200),
    });

    await expect(request).rejects.toThrow();
    expect(standIn.requests[0]?.status).toBe(0);
  });

  it("closes the socket on reset", async () => {
    const { standIn } = await start();
    standIn.faults.arm({ kind: "reset" });
    await expect(call(standIn, "GET", "/api/1/products")).rejects.toThrow();
  });

  it("answers normally after slow", async () => {
    const { standIn } = await start();
    standIn.faults.arm({ kind: "slow", delayMs: 20 });
    const response = await call(standIn, "GET", "/api/1/products");
    expect(response.status).toBe(200);
  });

  it("rejects a write with result-false", async () => {
    const { standIn } = await start();
    const before = standIn.state().tariff;
    standIn.faults.arm({
      kind: "result-false",
      pathIncludes: "time_of_use",
      reason: "Invalid tariff",
    });
    const response = await call(
      standIn,
      "POST",
      sitePath(standIn, "time_of_use_settings"),
      {
        json: { tou_settings: { tariff_content_v2: threeRateTariff() } },
      },
    );

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      response: { result: false, reason: "Invalid tariff" },
    });
    expect(standIn.writes).toEqual([]);
    expect(standIn.state().tariff).toEqual(before);
  });

  it("applies faults to the token endpoint", async () => {
    const { standIn } = await start({
      authMode: "fleet",
      initialRefreshToken: "refresh-fault-0001",
    });
    standIn.faults.arm({ kind: "wrong-shape", pathIncludes: "oauth2" });
    const response = await call(standIn, "POST", "/oauth2/v3/token", {
      token: null,
      form: {
        grant_type: "refresh_token",
        client_id: standIn.clientId,
        refresh_token: "refresh-fault-0001",
      },
    });

    expect(response.body).toEqual({ unexpected: true });
    expect(standIn.currentRefreshToken()).toBe("refresh-fault-0001");
  });

  it("reports each request to onRequest", async () => {
    const seen: string[] = [];
    const { standIn } = await start({
      onRequest: (request) => {
        seen.push(`${request.method} ${request.path} ${request.token ?? "-"}`);
      },
    });
    await call(standIn, "GET", "/api/1/products");
    expect(seen).toEqual(["GET /api/1/products stand-in-test-token"]);
  });
});

describe("powerwall model", () => {
  const settings = (
    overrides: Partial<PowerwallSettings> = {},
  ): Partial<PowerwallSettings> => ({
    operationMode: "autonomous",
    backupReservePercent: 20,
    exportRule: "battery_ok",
    gridChargingAllowed: true,
    ...overrides,
  });

  /** Returns the flows after one minute ending at the local `hour` of MIDNIGHT's day. */
  function flowsAt(
    hour: number,
    state: PowerwallState,
    tariff: unknown = threeRateTariff(),
  ) {
    const at = MIDNIGHT + hour * HOUR;
    return advancePowerwall(state, 60_000, tariff, at).flows;
  }

  it.each([
    [0, 0],
    [5.9, 0],
    [19.5, 0],
  ])("has no solar at hour %d", (hour, expected) => {
    expect(solarPowerAt(hour, 5000)).toBe(expected);
  });

  it("peaks solar at 12:30", () => {
    expect(solarPowerAt(12.5, 5000)).toBeCloseTo(5000, 6);
    expect(solarPowerAt(9, 5000)).toBeLessThan(solarPowerAt(12, 5000));
  });

  it("keeps home load between 0.4 and 2.1 kW", () => {
    const loads = Array.from({ length: 96 }, (_, index) =>
      homeLoadAt(index / 4),
    );
    expect(Math.min(...loads)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...loads)).toBeLessThanOrEqual(2100);
    expect(homeLoadAt(19)).toBeGreaterThan(1900);
  });

  it("charges from the grid when cheap", () => {
    const flows = flowsAt(3, createPowerwallState({}, settings()));
    expect(flows.batteryW).toBe(-5000);
    expect(flows.gridW).toBeGreaterThan(5000);
  });

  it("waits for solar when grid charging is blocked", () => {
    const flows = flowsAt(
      3,
      createPowerwallState({}, settings({ gridChargingAllowed: false })),
    );
    expect(flows.batteryW).toBeCloseTo(0, 6);
  });

  it("discharges and exports when dear", () => {
    const flows = flowsAt(18, createPowerwallState({}, settings()));
    expect(flows.batteryW).toBe(5000);
    expect(flows.gridW).toBeLessThan(0);
  });

  it("discharges only for the home with pv_only", () => {
    const flows = flowsAt(
      20,
      createPowerwallState({}, settings({ exportRule: "pv_only" })),
    );
    expect(flows.batteryW).toBeCloseTo(flows.loadW - flows.solarW, 6);
    expect(flows.gridW).toBeCloseTo(0, 6);
  });

  it("self-consumes at middle prices", () => {
    const flows = flowsAt(11, createPowerwallState({}, settings()));
    expect(flows.batteryW).toBeLessThan(0);
    expect(flows.gridW).toBeCloseTo(0, 6);
  });

  it("self-consumes without a tariff", () => {
    const flows = flowsAt(3, createPowerwallState({}, settings()), null);
    expect(flows.batteryW).toBeCloseTo(flows.loadW, 6);
    expect(flows.gridW).toBeCloseTo(0, 6);
  });

  it("never exports with the never rule", () => {
    let state = createPowerwallState({}, settings({ exportRule: "never" }), 95);
    for (let hour = 0; hour < 24; hour += 0.25) {
      state = advancePowerwall(
        state,
        15 * 60_000,
        threeRateTariff(),
        MIDNIGHT + (hour + 0.25) * HOUR,
      );
      expect(state.flows.gridW).toBeGreaterThanOrEqual(-1e-9);
    }
    expect(state.totals.gridExportWh).toBeCloseTo(0, 6);
  });

  it("keeps the backup reserve", () => {
    let state = createPowerwallState(
      {},
      settings({ operationMode: "self_consumption", backupReservePercent: 30 }),
      40,
    );
    state = advancePowerwall(state, 6 * HOUR, undefined, MIDNIGHT + 6 * HOUR);
    expect(state.energyWh).toBeCloseTo(13_500 * 0.3, 6);
  });

  it("balances energy over a day", () => {
    const start = createPowerwallState({}, settings(), 50);
    const end = advancePowerwall(
      start,
      24 * HOUR,
      threeRateTariff(),
      MIDNIGHT + 24 * HOUR,
    );
    const t = end.totals;
    const sources = t.solarWh + t.gridImportWh + t.batteryDischargeWh;
    const sinks = t.homeWh + t.gridExportWh + t.batteryChargeWh;

    expect(sources).toBeCloseTo(sinks, 3);
    expect(end.energyWh - start.energyWh).toBeCloseTo(
      t.batteryChargeWh - t.batteryDischargeWh,
      3,
    );
    expect(t.solarWh).toBeGreaterThan(30_000);
  });

  it("returns the same state for the same inputs", () => {
    const start = createPowerwallState({}, settings(), 50);
    const first = advancePowerwall(
      start,
      5 * HOUR,
      threeRateTariff(),
      MIDNIGHT + 20 * HOUR,
    );
    const second = advancePowerwall(
      start,
      5 * HOUR,
      threeRateTariff(),
      MIDNIGHT + 20 * HOUR,
    );
    expect(second).toEqual(first);
    expect(start.totals.solarWh).toBe(0);
  });

  it("reads wrapping periods of the recorded tariff", () => {
    // The recorded fixture's Summer periods, without the zero time fields,
    // stretched to the whole year: PEAK 16-21 and OFF_PEAK 21-16.
    const tariff = {
      energy_charges: {
        ALL: { rates: { ALL: 0 } },
        Summer: { rates: { PEAK: 0.35, OFF_PEAK: 0.2 } },
      },
      seasons: {
        Summer: {
          fromDay: 1,
          toDay: 31,
          fromMonth: 1,
          toMonth: 12,
          tou_periods: {
            PEAK: {
              periods: [
                { fromDayOfWeek: 0, toDayOfWeek: 6, fromHour: 16, toHour: 21 },
              ],
            },
            OFF_PEAK: {
              periods: [
                { fromDayOfWeek: 0, toDayOfWeek: 6, fromHour: 21, toHour: 16 },
              ],
            },
          },
        },
      },
    };
    const state = createPowerwallState({}, settings());
    expect(flowsAt(18, state, tariff).batteryW).toBe(5000);
    expect(flowsAt(2, state, tariff).batteryW).toBe(-5000);
  });
});
