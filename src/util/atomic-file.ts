import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";

import { StateStoreError } from "../errors.js";

/**
 * Writes `data` to `path` so that a crash at any moment leaves either the old
 * file or the new one, never a torn mix: write a temporary file beside it,
 * fsync it, rename it over the target, then fsync the directory.
 * `mode` defaults to 0600 because most state files hold tokens.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  mode = 0o600,
): Promise<void> {
  const directory = dirname(path);
  const temporary = join(
    directory,
    `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`,
  );

  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const handle = await open(temporary, "w", mode);
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);

    const directoryHandle = await open(directory, "r");
    try {
      await directoryHandle.sync();
    } finally {
      await directoryHandle.close();
    }
  } catch (error) {
    // The cleanup fails too when the directory itself is the problem (for
    // example a file where the directory should be); the original error is
    // the one worth reporting, so a cleanup failure is ignored here.
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new StateStoreError(
      `Could not write ${path}: ${(error as Error).message}. Check that the data directory exists and is writable.`,
      { cause: error },
    );
  }
}

/** Reads a JSON file, returning `undefined` when it does not exist. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return undefined;
    }
    throw new StateStoreError(
      `Could not read ${path}: ${(error as Error).message}.`,
      { cause: error },
    );
  }

  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StateStoreError(
      `${path} is not valid JSON (${(error as Error).message}). Move it aside and restart; the engine rebuilds it.`,
      { cause: error },
    );
  }
}
