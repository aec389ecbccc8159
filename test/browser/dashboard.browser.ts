/**
 * The dashboard in a real browser: Debian's Chromium against the demo
 * engine, its stand-ins and the dashboard server, all on 127.0.0.1. Run by
 * scripts/test-browser.sh; screenshots land in each case's temporary
 * folder, and the demo one is copied to docs/images/dashboard.png.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";

import type { BrowserContext, Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { silentLogger } from "../../src/log.js";
import { startWebServer, type WebServer } from "../../src/server/web-server.js";
import {
  launchBrowser,
  makeTempDir,
  MINUTE,
  publishScreenshot,
  startBrowserDemo,
  startIngressProxy,
  waitForDashboard,
  watchErrors,
  type BrowserDemo,
  type IngressProxy,
} from "./harness.js";

const PASSWORD = "browser-test-password";
const INGRESS_PATH = "/api/hassio_ingress/abc123";

let temp: { root: string; screenshots: string };
let browser: BrowserContext;
let running: BrowserDemo;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  temp = await makeTempDir("dashboard");
  running = await startBrowserDemo();
  browser = await launchBrowser(temp.root);
});

afterEach(async () => {
  await browser.close();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
  await running.demo.stop();
  // TESLA_SYNC_KEEP_SCREENSHOTS=1 keeps the folder, to look at the pictures.
  if (process.env["TESLA_SYNC_KEEP_SCREENSHOTS"] === "1") {
    process.stdout.write(`screenshots kept in ${temp.screenshots}\n`);
  } else {
    await rm(temp.root, { recursive: true, force: true });
  }
});

interface ChartCounts {
  tariff: number[];
  prices: number[];
  energyLabels: number;
  energyNonZero: number;
}

/** The parts of the page's `window.teslaSync` that the tests read. */
interface PageGlobals {
  teslaSync?: {
    charts: Record<
      "tariff" | "prices" | "energy",
      {
        data: {
          labels?: unknown[];
          datasets: Array<{ data: unknown[] }>;
        };
      }
    >;
  };
}

/** Reads the number of points in every chart dataset from Chart.js itself. */
function chartCounts(page: Page): Promise<ChartCounts> {
  return page.evaluate(() => {
    const charts = (globalThis as unknown as PageGlobals).teslaSync?.charts;
    if (charts === undefined) {
      throw new Error("no charts on the page");
    }
    return {
      tariff: charts.tariff.data.datasets.map((set) => set.data.length),
      prices: charts.prices.data.datasets.map((set) => set.data.length),
      energyLabels: charts.energy.data.labels?.length ?? 0,
      energyNonZero: charts.energy.data.datasets
        .flatMap((set) => set.data)
        .filter((value) => typeof value === "number" && value !== 0).length,
    };
  });
}

/** Makes every forecast price move, so the next sync has something to upload. */
function changePrices(pattern: "calm" | "spike" | "negative-midday"): void {
  running.demo.amber.setPattern(pattern);
}

/** Starts a second dashboard listener on the demo engine. */
async function extraServer(
  options: Partial<Parameters<typeof startWebServer>[0]>,
): Promise<WebServer> {
  const web = await startWebServer({
    engine: running.demo.service.engine,
    logger: silentLogger,
    engineMode: "demo",
    dataDir: join(temp.root, "extra"),
    port: 0,
    clock: running.clock,
    history: false,
    ...options,
  });
  cleanups.push(() => web.close());
  if (web.recorder !== undefined) {
    running.watch(web.recorder);
  }
  return web;
}

/** Clicks "Sync now" and returns the result line the page shows. */
async function clickSyncNow(page: Page): Promise<string> {
  const answer = page.waitForResponse((response) =>
    new URL(response.url()).pathname.endsWith("/api/sync"),
  );
  await page.click("#sync-now");
  await answer;
  await page.locator("#sync-now:not([disabled])").waitFor();
  return (await page.textContent("#sync-result")) ?? "";
}

