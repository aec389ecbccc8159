/**
 * The dashboard password: hashing with scrypt (node:crypto; N = 2^15, r = 8,
 * p = 1, a random 16-byte salt and a 32-byte key, which takes about 32 MiB
 * of memory per hash), constant-time verification, and where the password
 * comes from.
 *
 * A password set in the configuration is hashed at start and only the hash
 * is kept. Without one, the first start generates a password and prints it
 * once to the terminal (not to the log). Only its hash is stored, in
 * `<dataDir>/dashboard-password.json` (mode 0600), and later starts read
 * it. Deleting that file makes the next start generate a new password.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { join } from "node:path";

import { z } from "zod";

import { ConfigError, StateStoreError } from "../errors.js";
import type { Logger } from "../log.js";
import { registerSecret } from "../log.js";
import { readJsonFile, writeFileAtomic } from "../util/atomic-file.js";

/** File name of the stored hash inside the data directory. */
export const PASSWORD_FILE_NAME = "dashboard-password.json";
/** Shortest password accepted from the configuration, characters. */
export const MIN_PASSWORD_LENGTH = 8;

/** scrypt cost parameters; N must be a power of two. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** The parameters every new hash uses. */
export const SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** A password hash as stored; salt and hash in base64. */
export const passwordHashSchema = z.strictObject({
  scheme: z.literal("scrypt"),
  // Weaker parameters than the ones new hashes use are rejected, so an
  // edited file cannot lower the cost of guessing.
  N: z
    .number()
    .int()
    .min(SCRYPT_PARAMS.N)
    .refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
  r: z.number().int().min(SCRYPT_PARAMS.r).max(64),
  p: z.number().int().min(1).max(16),
  salt: z.base64().min(16),
  hash: z.base64().min(32),
});
/** A password hash as stored. */
export type PasswordHash = z.infer<typeof passwordHashSchema>;

/** Hashes `password` with a new random salt. */
export async function hashPassword(
  password: string,
  params: ScryptParams = SCRYPT_PARAMS,
): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(password, salt, params, KEY_BYTES);
  return {
    scheme: "scrypt",
    ...params,
    salt: salt.toString("base64"),
    hash: key.toString("base64"),
  };
}

/** Returns whether `password` matches `stored`, comparing in constant time. */
export async function verifyPassword(
  password: string,
  stored: PasswordHash,
): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "base64");
  const key = await deriveKey(
    password,
    Buffer.from(stored.salt, "base64"),
    stored,
    expected.length,
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

function deriveKey(
  password: string,
  salt: Buffer,
  params: ScryptParams,
  length: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      length,
      // Node's default maxmem (32 MiB) is exactly 128 * N * r at N = 2^15,
      // r = 8, which scrypt rejects, so allow twice the need.
      {
        N: params.N,
        r: params.r,
        p: params.p,
        maxmem: 256 * params.N * params.r,
      },
      (error, key) => {
        if (error === null) {
          resolve(key);
        } else {
          reject(error);
        }
      },
    );
  });
}

/** The origin of the password in force. */
export type PasswordSource = "config" | "stored" | "generated";

/** Options for {@link loadDashboardPassword}. */
export interface LoadPasswordOptions {
  /** The configured password, if any (`dashboard.password` or TESLA_SYNC_DASHBOARD_PASSWORD). */
  configured: string | undefined;
  dataDir: string;
  logger: Logger;
  /** Writes the generated password for the person starting the engine; default stderr. */
  print?: (text: string) => void;
}

/**
 * Returns the hash of the dashboard password and where it came from. Throws
 * ConfigError for a configured password shorter than 8 characters, and
 * StateStoreError when the stored hash cannot be read or written.
 */
export async function loadDashboardPassword(
  options: LoadPasswordOptions,
): Promise<{ hash: PasswordHash; source: PasswordSource }> {
  const logger = options.logger;
  const configured = options.configured;
  if (configured !== undefined) {
    if (configured.length < MIN_PASSWORD_LENGTH) {
      throw new ConfigError(
        `dashboard.password is ${configured.length} characters long; use at least ${MIN_PASSWORD_LENGTH} (set it in the configuration file or in TESLA_SYNC_DASHBOARD_PASSWORD).`,
      );
    }
    registerSecret(configured);
    return { hash: await hashPassword(configured), source: "config" };
  }

  const path = join(options.dataDir, PASSWORD_FILE_NAME);
  // Both file helpers throw StateStoreError naming the path and the fix.
  const stored = await readJsonFile(path);
  if (stored !== undefined) {
    const parsed = passwordHashSchema.safeParse(stored);
    if (!parsed.success) {
      throw new StateStoreError(
        `The dashboard password hash ${path} is invalid (${parsed.error.issues[0]?.message ?? "unknown shape"}). Delete the file to have a new password generated at the next start, or set dashboard.password.`,
      );
    }
    return { hash: parsed.data, source: "stored" };
  }

  const password = randomBytes(18).toString("base64url");
  const hash = await hashPassword(password);
  await writeFileAtomic(path, `${JSON.stringify(hash, null, 2)}\n`);
  registerSecret(password);
  const print =
    options.print ?? ((text: string) => void process.stderr.write(text));
  print(
    [
      "",
      "  Tesla Sync dashboard password (shown once; only its hash is stored):",
      "",
      `      ${password}`,
      "",
      `  Set dashboard.password or TESLA_SYNC_DASHBOARD_PASSWORD to choose your own,`,
      `  or delete ${path} to generate a new one at the next start.`,
      "",
      "",
    ].join("\n"),
  );
  logger.warn(
    { path },
    "Generated a dashboard password and printed it once to the terminal; only its hash is stored",
  );
  return { hash, source: "generated" };
}
