import { describe, expect, it } from "vitest";

import {
  lenientTariffSchema,
  strictTariffSchema,
  type TariffContentV2,
  type TariffContentV2Lenient,
} from "../../src/tariff/schema.js";
import { recordedTariff, twoRateTariff } from "./helpers.js";

describe("strict schema", () => {
  it("accepts a fully written tariff", () => {
    expect(strictTariffSchema.safeParse(twoRateTariff()).success).toBe(true);
  });

  it.each([
    [
      "toMinute",
      ["seasons", "Year", "tou_periods", "ON_PEAK", "periods", 0, "toMinute"],
    ],
    [
      "fromDayOfWeek",
      [
        "seasons",
        "Year",
        "tou_periods",
        "ON_PEAK",
        "periods",
        0,
        "fromDayOfWeek",
      ],
    ],
    ["currency", ["currency"]],
    ["sell_tariff", ["sell_tariff"]],
    ["daily_charges", ["daily_charges"]],
    ["demand_charges", ["demand_charges"]],
    ["sell code", ["sell_tariff", "code"]],
  ])("rejects missing %s", (_name, path) => {
    const tariff = twoRateTariff() as unknown as Record<string, unknown>;
    deleteAt(tariff, path);
    const result = strictTariffSchema.safeParse(tariff);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(path);
  });

  it("rejects unknown keys", () => {
    const tariff = { ...twoRateTariff(), surprise: 1 };
    expect(strictTariffSchema.safeParse(tariff).success).toBe(false);
  });

  it("rejects the recorded read-back tariff", () => {
    expect(strictTariffSchema.safeParse(recordedTariff()).success).toBe(false);
  });
});

describe("lenient schema", () => {
  it("parses the recorded multi-season tariff", () => {
    const result = lenientTariffSchema.safeParse(recordedTariff());
    expect(result.success).toBe(true);
  });

  it("reads omitted time fields as 0", () => {
    const parsed = lenientTariffSchema.parse(recordedTariff());
    const period = parsed.seasons["Summer"]?.tou_periods["PEAK"]?.periods[0];
    expect(period).toEqual({
      fromDayOfWeek: 0,
      toDayOfWeek: 6,
      fromHour: 16,
      fromMinute: 0,
      toHour: 21,
      toMinute: 0,
    });
  });

  it("reads an omitted daily charge amount as 0", () => {
    const parsed = lenientTariffSchema.parse(recordedTariff());
    expect(parsed.daily_charges).toEqual([{ name: "Charge", amount: 0 }]);
  });

  it("keeps unknown keys", () => {
    const parsed = lenientTariffSchema.parse({
      ...recordedTariff(),
      tesla_extra: "kept",
    });
    expect(parsed["tesla_extra"]).toBe("kept");
  });

  it("accepts a tariff without sell_tariff", () => {
    const tariff = recordedTariff();
    delete tariff["sell_tariff"];
    expect(lenientTariffSchema.safeParse(tariff).success).toBe(true);
  });

  it.each([
    ["a string rate", "0.2"],
    ["a null rate", null],
  ])("rejects %s", (_name, value) => {
    const tariff = twoRateTariff() as unknown as {
      energy_charges: { Year: { rates: Record<string, unknown> } };
    };
    tariff.energy_charges.Year.rates["ON_PEAK"] = value;
    expect(lenientTariffSchema.safeParse(tariff).success).toBe(false);
  });

  it("accepts every strict tariff", () => {
    const strict: TariffContentV2 = twoRateTariff();
    // Compile-time check: a strict tariff is also a lenient one.
    const lenient: TariffContentV2Lenient = strict;
    expect(lenientTariffSchema.safeParse(lenient).success).toBe(true);
  });
});

function deleteAt(
  root: Record<string, unknown>,
  path: readonly (string | number)[],
): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    node = (node as Record<string | number, unknown>)[key];
  }
  Reflect.deleteProperty(node as object, path[path.length - 1] ?? "");
}
