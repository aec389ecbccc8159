/**
 * Builds the dashboard's browser files into `dist/dashboard/`: esbuild
 * bundles `client/main.mts` (with Chart.js from node_modules) into app.js
 * and `client/login.mts` into login.js, and app.css is copied beside them.
 * `npm run build` runs this after tsc, so the engine serves the charts
 * itself and the page never loads a script from the internet.
 *
 * Run as `node dist/src/dashboard/build.js`. esbuild is a development
 * dependency: the add-on image builds the files, then drops it.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Options for {@link buildDashboard}. */
export interface BuildDashboardOptions {
  /** Repository root (with package.json); default the one this file is in. */
  rootDir?: string;
  /** Output directory; default `<rootDir>/dist/dashboard`. */
  outDir?: string;
  /** Minify the bundles; default true. */
  minify?: boolean;
}

/** Returns the nearest directory above this file that has package.json. */
export function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    if (existsSync(join(directory, "package.json"))) {
      return directory;
    }
    directory = dirname(directory);
  }
  return process.cwd();
}

/** Bundles the dashboard and returns the output directory. */
export async function buildDashboard(
  options: BuildDashboardOptions = {},
): Promise<string> {
  // Imported here so the running engine never loads esbuild.
  const { build } = await import("esbuild");
  const rootDir = options.rootDir ?? packageRoot();
  const source = join(rootDir, "src", "dashboard");
  const outDir = options.outDir ?? join(rootDir, "dist", "dashboard");
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: {
      app: join(source, "client", "main.mts"),
      login: join(source, "client", "login.mts"),
    },
    outdir: outDir,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    minify: options.minify ?? true,
    legalComments: "eof",
    logLevel: "warning",
  });
  await copyFile(join(source, "static", "app.css"), join(outDir, "app.css"));
  return outDir;
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  buildDashboard().then(
    (outDir) => {
      process.stdout.write(`dashboard: built ${outDir}\n`);
    },
    (error: unknown) => {
      process.stderr.write(
        `dashboard: build failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
