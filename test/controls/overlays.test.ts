import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";

import {
  controlOverlays,
  demandWindowUplift,
  exportBoost,
  overlaySettingsSchema,
  spikeProtection,
} from "../../src/controls/overlays.js";
import { generateIntervals } from "../../src/standins/price-model.js";
import { buildTariff, type SlotPlan } from "../../src/tariff/build.js";
import { validateTariff } from "../../src/tariff/validate.js";

const ZONE = "Australia/Sydney";
/** Thursday 2026-01-15 13:00 in Sydney. */
const FIRST_SLOT = DateTime.fromISO("2026-01-15T13:00:00", { zone: ZONE });

interface SlotSpec {
  buy?: number;
  sell?: number;
  spikeStatus?: SlotPlan["spikeStatus"];
}

/**
 * 48 slots from `first` (default Thursday 13:00), buy 0.30 and sell 0.10
 * unless `overrides` (keyed by local "HH:MM") set other values.
 */
function slots(
  overrides: Record<string, SlotSpec> = {},
  first = FIRST_SLOT,
): SlotPlan[] {
  return Array.from({ length: 48 }, (_, index) => {
    const start = first.plus({ minutes: 30 * index });
    const key = start.toFormat("HH:mm");
    const spec = overrides[key] ?? {};
    const buy = spec.buy ?? 0.3;
    const sell = spec.sell ?? 0.1;
    return {
      label: `PERIOD_${start.toFormat("HH_mm")}`,
      start: start.toISO() ?? "",
      end: start.plus({ minutes: 30 }).toISO() ?? "",
      buy,
      sell,
      buyActual: buy,
      sellActual: sell,
      source: {
        buy: {
          kind: "forecast",
          field: "advancedPrice.predicted",
          intervals: 6,
        },
        sell: {
          kind: "forecast",
          field: "advancedPrice.predicted",
          intervals: 6,
        },
      },
      spikeStatus: spec.spikeStatus ?? "none",
      notes: [],
    };
  });
}

function at(result: SlotPlan[], time: string): SlotPlan | undefined {
  return result.find((slot) => slot.start.includes(`T${time}:00`));
}

describe("spikeProtection", () => {
  it.each([
    // [case, status, includePotential, buy before, expected buy]
    ["spike raised", "spike", false, 0.3, 1.45],
    ["potential ignored", "potential", false, 0.3, 0.3],
    ["potential raised when asked", "potential", true, 0.3, 1.45],
    ["none ignored", "none", true, 0.3, 0.3],
    ["higher buy kept", "spike", false, 2.5, 2.5],
  ] as const)("%s", (_name, status, includePotential, buyBefore, expected) => {
    const input = slots({
      "18:00": { buy: buyBefore, spikeStatus: status },
      "19:00": { sell: 0.45 },
    });

    const result = spikeProtection({ includePotential })(input);

    expect(at(result, "18:00")?.buy).toBe(expected);
    expect(at(result, "18:00")?.buyActual).toBe(buyBefore);
    expect(at(result, "18:00")?.notes.length).toBe(
      expected === buyBefore ? 0 : 1,
    );
  });

  it("notes the change", () => {
    const result = spikeProtection()(
      slots({ "18:00": { spikeStatus: "spike" } }),
    );

    expect(at(result, "18:00")?.notes).toEqual([
      "spike protection (spike): buy 0.3000 -> 1.1000 $/kWh, above the highest sell 0.1000",
    ]);
  });

  it("leaves unflagged slots unchanged", () => {
    const input = slots({ "18:00": { spikeStatus: "spike" } });

    const result = spikeProtection()(input);

    expect(
      result.filter((slot) => slot !== input[result.indexOf(slot)]),
    ).toHaveLength(1);
  });

  it.each([
    [0, 0.55],
    [0.25, 0.8],
  ])("margin %f gives %f", (margin, expected) => {
    const input = slots({
      "18:00": { spikeStatus: "spike" },
      "20:00": { sell: 0.55 },
    });

    const result = spikeProtection({ marginPerKwh: margin })(input);

    expect(at(result, "18:00")?.buy).toBe(expected);
  });
});

