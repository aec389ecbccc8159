import { describe, expect, it } from "vitest";

import {
  baselineFromRates,
  baselineFromUpload,
  judgeCurrentMove,
  judgeMateriality,
  slotThreshold,
  type BaselineSlot,
  type BuiltSlot,
} from "../../src/engine/decision.js";
import { DEFAULT_ENGINE_SETTINGS } from "../../src/engine/settings.js";
import type { StoredSlot } from "../../src/engine/state-store.js";

const POLICY = DEFAULT_ENGINE_SETTINGS;
const SLOTS = 48;
/** 09:00 in Sydney (AEST) on Monday 2025-06-16, the current half hour. */
const FIRST_START = Date.UTC(2025, 5, 15, 23, 0);

type Changes = Record<number, Partial<BuiltSlot>>;

function localIso(ms: number): string {
  return `${new Date(ms + 10 * 3_600_000).toISOString().slice(0, 19)}+10:00`;
}

function label(index: number): string {
  const minute = (9 * 60 + index * 30) % 1440;
  const hours = String(Math.floor(minute / 60)).padStart(2, "0");
  const minutes = String(minute % 60).padStart(2, "0");
  return `PERIOD_${hours}_${minutes}`;
}

/**
 * Rates of the unchanged test tariff: buy 0.30 and sell 0.10 $/kWh, except
 * that in the near horizon 13:00-14:00 is the cheapest buy and 14:00-15:00
 * the dearest buy and sell, so small changes elsewhere keep the ranking.
 */
const ANCHORS: Changes = {
  8: { buy: 0.15 },
  9: { buy: 0.15 },
  10: { buy: 0.5, sell: 0.4 },
  11: { buy: 0.5, sell: 0.4 },
};

/** Applies `change` to `slot`; real prices follow the rates unless given. */
function apply(slot: BuiltSlot, change: Partial<BuiltSlot> = {}): BuiltSlot {
  return {
    ...slot,
    ...change,
    buyActual: change.buyActual ?? change.buy ?? slot.buyActual,
    sellActual: change.sellActual ?? change.sell ?? slot.sellActual,
  };
}

/** 48 slots from 09:00 on the test tariff (or on `anchors`), with `changes`. */
function slots(changes: Changes = {}, anchors: Changes = ANCHORS): BuiltSlot[] {
  return Array.from({ length: SLOTS }, (_, index) => {
    const start = FIRST_START + index * 1_800_000;
    const base: BuiltSlot = {
      label: label(index),
      start: localIso(start),
      end: localIso(start + 1_800_000),
      buy: 0.3,
      sell: 0.1,
      buyActual: 0.3,
      sellActual: 0.1,
      source: {},
      spikeStatus: "none",
      notes: [],
    };
    return apply(apply(base, anchors[index]), changes[index]);
  });
}

/** Returns the baseline of an upload of `uploaded` for the new slots `next`. */
function baseline(uploaded: BuiltSlot[], next: BuiltSlot[]): BaselineSlot[] {
  return baselineFromUpload(
    next,
    uploaded.map((slot): StoredSlot => ({ ...slot })),
  );
}

/** Judges `next` against an upload of `before`. */
function judge(before: BuiltSlot[], next: BuiltSlot[]) {
  return judgeMateriality(next, baseline(before, next), POLICY);
}

describe("slotThreshold", () => {
  it.each([
    [0, 0.04, 0.15],
    [1, 0.04, 0.15],
    [2, 0.05, 0.1875],
    [12, 0.1, 0.375],
    [40, 0.24, 0.6],
    [47, 0.275, 0.6],
  ])("slot %i needs %f $/kWh and %f", (index, absolute, relative) => {
    const threshold = slotThreshold(index, POLICY);

    expect(threshold.absolute).toBeCloseTo(absolute, 6);
    expect(threshold.relative).toBeCloseTo(relative, 6);
  });
});

