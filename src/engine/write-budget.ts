/**
 * When the engine may send a tariff write to Tesla: the spacing between
 * writes and the daily write budget. Each write can add a "rate plan" entry
 * in the Tesla app, and Tesla and Teslemetry rate-limit
 * `time_of_use_settings`, so the engine writes only as often as the prices
 * need. Every write attempt counts, accepted or not, because Tesla counts
 * the request either way.
 *
 * Spacing, measured from the last write attempt of any kind:
 * - an ordinary change waits `minWriteSpacingMs` (default 30 min);
 * - an urgent change waits `urgentWriteSpacingMs` (default 5 min). The
 *   materiality rule (decision.ts) calls a change urgent when the current
 *   half hour moves a lot, or a sign or spike status changes in the next
 *   hours;
 * - a manual sync waits `manualWriteFloorMs` (default 60 s). It skips the
 *   schedule and the other two spacings, but its write restarts them.
 *
 * Budget: `dailyWriteBudget` (default 48) write attempts per local day of
 * the site, manual ones included.
 * - Ordinary changes may use the budget less `urgentWriteReserve` (default
 *   12, so 36), spread evenly over the day: by a given time they may have
 *   used that share of the 36, rounded up (9 by 06:00, and at least 1).
 *   A volatile morning therefore cannot spend the evening's writes.
 * - Urgent changes may also use the reserve: by a given time, the ordinary
 *   share plus the reserve (9 + 12 = 21 by 06:00). The whole budget is
 *   reached only at the end of the day, so a day of urgent changes still
 *   leaves writes for the evening.
 * - Manual syncs are not limited by the budget, but their writes count.
 */
import { DateTime } from "luxon";

import type { EngineSettings } from "./settings.js";

/** The rule a write falls under. */
export type WriteKind = "ordinary" | "urgent" | "manual";

/** The settings the write rules read. */
export type WritePolicy = Pick<
  EngineSettings,
  | "minWriteSpacingMs"
  | "urgentWriteSpacingMs"
  | "manualWriteFloorMs"
  | "dailyWriteBudget"
  | "urgentWriteReserve"
>;

/** The place of a moment in the site's local day. */
export interface DayProgress {
  /** Local date, YYYY-MM-DD. */
  day: string;
  /** Start of the local day, ms since the epoch. */
  start: number;
  /** Start of the next local day (23 or 25 hours later on daylight-saving days). */
  end: number;
  /** Elapsed share of the day, 0 to 1. */
  fraction: number;
}

/** The state a write decision reads. */
export interface WriteRequest {
  kind: WriteKind;
  now: number;
  /** Time of the last write attempt, ms since the epoch; undefined when there was none. */
  lastWriteAt: number | undefined;
  /** Write attempts so far in the local day of `now`. */
  usedToday: number;
  progress: DayProgress;
}

/** Whether a write may go now and, when not, why and when it could. */
export type WritePermission =
  | { allowed: true }
  | {
      allowed: false;
      limit: "spacing" | "budget";
      /** Earliest time the write could go if nothing else is written, ms. */
      retryAt: number;
      /** One clause for the sync reason, e.g. "the last write was 300 s ago, ...". */
      reason: string;
    };

/** Returns the local day containing `now` in `zone` and how far it has gone. */
export function dayProgress(now: number, zone: string): DayProgress {
  const local = DateTime.fromMillis(now, { zone });
  const start = local.startOf("day");
  const end = start.plus({ days: 1 });
  const length = end.toMillis() - start.toMillis();
  return {
    day: local.toISODate() ?? new Date(now).toISOString().slice(0, 10),
    start: start.toMillis(),
    end: end.toMillis(),
    fraction: Math.min(1, Math.max(0, (now - start.toMillis()) / length)),
  };
}

/** Returns the spacing a write of `kind` keeps after the last write attempt, ms. */
export function spacingFor(kind: WriteKind, policy: WritePolicy): number {
  switch (kind) {
    case "ordinary":
      return policy.minWriteSpacingMs;
    case "urgent":
      return policy.urgentWriteSpacingMs;
    case "manual":
      return policy.manualWriteFloorMs;
  }
}

/** Returns how many writes the day may have used by `fraction` for an ordinary change. */
export function ordinaryAllowance(
  policy: WritePolicy,
  fraction: number,
): number {
  const share = policy.dailyWriteBudget - policy.urgentWriteReserve;
  return Math.min(share, Math.max(1, Math.ceil(share * fraction - 1e-9)));
}

