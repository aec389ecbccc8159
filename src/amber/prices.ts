/**
 * Parsing of Amber price lists (`/prices`, `/prices/current` and live-price
 * pushes). Amber warns that it may add channels, so an interval on a channel
 * type this version does not recognise is dropped and reported rather than
 * failing the whole list. Any other mismatch is an InvalidPayloadError whose
 * path names the interval index and the field, such as `[12].perKwh`.
 */
import type { z } from "zod";

import { InvalidPayloadError } from "../errors.js";
import {
  CHANNEL_TYPES,
  intervalSchema,
  type ChannelType,
  type Interval,
} from "./schemas.js";

/** A parsed price list. */
export interface PriceResponse {
  /** Intervals in Amber's order (general, controlled load, feed-in), unknown channels removed. */
  intervals: Interval[];
  /** Channel types that were dropped because this version does not recognise them, each listed once. */
  ignoredChannelTypes: string[];
}

/** Intervals split by meter channel. */
export interface ChannelGroups<T> {
  general: T[];
  controlledLoad: T[];
  feedIn: T[];
}

/**
 * Parses the body of a prices response. Throws InvalidPayloadError when the
 * body is not an array or an interval on a known channel breaks the schema,
 * which includes a price that is a string, NaN or infinite.
 */
export function parsePricesBody(body: unknown): PriceResponse {
  return parseIntervalList(body, intervalSchema, "price list");
}

/**
 * Parses an array of interval-shaped objects with `schema`, dropping items on
 * unknown channel types. `listName` names the list in error messages.
 */
export function parseIntervalList<T extends z.ZodType>(
  body: unknown,
  schema: T,
  listName: string,
): { intervals: z.output<T>[]; ignoredChannelTypes: string[] } {
  if (!Array.isArray(body)) {
    throw new InvalidPayloadError(
      "amber",
      "(root)",
      `Amber sent an invalid ${listName}: expected an array of intervals, got ${describeValue(body)}. The last good prices are kept.`,
    );
  }

  const intervals: z.output<T>[] = [];
  const ignored = new Set<string>();
  const problems: Problem[] = [];
  let firstError: z.ZodError | undefined;

  body.forEach((item: unknown, index) => {
    const unknownChannel = unknownChannelType(item);
    if (unknownChannel !== undefined) {
      ignored.add(unknownChannel);
      return;
    }

    const result = schema.safeParse(item);
    if (result.success) {
      intervals.push(result.data);
      return;
    }
    firstError ??= result.error;
    for (const issue of result.error.issues) {
      problems.push(describeProblem(item, index, issue));
    }
  });

  const first = problems[0];
  if (first !== undefined) {
    const listed = problems
      .slice(0, LISTED_PROBLEMS)
      .map((problem) => problem.text);
    const rest = problems.length - listed.length;
    const more =
      rest > 0
        ? `; and ${rest} more ${rest === 1 ? "problem" : "problems"}`
        : "";
    throw new InvalidPayloadError(
      "amber",
      first.path,
      `Amber sent an invalid ${listName}: ${listed.join("; ")}${more}. The last good prices are kept.`,
      { cause: firstError },
    );
  }

  return { intervals, ignoredChannelTypes: [...ignored] };
}

/**
 * Splits intervals by `channelType`. Amber's response order changes when a
 * channel is added or removed, so position must never be used for this.
 */
export function groupByChannel<T extends { channelType: ChannelType }>(
  intervals: readonly T[],
): ChannelGroups<T> {
  const groups: ChannelGroups<T> = {
    general: [],
    controlledLoad: [],
    feedIn: [],
  };
  for (const interval of intervals) {
    groups[interval.channelType].push(interval);
  }
  return groups;
}

function unknownChannelType(item: unknown): string | undefined {
  if (item === null || typeof item !== "object" || !("channelType" in item)) {
    return undefined;
  }
  const channelType = item.channelType;
  if (
    typeof channelType !== "string" ||
    (CHANNEL_TYPES as readonly string[]).includes(channelType)
  ) {
    return undefined;
  }
  return channelType;
}

/** Maximum number of problems one error message lists; the rest are counted. */
const LISTED_PROBLEMS = 10;

interface Problem {
  /** Index and field, such as `[12].perKwh`. */
  path: string;
  /** The field, what arrived there and what the schema expected. */
  text: string;
}

function describeProblem(
  item: unknown,
  index: number,
  issue: z.core.$ZodIssue,
): Problem {
  const path = `[${index}]${formatPath(issue.path)}`;
  const value = valueAt(item, issue.path);
  const found =
    value === undefined
      ? `field ${path} is missing`
      : `field ${path} has the invalid value ${describeValue(value)}`;
  return { path, text: `${found} (${issue.message})` };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`))
    .join("");
}

function valueAt(item: unknown, path: readonly PropertyKey[]): unknown {
  let value = item;
  for (const key of path) {
    if (value === null || typeof value !== "object") {
      return undefined;
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Describes a value for an error message in at most about 60 characters.
 * Arrays and objects are summarised rather than serialised, because
 * JSON.stringify of a deeply nested value overflows the stack, and of a
 * large one costs time for nothing.
 */
function describeValue(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return String(value);
  }
  let text: string;
  if (Array.isArray(value)) {
    text = `an array of ${value.length} ${value.length === 1 ? "item" : "items"}`;
  } else if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    text =
      keys.length === 0
        ? "an empty object"
        : `an object with keys ${keys.slice(0, 5).join(", ")}`;
  } else {
    text = JSON.stringify(value) ?? String(value);
  }
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
