import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { createLogger, type Logger } from "../../src/log.js";
import {
  createSupervisorDiscovery,
  packageVersion,
  startSupervisorDiscovery,
  SupervisorDiscovery,
  type DiscoveryConfig,
} from "../../src/supervisor/discovery.js";
import type { Clock } from "../../src/util/clock.js";
import {
  startSupervisorStandIn,
  type SupervisorStandIn,
} from "./supervisor-standin.js";

const TOKEN = "supervisor-token-3f9a1c7e";
const CONFIG: DiscoveryConfig = {
  host: "a0d7b954-tesla-sync",
  port: 8099,
  engine_version: "0.1.0",
};

interface LogLine {
  level: number;
  msg: string;
}

/** Creates a logger whose lines the test reads back, with the raw text for secret checks. */
function capturingLogger(): {
  logger: Logger;
  lines: LogLine[];
  raw: () => string;
} {
  let text = "";
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString("utf8");
      callback();
    },
  });
  const logger = createLogger({ level: "debug", format: "json", destination });
  return {
    logger,
    raw: () => text,
    get lines() {
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as LogLine);
    },
  };
}

/** Creates a clock whose sleeps end at once and are recorded. */
function instantClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    now: () => 0,
    sleep: async (ms, signal) => {
      if (signal?.aborted === true) {
        throw signal.reason;
      }
      waits.push(ms);
    },
  };
}

/** Creates a clock whose sleeps last until their signal aborts. */
function stalledClock(): Clock & { sleeping: Promise<void> } {
  let started: () => void = () => undefined;
  const sleeping = new Promise<void>((resolve) => {
    started = resolve;
  });
  return {
    sleeping,
    now: () => 0,
    sleep: (_ms, signal) =>
      new Promise<void>((_resolve, reject) => {
        started();
        signal?.addEventListener("abort", () => {
          reject(signal.reason);
        });
      }),
  };
}

function warnings(lines: LogLine[]): LogLine[] {
  return lines.filter((line) => line.level === 40);
}

let supervisor: SupervisorStandIn;

beforeEach(async () => {
  supervisor = await startSupervisorStandIn({
    token: TOKEN,
    services: ["tesla_sync"],
  });
});

afterEach(async () => {
  await supervisor.close();
});

function discovery(
  logger: Logger,
  overrides: Partial<ConstructorParameters<typeof SupervisorDiscovery>[0]> = {},
): SupervisorDiscovery {
  return new SupervisorDiscovery({
    token: TOKEN,
    config: CONFIG,
    logger,
    baseUrl: supervisor.url,
    clock: instantClock(),
    random: () => 1,
    ...overrides,
  });
}

