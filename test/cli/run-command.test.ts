import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { describe, expect, it } from "vitest";

import {
  runCommand,
  RUN_USAGE,
  unreachableAdvice,
} from "../../src/cli/run-command.js";
import { resolveConfig } from "../../src/config/load.js";
import {
  AuthError,
  RateLimitedError,
  UpstreamUnavailableError,
} from "../../src/errors.js";
import { startAmberStandIn } from "../../src/standins/amber-server.js";

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    }),
    text: () => chunks.join(""),
  };
}

describe("runCommand", () => {
  it("prints help", async () => {
    const stdout = sink();
    const code = await runCommand(["--help"], {
      stdout: stdout.stream,
      stderr: sink().stream,
      env: {},
    });

    expect(code).toBe(0);
    expect(stdout.text()).toBe(`${RUN_USAGE}\n`);
  });

  it("rejects an unknown option", async () => {
    const stderr = sink();
    const code = await runCommand(["--frobnicate"], {
      stdout: sink().stream,
      stderr: stderr.stream,
      env: {},
    });

    expect(code).toBe(2);
    expect(stderr.text()).toMatch(/Unknown option '--frobnicate'/);
  });

  it("reports a missing config file", async () => {
    const stderr = sink();
    const code = await runCommand(
      ["--config", "/nonexistent/tesla-sync.yaml"],
      {
        stdout: sink().stream,
        stderr: stderr.stream,
        env: {},
      },
    );

    expect(code).toBe(1);
    expect(stderr.text()).toMatch(
      /Configuration file \/nonexistent\/tesla-sync\.yaml not found/,
    );
  });

  it("reports an incomplete account", async () => {
    const stderr = sink();
    const code = await runCommand([], {
      stdout: sink().stream,
      stderr: stderr.stream,
      env: { TESLA_SYNC_AMBER_TOKEN: "psk_run_command_test" },
    });

    expect(code).toBe(1);
    expect(stderr.text()).toMatch(/tesla\.token is missing/);
  });

  it("runs the demo until stopped", async () => {
    let stop: (signal: string) => void = () => undefined;
    const stopSignal = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const running = runCommand([], {
      stdout: sink().stream,
      stderr: sink().stream,
      env: { TESLA_SYNC_PORT: "0", TESLA_SYNC_LOG_LEVEL: "silent" },
      stopSignal,
    });
    stop("SIGTERM");

    expect(await running).toBe(0);
  });

  it("reports a failed start once", async () => {
    const amber = await startAmberStandIn({ token: "psk_other_account_0001" });
    const dataDir = await mkdtemp(join(tmpdir(), "run-command-"));
    const stderr = sink();
    try {
      const code = await runCommand([], {
        stdout: sink().stream,
        stderr: stderr.stream,
        env: {
          TESLA_SYNC_AMBER_TOKEN: "psk_rejected_token_0002",
          TESLA_SYNC_AMBER_REST_URL: amber.restUrl,
          TESLA_SYNC_AMBER_LIVE_FEED: "false",
          TESLA_SYNC_TESLA_TOKEN: "run-command-teslemetry-0003",
          TESLA_SYNC_TESLA_BASE_URL: "http://127.0.0.1:9",
          TESLA_SYNC_DATA_DIR: dataDir,
          TESLA_SYNC_PORT: "0",
          TESLA_SYNC_LOG_LEVEL: "silent",
        },
        stopSignal: new Promise(() => undefined),
      });

      expect(code).toBe(1);
      const lines = stderr.text().trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^tesla-sync run: The engine could not start: AUTH_FAILED: amber rejected/,
      );
    } finally {
      await amber.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("runCommand warnings", () => {
  it("warns about an unknown variable", async () => {
    const stdout = sink();
    let stop: (signal: string) => void = () => undefined;
    const stopSignal = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const running = runCommand([], {
      stdout: sink().stream,
      stderr: sink().stream,
      env: {
        TESLA_SYNC_PORT: "0",
        TESLA_SYNC_LOG_LEVEL: "warn",
        TESLA_SYNC_LOG_FORMAT: "json",
        TESLA_SYNC_DASHBORD_PASSWORD: "typo-in-the-name",
      },
      stopSignal,
      logDestination: stdout.stream,
    });
    stop("SIGTERM");
    expect(await running).toBe(0);

    const warnings = stdout
      .text()
      .split("\n")
      .filter((line) => line.includes("unknown environment"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      "TESLA_SYNC_DASHBORD_PASSWORD (did you mean TESLA_SYNC_DASHBOARD_PASSWORD?)",
    );
    expect(warnings[0]).not.toContain("typo-in-the-name");
  });
});

describe("unreachableAdvice", () => {
  const live = resolveConfig(
    {
      amber: { token: "psk_advice_0001", restUrl: "http://127.0.0.1:9/v1" },
      tesla: { token: "advice-teslemetry", baseUrl: "http://127.0.0.1:8/" },
    },
    {},
  );
  const fleet = resolveConfig(
    {
      amber: { token: "psk_advice_0001" },
      tesla: {
        auth: "fleet",
        baseUrl: "http://127.0.0.1:8/",
        fleet: {
          clientId: "advice-client",
          refreshToken: "advice-refresh",
          tokenUrl: "http://127.0.0.1:7/token",
        },
      },
    },
    {},
  );
  if (live.mode !== "live" || fleet.mode !== "live") {
    throw new Error("the advice configurations must be live");
  }

  it.each([
    [
      "unreachable Amber",
      new UpstreamUnavailableError("amber", undefined, "down."),
      ["http://127.0.0.1:9/v1", "amber.restUrl", "TESLA_SYNC_AMBER_REST_URL"],
    ],
    [
      "rate-limited Amber",
      new RateLimitedError("amber", undefined, "slow down."),
      ["TESLA_SYNC_AMBER_REST_URL"],
    ],
    [
      "unreachable Tesla",
      new UpstreamUnavailableError("tesla", 503, "down."),
      ["http://127.0.0.1:8/", "tesla.baseUrl", "TESLA_SYNC_TESLA_BASE_URL"],
    ],
  ])("names the URL for %s", (_name, error, expected) => {
    const advice = unreachableAdvice(error, live);
    for (const text of expected) {
      expect(advice).toContain(text);
    }
  });

  it("names the Fleet token endpoint", () => {
    const advice = unreachableAdvice(
      new UpstreamUnavailableError("tesla", undefined, "down."),
      fleet,
    );

    expect(advice).toContain("http://127.0.0.1:7/token");
    expect(advice).toContain("TESLA_SYNC_FLEET_TOKEN_URL");
  });

  it("falls back to the network", () => {
    const advice = unreachableAdvice(new AuthError("amber", "rejected."), live);

    expect(advice).toBe("Check this machine's network connection.");
  });
});
