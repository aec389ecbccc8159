import { afterEach, describe, expect, it } from "vitest";

import { NEM_SUMMARY_PATH } from "../../src/aemo/client.js";
import { nemSummaryResponseSchema } from "../../src/aemo/schemas.js";
import {
  formatNemTime,
  startAemoStandIn,
  type AemoStandIn,
} from "../../src/standins/aemo-server.js";

let standIn: AemoStandIn | undefined;

afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

async function start(now: number): Promise<AemoStandIn> {
  standIn = await startAemoStandIn({ now: () => now });
  return standIn;
}

describe("AEMO stand-in", () => {
  it("listens on loopback", async () => {
    const server = await start(0);

    expect(new URL(server.url).hostname).toBe("127.0.0.1");
  });

  it("serves a summary the schema accepts", async () => {
    const server = await start(Date.parse("2025-06-02T08:07:30Z"));
    server.setPrice("QLD1", 1_234.5, { firm: false });

    const response = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    const body = nemSummaryResponseSchema.parse(await response.json());
    const qld = body.ELEC_NEM_SUMMARY.find((row) => row.REGIONID === "QLD1");

    expect(response.status).toBe(200);
    expect(body.ELEC_NEM_SUMMARY).toHaveLength(5);
    expect(qld?.PRICE).toBe(1_234.5);
    expect(qld?.PRICE_STATUS).toBe("NOT FIRM");
  });

  it.each([
    ["2025-06-02T08:07:30Z", "2025-06-02T18:10:00"],
    ["2025-06-02T08:10:00Z", "2025-06-02T18:10:00"],
    ["2025-06-02T08:10:00.001Z", "2025-06-02T18:15:00"],
    ["2025-06-02T13:58:00Z", "2025-06-03T00:00:00"],
  ])("at %s settles %s", async (now, expected) => {
    const server = await start(Date.parse(now));

    const response = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    const body = (await response.json()) as {
      ELEC_NEM_SUMMARY: Array<{ SETTLEMENTDATE: string }>;
    };

    expect(body.ELEC_NEM_SUMMARY[0]?.SETTLEMENTDATE).toBe(expected);
  });

  it("formats NEM time without offset", () => {
    expect(formatNemTime(Date.parse("2025-12-31T14:05:00Z"))).toBe(
      "2026-01-01T00:05:00",
    );
  });

  it("answers 404 for other paths", async () => {
    const server = await start(0);

    const response = await fetch(`${server.url}/aemo/apps/api/report/5MIN`);

    expect(response.status).toBe(404);
  });

  it("answers 405 for POST", async () => {
    const server = await start(0);

    const response = await fetch(`${server.url}${NEM_SUMMARY_PATH}`, {
      method: "POST",
    });

    expect(response.status).toBe(405);
  });

  it.each([
    ["rate-limit", 429, "12"],
    ["rate-limit-no-headers", 429, null],
    ["server-error", 500, null],
    ["unavailable", 503, null],
    ["unauthorized", 401, null],
  ] as const)("fault %s answers %i", async (kind, status, retryAfter) => {
    const server = await start(0);
    server.faults.arm({ kind, retryAfterSeconds: 12 });

    const faulted = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    const next = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);

    expect(faulted.status).toBe(status);
    expect(faulted.headers.get("retry-after")).toBe(retryAfter);
    expect(next.status).toBe(200);
  });

  it("fault malformed-json sends broken JSON", async () => {
    const server = await start(0);
    server.faults.arm({ kind: "malformed-json" });

    const response = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it("fault reset drops the connection", async () => {
    const server = await start(0);
    server.faults.arm({ kind: "reset" });

    await expect(fetch(`${server.url}${NEM_SUMMARY_PATH}`)).rejects.toThrow();
  });

  it("close ends a hung request", async () => {
    const server = await start(0);
    server.faults.arm({ kind: "timeout" });

    const hung = fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    await new Promise((resolve) => setImmediate(resolve));
    while (server.requestCount() === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await server.close();
    standIn = undefined;

    await expect(hung).rejects.toThrow();
  });

  it("omits a removed region", async () => {
    const server = await start(0);
    server.removeRegion("TAS1");

    const response = await fetch(`${server.url}${NEM_SUMMARY_PATH}`);
    const body = nemSummaryResponseSchema.parse(await response.json());

    expect(body.ELEC_NEM_SUMMARY.map((row) => row.REGIONID)).toEqual([
      "NSW1",
      "QLD1",
      "VIC1",
      "SA1",
    ]);
  });

  it("rejects a non-finite price", async () => {
    const server = await start(0);

    expect(() => server.setPrice("NSW1", Number.NaN)).toThrow(RangeError);
  });
});
