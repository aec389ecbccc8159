import { Writable } from "node:stream";

import { describe, expect, it } from "vitest";

import { runCommand, RUN_USAGE } from "../../src/cli/run-command.js";

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
});
