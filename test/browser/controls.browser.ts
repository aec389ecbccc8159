/**
 * The "Price events" panel in a real browser. Debian's Chromium clicks the
 * force charge/discharge buttons and the spike and curtailment switches of
 * the demo dashboard. Each case then checks the page, the control's
 * snapshot in `GET /api/dashboard` and the writes the Tesla stand-in
 * accepted.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";

import type { BrowserContext, Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { formatClock } from "../../src/dashboard/view-model.js";
import {
  launchBrowser,
  makeTempDir,
  MINUTE,
  startBrowserDemo,
  waitForDashboard,
  watchErrors,
  type BrowserDemo,
} from "./harness.js";

let temp: { root: string; screenshots: string };
let browser: BrowserContext;
let running: BrowserDemo;

beforeEach(async () => {
  temp = await makeTempDir("controls");
  running = await startBrowserDemo();
  browser = await launchBrowser(temp.root);
});

afterEach(async () => {
  await browser.close();
  await running.demo.stop();
  // TESLA_SYNC_KEEP_SCREENSHOTS=1 keeps the folder, to look at the pictures.
  if (process.env["TESLA_SYNC_KEEP_SCREENSHOTS"] === "1") {
    process.stdout.write(`screenshots kept in ${temp.screenshots}\n`);
  } else {
    await rm(temp.root, { recursive: true, force: true });
  }
});

/** The parts of `GET /api/dashboard` these tests read. */
interface DashboardControlsJson {
  status: {
    timeZone: string;
    tariffHold: { holder: string; until: string | null } | null;
  };
  controls: {
    spike: { enabled: boolean } | null;
    curtailment: { enabled: boolean } | null;
    force: {
      state: string;
      direction?: string;
      /** Epoch ms. */
      endsAt?: number;
    } | null;
  };
}

