/**
 * The Node.js version check of the `tesla-sync` entry point. This module
 * imports nothing, so it loads on any Node.js that runs ES modules.
 */

/** Oldest Node.js release the engine runs on: the first with node:sqlite without a flag. */
export const MIN_NODE_VERSION = "22.13.0";

/**
 * Returns whether Node.js `version` (such as "22.13.0", without a "v")
 * runs the engine: 22.13 or newer, except 23.0 to 23.3, which still needed
 * --experimental-sqlite.
 */
export function isSupportedNode(version: string): boolean {
  const match = /^(\d+)\.(\d+)\./.exec(version);
  if (match === null) {
    return false;
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major === 22) {
    return minor >= 13;
  }
  if (major === 23) {
    return minor >= 4;
  }
  return major > 23;
}

/**
 * Returns the message printed when Node.js `version` is too old: which
 * version is needed and how to get it.
 */
export function unsupportedNodeMessage(
  version: string,
  executable: string,
): string {
  return [
    `tesla-sync: Node.js ${version} (${executable}) is too old. Tesla Sync needs Node.js ${MIN_NODE_VERSION} or newer, the first release with node:sqlite without a flag.`,
    "Run `bash scripts/start.sh` in the repository, which fetches Node.js 24 into ~/.cache/tesla-sync and starts the engine with it,",
    "or put that Node.js first on PATH once scripts/start.sh (or scripts/test.sh) has fetched it:",
    '  export PATH="$(ls -d ~/.cache/tesla-sync/node-*/bin | tail -n 1):$PATH"',
    "",
  ].join("\n");
}
