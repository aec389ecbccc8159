import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { ConfigError, StateStoreError } from "../../src/errors.js";
import { scrubText, silentLogger } from "../../src/log.js";
import {
  hashPassword,
  loadDashboardPassword,
  PASSWORD_FILE_NAME,
  passwordHashSchema,
  SCRYPT_PARAMS,
  verifyPassword,
} from "../../src/server/password.js";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "dashboard-password-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("password hashing", () => {
  it("uses scrypt with N 2^15, r 8, p 1", async () => {
    const hash = await hashPassword("correct horse battery");

    expect(hash.scheme).toBe("scrypt");
    expect(hash.N).toBe(2 ** 15);
    expect(hash.r).toBe(8);
    expect(hash.p).toBe(1);
    expect(Buffer.from(hash.salt, "base64")).toHaveLength(16);
    expect(Buffer.from(hash.hash, "base64")).toHaveLength(32);
  });

  it("salts every hash", async () => {
    const first = await hashPassword("same password");
    const second = await hashPassword("same password");

    expect(first.salt).not.toBe(second.salt);
    expect(first.hash).not.toBe(second.hash);
  });

  it.each([
    ["the right password", "correct horse battery", true],
    ["a wrong password", "correct horse batterY", false],
    ["an empty password", "", false],
  ])("verifies %s", async (_name, attempt, expected) => {
    const hash = await hashPassword("correct horse battery");
    expect(await verifyPassword(attempt, hash)).toBe(expected);
  });

  it.each([
    ["a lower N", { N: 2 ** 14 }],
    ["an N that is no power of two", { N: 2 ** 15 + 1 }],
    ["a lower r", { r: 4 }],
  ])("rejects stored hashes with %s", async (_name, change) => {
    const hash = { ...(await hashPassword("x")), ...change };
    expect(passwordHashSchema.safeParse(hash).success).toBe(false);
  });

  it("keeps the default parameters", () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 32768, r: 8, p: 1 });
  });
});

describe("dashboard password", () => {
  it("hashes a configured password", async () => {
    const printed: string[] = [];
    const result = await loadDashboardPassword({
      configured: "configured-secret-1",
      dataDir,
      logger: silentLogger,
      print: (text) => printed.push(text),
    });

    expect(result.source).toBe("config");
    expect(await verifyPassword("configured-secret-1", result.hash)).toBe(true);
    expect(printed).toEqual([]);
    expect(scrubText("x configured-secret-1 y")).toBe("x [redacted] y");
  });

  it("rejects a short configured password", async () => {
    await expect(
      loadDashboardPassword({
        configured: "short",
        dataDir,
        logger: silentLogger,
      }),
    ).rejects.toThrow(ConfigError);
  });

  it("generates and prints a password once", async () => {
    const printed: string[] = [];
    const print = (text: string): void => {
      printed.push(text);
    };
    const first = await loadDashboardPassword({
      configured: undefined,
      dataDir,
      logger: silentLogger,
      print,
    });
    const second = await loadDashboardPassword({
      configured: undefined,
      dataDir,
      logger: silentLogger,
      print,
    });

    expect(first.source).toBe("generated");
    expect(second.source).toBe("stored");
    expect(printed).toHaveLength(1);
    const password = /^ {6}(\S+)$/m.exec(printed[0] ?? "")?.[1] ?? "";
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await verifyPassword(password, second.hash)).toBe(true);
  });

  it("stores only the hash, mode 0600", async () => {
    const printed: string[] = [];
    await loadDashboardPassword({
      configured: undefined,
      dataDir,
      logger: silentLogger,
      print: (text) => printed.push(text),
    });
    const path = join(dataDir, PASSWORD_FILE_NAME);
    const text = await readFile(path, "utf8");
    const password = /^ {6}(\S+)$/m.exec(printed[0] ?? "")?.[1] ?? "";

    expect(text).not.toContain(password);
    expect(passwordHashSchema.safeParse(JSON.parse(text)).success).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("reports a damaged hash file", async () => {
    await writeFile(join(dataDir, PASSWORD_FILE_NAME), '{"scheme":"md5"}');

    await expect(
      loadDashboardPassword({
        configured: undefined,
        dataDir,
        logger: silentLogger,
      }),
    ).rejects.toThrow(StateStoreError);
  });
});
