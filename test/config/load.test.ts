import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  configFromEnv,
  ENV_VARIABLES,
  unknownEnvVariables,
} from "../../src/config/env.js";
import { loadConfig, resolveConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "tesla-sync-config-"));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function yamlFile(name: string, text: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, text);
  return path;
}

const liveYaml = `
amber:
  token: psk_file_token_123456
  siteId: 01FILESITE
tesla:
  auth: teslemetry
  token: teslemetry_file_token_123456
  siteId: 12345
sync:
  minChangeCents: 0.75
server:
  port: 6001
`;

describe("loadConfig", () => {
  it("reads a YAML file", async () => {
    const path = await yamlFile("live.yaml", liveYaml);
    const config = await loadConfig({ configFile: path, env: {} });

    expect(config.mode).toBe("live");
    expect(config.amber.siteId).toBe("01FILESITE");
    expect(config.tesla.siteId).toBe("12345");
    expect(config.sync.minChangeCents).toBe(0.75);
    expect(config.server.port).toBe(6001);
    expect(config.server.host).toBe("127.0.0.1");
  });

  it("lets the environment override the file", async () => {
    const path = await yamlFile("override.yaml", liveYaml);
    const config = await loadConfig({
      configFile: path,
      env: {
        TESLA_SYNC_PORT: "7001",
        TESLA_SYNC_AMBER_SITE_ID: "01ENVSITE",
        TESLA_SYNC_AUTO_SYNC: "false",
      },
    });

    expect(config.server.port).toBe(7001);
    expect(config.amber.siteId).toBe("01ENVSITE");
    expect(config.sync.autoSync).toBe(false);
    expect(config.sync.minChangeCents).toBe(0.75);
  });

  it("applies every default", async () => {
    const config = await loadConfig({ env: {} });

    expect(config.mode).toBe("demo");
    expect(config.dataDir).toBe("./data");
    expect(config.server).toEqual({ host: "127.0.0.1", port: 5001 });
    expect(config.amber.restUrl).toBe("https://api.amber.com.au/v1");
    expect(config.sync).toMatchObject({
      autoSync: true,
      forecastBand: "predicted",
      minChangeCents: 4,
      currentSlotMinChangeCents: 4,
      livePriceThresholdCents: 2,
      minWriteSpacingSeconds: 1800,
      urgentWriteSpacingSeconds: 300,
      dailyWriteBudget: 48,
      urgentWriteReserve: 12,
      manualWriteFloorSeconds: 60,
      scheduleOffsetSeconds: 35,
      scheduleJitterSeconds: 10,
    });
  });

  it("reports a missing file by path", async () => {
    const missing = join(directory, "nope.yaml");
    await expect(loadConfig({ configFile: missing, env: {} })).rejects.toThrow(
      `Configuration file ${missing} not found`,
    );
  });

  it("reports invalid YAML with its line", async () => {
    const path = await yamlFile("broken.yaml", "amber:\n  token: [unclosed\n");
    await expect(loadConfig({ configFile: path, env: {} })).rejects.toThrow(
      /not valid YAML at line \d/,
    );
  });
});

