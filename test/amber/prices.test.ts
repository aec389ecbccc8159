import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { groupByChannel, parsePricesBody } from "../../src/amber/prices.js";
import { InvalidPayloadError } from "../../src/errors.js";

function fixture(name: string): unknown[] {
  const url = new URL(`../fixtures/amber/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as unknown[];
}

function withField(index: number, field: string, value: unknown): unknown[] {
  const body = fixture("current-prices-5min.json");
  const item = body[index] as Record<string, unknown>;
  body[index] = { ...item, [field]: value };
  return body;
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

describe("parsePricesBody", () => {
  it("parses a 5-minute current-prices body", () => {
    const body = fixture("current-prices-5min.json");
    const parsed = parsePricesBody(body);

    expect(parsed.intervals).toHaveLength(body.length);
    expect(parsed.ignoredChannelTypes).toEqual([]);
    expect(parsed.intervals.map((interval) => interval.type)).toContain(
      "CurrentInterval",
    );
  });

  it("keeps boundary timestamps intact", () => {
    const parsed = parsePricesBody(fixture("current-prices-5min.json"));
    const halfHour = parsed.intervals.find(
      (interval) =>
        interval.channelType === "general" &&
        interval.nemTime === "2025-06-02T19:00:00+10:00",
    );

    expect(halfHour?.duration).toBe(30);
    expect(halfHour?.startTime).toBe("2025-06-02T08:30:01Z");
    expect(halfHour?.endTime).toBe("2025-06-02T09:00:00Z");
  });

  it("keeps perKwh and advancedPrice apart", () => {
    const parsed = parsePricesBody(fixture("current-prices-5min.json"));
    const forecast = parsed.intervals.find(
      (interval) =>
        interval.channelType === "general" &&
        interval.nemTime === "2025-06-02T19:30:00+10:00",
    );

    expect(forecast?.type).toBe("ForecastInterval");
    expect(forecast?.perKwh).toBe(-1);
    const predicted =
      forecast?.type === "ForecastInterval"
        ? forecast.advancedPrice?.predicted
        : undefined;
    expect(predicted).toBe(26);
  });

  it("keeps potential spikes distinct", () => {
    const parsed = parsePricesBody(fixture("current-prices-5min.json"));
    const statuses = parsed.intervals.map((interval) => interval.spikeStatus);

    expect(statuses).toContain("potential");
    expect(statuses).not.toContain("spike");
  });

  it("drops an unknown channel type and reports it", () => {
    const parsed = parsePricesBody(fixture("prices-new-channel.json"));

    expect(parsed.ignoredChannelTypes).toEqual(["communityBattery"]);
    expect(parsed.intervals).toHaveLength(4);
    expect(
      parsed.intervals.every(
        (interval) => interval.channelType !== ("communityBattery" as string),
      ),
    ).toBe(true);
  });

  it("keeps the date of the last interval of a day", () => {
    const parsed = parsePricesBody(fixture("prices-new-channel.json"));
    const first = parsed.intervals[0];

    expect(first?.date).toBe("2025-06-02");
    expect(first?.nemTime).toBe("2025-06-03T00:00:00+10:00");
  });

  it.each<[string, number, string, unknown, string]>([
    ["string price", 12, "perKwh", "38.5", "[12].perKwh"],
    ["NaN price", 3, "perKwh", Number.NaN, "[3].perKwh"],
    ["infinite spot price", 0, "spotPerKwh", Infinity, "[0].spotPerKwh"],
    ["missing endTime", 5, "endTime", undefined, "[5].endTime"],
    ["bad spike status", 7, "spikeStatus", "maybe", "[7].spikeStatus"],
    ["bad duration", 2, "duration", 10, "[2].duration"],
    ["missing channelType", 4, "channelType", undefined, "[4].channelType"],
    ["bad timestamp", 1, "startTime", "yesterday", "[1].startTime"],
  ])("rejects %s naming the field", (_name, index, field, value, path) => {
    const error = catchError(() =>
      parsePricesBody(withField(index, field, value)),
    );

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe(path);
    expect((error as InvalidPayloadError).message).toContain(path);
  });

  it("names a nested field", () => {
    const error = catchError(() =>
      parsePricesBody(
        withField(2, "advancedPrice", { low: 1, predicted: "x", high: 3 }),
      ),
    );

    expect((error as InvalidPayloadError).path).toBe(
      "[2].advancedPrice.predicted",
    );
  });

  it("shows the received value", () => {
    const error = catchError(() =>
      parsePricesBody(withField(12, "perKwh", "38.5")),
    );

    expect((error as Error).message).toContain('"38.5"');
  });

  it("lists up to ten problems", () => {
    const body = fixture("current-prices-5min.json").map((item) => ({
      ...(item as Record<string, unknown>),
      perKwh: "x",
    }));
    expect(body.length).toBeGreaterThan(12);

    const message = (catchError(() => parsePricesBody(body)) as Error).message;

    expect(message).toContain('field [0].perKwh has the invalid value "x"');
    expect(message).toContain('field [9].perKwh has the invalid value "x"');
    expect(message).not.toContain("field [10].perKwh");
    expect(message).toContain(`; and ${body.length - 10} more problems.`);
  });

  it("lists every problem of one interval", () => {
    const body = fixture("current-prices-5min.json");
    const item = body[4] as Record<string, unknown>;
    body[4] = { ...item, perKwh: "x", spotPerKwh: null };

    const message = (catchError(() => parsePricesBody(body)) as Error).message;

    expect(message).toContain("field [4].perKwh");
    expect(message).toContain("field [4].spotPerKwh");
    expect(message).not.toContain("more problem");
  });

  it("rejects an unknown interval type", () => {
    const error = catchError(() =>
      parsePricesBody(withField(0, "type", "FutureInterval")),
    );

    expect((error as InvalidPayloadError).path).toBe("[0].type");
  });

  it.each<[string, unknown]>([
    ["object", { prices: [] }],
    ["null", null],
    ["string", "[]"],
  ])("rejects a %s body", (_name, body) => {
    const error = catchError(() => parsePricesBody(body));

    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).path).toBe("(root)");
  });
});

describe("groupByChannel", () => {
  it("groups by channel type, not position", () => {
    const body = fixture("current-prices-5min.json").reverse();
    const groups = groupByChannel(parsePricesBody(body).intervals);

    expect(groups.general).toHaveLength(9);
    expect(groups.feedIn).toHaveLength(9);
    expect(groups.controlledLoad).toEqual([]);
    expect(groups.general.every((i) => i.channelType === "general")).toBe(true);
    expect(groups.feedIn.every((i) => i.channelType === "feedIn")).toBe(true);
  });

  it("keeps order within a channel", () => {
    const groups = groupByChannel(
      parsePricesBody(fixture("current-prices-5min.json")).intervals,
    );
    const ends = groups.feedIn.map((interval) => interval.endTime);

    expect(ends).toEqual([...ends].sort());
  });
});