/** Opens the dashboard and waits until it has drawn its data. */
async function openDashboard(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${running.web.url}/`);
  await waitForDashboard(page);
  return { page, errors };
}

/** Fetches the controls' snapshots with the page's own cookies. */
async function controlsJson(
  page: Page,
): Promise<DashboardControlsJson["controls"]> {
  const response = await page.request.get(`${running.web.url}/api/dashboard`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as DashboardControlsJson).controls;
}

/** Fetches the status part of `GET /api/dashboard` with the page's own cookies. */
async function statusJson(
  page: Page,
): Promise<DashboardControlsJson["status"]> {
  const response = await page.request.get(`${running.web.url}/api/dashboard`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as DashboardControlsJson).status;
}

/** Clicks `selector` and waits for the response to the POST to `path`. */
async function clickAndWait(
  page: Page,
  selector: string,
  path: string,
): Promise<void> {
  const answer = page.waitForResponse(
    (response) =>
      response.request().method() === "POST" &&
      new URL(response.url()).pathname.endsWith(path),
  );
  await page.click(selector);
  expect((await answer).status()).toBe(200);
}

/** Endpoints of the writes the Tesla stand-in accepted from index `from` on. */
function writesSince(from: number): string[] {
  return running.demo.tesla.writes.slice(from).map((write) => write.endpoint);
}

/** Body of the last accepted write to `endpoint`. */
function lastBody(endpoint: string): unknown {
  return running.demo.tesla.writes
    .filter((write) => write.endpoint === endpoint)
    .at(-1)?.body;
}

describe("price event controls in demo mode", () => {
  it("force charge starts and stops", async () => {
    await running.advance(10 * MINUTE);
    const { page, errors } = await openDashboard();
    const beforeStart = running.demo.tesla.writes.length;

    await page.selectOption("#force-minutes", "120");
    await clickAndWait(page, "#force-charge", "/api/controls/force");
    await page
      .locator("#force-state", { hasText: /^Charging from the grid until/ })
      .waitFor();
    const status = await statusJson(page);
    const endsAt = running.clock.now() + 120 * MINUTE;
    const forceText = await page.textContent("#force-state");
    const forceClasses = await page.getAttribute("#force-state", "class");
    const panelClasses = await page.getAttribute("#force-panel", "class");
    const badgeText = await page.textContent("#force-badge");
    const stopClasses = await page.getAttribute("#force-cancel", "class");
    const tariffNote = await page.textContent("#tariff-note");
    const tariffLabels = await page.evaluate(() => {
      const page = globalThis as unknown as {
        teslaSync?: {
          charts: { tariff: { data: { datasets: Array<{ label?: string }> } } };
        };
      };
      return page.teslaSync?.charts.tariff.data.datasets.map(
        (dataset) => dataset.label,
      );
    });
    const path = join(temp.screenshots, "force-charge.png");
    await page.locator("#events-title").scrollIntoViewIfNeeded();
    await page.screenshot({ path, fullPage: true });
    await page
      .locator("#force-panel")
      .screenshot({ path: join(temp.screenshots, "force-panel.png") });
    const active = await controlsJson(page);
    const startWrites = writesSince(beforeStart);
    const backupBody = lastBody("backup");
    const operationBody = lastBody("operation");

    const beforeStop = running.demo.tesla.writes.length;
    await clickAndWait(page, "#force-cancel", "/api/controls/force/cancel");
    await page.locator("#force-state", { hasText: "Idle." }).waitFor();
    const idle = await controlsJson(page);
    const stopWrites = writesSince(beforeStop);
    const idleForceClasses = await page.getAttribute("#force-state", "class");
    const idleBadgeText = await page.textContent("#force-badge");
    const idleStopClasses = await page.getAttribute("#force-cancel", "class");
    const idleNote = await page.textContent("#tariff-note");

    const until = formatClock(endsAt, status.timeZone);
    expect(forceText).toBe(
      `Charging from the grid until ${until} (120 min left).`,
    );
    expect(forceClasses ?? "").not.toContain("muted");
    expect(panelClasses).toContain("active");
    expect(badgeText).toBe("Active");
    expect(stopClasses).toContain("emphasis");
    expect(status.tariffHold?.holder).toBe("force");
    expect(tariffNote).toContain(
      `Force charge holds the Powerwall's tariff until ${until}`,
    );
    expect(tariffNote).toContain(
      "which is not on the Powerwall while force charge holds it",
    );
    expect(tariffLabels?.[0]).toBe(
      "Last Amber tariff buy (not on the Powerwall)",
    );
    expect(idleForceClasses).toContain("muted");
    expect(idleBadgeText).toBe("");
    expect(idleStopClasses ?? "").not.toContain("emphasis");
    expect(idleNote).not.toContain("holds the Powerwall's tariff");
    expect(active.force?.state).toBe("active");
    expect(active.force?.direction).toBe("charge");
    expect(active.force?.endsAt).toBe(running.clock.now() + 120 * MINUTE);
    expect(startWrites).toEqual([
      "time_of_use_settings",
      "operation",
      "backup",
    ]);
    expect(operationBody).toEqual({ default_real_mode: "autonomous" });
    expect(backupBody).toEqual({ backup_reserve_percent: 100 });
    expect(stopWrites).toEqual(["time_of_use_settings", "operation", "backup"]);
    expect(lastBody("backup")).not.toEqual({ backup_reserve_percent: 100 });
    expect(idle.force?.state).toBe("idle");
    expect(errors).toEqual([]);
  });

  it("force discharge starts and stops", async () => {
    await running.advance(10 * MINUTE);
    const { page, errors } = await openDashboard();
    const beforeStart = running.demo.tesla.writes.length;

    await page.selectOption("#force-minutes", "30");
    await clickAndWait(page, "#force-discharge", "/api/controls/force");
    await page
      .locator("#force-state", {
        hasText: /^Discharging to the grid until \d\d:\d\d \(30 min left\)\.$/,
      })
      .waitFor();
    const active = await controlsJson(page);
    const startWrites = writesSince(beforeStart);

    const beforeStop = running.demo.tesla.writes.length;
    await clickAndWait(page, "#force-cancel", "/api/controls/force/cancel");
    await page.locator("#force-state", { hasText: "Idle." }).waitFor();
    const idle = await controlsJson(page);
    const stopWrites = writesSince(beforeStop);

    expect(active.force?.state).toBe("active");
    expect(active.force?.direction).toBe("discharge");
    expect(startWrites).toEqual(["time_of_use_settings", "operation"]);
    expect(stopWrites).toEqual(["time_of_use_settings", "operation"]);
    expect(idle.force?.state).toBe("idle");
    expect(errors).toEqual([]);
  });

  it.each(["spike", "curtailment"] as const)(
    "%s toggle enables and disables",
    async (name) => {
      const { page, errors } = await openDashboard();
      const toggle = `#${name}-toggle`;
      const state = page.locator(`#${name}-state`);
      const initially = await controlsJson(page);
      const checkedInitially = await page.isChecked(toggle);

      await clickAndWait(page, toggle, `/api/controls/${name}`);
      await state.filter({ hasText: /^On:/ }).waitFor();
      const enabled = await controlsJson(page);
      const checkedWhenEnabled = await page.isChecked(toggle);

      await clickAndWait(page, toggle, `/api/controls/${name}`);
      await state.filter({ hasText: /^Off:/ }).waitFor();
      const disabled = await controlsJson(page);
      const checkedWhenDisabled = await page.isChecked(toggle);

      // The demo starts with both switches off.
      expect(initially[name]?.enabled).toBe(false);
      expect(checkedInitially).toBe(false);
      expect(enabled[name]?.enabled).toBe(true);
      expect(checkedWhenEnabled).toBe(true);
      expect(disabled[name]?.enabled).toBe(false);
      expect(checkedWhenDisabled).toBe(false);
      expect(errors).toEqual([]);
    },
  );
});
