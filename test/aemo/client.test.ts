import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";

import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { AemoClient } from "../../src/aemo/client.js";
import { nemSummaryResponseSchema } from "../../src/aemo/schemas.js";
import {
  AuthError,
  InvalidPayloadError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import {
  startAemoStandIn,
  type AemoStandIn,
} from "../../src/standins/aemo-server.js";
import type { FaultKind } from "../../src/standins/faults.js";
import type { Clock } from "../../src/util/clock.js";

/** 2025-06-02T18:07:30+10:00, inside the interval ending 18:10 NEM time. */
const NOW = Date.parse("2025-06-02T08:07:30Z");
const INTERVAL_END = Date.parse("2025-06-02T08:10:00Z");

function recordingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => NOW,
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}

let standIn: AemoStandIn;

beforeEach(async () => {
  standIn = await startAemoStandIn({ now: () => NOW, prices: { NSW1: 412.5 } });
});

afterEach(async () => {
  await standIn.close();
});

/** With jitter fixed at 0.5, each backoff wait is three quarters of its step (1 s, 2 s, ...). */
function client(
  clock: Clock = recordingClock(),
  overrides: { timeoutMs?: number; maxAttempts?: number } = {},
): AemoClient {
  return new AemoClient({
    baseUrl: standIn.url,
    logger: silentLogger,
    clock,
    random: () => 0.5,
    baseDelayMs: 1_000,
    ...overrides,
  });
}

describe("AemoClient", () => {
  it("reads a region price from the stand-in", async () => {
    const price = await client().getRegionPrice("NSW1");

    expect(price).toEqual({
      region: "NSW1",
      priceMwh: 412.5,
      settlementEnd: INTERVAL_END,
      firm: true,
    });
  });

  it("reports NOT FIRM prices as not firm", async () => {
    standIn.setPrice("SA1", 16_000, { firm: false });

    const price = await client().getRegionPrice("SA1");

    expect(price.priceMwh).toBe(16_000);
    expect(price.firm).toBe(false);
  });

  it.each(["NSW1", "QLD1", "VIC1", "SA1", "TAS1"] as const)(
    "summary includes %s",
    async (region) => {
      const prices = await client().getSummary();

      expect(prices.map((price) => price.region)).toContain(region);
    },
  );

  type Outcome =
    | { ok: true; retries: number[] }
    | { ok: false; error: new (...args: never[]) => Error; retries: number[] };

  const faultCases: Array<[FaultKind, Outcome]> = [
    ["reset", { ok: true, retries: [750] }],
    ["rate-limit", { ok: true, retries: [30_000] }],
    ["rate-limit-no-headers", { ok: true, retries: [750] }],
    ["server-error", { ok: true, retries: [750] }],
    ["unavailable", { ok: true, retries: [750] }],
    ["malformed-json", { ok: false, error: InvalidPayloadError, retries: [] }],
    ["wrong-shape", { ok: false, error: InvalidPayloadError, retries: [] }],
    ["unauthorized", { ok: false, error: AuthError, retries: [] }],
    ["result-false", { ok: true, retries: [] }],
    ["slow", { ok: true, retries: [] }],
  ];

  it.each(faultCases)("fault %s once", async (kind, outcome) => {
    standIn.faults.arm({ kind, delayMs: 20 });
    const clock = recordingClock();

    const attempt = client(clock).getRegionPrice("NSW1");

    if (outcome.ok) {
      await expect(attempt).resolves.toMatchObject({ priceMwh: 412.5 });
    } else {
      await expect(attempt).rejects.toBeInstanceOf(outcome.error);
    }
    expect(clock.waits).toEqual(outcome.retries);
  });

  it("times out and retries a hung request", async () => {
    standIn.faults.arm({ kind: "timeout" });
    const clock = recordingClock();

    const price = await client(clock, { timeoutMs: 100 }).getRegionPrice(
      "NSW1",
    );

    expect(price.priceMwh).toBe(412.5);
    expect(clock.waits).toEqual([750]);
  });

  it("gives up after the attempt budget", async () => {
    standIn.faults.arm({ kind: "server-error", count: 3 });
    const clock = recordingClock();

    const attempt = client(clock).getRegionPrice("NSW1");

    await expect(attempt).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(clock.waits).toEqual([750, 1_500]);
    expect(standIn.requestCount()).toBe(3);
  });

  it("surfaces a 429 after the budget", async () => {
    standIn.faults.arm({ kind: "rate-limit", count: 3, retryAfterSeconds: 7 });
    const clock = recordingClock();

    const attempt = client(clock).getRegionPrice("NSW1");

    await expect(attempt).rejects.toBeInstanceOf(RateLimitedError);
    expect(clock.waits).toEqual([7_000, 7_000]);
  });

  it("names the field of a wrong shape", async () => {
    standIn.faults.arm({ kind: "wrong-shape" });

    const error = await client()
      .getRegionPrice("NSW1")
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe(
      "ELEC_NEM_SUMMARY.0.SETTLEMENTDATE",
    );
  });

  it("counts requests and failures", async () => {
    standIn.faults.arm({ kind: "unauthorized" });
    const aemo = client();

    await aemo.getRegionPrice("NSW1").catch(() => undefined);
    await aemo.getRegionPrice("NSW1");

    expect(aemo.counters()).toEqual({ requests: 2, failures: 1 });
  });

  it("logs the first failure at warn, repeats at debug", async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(
          JSON.parse(chunk.toString()) as { level: number; msg: string },
        );
        callback();
      },
    });
    const logger = pino({ level: "debug" }, destination);
    const aemo = new AemoClient({
      baseUrl: standIn.url,
      logger,
      clock: recordingClock(),
      maxAttempts: 1,
    });
    standIn.faults.arm({ kind: "server-error", count: 2 });

    await aemo.getRegionPrice("NSW1").catch(() => undefined);
    await aemo.getRegionPrice("NSW1").catch(() => undefined);
    await aemo.getRegionPrice("NSW1");

    const levels = lines.map((line) => [line.level, line.msg]);
    expect(levels).toEqual([
      [40, "AEMO summary request failed"],
      [20, "AEMO summary still failing"],
      [30, "AEMO summary is reachable again"],
    ]);
  });
});

