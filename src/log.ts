/**
 * Logging for the whole engine. The policy lives in docs/logging.md: routine
 * traffic at debug, the first failure of a kind at warn and its repeats at
 * debug, one info line on recovery, error only for what needs a person.
 *
 * Secrets never reach the output. Two guards make sure of that: known secret
 * field names are redacted by pino, and every secret value the engine loads is
 * registered here and scrubbed from every message and field before writing.
 */
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";

const REDACTED = "[redacted]";

/** Field names whose values are secrets wherever they appear in a log object. */
const SECRET_KEYS = [
  "token",
  "apiToken",
  "accessToken",
  "refreshToken",
  "access_token",
  "refresh_token",
  "client_secret",
  "clientSecret",
  "password",
  "authorization",
  "Authorization",
];

const secretValues = new Set<string>();

/**
 * Registers a secret value so that it is scrubbed from every log line.
 * Values shorter than 6 characters are ignored: scrubbing them would mangle
 * ordinary words, and no real token is that short.
 */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 6) {
    secretValues.add(value);
  }
}

/** Replaces every registered secret inside `text`. */
export function scrubText(text: string): string {
  let result = text;
  for (const secret of secretValues) {
    if (result.includes(secret)) {
      result = result.split(secret).join(REDACTED);
    }
  }
  return result;
}

/** Deep copy of `value` with registered secrets and secret-named fields replaced. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    return scrubText(value);
  }
  if (depth > 8 || value === null || typeof value !== "object") {
    return value;
  }
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubText(value.message),
      ...("code" in value ? { code: value.code } : {}),
    };
  }
  if (Array.isArray(value)) {
    return value.map((item) => scrubValue(item, depth + 1));
  }
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SECRET_KEYS.includes(key)
      ? REDACTED
      : scrubValue(item, depth + 1);
  }
  return copy;
}

/**
 * pino-pretty settings of the "pretty" format: one line per entry, with the
 * fields as compact JSON after the message, because a person reads the log
 * line by line (the add-on log, a terminal).
 */
export const PRETTY_OPTIONS: pretty.PrettyOptions = {
  translateTime: "SYS:HH:MM:ss",
  ignore: "pid,hostname",
  singleLine: true,
  // pino-pretty prints `err` and `error` fields over several lines even with
  // singleLine; a scrubbed error is a small object that fits on the line.
  errorLikeObjectKeys: [],
};

export interface LoggerOptions {
  level?: string;
  /** "pretty" for people at a terminal, "json" for log collectors. */
  format?: "pretty" | "json";
  /** Destination of the lines; default stdout. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

/** Creates the root logger. Modules take a child with `logger.child({ module })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const format =
    options.format ??
    (process.env["LOG_FORMAT"] === "json" || !process.stdout.isTTY
      ? "json"
      : "pretty");

  const config: pino.LoggerOptions = {
    level,
    base: undefined,
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((arg) => scrubValue(arg)) as Parameters<
          typeof method
        >;
        method.apply(this, scrubbed);
      },
    },
    formatters: {
      log: (object) => scrubValue(object) as Record<string, unknown>,
    },
    // The logMethod hook has already turned an error into its name, message
    // and code; pino's own serializer would add an empty "stack" to that.
    serializers: { err: (value: unknown) => value },
    // pino-pretty prints the field named by errorKey over several lines even
    // with singleLine. The hook leaves no Error for pino to put under this
    // key, so a name that no call uses keeps `err` on the line.
    errorKey: "errorInstance",
  };

  if (options.destination !== undefined) {
    // JSON unless "pretty" is asked for explicitly, because tests read the
    // lines back as JSON.
    return pino(
      config,
      options.format === "pretty"
        ? pretty({
            ...PRETTY_OPTIONS,
            colorize: false,
            sync: true,
            destination: options.destination,
          })
        : options.destination,
    );
  }
  if (format === "pretty") {
    return pino({
      ...config,
      transport: { target: "pino-pretty", options: PRETTY_OPTIONS },
    });
  }
  return pino(config);
}

/** A logger that writes nothing, for pure functions under test. */
export const silentLogger: Logger = pino({ level: "silent" });
