import { describe, expect, it } from "vitest";

import { InvalidPayloadError } from "../../src/errors.js";
import { parsePayload } from "../../src/http/vendor-http.js";
import {
  liveStatusResponseSchema,
  productsResponseSchema,
  readSiteSettings,
  siteInfoResponseSchema,
  siteInfoSchema,
  tokenResponseSchema,
  writeResponseSchema,
} from "../../src/tesla/schemas.js";
import { readFixture } from "./helpers.js";

describe("recorded fixtures", () => {
  it("parses live_status.json", async () => {
    const body = await readFixture("live_status.json");
    const status = parsePayload(
      "tesla",
      "live_status",
      liveStatusResponseSchema,
      body,
    ).response;

    expect(status.solar_power).toBe(1185);
    expect(status.battery_power).toBe(5060);
    expect(status.load_power).toBe(6245);
    expect(status.grid_power).toBe(0);
    expect(status.percentage_charged).toBeCloseTo(95.505, 3);
    expect(status.energy_left).toBeUndefined();
    expect(status.total_pack_energy).toBeUndefined();
    expect(status.grid_status).toBe("Active");
    expect(status.island_status).toBe("on_grid");
    expect(status.storm_mode_active).toBe(false);
  });

  it("parses site_info_multi_season.json", async () => {
    const body = await readFixture("site_info_multi_season.json");
    const info = parsePayload(
      "tesla",
      "site_info",
      siteInfoResponseSchema,
      body,
    ).response;

    expect(info.id).toBe("1233-abcd");
    expect(info.installation_time_zone).toBe("");
    expect(info.default_real_mode).toBe("self_consumption");
    expect(info.backup_reserve_percent).toBe(0);
    expect(info.version).toBe("23.44.0 eb113390");
    expect(info.nameplate_energy).toBe(13500);
    expect(info.components.customer_preferred_export_rule).toBe("pv_only");
    expect(info.components.disallow_charge_from_grid_with_solar_installed).toBe(
      true,
    );
    expect(Object.keys(info.tariff_content_v2 ?? {})).toContain("seasons");
    // Unknown keys survive for diagnostics.
    expect(info["vpp_backup_reserve_percent"]).toBe(0);
  });

  it("reads settings from site_info_multi_season.json", async () => {
    const body = await readFixture("site_info_multi_season.json");
    const info = parsePayload(
      "tesla",
      "site_info",
      siteInfoResponseSchema,
      body,
    ).response;

    expect(readSiteSettings(info)).toEqual({
      operationMode: "self_consumption",
      backupReservePercent: 0,
      exportRule: "pv_only",
      gridChargingAllowed: false,
    });
  });
});

describe("productsResponseSchema", () => {
  const energySite = {
    energy_site_id: 2252180000000001,
    resource_type: "battery",
    site_name: "Home",
    id: "STE20240101-00001",
    gateway_id: "1152100-00-E--TG123",
    components: { battery: true, solar: true, grid: true },
  };
  const vehicle = {
    id: 100021,
    vehicle_id: 99999,
    vin: "5YJ3E1EA0KF000000",
    state: "asleep",
  };

  it("skips vehicles and keeps energy sites", () => {
    const parsed = productsResponseSchema.parse({
      response: [vehicle, energySite],
      count: 2,
    });
    expect(parsed.response).toHaveLength(1);
    expect(parsed.response[0]?.energy_site_id).toBe(2252180000000001);
    expect(parsed.response[0]?.site_name).toBe("Home");
  });

  it("rejects an energy site with a text id, naming the entry", () => {
    const bad = { ...energySite, energy_site_id: "2252180000000001" };
    const call = (): unknown =>
      parsePayload("tesla", "product list", productsResponseSchema, {
        response: [vehicle, bad],
      });
    expect(call).toThrow(InvalidPayloadError);
    expect(call).toThrow(/response\.1\.energy_site_id/);
  });

  it("rejects a response that is not a list", () => {
    expect(() =>
      parsePayload("tesla", "product list", productsResponseSchema, {
        response: { unexpected: true },
      }),
    ).toThrow(InvalidPayloadError);
  });
});

