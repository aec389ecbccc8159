import { access } from "node:fs/promises";

import { afterEach, describe, expect, it } from "vitest";

import { startDemo, type RunningDemo } from "../../src/demo/demo.js";
import type { StatusSnapshot } from "../../src/engine/types.js";
import { silentLogger } from "../../src/log.js";
import { validateTariff } from "../../src/tariff/validate.js";

let demo: RunningDemo | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

describe("demo", () => {
  it("uploads a validated tariff at startup", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });
    const writes = demo.tesla.writes.filter(
      (write) => write.endpoint === "time_of_use_settings",
    );

    expect(writes).toHaveLength(1);
    expect(validateTariff(demo.tesla.state().tariff, "strict").ok).toBe(true);
  });

  it("serves the status of the demo", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });
    const url = demo.service.server?.url ?? "";
    const response = await fetch(`${url}/api/status`);
    const status = (await response.json()) as StatusSnapshot;
    const page = await (await fetch(`${url}/`)).text();

    expect(response.status).toBe(200);
    expect(status.mode).toBe("demo");
    expect(status.lastSync?.outcome).toBe("uploaded");
    expect(status.lastSync?.confirmed).toBe(true);
    expect(status.timeZone).toBe("Australia/Sydney");
    expect(status.slots).toHaveLength(48);
    expect(status.counters.today.teslaWrites).toBe(1);
    expect(page).toContain("Tesla Sync");
  });

  it("stays on loopback", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });

    expect(demo.amber.restUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(demo.amber.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/);
    expect(demo.tesla.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(demo.tesla.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(demo.service.server?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("uses the Fleet OAuth path", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });

    expect(demo.tesla.tokenGrants()).toBeGreaterThanOrEqual(1);
  });

  it("answers a manual sync", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });
    const url = demo.service.server?.url ?? "";
    const response = await fetch(`${url}/api/sync`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const result = (await response.json()) as {
      outcome: string;
      trigger: string;
    };

    expect(response.status).toBe(200);
    expect(result.trigger).toBe("manual");
    expect(["uploaded", "unchanged", "skipped"]).toContain(result.outcome);
  });

  it("removes its data directory on stop", async () => {
    demo = await startDemo({ logger: silentLogger, port: 0 });
    const directory = demo.dataDir;
    await demo.stop();
    demo = undefined;

    await expect(access(directory)).rejects.toThrow(/ENOENT/);
  });
});
