import { describe, expect, it } from "vitest";

import {
  curtailmentChangedData,
  spikeEndedData,
  spikeStartedData,
  tariffUploadedData,
} from "../../src/bridge/controls-bridge.js";
import type { SyncResult } from "../../src/engine/types.js";

const AT = Date.parse("2026-12-04T03:00:00Z");

describe("event data", () => {
  it("spike_started uses the protocol names", () => {
    const data = spikeStartedData({
      region: "SA1",
      price: 1450.5,
      thresholdMwh: 300,
      at: AT,
      simulated: false,
      responding: true,
    });

    expect(data).toEqual({
      region: "SA1",
      price: 1450.5,
      threshold: 300,
      simulated: false,
      responding: true,
    });
  });

  it.each([
    ["price-fell", "price_fell"],
    ["simulation-ended", "simulation_ended"],
    ["disabled", "disabled"],
  ] as const)("spike_ended maps reason %s", (reason, expected) => {
    const data = spikeEndedData({
      region: "NSW1",
      price: 95,
      peakPriceMwh: 2200,
      at: AT,
      durationMs: 1_800_400,
      simulated: reason === "simulation-ended",
      reason,
    });

    expect(data["reason"]).toBe(expected);
    expect(data["peak_price"]).toBe(2200);
    expect(data["duration"]).toBe(1800);
    expect(data["simulated"]).toBe(reason === "simulation-ended");
    expect(data["price"]).toBe(95);
    expect(data["region"]).toBe("NSW1");
    expect(data).not.toHaveProperty("peakPriceMwh");
    expect(data).not.toHaveProperty("durationMs");
  });

  it("curtailment_changed uses the protocol names", () => {
    const data = curtailmentChangedData({
      active: true,
      rule: "never",
      confirmed: true,
      feedInCents: 2.5,
      sellPrice: -0.025,
      reason: "price",
      at: AT,
    });

    expect(data).toEqual({
      active: true,
      export_rule: "never",
      confirmed: true,
      feed_in_price: -0.025,
      reason: "price",
    });
  });

  it("curtailment_changed omits an unknown price", () => {
    const data = curtailmentChangedData({
      active: false,
      rule: "battery_ok",
      confirmed: false,
      feedInCents: undefined,
      sellPrice: undefined,
      reason: "disabled",
      at: AT,
    });

    expect(data).not.toHaveProperty("feed_in_price");
    expect(data["export_rule"]).toBe("battery_ok");
  });

  it("tariff_uploaded names source and rates", () => {
    const result: SyncResult = {
      outcome: "uploaded",
      reason: "buy price changed by 12.4 c/kWh in 3 periods",
      trigger: "schedule",
      at: "2026-12-04T03:00:00Z",
      writes: 1,
      tariffSummary: {
        slots: 48,
        currentBuy: 0.31,
        currentSell: 0.05,
      } as SyncResult["tariffSummary"],
    };

    const data = tariffUploadedData(result, 0);

    expect(data).toMatchObject({
      reason: "buy price changed by 12.4 c/kWh in 3 periods",
      source: "amber",
      periods: 48,
      buy_now: 0.31,
      sell_now: 0.05,
    });
  });

  it("tariff_uploaded without a summary", () => {
    const result: SyncResult = {
      outcome: "uploaded",
      reason: "no tariff uploaded yet",
      trigger: "startup",
      at: "2026-12-04T03:00:00Z",
      writes: 1,
    };

    const data = tariffUploadedData(result, 48);

    expect(data["periods"]).toBe(48);
    expect(data["source"]).toBe("amber");
    expect(data).not.toHaveProperty("buy_now");
    expect(data).not.toHaveProperty("sell_now");
  });
});
