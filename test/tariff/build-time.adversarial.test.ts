/**
 * Property tests of slot placement over a year in five Australian zones
 * (every half hour with TARIFF_SWEEP=full), with `now` on, 1 ms before and
 * 1 ms after the boundaries, and every boundary of the daylight saving
 * days. Each 30-minute interval carries a price unique to its UTC half
 * hour, so a slot priced from the wrong half hour shows up as a wrong
 * number.
 */
import { DateTime, IANAZone } from "luxon";
import { describe, expect, it } from "vitest";

import type { Interval } from "../../src/amber/schemas.js";
import { buildTariff, type BuildTariffResult } from "../../src/tariff/build.js";
import { validateTariff } from "../../src/tariff/validate.js";

const HALF_HOUR = 30 * 60_000;
const HOUR = 2 * HALF_HOUR;
const DAY = 24 * HOUR;

/** General price in c/kWh of the UTC half hour `n` (ms / HALF_HOUR). */
function generalCents(n: number): number {
  return 1 + (n % 997) / 10;
}

/** Feed-in price in c/kWh (a cost, so mostly negative) of the UTC half hour `n`. */
function feedInCents(n: number): number {
  return -((n % 991) / 10) + 2;
}

/** Rounds to the 4 decimals a built tariff carries. */
function dollars(cents: number): number {
  const value = Math.round(cents * 100) / 10_000;
  return value === 0 ? 0 : value;
}