describe("NEM summary schema", () => {
  it("parses the constructed fixture", async () => {
    const body: unknown = JSON.parse(
      await readFile(
        new URL("../fixtures/aemo/elec-nem-summary.json", import.meta.url),
        "utf8",
      ),
    );

    const parsed = nemSummaryResponseSchema.parse(body);

    expect(parsed.ELEC_NEM_SUMMARY).toHaveLength(5);
    expect(parsed.ELEC_NEM_SUMMARY[0]?.SETTLEMENTDATE).toBe(INTERVAL_END);
  });

  it.each([
    ["2025-06-02T18:10:00", INTERVAL_END],
    ["2025-06-02T18:10:00.000", INTERVAL_END],
    ["2025-06-02T08:10:00Z", INTERVAL_END],
    ["2025-06-02T18:10:00+10:00", INTERVAL_END],
  ])("SETTLEMENTDATE %s", (text, expected) => {
    const row = nemSummaryResponseSchema.parse({
      ELEC_NEM_SUMMARY: [{ REGIONID: "NSW1", SETTLEMENTDATE: text, PRICE: 1 }],
    });

    expect(row.ELEC_NEM_SUMMARY[0]?.SETTLEMENTDATE).toBe(expected);
  });

  it.each(["2025/06/02 18:10:00", "", "2025-13-40T99:00:00"])(
    "rejects SETTLEMENTDATE %j",
    (text) => {
      const result = nemSummaryResponseSchema.safeParse({
        ELEC_NEM_SUMMARY: [
          { REGIONID: "NSW1", SETTLEMENTDATE: text, PRICE: 1 },
        ],
      });

      expect(result.success).toBe(false);
    },
  );

  it("rejects a missing region row", async () => {
    standIn.removeRegion("TAS1");

    const error = await client()
      .getRegionPrice("TAS1")
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain("no row for region TAS1");
  });
});