describe("judgeMateriality", () => {
  it("finds nothing in an identical tariff", () => {
    const result = judge(slots(), slots());

    expect(result.material).toBe(false);
    expect(result.reason).toBe("no price changed");
    expect(result.changedSlots).toBe(0);
  });

  it("ignores float noise everywhere", () => {
    const noisy = slots().map((slot) => ({
      ...slot,
      buy: slot.buy + 0.0004,
      sell: slot.sell - 0.0004,
    }));
    const result = judge(slots(), noisy);

    expect(result.material).toBe(false);
    expect(result.changedSlots).toBe(SLOTS);
    expect(result.urgent).toBe(false);
  });

  it.each([
    // A battery keeps one price per half hour, so a live move that matters must reach it.
    ["current slot +6 c", { 0: { buy: 0.36 } }, true, false, "current-slot"],
    ["current slot +3 c", { 0: { buy: 0.33 } }, false, false, undefined],
    [
      "current slot +4 c but 12 %",
      { 0: { buy: 0.34 } },
      false,
      false,
      undefined,
    ],
    ["current slot +40 c", { 0: { buy: 0.7 } }, true, true, "current-slot"],
    ["next slot +6 c", { 1: { buy: 0.36 } }, true, false, "current-slot"],
    ["next slot sell -5 c", { 1: { sell: 0.05 } }, true, false, "current-slot"],
    ["2 h ahead +6 c", { 4: { buy: 0.36 } }, false, false, undefined],
    ["2 h ahead +10 c", { 4: { buy: 0.4 } }, true, false, "threshold"],
    ["20 h ahead +15 c", { 40: { buy: 0.45 } }, false, false, undefined],
    ["20 h ahead +60 c", { 40: { buy: 0.9 } }, true, false, "threshold"],
    [
      "sign change 3 h ahead",
      { 6: { sell: 0, sellActual: -0.02 } },
      true,
      true,
      "sign",
    ],
    [
      "sign change 10 h ahead",
      { 20: { sell: 0, sellActual: -0.02 } },
      false,
      false,
      undefined,
    ],
    [
      "buy turns negative 1 h ahead",
      { 2: { buy: 0, buyActual: -0.05 } },
      true,
      true,
      "sign",
    ],
    [
      "spike 2 h ahead",
      { 4: { spikeStatus: "spike", buy: 0.33 } },
      true,
      true,
      "spike",
    ],
    [
      "potential spike 2 h ahead",
      { 4: { spikeStatus: "potential", buy: 0.31 } },
      true,
      false,
      "spike",
    ],
    [
      "spike status alone",
      { 4: { spikeStatus: "spike" } },
      false,
      false,
      undefined,
    ],
    [
      "spike 10 h ahead",
      { 20: { spikeStatus: "spike", buy: 0.33 } },
      false,
      false,
      undefined,
    ],
  ] as const)("%s", (_name, changes, material, urgent, kind) => {
    const result = judge(slots(), slots(changes));

    expect(result.material).toBe(material);
    expect(result.urgent).toBe(urgent);
    expect(result.findings[0]?.kind).toBe(kind);
  });

  it("ignores a zero crossing by a small step", () => {
    // Export earned 1 c/kWh and now costs 1 c/kWh: a 2 c/kWh step.
    const result = judge(
      slots({ 6: { sell: 0.01 } }),
      slots({ 6: { sell: 0, sellActual: -0.01 } }),
    );

    expect(result.material).toBe(false);
  });

  it("waits for a far change to come closer", () => {
    // A forecast 20 h ahead jumps by 15 c: not material there...
    const before = slots();
    const farChange = judge(before, slots({ 40: { buy: 0.45 } }));
    // ...but the same difference 2 h ahead is.
    const nearChange = judge(before, slots({ 4: { buy: 0.45 } }));

    expect(farChange.material).toBe(false);
    expect(farChange.reason).toMatch(
      /largest change 15\.00 c\/kWh \(buy at 05:00, 20\.0 h ahead\) is below its threshold of 24\.00 c\/kWh and 60 %/,
    );
    expect(nearChange.material).toBe(true);
  });

  it("names the deciding change in the reason", () => {
    const result = judge(slots(), slots({ 0: { buy: 0.36 } }));

    expect(result.reason).toBe(
      "buy at the current half hour (09:00) moved 6.00 c/kWh (0.3000 to 0.3600 $/kWh), at or above its threshold of 4.00 c/kWh and 15 %",
    );
  });

  it("puts an urgent finding first", () => {
    const result = judge(
      slots(),
      slots({ 1: { buy: 0.4 }, 6: { sell: 0, sellActual: -0.05 } }),
    );

    expect(result.urgent).toBe(true);
    expect(result.findings[0]?.kind).toBe("sign");
    expect(result.findings[1]?.kind).toBe("current-slot");
    expect(result.reason).toMatch(
      /^the real sell price at 12:00, 3\.0 h ahead crosses zero \(0\.1000 to -0\.0500 \$\/kWh, so exporting there now costs money\); and \d more material changes$/,
    );
  });
});

