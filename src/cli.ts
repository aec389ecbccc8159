#!/usr/bin/env node
/**
 * Entry point of the `tesla-sync` command. It checks the Node.js version
 * before it loads the command line, because the engine imports node:sqlite
 * and an older Node.js would otherwise stop with ERR_UNKNOWN_BUILTIN_MODULE
 * before any code could print why.
 */
import { isSupportedNode, unsupportedNodeMessage } from "./cli/node-version.js";

if (isSupportedNode(process.versions.node)) {
  const { runCli } = await import("./cli/main.js");
  await runCli(process.argv.slice(2));
} else {
  process.stderr.write(
    unsupportedNodeMessage(process.versions.node, process.execPath),
  );
  process.exitCode = 1;
}