describe("dashboard in demo mode", () => {
  it("draws every chart with data", async () => {
    await running.advance(90 * MINUTE);
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${running.web.url}/`);
    await waitForDashboard(page);
    const counts = await chartCounts(page);
    const path = join(temp.screenshots, "demo.png");
    await page.screenshot({ path, fullPage: true });
    await publishScreenshot(path, "dashboard.png");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({
      path: join(temp.screenshots, "demo-dark.png"),
      fullPage: true,
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(temp.screenshots, "demo-phone.png") });

    expect(counts.tariff).toEqual([49, 49, 49, 49]);
    expect(counts.prices[0]).toBeGreaterThan(200);
    expect(counts.energyLabels).toBeGreaterThanOrEqual(24);
    expect(counts.energyNonZero).toBeGreaterThan(0);
    expect(await page.textContent("#demo-banner")).toContain("127.0.0.1");
    expect(await page.textContent("#battery-percent")).toMatch(/^\d+ %$/);
    expect(await page.locator("#sync-log tbody tr").count()).toBeGreaterThan(0);
    expect(await page.textContent("main")).not.toContain("…");
    expect(await page.getAttribute("main", "aria-busy")).toBeNull();
    expect(errors).toEqual([]);
  });

  it("uploads on sync now", async () => {
    const page = await browser.newPage();
    await page.goto(`${running.web.url}/`);
    await waitForDashboard(page);
    await running.advance(2 * MINUTE);
    changePrices("spike");
    const before = running.tariffWrites();

    const result = await clickSyncNow(page);

    expect(result).toMatch(/^uploaded: /);
    expect(running.tariffWrites()).toBe(before + 1);
    expect(running.demo.tesla.writes.at(-1)?.endpoint).toBe(
      "time_of_use_settings",
    );
  });

  it("stops scheduled uploads with the toggle", async () => {
    const engine = running.demo.service.engine;
    const page = await browser.newPage();
    await page.goto(`${running.web.url}/`);
    await waitForDashboard(page);
    await running.advance(MINUTE);

    await page.click("#auto-sync");
    await page.locator("#next-sync", { hasText: "auto-sync is off" }).waitFor();
    changePrices("spike");
    const before = running.tariffWrites();
    // Longer than any write spacing, so a scheduled tick would have
    // written had auto-sync been on.
    await running.advance(40 * MINUTE);
    const whileOff = running.tariffWrites();
    const autoSyncWhileOff = engine.autoSync;

    await page.click("#auto-sync");
    await page
      .locator("#sync-result", { hasText: "Auto-sync turned on." })
      .waitFor();
    changePrices("negative-midday");
    await running.advance(40 * MINUTE);

    expect(autoSyncWhileOff).toBe(false);
    expect(whileOff).toBe(before);
    expect(engine.autoSync).toBe(true);
    expect(running.tariffWrites()).toBeGreaterThan(whileOff);
  });
});

describe("dashboard behind ingress", () => {
  let proxy: IngressProxy;

  beforeEach(async () => {
    const web = await extraServer({
      engineMode: "live",
      ingress: { port: 0, host: "127.0.0.1", allowedAddresses: ["127.0.0.1"] },
      history: {
        energy: {
          source: running.demo.service.tesla,
          siteId: running.demo.service.teslaSiteId,
        },
        amber: {
          port: running.demo.service.amber,
          siteId: running.demo.service.amberSiteId,
          intervalLength: 5,
        },
      },
      dataDir: join(temp.root, "ingress"),
    });
    proxy = await startIngressProxy(web.ingress?.port ?? 0, INGRESS_PATH);
    cleanups.push(() => proxy.close());
  });

  it("loads everything through the prefix", async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    const outside: string[] = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (!path.startsWith(`${INGRESS_PATH}/`)) {
        outside.push(path);
      }
    });
    await running.advance(30 * MINUTE);
    await page.goto(`${proxy.url}${INGRESS_PATH}/`);
    await waitForDashboard(page);
    const counts = await chartCounts(page);
    await page.screenshot({
      path: join(temp.screenshots, "ingress.png"),
      fullPage: true,
    });

    expect(outside).toEqual([]);
    expect(proxy.paths.some((path) => path.endsWith("/assets/app.js"))).toBe(
      true,
    );
    expect(proxy.paths.some((path) => path.includes("/api/events"))).toBe(true);
    expect(counts.tariff).toEqual([49, 49, 49, 49]);
    expect(counts.prices[0]).toBeGreaterThan(200);
    expect(counts.energyNonZero).toBeGreaterThan(0);
    expect(await page.textContent("header")).toContain("Test User");
    expect(await page.isVisible("#spike-toggle")).toBe(false);
    expect(errors).toEqual([]);
  });

  it("uploads on sync now", async () => {
    const page = await browser.newPage();
    await page.goto(`${proxy.url}${INGRESS_PATH}/`);
    await waitForDashboard(page);
    await running.advance(2 * MINUTE);
    changePrices("negative-midday");
    const before = running.tariffWrites();

    const result = await clickSyncNow(page);

    expect(result).toMatch(/^uploaded: /);
    expect(running.tariffWrites()).toBe(before + 1);
  });
});

describe("dashboard with a password", () => {
  let web: WebServer;

  beforeEach(async () => {
    web = await extraServer({ password: PASSWORD });
  });

  it("asks for the login first", async () => {
    const page = await browser.newPage();
    await page.goto(`${web.url}/`);
    await page.screenshot({ path: join(temp.screenshots, "login.png") });

    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.isVisible("#password")).toBe(true);
  });

  it.each([
    ["GET", "/api/status"],
    ["GET", "/api/dashboard"],
    ["GET", "/api/history/syncs"],
    ["GET", "/api/events"],
    ["POST", "/api/sync"],
    ["POST", "/api/auto-sync"],
    ["POST", "/api/controls/spike"],
  ])("answers %s %s with 401", async (method, path) => {
    const response = await browser.request.fetch(`${web.url}${path}`, {
      method,
      headers: { "Content-Type": "application/json" },
      ...(method === "POST" ? { data: "{}" } : {}),
    });

    expect(response.status()).toBe(401);
  });

  it("rejects a POST without the CSRF token", async () => {
    const page = await browser.newPage();
    await page.goto(`${web.url}/login`);
    await page.fill("#password", PASSWORD);
    await page.click("button[type=submit]");
    await waitForDashboard(page);
    await running.advance(2 * MINUTE);
    changePrices("spike");
    const before = running.tariffWrites();

    const status = await page.evaluate(async () => {
      // Resolved against the page's <base href>, like the page's own calls.
      const response = await fetch("api/sync", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      return response.status;
    });

    expect(status).toBe(403);
    expect(running.tariffWrites()).toBe(before);
    expect(await clickSyncNow(page)).toMatch(/^uploaded: /);
    expect(running.tariffWrites()).toBe(before + 1);
  });

  it("slows down repeated wrong passwords", async () => {
    const page = await browser.newPage();
    await page.goto(`${web.url}/login`);
    const messages: string[] = [];
    for (let attempt = 1; attempt <= 7; attempt += 1) {
      await page.fill("#password", `wrong-${attempt}`);
      const answer = page.waitForResponse(
        (response) => new URL(response.url()).pathname === "/login",
      );
      await page.click("button[type=submit]");
      messages.push(String((await answer).status()));
    }
    await page.fill("#password", PASSWORD);
    const locked = page.waitForResponse(
      (response) => new URL(response.url()).pathname === "/login",
    );
    await page.click("button[type=submit]");
    const lockedStatus = (await locked).status();
    await page.screenshot({ path: join(temp.screenshots, "locked.png") });
    const shown = await page.textContent("#login-error");
    running.clock.set(running.clock.now() + 10 * 1000);
    await page.click("button[type=submit]");
    await waitForDashboard(page);

    expect(messages).toEqual(["401", "401", "401", "401", "401", "429", "429"]);
    expect(lockedStatus).toBe(429);
    expect(shown).toMatch(/Too many wrong passwords/);
    expect(new URL(page.url()).pathname).toBe("/");
  });
});
