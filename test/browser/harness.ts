/**
 * Browser test harness: Debian's Chromium driven by playwright-core (no
 * browser download), the demo engine on a virtual clock, an extra
 * dashboard listener for the login and ingress cases, and a stand-in for
 * the Supervisor's ingress proxy. Everything listens on 127.0.0.1.
 */
import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext, type Page } from "playwright-core";

import { startDemo, type RunningDemo } from "../../src/demo/demo.js";
import {
  VirtualClock,
  yieldEventLoop,
} from "../../src/engine/virtual-clock.js";
import type { HistoryRecorder } from "../../src/history/recorder.js";
import { silentLogger } from "../../src/log.js";
import type { WebServer } from "../../src/server/web-server.js";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Monday 2025-06-16 11:02:40 in Sydney, so the day has sun in it. */
export const START = Date.UTC(2025, 5, 16, 1, 2, 40);
export const MINUTE = 60_000;

/** A fresh temporary folder for one test file, with a screenshots folder inside. */
export async function makeTempDir(name: string): Promise<{
  root: string;
  screenshots: string;
}> {
  const root = await mkdtemp(join(tmpdir(), `tesla-sync-browser-${name}-`));
  const screenshots = join(root, "screenshots");
  await mkdir(screenshots, { recursive: true });
  return { root, screenshots };
}

/** Launches Chromium headless with a fresh profile and no network extras. */
export async function launchBrowser(root: string): Promise<BrowserContext> {
  const profile = await mkdtemp(join(root, "profile-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Collects console errors and uncaught page errors, such as CSP violations. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") {
      errors.push(message.text());
    }
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** The demo with its web server, on a virtual clock. */
export interface BrowserDemo {
  demo: RunningDemo;
  clock: VirtualClock;
  web: WebServer;
  /** Advances virtual time, letting the engine and the recorder finish each step. */
  advance(ms: number): Promise<void>;
  /** Makes {@link advance} wait for another recorder's readings too. */
  watch(recorder: HistoryRecorder): void;
  /** Tariff uploads the Tesla stand-in has accepted. */
  tariffWrites(): number;
}

/** Starts the demo on a virtual clock; live pushes are off so only the clock drives syncs. */
export async function startBrowserDemo(): Promise<BrowserDemo> {
  const clock = new VirtualClock(START);
  const demo = await startDemo({
    logger: silentLogger,
    port: 0,
    clock,
    livePushIntervalMs: 24 * 60 * MINUTE,
  });
  const web = demo.service.server as WebServer;
  const recorders: HistoryRecorder[] = [];
  if (web.recorder !== undefined) {
    recorders.push(web.recorder);
  }
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 3; round += 1) {
      await yieldEventLoop(10);
      await demo.service.engine.idle();
      for (const recorder of recorders) {
        await recorder.idle();
      }
    }
  };
  await clock.advance(0, { settle });
  return {
    demo,
    clock,
    web,
    advance: (ms) => clock.advance(ms, { settle }),
    watch: (recorder) => {
      recorders.push(recorder);
    },
    tariffWrites: () =>
      demo.tesla.writes.filter(
        (write) => write.endpoint === "time_of_use_settings",
      ).length,
  };
}

/** Waits until the page has loaded its data and drawn its charts. */
export async function waitForDashboard(page: Page): Promise<void> {
  // A DOM marker, because the page's CSP rejects the eval behind
  // waitForFunction.
  await page.locator("body[data-ready=true]").waitFor({ timeout: 20_000 });
}

/** Copies a screenshot into docs/images for the documentation. */
export async function publishScreenshot(
  path: string,
  name: string,
): Promise<void> {
  const target = join(process.cwd(), "docs", "images");
  await mkdir(target, { recursive: true });
  await copyFile(path, join(target, name));
}

/** A stand-in for the Supervisor's ingress proxy. */
export interface IngressProxy {
  url: string;
  /** Paths of every request the browser made, as it sent them. */
  paths: string[];
  close(): Promise<void>;
}

/**
 * Starts a proxy that, like the Supervisor, serves `prefix` by stripping it
 * and forwarding to `target` with X-Ingress-Path set. Requests outside the
 * prefix get 404, so a page URL that ignores the base path fails to load.
 */
export async function startIngressProxy(
  target: number,
  prefix: string,
): Promise<IngressProxy> {
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = request.url ?? "/";
    paths.push(path);
    if (path !== prefix && !path.startsWith(`${prefix}/`)) {
      response.writeHead(404, { "Content-Type": "text/plain" });
      response.end("outside the ingress path");
      return;
    }
    const forwarded = path.slice(prefix.length) || "/";
    const upstream = httpRequest(
      {
        host: "127.0.0.1",
        port: target,
        method: request.method,
        path: forwarded,
        headers: {
          ...request.headers,
          "x-ingress-path": prefix,
          "x-remote-user-display-name": "Test User",
        },
      },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    upstream.on("error", () => {
      response.destroy();
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
