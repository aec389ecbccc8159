/**
 * A pino logger whose lines tests can read back and wait for. Waiting for a
 * log line is how a test learns that real I/O (a refused connect, a closed
 * socket) has happened before it moves fake time on.
 */
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";

import { createLogger, type Logger } from "../../src/log.js";

/** One parsed log line. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Pino's numeric levels. */
export const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A logger and what it wrote. */
export interface CapturedLog {
  logger: Logger;
  lines: LogLine[];
  /** All output as one string, for searching for secrets. */
  text(): string;
  /** Lines at `level` or above whose message contains `text`. */
  find(text: string, level?: keyof typeof LEVELS): LogLine[];
  /** Resolves with the next line (or an earlier one) whose message contains `text`. */
  waitFor(text: string, since?: number): Promise<LogLine>;
}

/** Creates a debug-level logger that records every line. */
export function captureLog(): CapturedLog {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const events = new EventEmitter<{ line: [LogLine] }>();
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString("utf8");
      raw.push(text);
      for (const part of text.split("\n")) {
        if (part.trim() === "") {
          continue;
        }
        const line = JSON.parse(part) as LogLine;
        lines.push(line);
        events.emit("line", line);
      }
      callback();
    },
  });
  const logger = createLogger({ level: "debug", format: "json", destination });
  return {
    logger,
    lines,
    text: () => raw.join(""),
    find: (text, level = "debug") =>
      lines.filter(
        (line) => line.level >= LEVELS[level] && line.msg.includes(text),
      ),
    waitFor: (text, since = 0) => {
      const earlier = lines
        .slice(since)
        .find((line) => line.msg.includes(text));
      if (earlier !== undefined) {
        return Promise.resolve(earlier);
      }
      return new Promise((resolve) => {
        const onLine = (line: LogLine): void => {
          if (line.msg.includes(text)) {
            events.off("line", onLine);
            resolve(line);
          }
        };
        events.on("line", onLine);
      });
    },
  };
}
