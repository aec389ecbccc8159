/**
 * Custom time-of-use schedules: a tariff the user writes down (seasons,
 * weekday ranges, half-hour windows, buy and sell rates) instead of Amber's
 * prices. A schedule is used in one of two ways:
 * - applied on demand: it holds the tariff until cleared, and the Amber sync
 *   skips its uploads meanwhile;
 * - as the fallback: the sync engine uploads `fallbackTariff(now)` when
 *   Amber prices have been missing for `fallbackAfterMs` (default 30
 *   minutes).
 *
 * Schedule format (YAML, or the same keys as JSON from the HA service and
 * the dashboard):
 *
 *   name: Example TOU
 *   utility: Example Energy       # optional
 *   dailyCharge: 1.10             # $/day, optional
 *   seasons:
 *     - name: Summer
 *       from: { month: 11, day: 1 }
 *       to: { month: 3, day: 31 }  # a season may wrap the year end
 *       periods:
 *         - name: ON_PEAK
 *           fromDayOfWeek: 0        # 0 = Monday ... 6 = Sunday; default 0
 *           toDayOfWeek: 4          # default 6
 *           from: "15:00"           # half hours only
 *           to: "21:00"             # "00:00" or "24:00" = midnight
 *           buy: 0.52               # $/kWh
 *           sell: 0.08              # $/kWh
 *
 * A window whose end is before its start (21:00 to 07:00) covers the end
 * and the start of each of its days and is split into two periods, because
 * strict tariffs may not run past midnight. Each season must cover every
 * half hour of every weekday exactly once, and the seasons must cover the
 * year exactly once; the strict validator's problems are reported as they
 * are.
 */
import { EventEmitter } from "node:events";

import type { Logger } from "pino";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";

import { ConfigError, describeError } from "../errors.js";
import { daysInMonth } from "../tariff/calendar.js";
import { tariffsEquivalent } from "../tariff/compare.js";
import type { TariffContentV2 } from "../tariff/schema.js";
import { validateTariff } from "../tariff/validate.js";
import { systemClock, type Clock } from "../util/clock.js";
import type { PowerwallWrites, SiteId } from "./powerwall.js";
import type { ClaimHolder, ControlArbiter, Resource } from "./precedence.js";
import { SerialQueue } from "./serial.js";
import { StateFile } from "./state-file.js";
import {
  assembleSeasonalTariff,
  type LabelledRate,
  type StrictPeriod,
} from "./tariff-shapes.js";

const TIME_PATTERN = /^(\d{1,2}):(\d{2})$/;

/** "HH:MM" on a half hour, 00:00 to 24:00; parsed to minutes of the day. */
const halfHourSchema = z.string().transform((text, context) => {
  const match = TIME_PATTERN.exec(text.trim());
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (
    match === null ||
    hour > 24 ||
    (minute !== 0 && minute !== 30) ||
    (hour === 24 && minute !== 0)
  ) {
    context.addIssue({
      code: "custom",
      message: `"${text}" is not a half-hour time; use HH:00 or HH:30 from 00:00 to 24:00`,
    });
    return z.NEVER;
  }
  return hour * 60 + minute;
});

const rateSchema = z
  .number({ error: "must be a number of $/kWh" })
  .finite()
  .min(0, "must not be negative; Tesla treats negative rates as 0");

const monthDaySchema = z
  .strictObject({
    month: z.number().int().min(1).max(12),
    day: z.number().int().min(1).max(31),
  })
  .refine((date) => date.day <= daysInMonth(date.month), {
    message: "day does not exist in that month",
    path: ["day"],
  });

const periodSchema = z
  .strictObject({
    /** Tariff label; the Tesla app names ON_PEAK, OFF_PEAK, PARTIAL_PEAK and SUPER_OFF_PEAK. */
    name: z.string().trim().min(1).max(40),
    fromDayOfWeek: z.number().int().min(0).max(6).default(0),
    toDayOfWeek: z.number().int().min(0).max(6).default(6),
    from: halfHourSchema,
    to: halfHourSchema,
    buy: rateSchema,
    sell: rateSchema,
  })
  .refine((period) => period.fromDayOfWeek <= period.toDayOfWeek, {
    message:
      "fromDayOfWeek is after toDayOfWeek; split a range that wraps Sunday into two periods",
    path: ["toDayOfWeek"],
  });

const seasonSchema = z.strictObject({
  name: z.string().trim().min(1).max(40),
  from: monthDaySchema,
  to: monthDaySchema,
  periods: z.array(periodSchema).min(1, "needs at least one period"),
});

