/**
 * The dashboard's static files: the bundle that src/dashboard/build.ts
 * writes to `dist/dashboard/` (app.js with Chart.js inside, login.js,
 * app.css). They are read once at start and served from memory, so the
 * page never loads anything from outside the engine.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Files the dashboard serves under /assets/, with their content types. */
export const ASSET_FILES: Readonly<Record<string, string>> = {
  "app.js": "text/javascript; charset=utf-8",
  "login.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/** One loaded asset. */
export interface Asset {
  contentType: string;
  body: Buffer;
}

/**
 * Returns `dist/dashboard` of the package this file belongs to, found by
 * walking up to the directory with package.json (this file runs from
 * `src/server` under vitest and from `dist/src/server` when built).
 */
export function defaultAssetsDir(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    if (existsSync(join(directory, "package.json"))) {
      return join(directory, "dist", "dashboard");
    }
    directory = dirname(directory);
  }
  return join(process.cwd(), "dist", "dashboard");
}

/**
 * Reads every asset in {@link ASSET_FILES} from `directory`. Returns the
 * loaded ones and the names of the missing ones, so the server can still
 * start and say what to build.
 */
export async function loadAssets(
  directory: string,
): Promise<{ assets: Map<string, Asset>; missing: string[] }> {
  const assets = new Map<string, Asset>();
  const missing: string[] = [];
  for (const [name, contentType] of Object.entries(ASSET_FILES)) {
    try {
      assets.set(name, {
        contentType,
        body: await readFile(join(directory, name)),
      });
    } catch {
      missing.push(name);
    }
  }
  return { assets, missing };
}
