import { describe, expect, it } from "vitest";

import type { Site } from "../../src/amber/schemas.js";
import { pickAmberSite, pickEnergySite } from "../../src/config/sites.js";
import { ConfigError } from "../../src/errors.js";

function site(id: string, status: Site["status"]): Site {
  return {
    id,
    nmi: `4102${id.padStart(6, "0")}`.slice(0, 10),
    channels: [{ identifier: "E1", type: "general", tariff: "A100" }],
    network: "Ausgrid",
    status,
    ...(status === "closed" ? { closedOn: "2025-01-31" } : {}),
  };
}

describe("pickAmberSite", () => {
  it("picks the only active site", () => {
    const sites = [
      site("OLD", "closed"),
      site("NEW", "active"),
      site("NEXT", "pending"),
    ];
    expect(pickAmberSite(sites).id).toBe("NEW");
  });

  it.each<[string, Site[], RegExp]>([
    ["no sites", [], /has no sites/],
    [
      "only closed and pending sites",
      [site("A", "closed"), site("B", "pending")],
      /no active site.*A \(NMI/,
    ],
    [
      "two active sites",
      [site("A", "active"), site("B", "active")],
      /2 active sites.*A \(NMI.*B \(NMI/,
    ],
  ])("rejects %s", (_name, sites, message) => {
    expect(() => pickAmberSite(sites)).toThrow(ConfigError);
    expect(() => pickAmberSite(sites)).toThrow(message);
  });

  it("honours a configured id", () => {
    const sites = [site("A", "active"), site("B", "active")];
    expect(pickAmberSite(sites, "B").id).toBe("B");
  });

  it("rejects an unknown configured id", () => {
    expect(() => pickAmberSite([site("A", "active")], "Z")).toThrow(
      /amber\.siteId "Z" is not a site.*A \(NMI/,
    );
  });

  it("rejects a configured closed site", () => {
    expect(() => pickAmberSite([site("A", "closed")], "A")).toThrow(
      /closed Amber site/,
    );
  });
});

describe("pickEnergySite", () => {
  it("picks the only energy site", () => {
    expect(pickEnergySite([{ id: "99", name: "Home" }])).toBe("99");
  });

  it("lists the choices when there are several", () => {
    const sites = [
      { id: "1", name: "Home" },
      { id: "2", name: "Shed" },
    ];
    expect(() => pickEnergySite(sites)).toThrow(
      /2 energy sites.*1 \(Home\), 2 \(Shed\)/,
    );
  });

  it("rejects an account without energy sites", () => {
    expect(() => pickEnergySite([])).toThrow(/no energy sites/);
  });

  it("honours and checks a configured id", () => {
    const sites = [{ id: "1" }, { id: "2" }];
    expect(pickEnergySite(sites, "2")).toBe("2");
    expect(() => pickEnergySite(sites, "3")).toThrow(/tesla\.siteId "3"/);
  });
});
