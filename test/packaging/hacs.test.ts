/**
 * Checks of hacs.json and the integration's manifest.json against the keys
 * HACS and Home Assistant document, so that HACS and hassfest accept them.
 *
 * hacs.json keys: https://hacs.xyz/docs/publish/start, validated by
 * custom_components/hacs/utils/validate.py in hacs/integration, which
 * rejects unknown keys. Integration repository rules:
 * https://hacs.xyz/docs/publish/integration. manifest.json keys:
 * https://developers.home-assistant.io/docs/creating_integration_manifest.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

function readJson(path: string): Record<string, unknown> {
  const value: unknown = JSON.parse(readFileSync(join(root, path), "utf8"));
  expect(value).toBeTypeOf("object");
  return value as Record<string, unknown>;
}

const hacs = readJson("hacs.json");
const manifest = readJson("custom_components/tesla_sync/manifest.json");

/** hacs.json keys and the type each must have. */
const HACS_KEYS: Record<string, "string" | "boolean" | "country"> = {
  name: "string",
  content_in_root: "boolean",
  zip_release: "boolean",
  filename: "string",
  hide_default_branch: "boolean",
  country: "country",
  homeassistant: "string",
  hacs: "string",
  persistent_directory: "string",
  // Still accepted by the validator, though HACS 2 always renders the README.
  render_readme: "boolean",
};

/** manifest.json keys a custom integration must have for HACS. */
const MANIFEST_REQUIRED = [
  "domain",
  "name",
  "version",
  "documentation",
  "issue_tracker",
  "codeowners",
];

/** Optional manifest.json keys, discovery matchers included. */
const MANIFEST_OPTIONAL = [
  "config_flow",
  "single_config_entry",
  "integration_type",
  "iot_class",
  "dependencies",
  "after_dependencies",
  "requirements",
  "loggers",
  "quality_scale",
  "zeroconf",
  "ssdp",
  "dhcp",
  "usb",
  "bluetooth",
  "mqtt",
  "homekit",
];

const INTEGRATION_TYPES = [
  "hub",
  "device",
  "service",
  "helper",
  "entity",
  "hardware",
  "system",
  "virtual",
];
const IOT_CLASSES = [
  "local_push",
  "local_polling",
  "cloud_push",
  "cloud_polling",
  "assumed_state",
  "calculated",
];

/** A CalVer or SemVer version as AwesomeVersion reads them, e.g. 0.1.0 or 2026.3.1. */
const VERSION = /^\d+\.\d+(\.\d+)?([-.]?(a|b|rc|dev)\d*)?$/;

/** Returns the oldest Home Assistant version the Python tests run against. */
function oldestTestedHomeAssistant(): string {
  const script = readFileSync(join(root, "scripts/python-env.sh"), "utf8");
  const pairs = /^PY_HA_PAIRS=\(([^)]*)\)/m.exec(script)?.[1] ?? "";
  const versions = [...pairs.matchAll(/"([^":]+):[^"]+"/g)].map(
    (match) => match[1] ?? "",
  );
  expect(versions.length).toBeGreaterThan(0);
  return versions[0] ?? "";
}

describe("hacs.json", () => {
  it("has a name", () => {
    expect(hacs["name"]).toBe("Tesla Sync");
  });

  it("has only documented keys", () => {
    const unknown = Object.keys(hacs).filter((key) => !(key in HACS_KEYS));
    expect(unknown).toEqual([]);
  });

  it.each(Object.keys(hacs).filter((key) => key in HACS_KEYS))(
    "types %s",
    (key) => {
      const value = hacs[key];
      const expected = HACS_KEYS[key];
      if (expected === "country") {
        const codes = Array.isArray(value) ? (value as unknown[]) : [value];
        for (const code of codes) {
          expect(code).toMatch(/^[A-Z]{2}$/);
        }
      } else {
        expect(typeof value).toBe(expected);
      }
    },
  );

  it("names a file for zip releases", () => {
    if (hacs["zip_release"] === true) {
      expect(hacs["filename"]).toMatch(/\.zip$/);
    } else {
      expect(hacs["zip_release"]).not.toBe(true);
    }
  });

  it("requires the oldest tested Home Assistant", () => {
    expect(hacs["homeassistant"]).toMatch(VERSION);
    expect(hacs["homeassistant"]).toBe(oldestTestedHomeAssistant());
  });

  it("finds one integration", () => {
    expect(hacs["content_in_root"]).not.toBe(true);
    const domains = readdirSync(join(root, "custom_components")).filter(
      (entry) => statSync(join(root, "custom_components", entry)).isDirectory(),
    );
    expect(domains.filter((domain) => domain !== "__pycache__")).toEqual([
      "tesla_sync",
    ]);
  });
});

describe("manifest.json", () => {
  it.each(MANIFEST_REQUIRED)("has %s", (key) => {
    expect(manifest).toHaveProperty(key);
  });

  it("has only documented keys", () => {
    const known = new Set([...MANIFEST_REQUIRED, ...MANIFEST_OPTIONAL]);
    const unknown = Object.keys(manifest).filter((key) => !known.has(key));
    expect(unknown).toEqual([]);
  });

  it("matches its folder", () => {
    expect(manifest["domain"]).toBe("tesla_sync");
    expect(manifest["name"]).toBe(hacs["name"]);
  });

  it("has a valid version", () => {
    expect(manifest["version"]).toBeTypeOf("string");
    expect(manifest["version"]).toMatch(VERSION);
  });

  it("links documentation and issues", () => {
    expect(manifest["documentation"]).toMatch(/^https:\/\//);
    expect(manifest["issue_tracker"]).toMatch(/^https:\/\//);
  });

  it("lists code owners", () => {
    const owners = manifest["codeowners"] as unknown[];
    expect(Array.isArray(owners)).toBe(true);
    for (const owner of owners) {
      expect(owner).toMatch(/^@[\w-]+(\/[\w-]+)?$/);
    }
  });

  it.each(["dependencies", "after_dependencies", "requirements", "loggers"])(
    "lists strings in %s",
    (key) => {
      const value = manifest[key];
      if (value === undefined) {
        return;
      }
      expect(Array.isArray(value)).toBe(true);
      for (const item of value as unknown[]) {
        expect(item).toBeTypeOf("string");
      }
    },
  );

  it("has a config flow module", () => {
    expect(manifest["config_flow"]).toBe(true);
    expect(
      existsSync(join(root, "custom_components/tesla_sync/config_flow.py")),
    ).toBe(true);
  });

  it("declares its type and IoT class", () => {
    expect(INTEGRATION_TYPES).toContain(manifest["integration_type"]);
    expect(IOT_CLASSES).toContain(manifest["iot_class"]);
  });

  it.each(["config_flow", "single_config_entry"])(
    "types %s as a boolean",
    (key) => {
      if (key in manifest) {
        expect(manifest[key]).toBeTypeOf("boolean");
      }
    },
  );
});
