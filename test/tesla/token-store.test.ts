import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { StateStoreError } from "../../src/errors.js";
import { scrubText } from "../../src/log.js";
import {
  TOKEN_STORE_FILE,
  TokenStore,
  type StoredTeslaTokens,
} from "../../src/tesla/token-store.js";
import { temporaryDirectory } from "./helpers.js";

const tokens: StoredTeslaTokens = {
  version: 1,
  refreshToken: "store-test-refresh-0001",
  accessToken: "store-test-access-0001",
  accessTokenExpiresAt: 1_800_000_000_000,
  seedHash: "ab12",
  savedAt: "2026-01-15T02:00:00.000Z",
};

describe("TokenStore", () => {
  let directory: { path: string; remove: () => Promise<void> };

  beforeEach(async () => {
    directory = await temporaryDirectory();
  });

  afterEach(async () => {
    await directory.remove();
  });

  it("loads nothing before the first save", async () => {
    const store = new TokenStore({ dataDir: directory.path });
    await expect(store.load()).resolves.toBeUndefined();
  });

  it("survives a reload", async () => {
    await new TokenStore({ dataDir: directory.path }).save(tokens);
    const reloaded = await new TokenStore({ dataDir: directory.path }).load();
    expect(reloaded).toEqual(tokens);
  });

  it("writes the file with mode 0600", async () => {
    const store = new TokenStore({ dataDir: directory.path });
    await store.save(tokens);
    const info = await stat(store.path);
    expect(info.mode & 0o777).toBe(0o600);
  });

  it("replaces the file atomically", async () => {
    const store = new TokenStore({ dataDir: directory.path });
    await store.save(tokens);
    await store.save({ ...tokens, refreshToken: "store-test-refresh-0002" });

    const files = await readdir(directory.path);
    expect(files).toEqual([TOKEN_STORE_FILE]);
    const saved = JSON.parse(await readFile(store.path, "utf8")) as unknown;
    expect(saved).toMatchObject({ refreshToken: "store-test-refresh-0002" });
  });

  it("creates a missing data directory", async () => {
    const store = new TokenStore({
      dataDir: join(directory.path, "nested", "data"),
    });
    await store.save(tokens);
    await expect(store.load()).resolves.toEqual(tokens);
  });

  it("registers loaded tokens as secrets", async () => {
    const path = join(directory.path, TOKEN_STORE_FILE);
    const secret = {
      ...tokens,
      refreshToken: "store-test-refresh-only-on-disk",
    };
    await writeFile(path, JSON.stringify(secret));

    await new TokenStore({ dataDir: directory.path }).load();
    expect(scrubText("token store-test-refresh-only-on-disk")).toBe(
      "token [redacted]",
    );
  });

  it.each([
    ["not JSON", "{refresh"],
    [
      "missing refresh token",
      JSON.stringify({ ...tokens, refreshToken: undefined }),
    ],
    ["wrong version", JSON.stringify({ ...tokens, version: 2 })],
  ])("rejects a file that is %s", async (_name, content) => {
    await writeFile(join(directory.path, TOKEN_STORE_FILE), content);
    const load = new TokenStore({ dataDir: directory.path }).load();
    await expect(load).rejects.toBeInstanceOf(StateStoreError);
  });

  it("keeps token values out of load errors", async () => {
    const path = join(directory.path, TOKEN_STORE_FILE);
    await writeFile(path, JSON.stringify({ ...tokens, version: 2 }));
    const error = await new TokenStore({ dataDir: directory.path })
      .load()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as Error).message).not.toContain(tokens.refreshToken);
    expect((error as Error).message).toContain(TOKEN_STORE_FILE);
  });
});