/** Zod schema of a custom schedule; times are parsed to minutes of the day. */
export const customScheduleSchema = z.strictObject({
  name: z.string().trim().min(1).max(80),
  utility: z.string().trim().min(1).default("Custom schedule"),
  code: z.string().trim().min(1).default("TESLA_SYNC:CUSTOM"),
  currency: z.string().trim().length(3).default("AUD"),
  /** Daily supply charge, $/day. */
  dailyCharge: z.number().finite().min(0).default(0),
  seasons: z
    .array(seasonSchema)
    .min(1, "needs at least one season")
    .refine(
      (seasons) =>
        new Set(seasons.map((season) => season.name)).size === seasons.length,
      {
        message: "season names must differ",
      },
    ),
});
/** A parsed custom schedule. Period times are minutes of the day (0 to 1440). */
export type CustomSchedule = z.output<typeof customScheduleSchema>;
/** A custom schedule as written, with times as "HH:MM". */
export type CustomScheduleInput = z.input<typeof customScheduleSchema>;

/**
 * Parses a schedule from YAML or JSON text (`format` "auto" picks JSON when
 * the text starts with "{"). Throws ConfigError naming the field and the fix.
 */
export function parseCustomSchedule(
  text: string,
  format: "yaml" | "json" | "auto" = "auto",
): CustomSchedule {
  const useJson =
    format === "json" ||
    (format === "auto" && text.trimStart().startsWith("{"));
  let raw: unknown;
  try {
    raw = useJson
      ? (JSON.parse(text) as unknown)
      : (parseYaml(text) as unknown);
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos !== undefined
        ? ` at line ${error.linePos[0].line}`
        : "";
    throw new ConfigError(
      `Custom schedule is not valid ${useJson ? "JSON" : "YAML"}${where}: ${(error as Error).message}. Fix the syntax and send it again.`,
      { cause: error },
    );
  }
  return parseCustomScheduleObject(raw);
}

/** Parses an already decoded schedule object, e.g. the JSON body of an HA service call. */
export function parseCustomScheduleObject(value: unknown): CustomSchedule {
  const result = customScheduleSchema.safeParse(value);
  if (result.success) {
    return result.data;
  }
  const problems = result.error.issues.map(
    (issue) => `${formatPath(issue.path)}: ${issue.message}`,
  );
  throw new ConfigError(`Custom schedule is invalid: ${problems.join("; ")}.`, {
    cause: result.error,
  });
}

/**
 * Turns a schedule into a strict `tariff_content_v2`. Throws ConfigError
 * when one season uses a period name with two different prices, and
 * TariffInvalidError with the validator's problems for overlaps, gaps and
 * bad season tiling.
 */
export function customScheduleTariff(
  schedule: CustomSchedule,
): TariffContentV2 {
  const seasons = schedule.seasons.map((season, seasonIndex) => {
    const labels = new Map<string, LabelledRate>();
    season.periods.forEach((period, periodIndex) => {
      const existing = labels.get(period.name);
      if (
        existing !== undefined &&
        (existing.buy !== period.buy || existing.sell !== period.sell)
      ) {
        throw new ConfigError(
          `Custom schedule seasons[${seasonIndex}].periods[${periodIndex}]: period "${period.name}" in season "${season.name}" has buy ${period.buy} and sell ${period.sell}, but an earlier period of that name has buy ${existing.buy} and sell ${existing.sell}. Give it another name or the same prices.`,
        );
      }
      const entry = existing ?? {
        label: period.name,
        buy: period.buy,
        sell: period.sell,
        periods: [],
      };
      entry.periods.push(...windows(period));
      labels.set(period.name, entry);
    });
    return {
      name: season.name,
      fromMonth: season.from.month,
      fromDay: season.from.day,
      toMonth: season.to.month,
      toDay: season.to.day,
      labels: [...labels.values()],
    };
  });
  return assembleSeasonalTariff(
    {
      name: schedule.name,
      code: schedule.code,
      utility: schedule.utility,
      currency: schedule.currency,
      dailyCharge: schedule.dailyCharge,
    },
    seasons,
  );
}

/** Tesla periods for one schedule period; a window past midnight becomes two. */
function windows(
  period: CustomSchedule["seasons"][number]["periods"][number],
): StrictPeriod[] {
  const end = period.to === 0 ? 1440 : period.to;
  if (period.from < end) {
    return [teslaPeriod(period, period.from, end)];
  }
  const parts = [teslaPeriod(period, period.from, 1440)];
  if (end > 0 && end < 1440) {
    parts.push(teslaPeriod(period, 0, end));
  }
  return parts;
}

