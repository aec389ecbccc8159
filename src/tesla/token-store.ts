/**
 * Durable storage for the Fleet API OAuth tokens. Tesla refresh tokens are
 * single-use: once a refresh succeeds, the old one is dead, so the new one
 * must be on disk before anything relies on it. The file is JSON, mode 0600,
 * replaced atomically with fsync (see writeFileAtomic).
 */
import { join } from "node:path";

import { z } from "zod";

import { StateStoreError } from "../errors.js";
import { registerSecret } from "../log.js";
import { readJsonFile, writeFileAtomic } from "../util/atomic-file.js";

/** File name of the token store inside the data directory. */
export const TOKEN_STORE_FILE = "tesla-tokens.json";

const storedTokensSchema = z.object({
  version: z.literal(1),
  refreshToken: z.string().min(1),
  accessToken: z.string().min(1).optional(),
  /** Expiry of `accessToken`, ms since the Unix epoch. */
  accessTokenExpiresAt: z.number().optional(),
  /**
   * SHA-256 (hex) of the configured refresh token this chain started from.
   * A different configured token means the user signed in again, and the
   * configured one then replaces the stored chain.
   */
  seedHash: z.string().optional(),
  /** ISO time of the write, for diagnostics. */
  savedAt: z.string(),
});

/** The token set persisted after every refresh. */
export type StoredTeslaTokens = z.infer<typeof storedTokensSchema>;

/** Durable storage used by the OAuth provider: TokenStore in production, a double in tests. */
export interface TokenPersistence {
  /** Returns the stored tokens, or undefined when none were saved yet. */
  load(): Promise<StoredTeslaTokens | undefined>;
  /** Saves `tokens` durably; resolves only once they are on disk. */
  save(tokens: StoredTeslaTokens): Promise<void>;
}

/** Options for TokenStore. */
export interface TokenStoreOptions {
  /** The engine's data directory; created (mode 0700) on first save. */
  dataDir: string;
  /** File name inside `dataDir`; default "tesla-tokens.json". */
  fileName?: string;
}

/** Tesla OAuth tokens in a JSON file in the data directory. */
export class TokenStore implements TokenPersistence {
  /** Path of the token file: `dataDir` joined with the file name. */
  readonly path: string;

  constructor(options: TokenStoreOptions) {
    this.path = join(options.dataDir, options.fileName ?? TOKEN_STORE_FILE);
  }

  /**
   * Reads and validates the file and registers its tokens as secrets.
   * Throws StateStoreError when the file exists but cannot be read or parsed.
   */
  async load(): Promise<StoredTeslaTokens | undefined> {
    const raw = await readJsonFile(this.path);
    if (raw === undefined) {
      return undefined;
    }
    const parsed = storedTokensSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue === undefined ? "(root)" : issue.path.join(".");
      throw new StateStoreError(
        `${this.path} is not a valid Tesla token store (field ${field || "(root)"}: ${issue?.message ?? "invalid"}). Delete the file and sign in to Tesla again.`,
        { cause: parsed.error },
      );
    }
    registerSecret(parsed.data.refreshToken);
    registerSecret(parsed.data.accessToken);
    return parsed.data;
  }

  /** Registers the tokens as secrets, then writes the file atomically with fsync. */
  async save(tokens: StoredTeslaTokens): Promise<void> {
    registerSecret(tokens.refreshToken);
    registerSecret(tokens.accessToken);
    await writeFileAtomic(this.path, `${JSON.stringify(tokens, null, 2)}\n`);
  }
}