describe("judgeMateriality rolled slots", () => {
  // The last upload was built half an hour earlier, so it priced 08:30 for
  // this morning. That clock time is now the last slot, priced for tomorrow.
  function uploadedBefore(): BuiltSlot[] {
    return slots().map((slot, index) =>
      index === 47 ? { ...slot, start: "2025-06-16T08:30:00+10:00" } : slot,
    );
  }

  function rolled(lastChange: Partial<BuiltSlot>, extra: Changes = {}) {
    const next = slots({ 47: lastChange, ...extra });
    return judgeMateriality(next, baseline(uploadedBefore(), next), POLICY);
  }

  it("marks only the new last slot as rolled", () => {
    const marks = baseline(uploadedBefore(), slots());

    expect(marks.filter((mark) => mark.rolled)).toHaveLength(1);
    expect(marks[47]?.rolled).toBe(true);
  });

  it.each([
    ["a typical day-to-day difference", { buy: 0.34 }],
    ["a large one", { buy: 1.2, spikeStatus: "spike" }],
    ["a sign change", { sell: 0, sellActual: -0.3 }],
  ])("never writes for %s alone", (_name, change) => {
    const result = rolled(change);

    expect(result.material).toBe(false);
    expect(result.changedSlots).toBe(1);
    expect(result.reason).toMatch(
      /^no other price changed; 1 half hour that rolled into the window since the last upload differs from the day before and goes with the next write$/,
    );
  });

  it("still judges the other slots", () => {
    const result = rolled({ buy: 0.34 }, { 0: { buy: 0.4 } });

    expect(result.material).toBe(true);
    expect(result.findings.map((finding) => finding.slot)).toEqual([0]);
  });
});

describe("judgeMateriality ranking", () => {
  // Cheapest buy in the next 6 h: 10:30 (0.20) and 11:30 (0.21); 12:30 is third.
  const cheap: Changes = {
    3: { buy: 0.2 },
    5: { buy: 0.21 },
    7: { buy: 0.22 },
  };

  it("writes when a clearly cheaper slot takes a place", () => {
    const result = judge(slots({}, cheap), slots({ 5: { buy: 0.26 } }, cheap));

    expect(result.material).toBe(true);
    expect(result.findings.map((finding) => finding.kind)).toEqual(["ranking"]);
    expect(result.reason).toBe(
      "12:30, 3.5 h ahead is now among the 2 cheapest buy rates of the next 6 h, 4.00 c/kWh below 11:30, which it replaces",
    );
  });

  it("ignores a near tie that swaps places", () => {
    const result = judge(slots({}, cheap), slots({ 5: { buy: 0.225 } }, cheap));

    expect(result.material).toBe(false);
  });

  it("looks only at the near horizon", () => {
    const far: Changes = {
      20: { buy: 0.2 },
      22: { buy: 0.21 },
      24: { buy: 0.22 },
    };
    const result = judge(slots({}, far), slots({ 22: { buy: 0.26 } }, far));

    expect(result.material).toBe(false);
  });

  it("watches the dearest sell rates", () => {
    // 10:00 and 11:00 pay most for export; 13:00 now pays 4 c/kWh more.
    const exports: Changes = { 2: { sell: 0.3 }, 4: { sell: 0.29 } };
    const result = judge(
      slots({}, exports),
      slots({ 8: { sell: 0.34 } }, exports),
    );

    expect(result.findings.map((finding) => finding.kind)).toContain("ranking");
  });
});

describe("judgeMateriality against the Powerwall's own tariff", () => {
  it("writes where the Powerwall has no price", () => {
    const rates = slots().map((slot, index) => ({
      buy: index === 10 ? undefined : slot.buy,
      sell: slot.sell,
    }));
    const result = judgeMateriality(slots(), baselineFromRates(rates), POLICY);

    expect(result.material).toBe(true);
    expect(result.findings[0]?.kind).toBe("missing-price");
    expect(result.reason).toBe(
      "the Powerwall's tariff has no buy price at 14:00, 5.0 h ahead",
    );
  });

  it("skips sign and spike rules without real prices", () => {
    const rates = slots().map((slot) => ({ buy: slot.buy, sell: slot.sell }));
    const result = judgeMateriality(
      slots({ 6: { sell: 0.09, sellActual: -0.2, spikeStatus: "spike" } }),
      baselineFromRates(rates),
      POLICY,
    );

    expect(result.material).toBe(false);
  });
});

describe("judgeCurrentMove", () => {
  it.each([
    [{ buy: 0.3, sell: 0.1 }, { buy: 0.31, sell: 0.1 }, "none"],
    [{ buy: 0.3, sell: 0.1 }, { buy: 0.36, sell: 0.1 }, "material"],
    [{ buy: 0.3, sell: 0.1 }, { buy: 0.3, sell: 0.05 }, "material"],
    [{ buy: 0.3, sell: 0.1 }, { buy: 0.9, sell: 0.1 }, "urgent"],
    [{ buy: 0.3, sell: 0.1 }, { buy: 0.38, sell: 0.1 }, "material"],
    [{ buy: 1.5, sell: 0.1 }, { buy: 1.4, sell: 0.1 }, "none"],
  ] as const)("judges %o to %o as %s", (before, after, verdict) => {
    expect(judgeCurrentMove(before, after, POLICY)).toBe(verdict);
  });
});