describe("resolveConfig modes", () => {
  it("runs the demo with no account", () => {
    expect(resolveConfig({}, {}).mode).toBe("demo");
  });

  it("builds Teslemetry access from the environment", () => {
    const config = resolveConfig(
      {},
      {
        TESLA_SYNC_AMBER_TOKEN: "psk_env_token_abcdef",
        TESLA_SYNC_TESLA_TOKEN: "tm_env_token_abcdef",
      },
    );
    if (config.mode !== "live") {
      throw new Error("expected live mode");
    }
    expect(config.teslaAccess).toEqual({
      kind: "teslemetry",
      token: "tm_env_token_abcdef",
    });
    expect(config.teslaBaseUrl).toBe("https://api.teslemetry.com");
  });

  it.each([
    ["na", "https://fleet-api.prd.na.vn.cloud.tesla.com"],
    ["eu", "https://fleet-api.prd.eu.vn.cloud.tesla.com"],
    ["cn", "https://fleet-api.prd.cn.vn.cloud.tesla.cn"],
  ])("picks the Fleet base URL for region %s", (region, url) => {
    const config = resolveConfig(
      {},
      {
        TESLA_SYNC_AMBER_TOKEN: "psk_env_token_abcdef",
        TESLA_SYNC_TESLA_AUTH: "fleet",
        TESLA_SYNC_FLEET_CLIENT_ID: "client-1",
        TESLA_SYNC_FLEET_REFRESH_TOKEN: "refresh_abcdef",
        TESLA_SYNC_FLEET_REGION: region,
      },
    );
    if (config.mode !== "live") {
      throw new Error("expected live mode");
    }
    expect(config.teslaBaseUrl).toBe(url);
    expect(config.teslaAccess.kind).toBe("fleet");
  });

  it("uses base URL overrides", () => {
    const config = resolveConfig(
      {
        amber: {
          token: "psk_override_abcdef",
          restUrl: "http://127.0.0.1:4000/v1",
          wsUrl: "ws://127.0.0.1:4000/ws",
        },
        tesla: {
          auth: "fleet",
          baseUrl: "http://127.0.0.1:4001",
          fleet: {
            clientId: "client-1",
            refreshToken: "refresh_abcdef",
            tokenUrl: "http://127.0.0.1:4001/oauth2/v3/token",
          },
        },
      },
      {},
    );
    if (config.mode !== "live") {
      throw new Error("expected live mode");
    }
    expect(config.amber.restUrl).toBe("http://127.0.0.1:4000/v1");
    expect(config.amber.wsUrl).toBe("ws://127.0.0.1:4000/ws");
    expect(config.teslaBaseUrl).toBe("http://127.0.0.1:4001");
    expect(config.teslaAccess).toMatchObject({
      tokenUrl: "http://127.0.0.1:4001/oauth2/v3/token",
    });
  });
});

