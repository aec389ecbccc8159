/**
 * Supervisor discovery as the run command wires it: published while the
 * engine runs as an add-on, deleted when it stops. Home Assistant is a
 * loopback stand-in without the integration loaded, so the engine waits
 * for it and never reaches a vendor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { runCommand } from "../../src/cli/run-command.js";
import { startFakeHa, type FakeHa } from "../bridge/fake-ha.js";
import {
  startSupervisorStandIn,
  type SupervisorStandIn,
} from "./supervisor-standin.js";

const TOKEN = "supervisor-token-run-5b2d";

function sink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

let supervisor: SupervisorStandIn;
let ha: FakeHa;
let dataDir: string;

beforeEach(async () => {
  supervisor = await startSupervisorStandIn({
    token: TOKEN,
    services: ["tesla_sync"],
  });
  ha = await startFakeHa();
  // Without the integration loaded the engine waits and starts nothing.
  ha.components = ["http", "websocket_api"];
  dataDir = await mkdtemp(join(tmpdir(), "tesla-sync-discovery-"));
});

afterEach(async () => {
  await supervisor.close();
  await ha.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe("run command discovery", () => {
  it("publishes, then withdraws on stop", async () => {
    let stop: (signal: string) => void = () => undefined;
    const stopSignal = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const running = runCommand([], {
      stdout: sink(),
      stderr: sink(),
      env: {
        SUPERVISOR_TOKEN: TOKEN,
        TESLA_SYNC_SUPERVISOR_URL: supervisor.url,
        // A loopback HA in place of the Supervisor's ws://supervisor proxy.
        TESLA_SYNC_HA_URL: ha.url,
        TESLA_SYNC_HA_TOKEN: ha.token,
        TESLA_SYNC_DATA_DIR: dataDir,
        TESLA_SYNC_PORT: "0",
        TESLA_SYNC_INGRESS_PORT: "0",
        TESLA_SYNC_LOG_LEVEL: "silent",
      },
      stopSignal,
    });

    await vi.waitFor(() => {
      expect(supervisor.messages.size).toBe(1);
    });
    const [published] = [...supervisor.messages.values()];
    expect(published?.service).toBe("tesla_sync");
    expect(published?.config["port"]).toBe(8099);

    stop("SIGTERM");
    expect(await running).toBe(0);
    expect(supervisor.messages.size).toBe(0);
    expect(supervisor.requests.map((request) => request.method)).toEqual([
      "POST",
      "DELETE",
    ]);
  });

  it("stays quiet outside an add-on", async () => {
    const running = runCommand([], {
      stdout: sink(),
      stderr: sink(),
      env: {
        TESLA_SYNC_SUPERVISOR_URL: supervisor.url,
        TESLA_SYNC_PORT: "0",
        TESLA_SYNC_LOG_LEVEL: "silent",
      },
      stopSignal: Promise.resolve("SIGTERM"),
    });

    expect(await running).toBe(0);
    expect(supervisor.requests).toEqual([]);
  });
});