/**
 * Returns how many writes the day may have used by `fraction` for an urgent
 * change: the ordinary spread plus the reserve, so the whole budget is
 * reached only at the end of the day.
 */
export function urgentAllowance(policy: WritePolicy, fraction: number): number {
  const share = policy.dailyWriteBudget - policy.urgentWriteReserve;
  return Math.min(
    policy.dailyWriteBudget,
    policy.urgentWriteReserve + Math.max(1, Math.ceil(share * fraction - 1e-9)),
  );
}

/**
 * Decides whether a write of `request.kind` may go now. `formatTime` turns
 * a time into the clock text used in the reason.
 */
export function checkWrite(
  policy: WritePolicy,
  request: WriteRequest,
  formatTime: (ms: number) => string,
): WritePermission {
  const { kind, now, lastWriteAt, usedToday, progress } = request;
  const spacing = spacingFor(kind, policy);
  if (lastWriteAt !== undefined && now < lastWriteAt + spacing) {
    const allowedAt = lastWriteAt + spacing;
    return {
      allowed: false,
      limit: "spacing",
      retryAt: allowedAt,
      reason: `the last write was ${Math.round((now - lastWriteAt) / 1000)} s ago and ${describeKind(kind)} keeps ${spacing / 1000} s between writes, so the write waits until ${formatTime(allowedAt)}`,
    };
  }
  if (kind === "manual") {
    return { allowed: true };
  }

  const allowance =
    kind === "urgent"
      ? urgentAllowance(policy, progress.fraction)
      : ordinaryAllowance(policy, progress.fraction);
  if (usedToday < allowance) {
    return { allowed: true };
  }
  const retryAt = budgetRetryAt(policy, kind, usedToday, progress);
  const share = policy.dailyWriteBudget - policy.urgentWriteReserve;
  const limit =
    kind === "urgent"
      ? `${share} a day spread over the day plus the ${policy.urgentWriteReserve} kept for urgent changes`
      : `${share} a day spread over the day for ordinary changes, with ${policy.urgentWriteReserve} of the ${policy.dailyWriteBudget} kept for urgent ones`;
  return {
    allowed: false,
    limit: "budget",
    retryAt,
    reason: `today's ${usedToday} writes reach the daily budget's allowance of ${allowance} by now (${limit}), so the write waits until ${formatTime(retryAt)} or a larger change`,
  };
}

/** Returns the earliest time a write of `kind` could go if nothing else is written, ms. */
export function nextWriteAt(
  policy: WritePolicy,
  request: Omit<WriteRequest, "kind">,
  kind: WriteKind,
): number {
  const permission = checkWrite(policy, { ...request, kind }, String);
  if (permission.allowed) {
    return request.now;
  }
  if (permission.limit === "budget") {
    return permission.retryAt;
  }
  if (permission.retryAt >= request.progress.end) {
    // A new local day starts with an unused budget.
    return permission.retryAt;
  }
  // After the spacing, the budget may still hold the write back.
  const atThen = checkWrite(
    policy,
    {
      ...request,
      kind,
      now: permission.retryAt,
      progress: {
        ...request.progress,
        fraction: fractionAt(request.progress, permission.retryAt),
      },
    },
    String,
  );
  return atThen.allowed ? permission.retryAt : atThen.retryAt;
}

/** Returns the moment the allowance of `kind` first exceeds `used`, or the next local day. */
function budgetRetryAt(
  policy: WritePolicy,
  kind: WriteKind,
  used: number,
  progress: DayProgress,
): number {
  const share = policy.dailyWriteBudget - policy.urgentWriteReserve;
  const ahead = kind === "urgent" ? policy.urgentWriteReserve : 0;
  if (used >= share + ahead) {
    return progress.end;
  }
  // The allowance is ceil(share × fraction) + ahead, which exceeds `used`
  // once share × fraction passes used − ahead.
  const fraction = (used - ahead) / share;
  const length = progress.end - progress.start;
  return Math.min(
    progress.end,
    progress.start + Math.ceil(fraction * length) + 1,
  );
}

function fractionAt(progress: DayProgress, at: number): number {
  const fraction = (at - progress.start) / (progress.end - progress.start);
  return Math.min(1, Math.max(0, fraction));
}

function describeKind(kind: WriteKind): string {
  switch (kind) {
    case "ordinary":
      return "an ordinary change";
    case "urgent":
      return "an urgent change";
    case "manual":
      return "a manual sync";
  }
}