function utcText(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/**
 * Intervals of the 26 hours before and the 27 hours from the UTC half hour
 * containing `now`: actual before it, current for it and forecast after. Forecasts carry the
 * price in `advancedPrice.predicted` and a decoy `perKwh` of -999, so a
 * forecast read from the wrong field is caught too.
 */
function window(now: number): Interval[] {
  const currentN = Math.floor(now / HALF_HOUR);
  const intervals: Interval[] = [];
  for (const channelType of ["general", "feedIn"] as const) {
    for (let n = currentN - 52; n < currentN + 54; n++) {
      const startMs = n * HALF_HOUR;
      const endMs = startMs + HALF_HOUR;
      const cents =
        channelType === "general" ? generalCents(n) : feedInCents(n);
      const base = {
        date: new Date(startMs + 10 * HOUR).toISOString().slice(0, 10),
        duration: 30 as const,
        startTime: utcText(startMs + 1000),
        endTime: utcText(endMs),
        nemTime: `${new Date(endMs + 10 * HOUR).toISOString().slice(0, 19)}+10:00`,
        perKwh: cents,
        spotPerKwh: cents / 2,
        renewables: 30,
        channelType,
        spikeStatus: "none" as const,
        descriptor: "neutral",
        tariffInformation: null,
      };
      if (n < currentN) {
        intervals.push({ type: "ActualInterval", ...base });
      } else if (n === currentN) {
        intervals.push({
          type: "CurrentInterval",
          ...base,
          estimate: true,
          range: null,
          advancedPrice: { low: -999, predicted: -999, high: -999 },
        });
      } else {
        intervals.push({
          type: "ForecastInterval",
          ...base,
          perKwh: -999,
          range: null,
          advancedPrice: { low: cents - 1, predicted: cents, high: cents + 1 },
        });
      }
    }
  }
  return intervals;
}

/**
 * Start (ms) of each label's next occurrence at or after `from`, on the
 * local date of `from` or the day after, found by walking the UTC half
 * hours and reading the local wall clock, independent of the builder. A
 * label that daylight saving skips on those two dates is absent: the
 * builder's stated rule fills it even when the time occurs again two days
 * later, because that lies beyond the 24 hours Amber forecasts.
 */
function nextOccurrences(from: number, zone: string): Map<string, number> {
  const iana = IANAZone.create(zone);
  const localDay = (ms: number): number =>
    Math.floor((ms + iana.offset(ms) * 60_000) / DAY);
  const lastDay = localDay(from) + 1;
  const found = new Map<string, number>();
  for (let ms = from; localDay(ms) <= lastDay; ms += HALF_HOUR) {
    const localMinute =
      Math.floor((ms + iana.offset(ms) * 60_000) / 60_000) % (24 * 60);
    const hours = String(Math.floor(localMinute / 60)).padStart(2, "0");
    const minutes = String(localMinute % 60).padStart(2, "0");
    const label = `PERIOD_${hours}_${minutes}`;
    if (!found.has(label)) {
      found.set(label, ms);
    }
  }
  return found;
}

/** Start (ms) of the local half hour containing `now`, by the wall clock. */
function currentHalfHour(now: number, zone: string): number {
  const offsetMs = IANAZone.create(zone).offset(now) * 60_000;
  return now - ((((now + offsetMs) % HALF_HOUR) + HALF_HOUR) % HALF_HOUR);
}

/**
 * Checks one build: 48 distinct labels in time order, a valid strict
 * tariff, and each slot priced from the interval that covers its wall-clock
 * half hour at its next occurrence. A skipped time (daylight saving starts)
 * takes the same time of the day before. Returns the failures as text.
 */
function checkBuild(now: number, zone: string): string[] {
  let result: BuildTariffResult;
  try {
    result = buildTariff({
      intervals: window(now),
      now,
      timeZone: zone,
      options: { band: "predicted" },
    });
  } catch (error) {
    return [`${zone} ${utcText(now)}: threw ${(error as Error).message}`];
  }

  const failures: string[] = [];
  const at = `${zone} now ${new Date(now).toISOString()}`;
  const { slots, tariff } = result;
  if (slots.length !== 48 || new Set(slots.map((s) => s.label)).size !== 48) {
    failures.push(`${at}: labels not 48 distinct`);
  }
  if (!validateTariff(tariff, "strict").ok) {
    failures.push(`${at}: strict validation failed`);
  }
  const from = currentHalfHour(now, zone);
  if (
    slots[0]?.start !==
    DateTime.fromMillis(from, { zone }).toISO({ suppressMilliseconds: true })
  ) {
    failures.push(
      `${at}: first slot ${slots[0]?.start} is not the current half hour`,
    );
  }
  const starts = slots
    .filter((plan) => /[+-]\d\d:\d\d$/.test(plan.start))
    .map((plan) => Date.parse(plan.start));
  if (starts.some((start, i) => i > 0 && start <= (starts[i - 1] ?? 0))) {
    failures.push(`${at}: slots are not in time order`);
  }
  const occurrences = nextOccurrences(from, zone);
  for (const slot of slots) {
    let occurrence = occurrences.get(slot.label);
    let expectedStart: string | undefined;
    if (occurrence === undefined) {
      // Skipped by daylight saving: filled from the same time the day before.
      const [date = "", time = ""] = slot.start.split("T");
      const dayBefore = DateTime.fromISO(date, { zone }).minus({ days: 1 });
      occurrence = DateTime.fromISO(`${dayBefore.toISODate() ?? ""}T${time}`, {
        zone,
      }).toMillis();
      expectedStart = slot.start;
    } else {
      expectedStart =
        DateTime.fromMillis(occurrence, { zone }).toISO({
          suppressMilliseconds: true,
        }) ?? "";
    }
    const n = Math.floor(occurrence / HALF_HOUR);
    const buy = dollars(generalCents(n));
    const sell = dollars(-feedInCents(n));
    if (slot.start !== expectedStart) {
      failures.push(
        `${at}: ${slot.label} starts ${slot.start}, expected ${expectedStart}`,
      );
    }
    if (slot.buyActual !== buy || slot.sellActual !== sell) {
      failures.push(
        `${at}: ${slot.label} buy ${slot.buyActual} sell ${slot.sellActual}, expected ${buy} ${sell} from ${utcText(occurrence)}`,
      );
    }
  }
  return failures;
}

const ZONES = [
  "Australia/Sydney",
  "Australia/Adelaide",
  "Australia/Brisbane",
  "Australia/Perth",
  "Australia/Lord_Howe",
];
const MONTHS = Array.from({ length: 12 }, (_, i) => i + 1);

/**
 * Half hours between two builds of the year sweep. A full sweep (every half
 * hour, about 90,000 builds) takes many minutes. By default the sweep steps
 * 97 half hours, so each build lands two days later at the next clock time
 * and the year still visits every clock time on every weekday. Set
 * TARIFF_SWEEP=full to try every half hour.
 */
const SWEEP_STEP = process.env["TARIFF_SWEEP"] === "full" ? 1 : 97;

describe("slot placement over a year", () => {
  const cases = ZONES.flatMap((zone) =>
    MONTHS.map((month) => [zone, month] as const),
  );

  // Each boundary is tried at one of: exactly on it, 1 ms before, 1 ms after.
  it.each(cases)(
    "%s month %i",
    (zone, month) => {
      const start = DateTime.fromObject(
        { year: 2026, month, day: 1 },
        { zone },
      );
      const end = start.plus({ months: 1 }).toMillis();
      const failures: string[] = [];
      let index = 0;
      for (
        let ms = start.toMillis();
        ms < end && failures.length <= 5;
        ms += SWEEP_STEP * HALF_HOUR
      ) {
        const now = ms + ([0, -1, 1][index % 3] ?? 0);
        failures.push(...checkBuild(now, zone));
        index++;
      }
      expect(failures).toEqual([]);
    },
    SWEEP_STEP === 1 ? 600_000 : 20_000,
  );
});

/**
 * Returns every instant (ms) at which the wall clock of `zone` reads the
 * local ISO time `text`: two in the repeated hour, none in the skipped
 * one. It tries each whole-half-hour offset from +8:00 to +14:00.
 */
function instantsOf(text: string, zone: string): number[] {
  const iana = IANAZone.create(zone);
  const wall = DateTime.fromISO(text, { zone: "UTC" }).toMillis();
  const instants: number[] = [];
  for (let offset = 8 * 60; offset <= 14 * 60; offset += 30) {
    const instant = wall - offset * 60_000;
    if (iana.offset(instant) === offset) {
      instants.push(instant);
    }
  }
  return instants;
}

describe("slot placement on daylight saving days", () => {
  // 2026: daylight saving ends on 5 April and starts on 4 October.
  const DST_ZONES = [
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
  ];

  // On the transition day, every boundary is tried on, 1 ms before and
  // 1 ms after. The day before, whose tomorrow slots fall on the
  // transition day, cycles through the three.
  it.each(
    DST_ZONES.flatMap((zone) =>
      [
        ["2026-04-04", [[-1], [0], [1]]],
        ["2026-04-05", [[-1, 0, 1]]],
        ["2026-10-03", [[-1], [0], [1]]],
        ["2026-10-04", [[-1, 0, 1]]],
      ].map(([day, offsets]) => [zone, day, offsets] as const),
    ),
  )("%s on %s", (zone, day, offsets) => {
    const start = DateTime.fromISO(day as string, { zone });
    const end = start.plus({ days: 1 }).toMillis();
    const cycle = offsets as number[][];
    const failures: string[] = [];
    let index = 0;
    for (let ms = start.toMillis(); ms < end; ms += HALF_HOUR) {
      for (const offset of cycle[index % cycle.length] ?? []) {
        failures.push(...checkBuild(ms + offset, zone));
      }
      index++;
    }
    expect(failures).toEqual([]);
  });

  it.each(
    DST_ZONES.flatMap((zone) =>
      [
        ["2026-04-05T01:29:59.999", 1],
        ["2026-04-05T01:59:59.999", zone === "Australia/Lord_Howe" ? 2 : 1],
        ["2026-04-05T02:00", zone === "Australia/Lord_Howe" ? 1 : 2],
        ["2026-04-05T02:59:59.999", zone === "Australia/Lord_Howe" ? 1 : 2],
        ["2026-04-05T03:00", 1],
        ["2026-10-04T01:59:59.999", 1],
        ["2026-10-04T02:00", 0],
        ["2026-10-04T02:30", zone === "Australia/Lord_Howe" ? 1 : 0],
        ["2026-10-04T03:00", 1],
      ].map(([time, count]) => [zone, time, count] as const),
    ),
  )("%s at %s (%i instants)", (zone, time, count) => {
    const instants = instantsOf(time as string, zone);
    expect(instants).toHaveLength(count as number);
    for (const instant of instants) {
      expect(checkBuild(instant, zone)).toEqual([]);
    }
  });
});