describe("exportBoost", () => {
  it.each([
    // [case, window, slot time, sell before, offset, minimum, threshold, expected sell]
    [
      "offset inside",
      [17 * 60, 21 * 60],
      "18:00",
      0.1,
      0.05,
      0,
      undefined,
      0.15,
    ],
    [
      "outside untouched",
      [17 * 60, 21 * 60],
      "21:00",
      0.1,
      0.05,
      0,
      undefined,
      0.1,
    ],
    [
      "start is inclusive",
      [17 * 60, 21 * 60],
      "17:00",
      0.1,
      0.05,
      0,
      undefined,
      0.15,
    ],
    [
      "minimum lifts",
      [17 * 60, 21 * 60],
      "18:00",
      0.1,
      0,
      0.25,
      undefined,
      0.25,
    ],
    [
      "minimum below price",
      [17 * 60, 21 * 60],
      "18:00",
      0.3,
      0,
      0.25,
      undefined,
      0.3,
    ],
    [
      "negative offset floors at 0",
      [17 * 60, 21 * 60],
      "18:00",
      0.02,
      -0.05,
      0,
      undefined,
      0,
    ],
    [
      "below threshold skipped",
      [17 * 60, 21 * 60],
      "18:00",
      0.04,
      0.05,
      0,
      0.05,
      0.04,
    ],
    [
      "at threshold boosted",
      [17 * 60, 21 * 60],
      "18:00",
      0.05,
      0.05,
      0,
      0.05,
      0.1,
    ],
    [
      "window wraps midnight",
      [22 * 60, 2 * 60],
      "01:00",
      0.1,
      0.05,
      0,
      undefined,
      0.15,
    ],
    [
      "wrapped window end",
      [22 * 60, 2 * 60],
      "02:00",
      0.1,
      0.05,
      0,
      undefined,
      0.1,
    ],
    [
      "window to midnight",
      [20 * 60, 0],
      "23:30",
      0.1,
      0.05,
      0,
      undefined,
      0.15,
    ],
  ] as const)(
    "%s",
    (
      _name,
      [from, to],
      time,
      sellBefore,
      offset,
      minimum,
      threshold,
      expected,
    ) => {
      const input = slots({ [time]: { sell: sellBefore } });

      const result = exportBoost({
        window: { from, to },
        offsetPerKwh: offset,
        minimumPerKwh: minimum,
        ...(threshold === undefined ? {} : { onlyAbovePerKwh: threshold }),
      })(input);

      expect(at(result, time)?.sell).toBe(expected);
      expect(at(result, time)?.notes.length).toBe(
        expected === sellBefore ? 0 : 1,
      );
    },
  );
});

describe("demandWindowUplift", () => {
  it.each([
    // [case, weekdays, first slot (local), slot time, expected buy]
    ["Thursday in window", [0, 1, 2, 3, 4], "2026-01-15T13:00", "15:00", 2.3],
    [
      "Thursday after window",
      [0, 1, 2, 3, 4],
      "2026-01-15T13:00",
      "20:00",
      0.3,
    ],
    ["Thursday not chosen", [5, 6], "2026-01-15T13:00", "15:00", 0.3],
    ["Saturday not chosen", [0, 1, 2, 3, 4], "2026-01-17T13:00", "15:00", 0.3],
    ["Sunday chosen", [6], "2026-01-18T13:00", "15:00", 2.3],
  ])("%s", (_name, days, first, time, expected) => {
    const input = slots({}, DateTime.fromISO(first, { zone: ZONE }));

    const result = demandWindowUplift({
      window: { from: 14 * 60, to: 20 * 60 },
      days,
      upliftPerKwh: 2,
    })(input);

    expect(at(result, time)?.buy).toBe(expected);
  });

  it("notes the uplift", () => {
    const result = demandWindowUplift({
      window: { from: 14 * 60, to: 20 * 60 },
      days: [3],
      upliftPerKwh: 2,
    })(slots());

    expect(at(result, "14:00")?.notes).toEqual([
      "demand window: buy 0.3000 -> 2.3000 $/kWh (+2.0000)",
    ]);
  });
});

describe("controlOverlays", () => {
  it("defaults to none", () => {
    expect(controlOverlays(overlaySettingsSchema.parse({}))).toEqual([]);
  });

  it("protects above boosted sell", () => {
    const settings = overlaySettingsSchema.parse({
      spikeProtection: { enabled: true },
      exportBoost: { enabled: true, minimumPerKwh: 0.8 },
    });
    let result = slots({ "18:00": { spikeStatus: "spike" } });

    for (const overlay of controlOverlays(settings)) {
      result = overlay(result);
    }

    expect(at(result, "18:00")?.sell).toBe(0.8);
    expect(at(result, "18:00")?.buy).toBe(1.8);
  });

  it.each([
    [{ exportBoost: { from: "7:15pm" } }, "exportBoost.from"],
    [{ demandWindow: { days: [7] } }, "demandWindow.days"],
    [{ spikeProtection: { marginPerKwh: -1 } }, "spikeProtection.marginPerKwh"],
    [{ exportBoost: { enabled: true, colour: "red" } }, "exportBoost"],
  ])("rejects %j", (input, path) => {
    const result = overlaySettingsSchema.safeParse(input);

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join(".")).toContain(path);
  });

  it("plugs into buildTariff", () => {
    const now = Date.parse("2026-01-15T02:07:00Z");
    const settings = overlaySettingsSchema.parse({
      spikeProtection: { enabled: true, includePotential: true },
      exportBoost: { enabled: true, offsetPerKwh: 0.05 },
      demandWindow: { enabled: true, days: [0, 1, 2, 3, 4, 5, 6] },
    });

    const built = buildTariff({
      intervals: generateIntervals({
        now,
        intervalLength: 30,
        pattern: "spike",
      }),
      now,
      timeZone: ZONE,
      options: { band: "predicted", overlays: controlOverlays(settings) },
    });
    const boosted = built.slots.find((slot) => slot.label === "PERIOD_18_00");
    const uplifted = built.slots.find((slot) => slot.label === "PERIOD_15_00");

    expect(validateTariff(built.tariff, "strict").ok).toBe(true);
    expect(boosted?.notes.some((note) => note.startsWith("export boost"))).toBe(
      true,
    );
    expect(
      uplifted?.notes.some((note) => note.startsWith("demand window")),
    ).toBe(true);
  });
});