/** Returns a Tesla period from `start` to `end` minutes of the day; 1440 is written as 0:00. */
function teslaPeriod(
  days: { fromDayOfWeek: number; toDayOfWeek: number },
  start: number,
  end: number,
): StrictPeriod {
  const to = end % 1440;
  return {
    fromDayOfWeek: days.fromDayOfWeek,
    toDayOfWeek: days.toDayOfWeek,
    fromHour: Math.floor(start / 60),
    fromMinute: start % 60,
    toHour: Math.floor(to / 60),
    toMinute: to % 60,
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    text +=
      typeof key === "number"
        ? `[${key}]`
        : text === ""
          ? String(key)
          : `.${String(key)}`;
  }
  return text === "" ? "(schedule)" : text;
}

// ------------------------------------------------------------------ control

const scheduleFileSchema = z.object({
  version: z.literal(1),
  /** "off": nothing applied; "pending": applied but not (yet) on the Powerwall; "applied": uploaded. */
  state: z.enum(["off", "pending", "applied"]),
  /** The schedule applied on demand, as written. */
  active: z.unknown().optional(),
  /** The fallback schedule, as written. */
  fallback: z.unknown().optional(),
});
type ScheduleFile = z.infer<typeof scheduleFileSchema>;

/** Options of {@link CustomScheduleControl}. */
export interface CustomScheduleOptions {
  siteId: SiteId;
  powerwall: PowerwallWrites;
  arbiter: ControlArbiter;
  /** Directory of the state file `custom-schedule.json`. */
  dataDir: string;
  logger: Logger;
  clock?: Clock;
  /** Time without Amber prices before the fallback applies, ms; default 1800000 (30 minutes). */
  fallbackAfterMs?: number;
}

/** Readable state for the HA bridge and the dashboard. */
export interface CustomScheduleSnapshot {
  state: ScheduleFile["state"];
  /** Name of the schedule applied on demand. */
  active: string | undefined;
  /** Name of the fallback schedule. */
  fallback: string | undefined;
  /** True when `fallbackTariff(now)` returns a tariff now. */
  fallbackInUse: boolean;
  /** Last time the engine reported Amber prices, epoch ms. */
  lastAmberDataAt: number;
  fallbackAfterMs: number;
  blockedBy: string | undefined;
  lastError: string | undefined;
}

/** Events of {@link CustomScheduleControl}. */
export interface CustomScheduleEvents {
  /** A schedule's tariff was uploaded; `fallback` is true for the fallback schedule. */
  applied: [{ name: string; at: number; fallback: boolean }];
  state: [CustomScheduleSnapshot];
}

