import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { StateStoreError } from "../../src/errors.js";
import { readJsonFile, writeFileAtomic } from "../../src/util/atomic-file.js";

async function scratchDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tesla-sync-atomic-"));
}

describe("writeFileAtomic", () => {
  it("writes the file with mode 0600", async () => {
    const path = join(await scratchDir(), "state.json");
    await writeFileAtomic(path, '{"a":1}');

    expect(await readFile(path, "utf8")).toBe('{"a":1}');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("replaces an existing file whole", async () => {
    const path = join(await scratchDir(), "state.json");
    await writeFileAtomic(path, "old");
    await writeFileAtomic(path, "new");

    expect(await readFile(path, "utf8")).toBe("new");
  });

  it("raises StateStoreError when the parent is a file", async () => {
    const directory = await scratchDir();
    const blocker = join(directory, "blocker");
    await writeFile(blocker, "not a directory");

    await expect(
      writeFileAtomic(join(blocker, "state.json"), "x"),
    ).rejects.toBeInstanceOf(StateStoreError);
  });
});

describe("readJsonFile", () => {
  it("returns undefined for a missing file", async () => {
    expect(
      await readJsonFile(join(await scratchDir(), "absent.json")),
    ).toBeUndefined();
  });

  it("raises StateStoreError for invalid JSON", async () => {
    const path = join(await scratchDir(), "bad.json");
    await writeFile(path, "{not json");

    await expect(readJsonFile(path)).rejects.toBeInstanceOf(StateStoreError);
  });
});
