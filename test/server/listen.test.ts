import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { ConfigError } from "../../src/errors.js";
import {
  INGRESS_SETTINGS,
  listen,
  SERVER_SETTINGS,
} from "../../src/server/listen.js";

const servers: Server[] = [];

function server(): Server {
  const created = createServer();
  servers.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (created) =>
        new Promise<void>((resolve) => {
          created.close(() => {
            resolve();
          });
        }),
    ),
  );
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected listen to fail");
}

describe("listen", () => {
  it("binds a free port", async () => {
    const target = server();

    await listen(target, 0, "127.0.0.1", SERVER_SETTINGS);

    expect((target.address() as AddressInfo).port).toBeGreaterThan(0);
  });

  it.each([
    ["the status server", SERVER_SETTINGS, "server.port (TESLA_SYNC_PORT)"],
    [
      "the ingress listener",
      INGRESS_SETTINGS,
      "dashboard.ingressPort (TESLA_SYNC_INGRESS_PORT)",
    ],
  ])("names the port setting of %s", async (_name, settings, setting) => {
    const first = server();
    await listen(first, 0, "127.0.0.1", settings);
    const port = (first.address() as AddressInfo).port;

    const error = await failure(listen(server(), port, "127.0.0.1", settings));

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("already uses");
    expect(error.message).toContain(setting);
  });

  it("names the host setting", async () => {
    // 192.0.2.1 is reserved for documentation (RFC 5737) and assumed not to
    // be configured here. The bind fails locally and sends nothing.
    const error = await failure(
      listen(server(), 0, "192.0.2.1", SERVER_SETTINGS),
    );

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain("server.host (TESLA_SYNC_HOST)");
  });
});
