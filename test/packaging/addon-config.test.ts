/**
 * Checks of the add-on's config.yaml, translations/en.yaml and
 * repository.yaml against the keys the Supervisor documents, so that a typo
 * or a wrong type fails here and not on a user's Home Assistant.
 *
 * Key lists: https://developers.home-assistant.io/docs/apps/configuration
 * (config.yaml, options and schema, translations) and
 * https://developers.home-assistant.io/docs/apps/repository (repository.yaml).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { basename, join, relative } from "node:path";

import { describe, expect, it } from "vitest";
import { parse } from "yaml";

import { MIN_PASSWORD_LENGTH } from "../../src/server/password.js";

const root = join(import.meta.dirname, "../..");

function readYaml(path: string): Record<string, unknown> {
  const value: unknown = parse(readFileSync(join(root, path), "utf8"));
  expect(value).toBeTypeOf("object");
  return value as Record<string, unknown>;
}

const config = readYaml("config.yaml");
const packageVersion = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
  }
).version;

/** Keys config.yaml must have. */
const CONFIG_REQUIRED = ["name", "version", "slug", "description", "arch"];

/** Optional config.yaml keys the Supervisor documents. */
const CONFIG_OPTIONAL = [
  "url",
  "startup",
  "boot",
  "init",
  "homeassistant",
  "homeassistant_api",
  "hassio_api",
  "hassio_role",
  "auth_api",
  "ingress",
  "ingress_port",
  "ingress_entry",
  "ingress_stream",
  "panel_icon",
  "panel_title",
  "panel_admin",
  "ports",
  "ports_description",
  "host_network",
  "map",
  "environment",
  "options",
  "schema",
  "image",
  "discovery",
  "services",
  "watchdog",
  "backup",
  "backup_exclude",
  "stage",
  "timeout",
  "tmpfs",
  "breaking_versions",
  "ulimits",
  "apparmor",
];

/** CPU architectures the Supervisor still supports (its CpuArch enum). */
const ARCHITECTURES = ["aarch64", "amd64"];

/** Option types of the `schema` key, with `?` marking an optional option. */
const SCHEMA_TYPE =
  /^(bool|email|url|port|(str|password)(\(\d*,\d*\))?|(int|float)(\(-?[\d.]*,-?[\d.]*\))?|match\(.+\)|list\([^|()]+(\|[^|()]+)*\)|device(\(.*\))?)\??$/;

describe("config.yaml", () => {
  it.each(CONFIG_REQUIRED)("has %s", (key) => {
    expect(config).toHaveProperty(key);
  });

  it("has only documented keys", () => {
    const known = new Set([...CONFIG_REQUIRED, ...CONFIG_OPTIONAL]);
    const unknown = Object.keys(config).filter((key) => !known.has(key));
    expect(unknown).toEqual([]);
  });

  it("names the add-on", () => {
    expect(config["name"]).toBe("Tesla Sync");
    expect(config["slug"]).toBe("tesla_sync");
    expect(config["description"]).toBeTypeOf("string");
    expect(config["url"]).toMatch(/^https:\/\//);
  });

  it("matches the package version", () => {
    expect(config["version"]).toBe(packageVersion);
  });

  it("lists supported architectures", () => {
    expect(config["arch"]).toEqual(expect.arrayContaining(ARCHITECTURES));
    for (const arch of config["arch"] as unknown[]) {
      expect(ARCHITECTURES).toContain(arch);
    }
  });

  it("starts as an application", () => {
    expect(config["startup"]).toBe("application");
    expect(config["boot"]).toBe("auto");
  });

  it("leaves PID 1 to s6-overlay", () => {
    // The Dockerfile keeps the HA base image's s6-overlay /init, which
    // must be PID 1, so Docker's own init has to stay off.
    expect(config["init"]).toBe(false);
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM ghcr\.io\/home-assistant\/base:/m);
  });

  it("asks only for the APIs it uses", () => {
    expect(config["homeassistant_api"]).toBe(true);
    expect(config).not.toHaveProperty("hassio_api");
    expect(config).not.toHaveProperty("hassio_role");
    expect(config).not.toHaveProperty("host_network");
  });

  it("offers discovery for the integration", () => {
    expect(config["discovery"]).toEqual(["tesla_sync"]);
  });

  it("serves the panel over ingress", () => {
    expect(config["ingress"]).toBe(true);
    expect(config["ingress_port"]).toBe(8099);
    expect(config["panel_title"]).toBe("Tesla Sync");
    expect(config["panel_icon"]).toMatch(/^mdi:[a-z0-9-]+$/);
  });

  it("watches the health endpoint", () => {
    expect(config["watchdog"]).toBe("http://[HOST]:[PORT:8099]/health");
  });

  it("keeps the dashboard port closed by default", () => {
    const ports = config["ports"] as Record<string, unknown>;
    expect(ports).toEqual({ "5001/tcp": null });
    const descriptions = config["ports_description"] as Record<string, unknown>;
    expect(Object.keys(descriptions)).toEqual(Object.keys(ports));
  });

  it("excludes only patterns from backups", () => {
    const excluded = config["backup_exclude"] as unknown[];
    expect(Array.isArray(excluded)).toBe(true);
    for (const pattern of excluded) {
      expect(pattern).toBeTypeOf("string");
    }
  });

  it("declares a schema for every option", () => {
    const options = config["options"] as Record<string, unknown>;
    const schema = config["schema"] as Record<string, unknown>;
    expect(options).toHaveProperty("log_level", "info");
    for (const key of Object.keys(options)) {
      expect(schema).toHaveProperty(key);
    }
  });

  it.each(Object.entries(config["schema"] as Record<string, unknown>))(
    "types option %s",
    (_key, type) => {
      expect(type).toBeTypeOf("string");
      expect(type).toMatch(SCHEMA_TYPE);
    },
  );

  it("marks options without a default optional", () => {
    const options = config["options"] as Record<string, unknown>;
    const schema = config["schema"] as Record<string, string>;
    for (const [key, type] of Object.entries(schema)) {
      if (!(key in options)) {
        expect(
          type.endsWith("?"),
          `${key} has no default and must end with ?`,
        ).toBe(true);
      }
    }
  });

  it("asks for the engine's password length", () => {
    const schema = config["schema"] as Record<string, string>;
    expect(schema["dashboard_password"]).toBe(
      `password(${MIN_PASSWORD_LENGTH},)?`,
    );
  });

  it("offers the run script's log levels", () => {
    const schema = config["schema"] as Record<string, string>;
    expect(schema["log_level"]).toBe(
      "list(trace|debug|info|warning|error|fatal)",
    );
  });
});