describe("resolveConfig errors", () => {
  it.each<[string, Record<string, unknown>, Record<string, string>, RegExp]>([
    [
      "Amber token without Tesla",
      {},
      { TESLA_SYNC_AMBER_TOKEN: "psk_only_amber" },
      /tesla\.token is missing.*TESLA_SYNC_TESLA_TOKEN/,
    ],
    [
      "Tesla token without Amber",
      {},
      { TESLA_SYNC_TESLA_TOKEN: "tm_only_tesla" },
      /amber\.token is missing.*TESLA_SYNC_AMBER_TOKEN/,
    ],
    [
      "fleet without a refresh token",
      {},
      {
        TESLA_SYNC_AMBER_TOKEN: "psk_token_abcdef",
        TESLA_SYNC_TESLA_AUTH: "fleet",
        TESLA_SYNC_FLEET_CLIENT_ID: "client-1",
      },
      /tesla\.fleet\.refreshToken is missing.*TESLA_SYNC_FLEET_REFRESH_TOKEN/,
    ],
    [
      "an unknown auth kind",
      {},
      { TESLA_SYNC_TESLA_AUTH: "password" },
      /tesla\.auth: .*TESLA_SYNC_TESLA_AUTH/,
    ],
    [
      "a port that is not a number",
      {},
      { TESLA_SYNC_PORT: "fifty" },
      /TESLA_SYNC_PORT="fifty" is not a whole number/,
    ],
    [
      "a port out of range",
      { server: { port: 70000 } },
      {},
      /server\.port: .*TESLA_SYNC_PORT/,
    ],
    [
      "a boolean that is not one",
      {},
      { TESLA_SYNC_AUTO_SYNC: "maybe" },
      /TESLA_SYNC_AUTO_SYNC="maybe" is not a boolean/,
    ],
    [
      "an invalid time zone",
      { timeZone: "Australia/Atlantis" },
      {},
      /timeZone: not an IANA time zone/,
    ],
    [
      "an unknown key",
      { amber: { tokne: "typo" } },
      {},
      /unknown key tokne under amber/,
    ],
    [
      "a file URL as a base URL",
      { amber: { restUrl: "file:///etc/passwd" } },
      {},
      /amber\.restUrl: .*TESLA_SYNC_AMBER_REST_URL/,
    ],
    [
      "a forecast band that does not exist",
      {},
      { TESLA_SYNC_FORECAST_BAND: "median" },
      /sync\.forecastBand: .*TESLA_SYNC_FORECAST_BAND/,
    ],
    [
      "a dashboard password under 8 characters",
      {},
      { TESLA_SYNC_DASHBOARD_PASSWORD: "hunter2" },
      /dashboard\.password: must be at least 8 characters long .*TESLA_SYNC_DASHBOARD_PASSWORD/,
    ],
  ])("rejects %s", (_name, file, env, message) => {
    let thrown: unknown;
    try {
      resolveConfig(file, env, "config.yaml");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toMatch(message);
  });

  it.each([
    ["a list", ["amber"], /not a list/],
    ["plain text", "just text", /not a string/],
  ])("rejects a document that is %s", (_name, file, message) => {
    expect(() => resolveConfig(file, {})).toThrow(ConfigError);
    expect(() => resolveConfig(file, {})).toThrow(message);
  });
});

describe("dashboard password", () => {
  it("keeps a short one out of the error", () => {
    let thrown: unknown;
    try {
      resolveConfig({ dashboard: { password: "abc1234" } }, {});
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).not.toContain("abc1234");
  });

  it("accepts 8 characters", () => {
    const config = resolveConfig({ dashboard: { password: "abcd1234" } }, {});

    expect(config.dashboard.password).toBe("abcd1234");
  });
});

describe("configFromEnv", () => {
  it("maps every variable to a key", () => {
    const names = new Set(ENV_VARIABLES.map((variable) => variable.name));
    const keys = new Set(ENV_VARIABLES.map((variable) => variable.key));

    expect(names.size).toBe(ENV_VARIABLES.length);
    expect(keys.size).toBe(ENV_VARIABLES.length);
  });

  it("treats empty values as unset", () => {
    expect(configFromEnv({ TESLA_SYNC_PORT: "  " })).toEqual({});
  });

  it("splits a list at commas", () => {
    expect(
      configFromEnv({
        TESLA_SYNC_INGRESS_ALLOWED_ADDRESSES: " 172.30.32.2, ,127.0.0.1 ",
      }),
    ).toEqual({
      dashboard: { ingressAllowedAddresses: ["172.30.32.2", "127.0.0.1"] },
    });
  });

  it("nests dotted keys", () => {
    expect(
      configFromEnv({
        TESLA_SYNC_FLEET_REGION: "eu",
        TESLA_SYNC_TESLA_AUTH: "fleet",
      }),
    ).toEqual({ tesla: { auth: "fleet", fleet: { region: "eu" } } });
  });
});

describe("secrets", () => {
  it("registers tokens so logs scrub them", () => {
    resolveConfig(
      {},
      {
        TESLA_SYNC_AMBER_TOKEN: "psk_secret_for_scrub_1",
        TESLA_SYNC_TESLA_TOKEN: "tm_secret_for_scrub_2",
      },
    );
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const logger = createLogger({ destination, level: "info" });
    logger.info("token psk_secret_for_scrub_1 and tm_secret_for_scrub_2");

    const output = lines.join("");
    expect(output).not.toContain("psk_secret_for_scrub_1");
    expect(output).not.toContain("tm_secret_for_scrub_2");
    expect(output).toContain("[redacted]");
  });
});

describe("unknownEnvVariables", () => {
  it("ignores every known variable", () => {
    const env = Object.fromEntries([
      ...ENV_VARIABLES.map((variable) => [variable.name, "x"]),
      ["TESLA_SYNC_HA_URL", "x"],
      ["TESLA_SYNC_CACHE", "x"],
      ["TESLA_SYNC_E2E_DIR", "x"],
      ["HOME", "x"],
    ]);

    expect(unknownEnvVariables(env)).toEqual([]);
  });

  it("suggests the name of a typo", () => {
    expect(
      unknownEnvVariables({
        TESLA_SYNC_AMBER_TOKN: "x",
        TESLA_SYNC_WHATEVER: "y",
      }),
    ).toEqual([
      { name: "TESLA_SYNC_AMBER_TOKN", suggestion: "TESLA_SYNC_AMBER_TOKEN" },
      { name: "TESLA_SYNC_WHATEVER", suggestion: undefined },
    ]);
  });
});
