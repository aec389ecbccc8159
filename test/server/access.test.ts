import { describe, expect, it } from "vitest";

import {
  ingressBasePath,
  isLoopbackHost,
  normalizeAddress,
} from "../../src/server/access.js";
import { HttpError } from "../../src/server/status-server.js";

describe("ingress base path", () => {
  it.each([
    [undefined, ""],
    ["", ""],
    ["/", ""],
    ["/api/hassio_ingress/abc123", "/api/hassio_ingress/abc123"],
    ["/api/hassio_ingress/abc123/", "/api/hassio_ingress/abc123"],
    ["/api/hassio_ingress/Ab-c_1.2~x", "/api/hassio_ingress/Ab-c_1.2~x"],
  ])("accepts %s", (header, expected) => {
    expect(ingressBasePath(header)).toBe(expected);
  });

  it.each([
    ['/x"><script>'],
    ["/api/../etc"],
    ["api/hassio_ingress/abc"],
    ["//evil.example/x"],
    ["/a b"],
    [`/${"a".repeat(300)}`],
  ])("rejects %s", (header) => {
    expect(() => ingressBasePath(header)).toThrow(HttpError);
  });
});

describe("addresses", () => {
  it.each([
    ["::ffff:172.30.32.2", "172.30.32.2"],
    ["172.30.32.2", "172.30.32.2"],
    ["::1", "::1"],
    ["::ffff:abcd", "::ffff:abcd"],
  ])("normalizes %s", (address, expected) => {
    expect(normalizeAddress(address)).toBe(expected);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["0.0.0.0", false],
    ["192.168.1.10", false],
    ["127.example.com", false],
  ])("treats %s as loopback: %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