describe("config.yaml schema pattern", () => {
  it.each([
    "str",
    "bool?",
    "int(1,10)",
    "float(,5.5)",
    "list(a|b)",
    "password?",
    "password(8,)?",
    "str(,64)",
    "match(^a+$)",
  ])("accepts %s", (type) => {
    expect(type).toMatch(SCHEMA_TYPE);
  });

  it.each(["string", "list()", "integer", "bool!", "password(a,)"])(
    "rejects %s",
    (type) => {
      expect(type).not.toMatch(SCHEMA_TYPE);
    },
  );
});

describe("translations/en.yaml", () => {
  const translations = readYaml("translations/en.yaml");

  it("has only documented keys", () => {
    for (const key of Object.keys(translations)) {
      expect(["configuration", "network"]).toContain(key);
    }
  });

  it("labels every option", () => {
    const labels = translations["configuration"] as Record<
      string,
      Record<string, unknown>
    >;
    const schema = config["schema"] as Record<string, unknown>;
    expect(Object.keys(labels).sort()).toEqual(Object.keys(schema).sort());
    for (const label of Object.values(labels)) {
      expect(label["name"]).toBeTypeOf("string");
      expect(label["description"]).toBeTypeOf("string");
    }
  });

  it("describes every port", () => {
    const network = translations["network"] as Record<string, unknown>;
    expect(Object.keys(network)).toEqual(
      Object.keys(config["ports"] as object),
    );
  });
});

describe("repository.yaml", () => {
  const repository = readYaml("repository.yaml");

  it("has a name", () => {
    expect(repository["name"]).toBeTypeOf("string");
  });

  it("has only documented keys", () => {
    for (const key of Object.keys(repository)) {
      expect(["name", "url", "maintainer"]).toContain(key);
    }
  });

  it("points at the add-on's repository", () => {
    expect(repository["url"]).toBe(config["url"]);
    expect(repository["maintainer"]).toBeTypeOf("string");
  });
});

/** Reads a PNG's width and height from its IHDR chunk. */
function pngSize(path: string): { width: number; height: number } {
  const bytes = readFileSync(path);
  expect(bytes.subarray(1, 4).toString("ascii")).toBe("PNG");
  expect(bytes.subarray(12, 16).toString("ascii")).toBe("IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe("add-on folder", () => {
  // The Supervisor reads these beside config.yaml, which is the repository root.
  it.each([
    "DOCS.md",
    "CHANGELOG.md",
    "README.md",
    "icon.png",
    "logo.png",
    "translations/en.yaml",
  ])("has %s beside config.yaml", (file) => {
    const path = join(root, file);
    expect(existsSync(path)).toBe(true);
    expect(relative(root, realpathSync(path)).startsWith("..")).toBe(false);
  });

  it("has a square icon", () => {
    expect(pngSize(join(root, "icon.png"))).toEqual({
      width: 128,
      height: 128,
    });
  });

  it("has a wide logo", () => {
    expect(pngSize(join(root, "logo.png"))).toEqual({
      width: 250,
      height: 100,
    });
  });

  it("has no second add-on config", () => {
    // The Supervisor takes every config.json/.yaml/.yml in the repository,
    // outside dot folders and rootfs/, as an add-on.
    const files = execFileSync(
      "git",
      ["ls-files", "--cached", "--others", "--exclude-standard"],
      { cwd: root, encoding: "utf8" },
    )
      .split("\n")
      .filter((file) => file !== "" && existsSync(join(root, file)));
    const configs = files.filter(
      (file) =>
        /^config\.(json|ya?ml)$/.test(basename(file)) &&
        !file
          .split("/")
          .some((part) => part.startsWith(".") || part === "rootfs"),
    );
    expect(configs).toEqual(["config.yaml"]);
  });

  it("keeps the changelog current", () => {
    const changelog = readFileSync(join(root, "CHANGELOG.md"), "utf8");
    expect(changelog).toContain(`## ${packageVersion}`);
  });
});
