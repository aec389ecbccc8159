import { afterEach, describe, expect, it } from "vitest";

import { resolveConfig } from "../../src/config/load.js";
import { startDemo, type RunningDemo } from "../../src/demo/demo.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";

let demo: RunningDemo | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

describe("demo dashboard", () => {
  it("needs a login with a password", async () => {
    const base = resolveConfig(
      { dashboard: { password: "demo-dashboard-password" } },
      {},
    );
    demo = await startDemo({ logger: silentLogger, base, port: 0 });
    const url = demo.service.server?.url ?? "";

    expect((await fetch(`${url}/api/status`)).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("refuses another address without a password", async () => {
    const base = resolveConfig({ server: { host: "0.0.0.0" } }, {});

    await expect(
      startDemo({ logger: silentLogger, base, port: 0 }),
    ).rejects.toThrow(ConfigError);
  });
});