describe("siteInfoSchema", () => {
  it("defaults a missing time zone to an empty string", () => {
    expect(siteInfoSchema.parse({ id: "STE1" }).installation_time_zone).toBe(
      "",
    );
  });

  it.each([
    ["id missing", { site_name: "x" }],
    ["reserve above 100", { id: "STE1", backup_reserve_percent: 120 }],
    ["tariff as a string", { id: "STE1", tariff_content_v2: "flat" }],
    ["components as a list", { id: "STE1", components: [] }],
  ])("rejects %s", (_name, payload) => {
    expect(siteInfoSchema.safeParse(payload).success).toBe(false);
  });
});

describe("readSiteSettings", () => {
  it.each([
    [
      "rule under components",
      { id: "a", components: { customer_preferred_export_rule: "never" } },
      "never",
    ],
    [
      "rule at top level",
      { id: "a", customer_preferred_export_rule: "battery_ok" },
      "battery_ok",
    ],
    [
      "non-export site",
      { id: "a", components: { non_export_configured: true } },
      "never",
    ],
    ["no rule at all", { id: "a" }, undefined],
    [
      "unknown rule",
      { id: "a", components: { customer_preferred_export_rule: "solar_max" } },
      undefined,
    ],
  ])("export rule for %s", (_name, payload, expected) => {
    expect(readSiteSettings(siteInfoSchema.parse(payload)).exportRule).toBe(
      expected,
    );
  });

  it.each([
    [true, false],
    [false, true],
  ])("disallow flag %s means grid charging allowed %s", (disallow, allowed) => {
    const info = siteInfoSchema.parse({
      id: "a",
      components: { disallow_charge_from_grid_with_solar_installed: disallow },
    });
    expect(readSiteSettings(info).gridChargingAllowed).toBe(allowed);
  });

  it("drops an operation mode it cannot write", () => {
    const info = siteInfoSchema.parse({
      id: "a",
      default_real_mode: "economics",
    });
    expect(readSiteSettings(info).operationMode).toBeUndefined();
  });
});

describe("liveStatusResponseSchema", () => {
  it.each([
    [
      "power as text",
      {
        solar_power: "1 kW",
        battery_power: 0,
        load_power: 0,
        grid_power: 0,
        percentage_charged: 5,
      },
    ],
    [
      "grid power missing",
      {
        solar_power: 0,
        battery_power: 0,
        load_power: 0,
        percentage_charged: 5,
      },
    ],
    [
      "charge above 100",
      {
        solar_power: 0,
        battery_power: 0,
        load_power: 0,
        grid_power: 0,
        percentage_charged: 101,
      },
    ],
  ])("rejects %s", (_name, payload) => {
    expect(
      liveStatusResponseSchema.safeParse({ response: payload }).success,
    ).toBe(false);
  });
});

describe("writeResponseSchema", () => {
  it.each([
    ["result true", { result: true, reason: "" }],
    [
      "result false with reason",
      { result: false, reason: "Tariff is invalid" },
    ],
    ["code and message", { code: 201, message: "Updated" }],
  ])("accepts %s", (_name, payload) => {
    expect(writeResponseSchema.safeParse({ response: payload }).success).toBe(
      true,
    );
  });

  it.each([
    ["empty object", {}],
    ["result as text", { result: "true" }],
    ["no envelope", null],
  ])("rejects %s", (_name, payload) => {
    expect(writeResponseSchema.safeParse({ response: payload }).success).toBe(
      false,
    );
  });
});

describe("tokenResponseSchema", () => {
  it("accepts a grant without expires_in", () => {
    const parsed = tokenResponseSchema.parse({
      access_token: "a1",
      refresh_token: "r1",
    });
    expect(parsed.expires_in).toBeUndefined();
  });

  it("rejects a grant without an access token", () => {
    expect(tokenResponseSchema.safeParse({ refresh_token: "r1" }).success).toBe(
      false,
    );
  });
});
