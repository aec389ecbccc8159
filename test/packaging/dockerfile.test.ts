/**
 * Checks of the add-on's Dockerfile. No Docker engine runs here, so the
 * image is never built in tests: these checks read the Dockerfile and
 * compare it with the repository and with the build the test scripts run.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, matchesGlob, posix } from "node:path";

import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

interface Instruction {
  keyword: string;
  args: string;
}

/** Splits a Dockerfile into instructions, joining `\` continuations and dropping comments. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) {
      continue;
    }
    if (line.startsWith("#")) {
      continue;
    }
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const whole = `${pending}${line}`.trim();
    pending = "";
    const match = /^(\S+)\s*(.*)$/.exec(whole);
    if (match?.[1] !== undefined) {
      instructions.push({
        keyword: match[1].toUpperCase(),
        args: match[2] ?? "",
      });
    }
  }
  return instructions;
}

/** Flags that change only how much npm prints, not what it installs or builds. */
const OUTPUT_FLAGS = [/^--silent$/, /^--loglevel(=.*)?$/];

/** Returns every `npm …` command in `text`, with output-only flags removed. */
function npmCommands(text: string): string[] {
  const commands: string[] = [];
  for (const match of text.matchAll(/(?:^|&&|;|\(|\s)(npm[ \t][^&;|)\n]*)/gm)) {
    const words = (match[1] ?? "")
      .trim()
      .split(/\s+/)
      .filter((word) => !OUTPUT_FLAGS.some((flag) => flag.test(word)));
    commands.push(words.join(" "));
  }
  return commands;
}

/** npm commands that install dependencies or build the engine. */
function buildCommands(commands: string[]): string[] {
  return commands.filter((command) =>
    /^npm (ci|install|i|run build)\b/.test(command),
  );
}

const dockerfile = parseDockerfile(
  readFileSync(join(root, "Dockerfile"), "utf8"),
);
const runText = dockerfile
  .filter((instruction) => instruction.keyword === "RUN")
  .map((instruction) => instruction.args)
  .join("\n");
const ignorePatterns = readFileSync(join(root, ".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));
const packageVersion = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
  }
).version;

/** True when .dockerignore leaves `path` (relative to the root) out of the build context. */
function isIgnored(path: string): boolean {
  return ignorePatterns.some((pattern) => {
    const clean = pattern.replace(/^\/|\/$/g, "");
    return (
      path === clean ||
      path.startsWith(`${clean}/`) ||
      matchesGlob(path, clean) ||
      matchesGlob(path, `${clean}/**`)
    );
  });
}

describe("Dockerfile", () => {
  it("starts from one pinned HA base image", () => {
    const froms = dockerfile.filter(
      (instruction) => instruction.keyword === "FROM",
    );
    expect(froms).toHaveLength(1);
    expect(froms[0]?.args).toMatch(
      /^ghcr\.io\/home-assistant\/base:\d+\.\d+-\d{4}\.\d{2}\.\d+$/,
    );
  });

  it("does not rely on BUILD_FROM", () => {
    const text = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(text).not.toMatch(/^\s*ARG\s+BUILD_FROM/m);
    expect(text).not.toContain("${BUILD_FROM}");
  });

  it("installs Node.js from Alpine", () => {
    const apk = /apk add (?:--no-cache )?([^&\n]*)/.exec(runText);
    const packages = (apk?.[1] ?? "").split(/\s+/);
    expect(packages).toContain("nodejs");
    expect(packages).toContain("npm");
  });

  it("builds with the test scripts' commands", () => {
    const scripts = ["scripts/env.sh", "scripts/test.sh"]
      .map((file) => readFileSync(join(root, file), "utf8"))
      .join("\n");
    const expected = buildCommands(npmCommands(scripts));
    expect(expected).toEqual(
      expect.arrayContaining(["npm ci --no-audit --no-fund", "npm run build"]),
    );
    expect(buildCommands(npmCommands(runText))).toEqual(expected);
  });

  it("installs before it builds", () => {
    const commands = npmCommands(runText);
    expect(commands.indexOf("npm run build")).toBeGreaterThan(
      commands.findIndex((command) => command.startsWith("npm ci")),
    );
  });

  it("prunes dev dependencies after the build", () => {
    const commands = npmCommands(runText);
    const prune = commands.findIndex((command) =>
      /^npm prune .*--omit=dev/.test(command),
    );
    expect(prune).toBeGreaterThan(commands.indexOf("npm run build"));
  });

  it.each(
    dockerfile
      .filter(
        (instruction) =>
          instruction.keyword === "COPY" &&
          !instruction.args.includes("--from"),
      )
      .flatMap((instruction) => instruction.args.split(/\s+/).slice(0, -1))
      .map((source) => [source]),
  )("copies %s, which exists", (source) => {
    expect(existsSync(join(root, source))).toBe(true);
    expect(isIgnored(posix.normalize(source))).toBe(false);
  });

  it.each([
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "src/cli.ts",
    "addon/run.sh",
  ])("keeps %s in the build context", (path) => {
    expect(existsSync(join(root, path))).toBe(true);
    expect(isIgnored(path)).toBe(false);
  });

  it("leaves local build output out of the context", () => {
    expect(isIgnored("node_modules/zod/package.json")).toBe(true);
    expect(isIgnored("dist/src/cli.js")).toBe(true);
    expect(isIgnored(".git/HEAD")).toBe(true);
  });

  it("runs the add-on's run script", () => {
    const cmd = dockerfile.filter(
      (instruction) => instruction.keyword === "CMD",
    );
    expect(cmd).toHaveLength(1);
    const argv = JSON.parse(cmd[0]?.args ?? "[]") as string[];
    expect(argv).toEqual(["/app/addon/run.sh"]);

    const workdir = dockerfile.find(
      (instruction) => instruction.keyword === "WORKDIR",
    );
    expect(workdir?.args).toBe("/app");
    const script = join(root, "addon/run.sh");
    expect(statSync(script).mode & 0o111).not.toBe(0);
  });

  it("keeps the default entrypoint for s6-overlay", () => {
    expect(
      dockerfile.some((instruction) => instruction.keyword === "ENTRYPOINT"),
    ).toBe(false);
  });

  it("labels the image for Home Assistant", () => {
    const labels = dockerfile
      .filter((instruction) => instruction.keyword === "LABEL")
      .map((instruction) => instruction.args)
      .join(" ");
    expect(labels).toContain('io.hass.type="app"');
    expect(labels).toContain('io.hass.arch="${BUILD_ARCH}"');
    expect(labels).toContain('io.hass.version="${BUILD_VERSION}"');
  });

  it("defaults BUILD_VERSION to the package version", () => {
    const arg = dockerfile.find(
      (instruction) =>
        instruction.keyword === "ARG" &&
        instruction.args.startsWith("BUILD_VERSION"),
    );
    expect(arg?.args).toBe(`BUILD_VERSION=${packageVersion}`);
  });
});
