/**
 * The two HTML pages: the dashboard shell (its data comes from the JSON API
 * and live events, filled in by assets/app.js) and the login page. Every
 * URL in them is relative to a `<base href>` that carries the ingress base
 * path, so the pages work at `/` and under Home Assistant's ingress prefix.
 * Every interpolated value is escaped.
 */
import { escapeHtml } from "./status-page.js";

/** Content-Security-Policy of both pages: scripts, styles and fetches from this server only. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join("; ");

/** Values the dashboard page needs at load. */
export interface DashboardPageOptions {
  basePath: string;
  /** Token for X-CSRF-Token, or undefined when POSTs need none. */
  csrfToken: string | undefined;
  access: "open" | "login" | "ingress";
  engineMode: "live" | "demo";
  /** Home Assistant user of an ingress request. */
  user: string | undefined;
  /** Whether auto-sync is on, so the switch shows its real state before the script runs. */
  autoSync: boolean;
}

/** Placeholder of a value the script has not filled in yet. */
const LOADING = "…";

function head(basePath: string, title: string): string {
  return `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<base href="${escapeHtml(basePath)}/">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/app.css">`;
}

/** Renders the dashboard shell. */
export function renderDashboardPage(options: DashboardPageOptions): string {
  const demoNote =
    options.engineMode === "demo"
      ? `<p class="banner" id="demo-banner">Demo: a simulated Powerwall synced from simulated Amber prices, all on 127.0.0.1.${options.access === "open" ? " There is no login because the dashboard listens on 127.0.0.1 only; set a dashboard password to listen on another address." : ""}</p>`
      : "";
  const account =
    options.access === "login"
      ? `<button type="button" id="logout" class="link">Log out</button>`
      : options.access === "ingress" && options.user !== undefined
        ? `<span class="muted">Home Assistant: ${escapeHtml(options.user)}</span>`
        : "";
  return `<!doctype html>
<html lang="en">
<head>
${head(options.basePath, "Tesla Sync")}
<script src="assets/app.js" defer></script>
</head>
<body data-base-path="${escapeHtml(options.basePath)}" data-csrf-token="${escapeHtml(options.csrfToken ?? "")}" data-access="${options.access}" data-engine-mode="${options.engineMode}">
<header class="top">
  <h1>Tesla Sync</h1>
  <span class="badge" id="mode-badge">${escapeHtml(options.engineMode)}</span>
  <span class="live-dot" id="live-dot" title="Live updates">●</span>
  <span class="spacer"></span>
  ${account}
</header>
${demoNote}
<main aria-busy="true">
  <section class="tiles" aria-label="Current state">
    <div class="tile"><h2>Price now</h2><p class="big"><span id="price-buy">${LOADING}</span> <small>buy</small></p><p><span id="price-sell">${LOADING}</span> <small>sell</small> <span id="price-spike" class="badge"></span></p><p class="muted" id="price-source">Loading…</p></div>
    <div class="tile"><h2>Battery</h2><p class="big" id="battery-percent">${LOADING}</p><p class="muted" id="battery-power"></p></div>
    <div class="tile"><h2>Last sync</h2><p><span class="badge" id="last-outcome">${LOADING}</span> <span id="last-at" class="muted"></span></p><p id="last-reason" class="reason"></p></div>
    <div class="tile controls"><h2>Sync</h2>
      <label class="switch"><input type="checkbox" id="auto-sync"${options.autoSync ? " checked" : ""}> <span>Auto-sync</span></label>
      <p class="muted">Next: <span id="next-sync">${LOADING}</span></p>
      <button type="button" id="sync-now">Sync now</button>
      <p id="sync-result" class="reason" role="status"></p>
    </div>
  </section>

  <section class="card" aria-labelledby="flow-title">
    <h2 id="flow-title">Energy flow <span class="muted" id="flow-at"></span></h2>
    <div class="flow" id="flow">
      <div class="node solar"><span class="label">Solar</span><span class="value" id="flow-solar">${LOADING}</span></div>
      <div class="node grid"><span class="label">Grid</span><span class="value" id="flow-grid">${LOADING}</span><span class="direction" id="flow-grid-direction"></span></div>
      <div class="node battery"><span class="label">Battery</span><span class="value" id="flow-battery">${LOADING}</span><span class="direction" id="flow-battery-direction"></span></div>
      <div class="node home"><span class="label">Home</span><span class="value" id="flow-home">${LOADING}</span></div>
    </div>
  </section>

  <section class="card" aria-labelledby="tariff-title">
    <h2 id="tariff-title">Tariff on the Powerwall and Amber's forecast, next 24 hours</h2>
    <p class="muted" id="tariff-note"></p>
    <div class="chart"><canvas id="tariff-chart" aria-label="Tariff and forecast chart"></canvas></div>
  </section>

  <section class="card" aria-labelledby="history-title">
    <h2 id="history-title">Price history, last 24 hours</h2>
    <div class="chart"><canvas id="price-chart" aria-label="Price history chart"></canvas></div>
  </section>

  <section class="card" aria-labelledby="energy-title">
    <h2 id="energy-title">Energy use, last 24 hours</h2>
    <p class="muted" id="energy-totals"></p>
    <div class="chart"><canvas id="energy-chart" aria-label="Energy use chart"></canvas></div>
  </section>

  <section class="card" aria-labelledby="events-title">
    <h2 id="events-title">Price events</h2>
    <div class="events">
      <div class="event" id="spike-panel"><h3>Spike response</h3><p id="spike-state" class="muted">Loading…</p><label class="switch" hidden><input type="checkbox" id="spike-toggle"> <span>Enabled</span></label></div>
      <div class="event" id="curtailment-panel"><h3>Solar curtailment</h3><p id="curtailment-state" class="muted">Loading…</p><label class="switch" hidden><input type="checkbox" id="curtailment-toggle"> <span>Enabled</span></label></div>
      <div class="event" id="force-panel" hidden><h3>Force charge or discharge</h3><p id="force-state" class="muted"></p>
        <div class="buttons"><select id="force-minutes" aria-label="Duration"><option value="30">30 min</option><option value="60" selected>1 hour</option><option value="120">2 hours</option></select>
        <button type="button" id="force-charge">Charge</button><button type="button" id="force-discharge">Discharge</button><button type="button" id="force-cancel">Stop</button></div>
      </div>
    </div>
    <p id="control-result" class="reason" role="status"></p>
  </section>

  <section class="card" aria-labelledby="log-title">
    <h2 id="log-title">Sync log</h2>
    <div class="table-wrap"><table id="sync-log"><thead><tr><th>Time</th><th>Trigger</th><th>Result</th><th>Reason</th></tr></thead><tbody></tbody></table></div>
  </section>

  <section class="card" aria-labelledby="calls-title">
    <h2 id="calls-title">API calls</h2>
    <p id="calls-today"></p>
    <div class="calls">
      <div><h3>Amber</h3><table id="amber-calls"><tbody></tbody></table></div>
      <div><h3>Tesla</h3><table id="tesla-calls"><tbody></tbody></table></div>
    </div>
    <p class="muted">Per endpoint since the engine started.</p>
  </section>
</main>
<footer class="muted" id="footer"></footer>
</body>
</html>
`;
}

/** Renders the login page; `message` explains why login is impossible, when it is. */
export function renderLoginPage(options: {
  basePath: string;
  message?: string;
}): string {
  const message =
    options.message === undefined
      ? ""
      : `<p class="reason">${escapeHtml(options.message)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
${head(options.basePath, "Log in – Tesla Sync")}
<script src="assets/login.js" defer></script>
</head>
<body class="login-page">
<main class="card login">
  <h1>Tesla Sync</h1>
  ${message}
  <form id="login-form">
    <label for="password">Dashboard password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
    <button type="submit">Log in</button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
</main>
</body>
</html>
`;
}

/** The page icon: a battery with a lightning bolt. */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="4" y="7" width="22" height="18" rx="3" fill="#1f6feb"/><rect x="26" y="12" width="3" height="8" rx="1" fill="#1f6feb"/><path d="M17 9l-6 9h4l-2 6 6-9h-4z" fill="#fff"/></svg>`;
