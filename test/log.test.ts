import { Writable } from "node:stream";

import { describe, expect, it } from "vitest";

import { UpstreamUnavailableError } from "../src/errors.js";
import { createLogger, registerSecret } from "../src/log.js";

function capture(format: "pretty" | "json"): {
  logger: ReturnType<typeof createLogger>;
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  return {
    logger: createLogger({ level: "info", format, destination }),
    text: () => chunks.join(""),
  };
}

const failure = new UpstreamUnavailableError(
  "amber",
  undefined,
  "amber request GET /sites failed (ECONNREFUSED); it will be retried.",
);

describe("createLogger pretty format", () => {
  it("writes one line per entry", () => {
    const log = capture("pretty");

    log.logger.warn(
      { module: "amber", attempt: 1, err: failure },
      "Amber request failed; retrying",
    );

    const lines = log.text().trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: Amber request failed/);
    expect(lines[0]).toContain('"module":"amber"');
  });

  it("prints no empty stack", () => {
    const log = capture("pretty");

    log.logger.error({ err: failure }, "The engine could not start");

    expect(log.text()).not.toContain("stack");
    expect(log.text()).toContain('"type":"UpstreamUnavailableError"');
  });

  it("scrubs registered secrets", () => {
    registerSecret("log-test-secret-4711");
    const log = capture("pretty");

    log.logger.info({ detail: "token log-test-secret-4711" }, "Sent");

    expect(log.text()).not.toContain("log-test-secret-4711");
  });
});

describe("createLogger json format", () => {
  it("keeps the error's name, message and code", () => {
    const log = capture("json");

    log.logger.error({ err: failure }, "The engine could not start");

    const line = JSON.parse(log.text()) as { err: Record<string, unknown> };
    expect(line.err).toEqual({
      type: "UpstreamUnavailableError",
      message: failure.message,
      code: "UPSTREAM_UNAVAILABLE",
    });
  });
});