/** Applies custom schedules and supplies the fallback tariff; see the file comment. */
export class CustomScheduleControl
  extends EventEmitter<CustomScheduleEvents>
  implements ClaimHolder
{
  readonly id = "custom-schedule";
  readonly kind = "custom-schedule" as const;
  readonly #siteId: SiteId;
  readonly #powerwall: PowerwallWrites;
  readonly #arbiter: ControlArbiter;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #file: StateFile<ScheduleFile>;
  readonly #queue = new SerialQueue();
  readonly #fallbackAfterMs: number;
  #state: ScheduleFile = { version: 1, state: "off" };
  #active: { schedule: CustomSchedule; tariff: TariffContentV2 } | undefined;
  #fallback: { schedule: CustomSchedule; tariff: TariffContentV2 } | undefined;
  #lastAmberDataAt: number;
  #fallbackUploadedAt: number | undefined;
  #lastError: string | undefined;

  constructor(options: CustomScheduleOptions) {
    super();
    this.#siteId = options.siteId;
    this.#powerwall = options.powerwall;
    this.#arbiter = options.arbiter;
    this.#logger = options.logger.child({ control: this.id });
    this.#clock = options.clock ?? systemClock;
    this.#fallbackAfterMs = options.fallbackAfterMs ?? 30 * 60_000;
    this.#lastAmberDataAt = this.#clock.now();
    this.#file = new StateFile(
      options.dataDir,
      "custom-schedule.json",
      scheduleFileSchema,
      this.#logger,
      () => this.#clock.now(),
    );
  }

  /** Reads the state file and registers the claim, without writing. Call before `resume()`. */
  async load(): Promise<void> {
    const stored = await this.#file.load();
    if (stored === undefined) {
      return;
    }
    this.#state = stored;
    this.#active = this.#compile(stored.active, "applied");
    this.#fallback = this.#compile(stored.fallback, "fallback");
    if (this.#active === undefined && stored.state !== "off") {
      this.#state = { ...stored, state: "off", active: undefined };
    }
    if (this.#state.state !== "off") {
      this.#arbiter.register(this, ["tariff"]);
    }
  }

  /** Checks that an applied schedule is still on the Powerwall and uploads it if not. */
  resume(): Promise<void> {
    return this.#queue.run(async () => {
      if (
        this.#state.state !== "off" &&
        this.#arbiter.isWriter(this.id, "tariff")
      ) {
        await this.#ensureUploaded();
      }
      this.#publish();
    });
  }

  /**
   * Applies `schedule` (YAML or JSON text, or a decoded object in the written
   * form; see formatCustomSchedule for a parsed one) until `clear()`. Invalid schedules throw before anything is saved. When a
   * spike or force holds the tariff, the schedule waits and uploads itself
   * once it is free.
   */
  apply(
    schedule: string | CustomScheduleInput,
  ): Promise<CustomScheduleSnapshot> {
    let compiled: { schedule: CustomSchedule; tariff: TariffContentV2 };
    try {
      compiled = compileInput(schedule);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queue.run(async () => {
      this.#active = compiled;
      await this.#save({
        ...this.#state,
        state: "pending",
        active: formatCustomSchedule(compiled.schedule),
      });
      const claim = await this.#arbiter.claim(this, ["tariff"]);
      if (claim.granted) {
        await this.#upload();
      } else {
        this.#logger.info(
          { blockedBy: claim.blockedBy },
          "Custom schedule waits for the tariff",
        );
      }
      this.#publish();
      return this.snapshot();
    });
  }

  /** Stops applying the schedule; the next Amber sync uploads Amber prices again. */
  clear(): Promise<void> {
    return this.#queue.run(async () => {
      this.#active = undefined;
      await this.#save({ ...this.#state, state: "off", active: undefined });
      await this.#arbiter.release(this.id);
      this.#publish();
    });
  }

  /** Sets (or with undefined removes) the fallback schedule, in the forms `apply` takes. Invalid schedules throw. */
  setFallback(
    schedule: string | CustomScheduleInput | undefined,
  ): Promise<void> {
    let compiled:
      { schedule: CustomSchedule; tariff: TariffContentV2 } | undefined;
    try {
      compiled = schedule === undefined ? undefined : compileInput(schedule);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queue.run(async () => {
      this.#fallback = compiled;
      await this.#save({
        ...this.#state,
        fallback:
          compiled === undefined
            ? undefined
            : formatCustomSchedule(compiled.schedule),
      });
      this.#publish();
    });
  }

  /** Records that the engine received Amber prices at `at` (epoch ms). */
  noteAmberData(at: number): void {
    this.#lastAmberDataAt = Math.max(this.#lastAmberDataAt, at);
  }

  /**
   * Returns the fallback tariff when a fallback schedule is set and Amber
   * prices have been missing for at least `fallbackAfterMs` (counted from
   * the last `noteAmberData`, or from this control's start), else undefined.
   */
  fallbackTariff(now: number): TariffContentV2 | undefined {
    if (
      this.#fallback === undefined ||
      now - this.#lastAmberDataAt < this.#fallbackAfterMs
    ) {
      return undefined;
    }
    return structuredClone(this.#fallback.tariff);
  }

  /**
   * Uploads the fallback tariff when it is due (see `fallbackTariff`) and no
   * control claims the tariff, once per outage of Amber prices. The next
   * sync with Amber prices replaces it. The service calls this every minute
   * while auto-sync is on.
   */
  checkFallback(): Promise<
    "uploaded" | "not-due" | "held" | "already-uploaded" | "failed"
  > {
    return this.#queue.run(async () => {
      const now = this.#clock.now();
      const tariff = this.fallbackTariff(now);
      const fallback = this.#fallback;
      if (tariff === undefined || fallback === undefined) {
        return "not-due";
      }
      if (
        this.#fallbackUploadedAt !== undefined &&
        this.#fallbackUploadedAt >= this.#lastAmberDataAt
      ) {
        return "already-uploaded";
      }
      if (this.#arbiter.tariffOverride() !== undefined) {
        return "held";
      }
      try {
        await this.#powerwall.setTariff(this.#siteId, tariff);
      } catch (error) {
        this.#fail(
          `upload the fallback schedule "${fallback.schedule.name}"`,
          error,
        );
        return "failed";
      }
      this.#fallbackUploadedAt = now;
      this.#lastError = undefined;
      this.#logger.warn(
        {
          schedule: fallback.schedule.name,
          missingForMs: now - this.#lastAmberDataAt,
        },
        "Amber prices are missing, so the fallback custom schedule was uploaded",
      );
      this.emit("applied", {
        name: fallback.schedule.name,
        at: now,
        fallback: true,
      });
      this.#publish();
      return "uploaded";
    });
  }

  /** Resolves once every queued transition has finished; for tests and shutdown. */
  settled(): Promise<void> {
    return this.#queue.idle();
  }

  snapshot(): CustomScheduleSnapshot {
    const writer = this.#arbiter.writer("tariff");
    return {
      state: this.#state.state,
      active: this.#active?.schedule.name,
      fallback: this.#fallback?.schedule.name,
      fallbackInUse: this.fallbackTariff(this.#clock.now()) !== undefined,
      lastAmberDataAt: this.#lastAmberDataAt,
      fallbackAfterMs: this.#fallbackAfterMs,
      blockedBy:
        this.#state.state !== "off" && writer !== this.id ? writer : undefined,
      lastError: this.#lastError,
    };
  }

  /** Marks the schedule pending; the higher control saves this schedule's tariff and restores it. */
  onPreempted(resource: Resource): Promise<void> {
    if (resource !== "tariff") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      if (this.#state.state === "applied") {
        await this.#save({ ...this.#state, state: "pending" });
      }
      this.#publish();
    });
  }

  /** Uploads the schedule again unless the Powerwall already has it. */
  onResumed(resource: Resource): Promise<void> {
    if (resource !== "tariff") {
      return Promise.resolve();
    }
    return this.#queue.run(async () => {
      if (this.#state.state !== "off") {
        await this.#ensureUploaded();
      }
      this.#publish();
    });
  }

  async #ensureUploaded(): Promise<void> {
    const active = this.#active;
    if (active === undefined) {
      return;
    }
    try {
      const info = await this.#powerwall.getSiteInfo(this.#siteId);
      const current = validateTariff(
        info.tariff_content_v2 ?? undefined,
        "lenient",
      );
      if (current.ok && tariffsEquivalent(current.tariff, active.tariff)) {
        if (this.#state.state !== "applied") {
          await this.#save({ ...this.#state, state: "applied" });
        }
        return;
      }
    } catch (error) {
      this.#fail("read the Powerwall's tariff", error);
      return;
    }
    await this.#upload();
  }

  async #upload(): Promise<void> {
    const active = this.#active;
    if (active === undefined) {
      return;
    }
    try {
      await this.#powerwall.setTariff(this.#siteId, active.tariff);
    } catch (error) {
      this.#fail(`upload the custom schedule "${active.schedule.name}"`, error);
      return;
    }
    this.#lastError = undefined;
    await this.#save({ ...this.#state, state: "applied" });
    this.#logger.info(
      { schedule: active.schedule.name },
      "Custom schedule uploaded",
    );
    this.emit("applied", {
      name: active.schedule.name,
      at: this.#clock.now(),
      fallback: false,
    });
  }

  #compile(
    stored: unknown,
    which: string,
  ): { schedule: CustomSchedule; tariff: TariffContentV2 } | undefined {
    if (stored === undefined) {
      return undefined;
    }
    try {
      return compileInput(stored);
    } catch (error) {
      this.#logger.error(
        { error: describeError(error) },
        `The saved ${which} custom schedule is no longer valid and was dropped; send it again`,
      );
      return undefined;
    }
  }

  #fail(action: string, error: unknown): void {
    const text = describeError(error);
    this.#logger.warn(
      { error: text },
      `Custom schedule could not ${action}; retrying when the tariff is next free`,
    );
    this.#lastError = text;
  }

  async #save(next: ScheduleFile): Promise<void> {
    await this.#file.save(next);
    this.#state = next;
  }

  #publish(): void {
    this.emit("state", this.snapshot());
  }
}

function compileInput(input: unknown): {
  schedule: CustomSchedule;
  tariff: TariffContentV2;
} {
  const schedule =
    typeof input === "string"
      ? parseCustomSchedule(input)
      : parseCustomScheduleObject(input);
  return { schedule, tariff: customScheduleTariff(schedule) };
}

/** Returns a parsed schedule in its written form ("HH:MM" times), e.g. for the state file. */
export function formatCustomSchedule(
  schedule: CustomSchedule,
): CustomScheduleInput {
  return {
    ...schedule,
    seasons: schedule.seasons.map((season) => ({
      ...season,
      periods: season.periods.map((period) => ({
        ...period,
        from: formatTime(period.from),
        to: formatTime(period.to),
      })),
    })),
  };
}

function formatTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}
