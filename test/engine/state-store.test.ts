import {
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { StateStoreError } from "../../src/errors.js";
import { createLogger, silentLogger } from "../../src/log.js";
import {
  MAX_COUNTER_DAYS,
  MAX_LOG_ENTRIES,
  STATE_FILE_NAME,
  StateStore,
} from "../../src/engine/state-store.js";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-state-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function captureLogger(): {
  logger: ReturnType<typeof createLogger>;
  lines: () => string[];
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return {
    logger: createLogger({ destination, level: "debug" }),
    lines: () => chunks.join("").split("\n").filter(Boolean),
  };
}

const upload = {
  at: 1_750_000_000_000,
  tariff: { version: 1, code: "TEST" },
  slots: [
    {
      label: "PERIOD_10_00",
      start: "2025-06-16T10:00:00+10:00",
      end: "2025-06-16T10:30:00+10:00",
      buy: 0.25,
      sell: 0.05,
    },
  ],
  timeZone: "Australia/Sydney",
  summary: "48 slots",
};

describe("StateStore", () => {
  it("starts empty without a file", async () => {
    const store = await StateStore.open({ dataDir, logger: silentLogger });

    expect(store.state.lastUpload).toBeUndefined();
    expect(store.state.log).toEqual([]);
    expect(store.state.counters).toEqual({});
  });

  it("survives a reopen", async () => {
    const store = await StateStore.open({ dataDir, logger: silentLogger });
    await store.update((draft) => {
      draft.lastUpload = upload;
      draft.lastWriteAttemptAt = upload.at;
    });
    await store.appendLog({
      at: upload.at,
      trigger: "manual",
      outcome: "uploaded",
      reason: "first tariff",
      writes: 1,
    });
    await store.addCounts("2025-06-16", { uploads: 1, teslaWrites: 1 });
    await store.addCounts("2025-06-16", { amberCalls: 2 });

    const reopened = await StateStore.open({ dataDir, logger: silentLogger });

    expect(reopened.state.lastUpload).toEqual(upload);
    expect(reopened.state.lastWriteAttemptAt).toBe(upload.at);
    expect(reopened.state.log).toHaveLength(1);
    expect(reopened.state.counters["2025-06-16"]).toEqual({
      syncs: 0,
      uploads: 1,
      teslaWrites: 1,
      teslaCalls: 0,
      amberCalls: 2,
    });
  });

  it("writes with mode 0600 and no leftovers", async () => {
    const store = await StateStore.open({ dataDir, logger: silentLogger });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        store.appendLog({
          at: index,
          trigger: "schedule",
          outcome: "unchanged",
          reason: `entry ${index}`,
          writes: 0,
        }),
      ),
    );

    const files = await readdir(dataDir);
    const info = await stat(join(dataDir, STATE_FILE_NAME));
    const onDisk = JSON.parse(
      await readFile(join(dataDir, STATE_FILE_NAME), "utf8"),
    ) as {
      log: unknown[];
    };

    expect(files).toEqual([STATE_FILE_NAME]);
    expect(info.mode & 0o777).toBe(0o600);
    expect(onDisk.log).toHaveLength(20);
  });

  it("trims the log and old counter days", async () => {
    const store = await StateStore.open({ dataDir, logger: silentLogger });
    await store.update((draft) => {
      for (let index = 0; index < MAX_LOG_ENTRIES + 15; index += 1) {
        draft.log.push({
          at: index,
          trigger: "schedule",
          outcome: "unchanged",
          reason: "x",
          writes: 0,
        });
      }
      for (let day = 1; day <= MAX_COUNTER_DAYS + 3; day += 1) {
        draft.counters[`2025-07-${String(day).padStart(2, "0")}`] = {
          syncs: day,
          uploads: 0,
          teslaWrites: 0,
          teslaCalls: 0,
          amberCalls: 0,
        };
      }
    });

    expect(store.state.log).toHaveLength(MAX_LOG_ENTRIES);
    expect(store.state.log[0]?.at).toBe(15);
    expect(Object.keys(store.state.counters)).toHaveLength(MAX_COUNTER_DAYS);
    expect(store.state.counters["2025-07-01"]).toBeUndefined();
    expect(store.state.counters["2025-07-17"]).toBeDefined();
  });

  it.each([
    ["invalid JSON", "{ not json", /not valid JSON/],
    [
      "the wrong shape",
      JSON.stringify({ version: 1, log: "nope" }),
      /field log is invalid/,
    ],
    [
      "an unknown version",
      JSON.stringify({ version: 7 }),
      /field version is invalid/,
    ],
  ])("moves aside a file with %s", async (_name, content, reason) => {
    await writeFile(join(dataDir, STATE_FILE_NAME), content);
    const capture = captureLogger();

    const store = await StateStore.open({
      dataDir,
      logger: capture.logger,
      now: () => Date.UTC(2025, 5, 16, 1, 2, 3),
    });
    const files = await readdir(dataDir);
    const warnings = capture
      .lines()
      .filter((line) => line.includes('"level":40'));

    expect(store.state.log).toEqual([]);
    expect(files).toEqual([
      `${STATE_FILE_NAME}.corrupt-2025-06-16T01-02-03-000Z`,
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(reason);
  });

  it("keeps working after a corrupt file", async () => {
    await writeFile(join(dataDir, STATE_FILE_NAME), "garbage");
    const store = await StateStore.open({ dataDir, logger: silentLogger });
    await store.addCounts("2025-06-16", { syncs: 1 });

    const reopened = await StateStore.open({ dataDir, logger: silentLogger });
    expect(reopened.state.counters["2025-06-16"]?.syncs).toBe(1);
  });

  it("rejects an unreadable data directory", async () => {
    const blocker = join(dataDir, "not-a-directory");
    await writeFile(blocker, "a file where the data directory should be");

    await expect(
      StateStore.open({ dataDir: blocker, logger: silentLogger }),
    ).rejects.toBeInstanceOf(StateStoreError);
  });

  it("keeps a change that it cannot write", async () => {
    const inner = join(dataDir, "inner");
    const store = await StateStore.open({
      dataDir: inner,
      logger: silentLogger,
    });
    await writeFile(inner, "a file where the data directory should be");

    await expect(
      store.addCounts("2025-06-16", { syncs: 1 }),
    ).rejects.toBeInstanceOf(StateStoreError);
    expect(store.state.counters["2025-06-16"]?.syncs).toBe(1);
  });
});