describe("SupervisorDiscovery.publish", () => {
  it("posts the service and config", async () => {
    const { logger } = capturingLogger();
    const uuid = await discovery(logger).publish();

    expect(uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(supervisor.requests).toHaveLength(1);
    expect(supervisor.requests[0]?.method).toBe("POST");
    expect(supervisor.requests[0]?.path).toBe("/discovery");
    expect(supervisor.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(supervisor.requests[0]?.body).toEqual({
      service: "tesla_sync",
      config: CONFIG,
    });
    expect(supervisor.messages.get(uuid ?? "")?.service).toBe("tesla_sync");
  });

  it("logs success once at info", async () => {
    const log = capturingLogger();
    await discovery(log.logger).publish();

    const info = log.lines.filter((line) => line.level === 30);
    expect(info).toHaveLength(1);
    expect(info[0]?.msg).toContain("Supervisor discovery");
    expect(warnings(log.lines)).toEqual([]);
  });

  it("posts once when called twice", async () => {
    const { logger } = capturingLogger();
    const client = discovery(logger);
    const [first, second] = await Promise.all([
      client.publish(),
      client.publish(),
    ]);

    expect(first).toBe(second);
    expect(supervisor.requests).toHaveLength(1);
  });

  it("retries 5xx responses, then succeeds", async () => {
    const log = capturingLogger();
    const clock = instantClock();
    supervisor.faults.failNext = 2;
    const uuid = await discovery(log.logger, { clock }).publish();

    expect(uuid).toBeDefined();
    expect(supervisor.requests).toHaveLength(3);
    expect(clock.waits).toEqual([2_000, 4_000]);
    expect(warnings(log.lines)).toEqual([]);
  });

  it.each([
    ["an unlisted service", { services: [] as string[], token: TOKEN }],
    [
      "a wrong token",
      { services: ["tesla_sync"], token: "another-token-12345" },
    ],
  ])("warns once on %s", async (_case, standIn) => {
    await supervisor.close();
    supervisor = await startSupervisorStandIn(standIn);
    const log = capturingLogger();
    const uuid = await discovery(log.logger).publish();

    expect(uuid).toBeUndefined();
    expect(supervisor.requests).toHaveLength(1);
    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain(
      "config.yaml must list tesla_sync under discovery",
    );
    expect(warned[0]?.msg).toContain("Settings > Devices & services");
  });

  it("warns once when the Supervisor stays down", async () => {
    const log = capturingLogger();
    const clock = instantClock();
    supervisor.faults.failNext = 10;
    const uuid = await discovery(log.logger, {
      clock,
      maxAttempts: 4,
    }).publish();

    expect(uuid).toBeUndefined();
    expect(supervisor.requests).toHaveLength(4);
    expect(clock.waits).toHaveLength(3);
    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain("HTTP 500");
  });

  it("warns once when unreachable", async () => {
    const url = supervisor.url;
    await supervisor.close();
    const log = capturingLogger();
    const uuid = await discovery(log.logger, {
      baseUrl: url,
      maxAttempts: 2,
    }).publish();

    expect(uuid).toBeUndefined();
    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain(
      "Supervisor discovery for tesla_sync failed",
    );
    supervisor = await startSupervisorStandIn({
      token: TOKEN,
      services: ["tesla_sync"],
    });
  });

  it("rejects a malformed response", async () => {
    const log = capturingLogger();
    supervisor.faults.malformedPublish = true;
    const client = discovery(log.logger);
    const uuid = await client.publish();

    expect(uuid).toBeUndefined();
    expect(client.uuid).toBeUndefined();
    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain("data.uuid");
    expect(warned[0]?.msg).not.toContain("..");
    expect(warned[0]?.msg).not.toContain("last good data");
  });

  it("never logs the token", async () => {
    await supervisor.close();
    supervisor = await startSupervisorStandIn({
      token: "other-token-abcdef",
      services: [],
    });
    const log = capturingLogger();
    const client = discovery(log.logger);
    await client.publish();
    await client.withdraw();

    expect(log.raw()).not.toBe("");
    expect(log.raw()).not.toContain(TOKEN);
  });
});

describe("SupervisorDiscovery.withdraw", () => {
  it("deletes the published message", async () => {
    const { logger } = capturingLogger();
    const client = discovery(logger);
    const uuid = await client.publish();
    await client.withdraw();

    expect(supervisor.requests[1]?.method).toBe("DELETE");
    expect(supervisor.requests[1]?.path).toBe(`/discovery/${uuid ?? ""}`);
    expect(supervisor.requests[1]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(supervisor.messages.size).toBe(0);
    expect(client.uuid).toBeUndefined();
  });

  it("sends nothing without a message", async () => {
    const { logger } = capturingLogger();
    await discovery(logger).withdraw();

    expect(supervisor.requests).toEqual([]);
  });

  it("warns once when the delete fails", async () => {
    const log = capturingLogger();
    const client = discovery(log.logger);
    await client.publish();
    supervisor.faults.failDelete = true;
    await client.withdraw();

    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain(
      "Failed to delete the Supervisor discovery message",
    );
  });

  it("accepts a message already gone", async () => {
    const log = capturingLogger();
    const client = discovery(log.logger);
    await client.publish();
    supervisor.messages.clear();
    await client.withdraw();

    expect(supervisor.requests[1]?.method).toBe("DELETE");
    expect(warnings(log.lines)).toEqual([]);
  });

  it("stops a publish waiting to retry", async () => {
    const log = capturingLogger();
    const clock = stalledClock();
    supervisor.faults.failNext = 1;
    const client = discovery(log.logger, { clock });
    const publishing = client.publish();
    await clock.sleeping;
    await client.withdraw();

    await expect(publishing).resolves.toBeUndefined();
    expect(supervisor.requests).toHaveLength(1);
    expect(warnings(log.lines)).toEqual([]);
  });

  it("deletes a message published mid-withdraw", async () => {
    const { logger } = capturingLogger();
    let release: () => void = () => undefined;
    supervisor.faults.holdPublish = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = discovery(logger);
    const publishing = client.publish();
    await until(() => supervisor.arrivals === 1);
    const withdrawing = client.withdraw();
    release();
    await withdrawing;

    expect(await publishing).toBeDefined();
    expect(supervisor.requests.map((request) => request.method)).toEqual([
      "POST",
      "DELETE",
    ]);
    expect(supervisor.messages.size).toBe(0);
  });
});

/** Yields to the event loop until `condition` holds, at most 1000 turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !condition(); turn += 1) {
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
  expect(condition()).toBe(true);
}

describe("createSupervisorDiscovery", () => {
  it("returns nothing outside an add-on", () => {
    const { logger } = capturingLogger();
    const client = createSupervisorDiscovery(
      {},
      { port: 8099, engineVersion: "0.1.0" },
      logger,
    );

    expect(client).toBeUndefined();
  });

  it("publishes with the container's host name", async () => {
    const { logger } = capturingLogger();
    const client = createSupervisorDiscovery(
      { SUPERVISOR_TOKEN: TOKEN, TESLA_SYNC_SUPERVISOR_URL: supervisor.url },
      { port: 8099, engineVersion: "0.1.0" },
      logger,
    );
    await client?.publish();

    expect(supervisor.requests[0]?.body).toEqual({
      service: "tesla_sync",
      config: { host: hostname(), port: 8099, engine_version: "0.1.0" },
    });
  });
});

describe("startSupervisorDiscovery", () => {
  it("publishes the ingress port and version", async () => {
    const { logger } = capturingLogger();
    const client = startSupervisorDiscovery(
      {
        SUPERVISOR_TOKEN: TOKEN,
        TESLA_SYNC_SUPERVISOR_URL: supervisor.url,
        TESLA_SYNC_INGRESS_PORT: "8123",
      },
      logger,
    );
    const uuid = await client?.publish();

    expect(uuid).toBeDefined();
    expect(supervisor.requests[0]?.body).toMatchObject({
      config: { port: 8123, engine_version: packageVersion() },
    });
  });

  it("falls back to port 8099", async () => {
    const { logger } = capturingLogger();
    const client = startSupervisorDiscovery(
      { SUPERVISOR_TOKEN: TOKEN, TESLA_SYNC_SUPERVISOR_URL: supervisor.url },
      logger,
    );
    await client?.publish();

    expect(supervisor.requests[0]?.body).toMatchObject({
      config: { port: 8099 },
    });
  });

  it("does nothing outside an add-on", () => {
    const { logger } = capturingLogger();
    expect(startSupervisorDiscovery({}, logger)).toBeUndefined();
  });
});

describe("packageVersion", () => {
  it("reads package.json", () => {
    const expected = (
      JSON.parse(
        readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"),
      ) as {
        version: string;
      }
    ).version;
    expect(packageVersion()).toBe(expected);
  });
});
