import { afterEach, describe, expect, it } from "vitest";

import { silentLogger } from "../../src/log.js";
import {
  IngressWaitingPage,
  type IngressWaitingState,
} from "../../src/server/ingress-waiting.js";

let page: IngressWaitingPage | undefined;
let state: IngressWaitingState = {
  state: "waiting-for-integration",
  reason:
    "Add the <Tesla Sync> integration under Settings > Devices & services.",
};

function start(allowed: readonly string[] = ["127.0.0.1"]): IngressWaitingPage {
  page = new IngressWaitingPage({
    host: "127.0.0.1",
    port: 0,
    allowedAddresses: allowed,
    logger: silentLogger,
    state: () => state,
  });
  return page;
}

function urlOf(target: IngressWaitingPage): string {
  const url = target.url;
  if (url === undefined) {
    throw new Error("the waiting page is not listening");
  }
  return url;
}

afterEach(async () => {
  await page?.close();
  page = undefined;
});

describe("IngressWaitingPage", () => {
  it("serves health", async () => {
    const target = start();
    await target.open();

    const response = await fetch(`${urlOf(target)}/health`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("reports the state as 503", async () => {
    const target = start();
    await target.open();

    const response = await fetch(`${urlOf(target)}/api/status`);

    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      mode: "home-assistant",
      state: "waiting-for-integration",
      reason: state.reason,
    });
  });

  it("shows the reason escaped", async () => {
    const target = start();
    await target.open();

    const response = await fetch(`${urlOf(target)}/`);
    const html = await response.text();

    expect(response.status).toBe(200);
    expect(html).toContain("Add the &lt;Tesla Sync&gt; integration");
    expect(html).toContain('http-equiv="refresh"');
  });

  it("shows the current state", async () => {
    const target = start();
    await target.open();
    state = { state: "connecting", reason: "Connecting to Home Assistant." };

    const response = await fetch(`${urlOf(target)}/api/status`);

    expect(await response.json()).toMatchObject({ state: "connecting" });
  });

  it.each([
    [405, "POST", "/"],
    [404, "GET", "/api/dashboard"],
  ])("returns %i for %s %s", async (status, method, path) => {
    const target = start();
    await target.open();

    const response = await fetch(`${urlOf(target)}${path}`, { method });

    expect(response.status).toBe(status);
  });

  it("rejects other clients", async () => {
    const target = start(["172.30.32.2"]);
    await target.open();

    const response = await fetch(`${urlOf(target)}/health`);

    expect(response.status).toBe(403);
  });

  it("opens and closes idempotently", async () => {
    const target = start();
    await Promise.all([target.open(), target.open()]);
    const url = urlOf(target);
    await target.open();
    expect(target.url).toBe(url);

    await Promise.all([target.close(), target.close()]);

    expect(target.url).toBeUndefined();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it("reopens after close", async () => {
    const target = start();
    await target.open();
    await target.close();
    await target.open();

    const response = await fetch(`${urlOf(target)}/health`);

    expect(response.status).toBe(200);
  });

  it("survives a taken port", async () => {
    const first = start();
    await first.open();
    const port = Number(new URL(urlOf(first)).port);
    const second = new IngressWaitingPage({
      host: "127.0.0.1",
      port,
      allowedAddresses: ["127.0.0.1"],
      logger: silentLogger,
      state: () => state,
    });

    await second.open();

    expect(second.url).toBeUndefined();
  });
});
