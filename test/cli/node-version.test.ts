import { describe, expect, it } from "vitest";

import {
  isSupportedNode,
  MIN_NODE_VERSION,
  unsupportedNodeMessage,
} from "../../src/cli/node-version.js";

describe("isSupportedNode", () => {
  it.each([
    ["18.20.4", false],
    ["20.20.2", false],
    ["22.12.0", false],
    ["22.13.0", true],
    ["22.20.1", true],
    ["23.3.0", false],
    ["23.4.0", true],
    ["24.22.3", true],
    ["30.0.0", true],
    ["", false],
    ["v24.0.0", false],
    ["24", false],
  ])("version %j is %s", (version, expected) => {
    expect(isSupportedNode(version)).toBe(expected);
  });

  it("accepts the running test Node", () => {
    expect(isSupportedNode(process.versions.node)).toBe(true);
  });
});

describe("unsupportedNodeMessage", () => {
  const message = unsupportedNodeMessage("20.20.2", "/usr/bin/node");

  it("names the version and executable", () => {
    expect(message).toContain("Node.js 20.20.2 (/usr/bin/node) is too old");
  });

  it("names the version needed", () => {
    expect(message).toContain(`Node.js ${MIN_NODE_VERSION} or newer`);
  });

  it("says how to get it", () => {
    expect(message).toContain("bash scripts/start.sh");
    expect(message).toContain("~/.cache/tesla-sync/node-*/bin");
  });

  it("ends with a newline", () => {
    expect(message.endsWith("\n")).toBe(true);
  });
});
