/**
 * The dashboard page: loads the state from `api/dashboard` and the history
 * routes, draws the charts, keeps everything current from the
 * `api/events` stream (falling back to polling every 30 s while the stream
 * is down), and wires the buttons and switches. Text is written with
 * textContent only, so no value from the engine is parsed as HTML.
 */
import type { StatusSnapshot, SyncResult } from "../../engine/types.js";
import {
  callRows,
  describeToday,
  describeCurtailment,
  describeForce,
  describeSpike,
  describeSync,
  describeTariff,
  isCurtailmentActive,
  isSpikeActive,
  flowView,
  formatClock,
  formatDateTime,
  formatEnergy,
  formatPrice,
  type ControlsView,
  type DashboardResponse,
  type EnergyHistoryResponse,
  type EnergySampleView,
  type PriceHistoryRow,
} from "../view-model.js";
import { ApiError, getJson, postJson } from "./api.mjs";
import {
  createCharts,
  restyleCharts,
  showEnergy,
  showPriceHistory,
  showTariff,
  type DashboardCharts,
  labelTariffLines,
} from "./charts.mjs";

/** Time between history reloads, ms. */
const HISTORY_REFRESH_MS = 5 * 60_000;
/** Time between polls while the event stream is down, ms. */
const POLL_MS = 30_000;

interface PageState {
  status: StatusSnapshot | undefined;
  historyAvailable: boolean;
  charts: DashboardCharts;
  streamOpen: boolean;
}

declare global {
  interface Window {
    /** The page's charts and state, for tests and debugging in the console. */
    teslaSync?: { charts: DashboardCharts; ready: boolean; state: PageState };
  }
}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`dashboard page has no #${id}`);
  }
  return found as T;
}

function setText(id: string, text: string): void {
  element(id).textContent = text;
}

function zoneOf(state: PageState): string {
  return state.status?.timeZone ?? "Australia/Sydney";
}

function showStatus(state: PageState, status: StatusSnapshot): void {
  state.status = status;
  const zone = status.timeZone;

  setText(
    "price-buy",
    formatPrice(status.live.buy ?? status.slots[0]?.buyActual),
  );
  setText(
    "price-sell",
    formatPrice(status.live.sell ?? status.slots[0]?.sellActual),
  );
  const spike =
    status.live.spikeStatus ?? status.slots[0]?.spikeStatus ?? "none";
  const spikeBadge = element("price-spike");
  spikeBadge.textContent = spike === "none" ? "" : spike;
  spikeBadge.className = `badge ${spike === "spike" ? "bad" : spike === "potential" ? "warn" : ""}`;
  setText(
    "price-source",
    status.live.state === "connected" && status.live.receivedAt !== undefined
      ? `Live price, ${formatClock(status.live.receivedAt, zone)}`
      : `Live feed ${status.live.state}; price from the last sync`,
  );

  const last = status.lastSync;
  const outcome = element("last-outcome");
  outcome.textContent = last?.outcome ?? "none yet";
  outcome.className = `badge outcome-${last?.outcome ?? "none"}`;
  setText("last-at", last === null ? "" : formatDateTime(last.at, zone));
  setText("last-reason", last?.reason ?? "");

  element<HTMLInputElement>("auto-sync").checked = status.autoSync;
  setText(
    "next-sync",
    status.nextSyncAt === null
      ? status.autoSync
        ? "–"
        : "auto-sync is off"
      : formatClock(status.nextSyncAt, zone),
  );

  const clamped = showTariff(state.charts, status.slots);
  const note = describeTariff(status, clamped);
  setText("tariff-note", note.text);
  element("tariff-note").classList.toggle("held", note.held);
  labelTariffLines(state.charts, note.held);

  showLog(status);
  showCalls(status);
  setText(
    "footer",
    `Amber site ${status.amberSiteId} · Tesla energy site ${status.teslaSiteId} · ${zone}${status.lastUpload === null ? "" : ` · last upload ${formatDateTime(status.lastUpload.at, zone)}`}`,
  );
}

function showLog(status: StatusSnapshot): void {
  const body = element<HTMLTableElement>("sync-log").tBodies[0];
  if (body === undefined) {
    return;
  }
  const rows = [...status.log].reverse().map((entry) => {
    const row = document.createElement("tr");
    const cells = [
      formatDateTime(entry.at, status.timeZone),
      entry.trigger,
      entry.outcome,
      entry.reason,
    ];
    cells.forEach((text, index) => {
      const cell = document.createElement("td");
      if (index === 2) {
        const badge = document.createElement("span");
        badge.className = `badge outcome-${entry.outcome}`;
        badge.textContent = text;
        cell.append(badge);
      } else {
        cell.textContent = text;
      }
      row.append(cell);
    });
    return row;
  });
  body.replaceChildren(...rows);
}

function showCalls(status: StatusSnapshot): void {
  const today = status.counters.today;
  setText("calls-today", describeToday(status.counters.day, today));
  for (const [id, counters] of [
    ["amber-calls", status.counters.amber],
    ["tesla-calls", status.counters.tesla],
  ] as const) {
    const body = element<HTMLTableElement>(id).tBodies[0];
    if (body === undefined) {
      continue;
    }
    const rows = callRows(counters).map(([endpoint, count]) => {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = endpoint;
      const value = document.createElement("td");
      value.textContent = String(count);
      value.className = "number";
      row.append(name, value);
      return row;
    });
    body.replaceChildren(...rows);
  }
}

function showEnergySample(
  state: PageState,
  sample: EnergySampleView | null,
): void {
  if (sample === null) {
    for (const id of [
      "flow-solar",
      "flow-grid",
      "flow-battery",
      "flow-home",
      "battery-percent",
    ]) {
      setText(id, "–");
    }
    setText("flow-at", "(no reading yet)");
    return;
  }
  const view = flowView(sample);
  setText("flow-solar", view.solar);
  setText("flow-grid", view.grid);
  setText("flow-grid-direction", view.gridDirection);
  setText("flow-battery", view.battery);
  setText("flow-battery-direction", view.batteryDirection);
  setText("flow-home", view.home);
  setText("battery-percent", view.batteryPercent);
  setText(
    "battery-power",
    view.batteryDirection === "idle"
      ? "idle"
      : `${view.batteryDirection} ${view.battery}`,
  );
  element("flow").dataset["grid"] = view.gridDirection;
  element("flow").dataset["battery"] = view.batteryDirection;
  setText("flow-at", `at ${formatClock(sample.at, zoneOf(state))}`);
}

/**
 * Marks a control's panel as acting on the Powerwall: an "Active" badge
 * after its heading, an accent border, and its state line no longer muted.
 */
function markActive(name: string, active: boolean): void {
  const panel = element(`${name}-panel`);
  panel.classList.toggle("active", active);
  element(`${name}-state`).classList.toggle("muted", !active);
  const heading = panel.querySelector("h3");
  let badge = panel.querySelector<HTMLElement>(".active-badge");
  if (badge === null && heading !== null) {
    badge = document.createElement("span");
    badge.className = "badge active-badge";
    badge.id = `${name}-badge`;
    heading.append(" ", badge);
  }
  if (badge !== null) {
    badge.textContent = active ? "Active" : "";
  }
}

function showControls(state: PageState, controls: ControlsView): void {
  const switches = [
    [
      "spike",
      controls.spike === null ? undefined : describeSpike(controls.spike),
      controls.spike?.enabled,
      controls.spike !== null && isSpikeActive(controls.spike),
    ],
    [
      "curtailment",
      controls.curtailment === null
        ? undefined
        : describeCurtailment(controls.curtailment),
      controls.curtailment?.enabled,
      controls.curtailment !== null &&
        isCurtailmentActive(controls.curtailment),
    ],
  ] as const;
  for (const [name, text, enabled, active] of switches) {
    const toggle = element<HTMLInputElement>(`${name}-toggle`);
    const label = toggle.closest("label");
    if (text === undefined || enabled === undefined) {
      setText(`${name}-state`, "Not set up in this engine.");
      continue;
    }
    setText(`${name}-state`, text);
    markActive(name, active);
    toggle.checked = enabled;
    if (label !== null) {
      label.hidden = false;
    }
  }
  const force = controls.force;
  element("force-panel").hidden = force === null;
  if (force !== null) {
    const line = describeForce(force, zoneOf(state));
    setText("force-state", line.text);
    markActive("force", line.active);
    element("force-cancel").classList.toggle("emphasis", line.active);
  }
}

async function loadHistory(state: PageState): Promise<void> {
  if (!state.historyAvailable) {
    return;
  }
  const [prices, energy] = await Promise.all([
    getJson<{ from: string; to: string; prices: PriceHistoryRow[] }>(
      "api/history/prices?hours=24",
    ),
    getJson<EnergyHistoryResponse>("api/history/energy?hours=24&bucket=60"),
  ]);
  showPriceHistory(
    state.charts,
    prices.prices,
    Date.parse(prices.from),
    Date.parse(prices.to),
  );
  showEnergy(state.charts, energy.intervals, {
    from: Date.parse(energy.from),
    to: Date.parse(energy.to),
    bucketMs: energy.bucketMinutes * 60_000,
  });
  const totals = energy.totals;
  setText(
    "energy-totals",
    `Home ${formatEnergy(totals.homeWh)}, solar ${formatEnergy(totals.solarWh)}, grid import ${formatEnergy(totals.gridImportWh)}, export ${formatEnergy(totals.gridExportWh)}, battery charge ${formatEnergy(totals.batteryChargeWh)}, discharge ${formatEnergy(totals.batteryDischargeWh)}.`,
  );
}

async function loadDashboard(state: PageState): Promise<void> {
  const data = await getJson<DashboardResponse>("api/dashboard");
  state.historyAvailable = data.history.available;
  showStatus(state, data.status);
  showEnergySample(state, data.energy);
  showControls(state, data.controls);
  if (data.access.csrfToken !== null) {
    document.body.dataset["csrfToken"] = data.access.csrfToken;
  }
}

function openStream(state: PageState): void {
  const stream = new EventSource("api/events");
  const dot = element("live-dot");
  stream.addEventListener("open", () => {
    state.streamOpen = true;
    dot.classList.add("on");
    dot.title = "Live updates on";
  });
  stream.addEventListener("error", () => {
    state.streamOpen = false;
    dot.classList.remove("on");
    dot.title = "Live updates reconnecting";
  });
  stream.addEventListener("status", (event) => {
    showStatus(
      state,
      JSON.parse((event as MessageEvent<string>).data) as StatusSnapshot,
    );
  });
  stream.addEventListener("energy", (event) => {
    showEnergySample(
      state,
      JSON.parse((event as MessageEvent<string>).data) as EnergySampleView,
    );
  });
  stream.addEventListener("controls", (event) => {
    showControls(
      state,
      JSON.parse((event as MessageEvent<string>).data) as ControlsView,
    );
  });
  stream.addEventListener("sync", () => {
    void loadHistory(state).catch(reportError);
  });
}

function reportError(error: unknown): void {
  setText(
    "sync-result",
    error instanceof Error ? error.message : String(error),
  );
}

function wireControls(state: PageState): void {
  const syncButton = element<HTMLButtonElement>("sync-now");
  syncButton.addEventListener("click", () => {
    syncButton.disabled = true;
    setText("sync-result", "Syncing…");
    postJson<SyncResult>("api/sync", {})
      .then((result) => {
        setText("sync-result", describeSync(result));
        element("sync-result").dataset["outcome"] = result.outcome;
        return loadDashboard(state);
      })
      .catch(reportError)
      .finally(() => {
        syncButton.disabled = false;
      });
  });

  const autoSync = element<HTMLInputElement>("auto-sync");
  autoSync.addEventListener("change", () => {
    const enabled = autoSync.checked;
    postJson<{ autoSync: boolean }>("api/auto-sync", { enabled })
      .then((answer) => {
        autoSync.checked = answer.autoSync;
        setText(
          "sync-result",
          `Auto-sync turned ${answer.autoSync ? "on" : "off"}.`,
        );
        return loadDashboard(state);
      })
      .catch((error: unknown) => {
        autoSync.checked = !enabled;
        reportError(error);
      });
  });

  const controlResult = (error: unknown): void => {
    setText(
      "control-result",
      error instanceof ApiError ? error.message : String(error),
    );
  };
  for (const name of ["spike", "curtailment"] as const) {
    const toggle = element<HTMLInputElement>(`${name}-toggle`);
    toggle.addEventListener("change", () => {
      postJson(`api/controls/${name}`, { enabled: toggle.checked })
        .then(() => loadDashboard(state))
        .catch(controlResult);
    });
  }
  for (const direction of ["charge", "discharge"] as const) {
    element(`force-${direction}`).addEventListener("click", () => {
      const minutes = Number(element<HTMLSelectElement>("force-minutes").value);
      postJson("api/controls/force", { direction, minutes })
        .then(() => loadDashboard(state))
        .catch(controlResult);
    });
  }
  element("force-cancel").addEventListener("click", () => {
    postJson("api/controls/force/cancel", {})
      .then(() => loadDashboard(state))
      .catch(controlResult);
  });

  document.getElementById("logout")?.addEventListener("click", () => {
    postJson("logout", {})
      .catch(() => undefined)
      .finally(() => {
        window.location.href = "login";
      });
  });

  window
    .matchMedia("(prefers-color-scheme: dark)")
    .addEventListener("change", () => restyleCharts(state.charts));
}

async function start(): Promise<void> {
  // Chart.js formats ticks while the charts are created, before `state`
  // exists, so the charts reach the zone through this holder.
  const holder: { state?: PageState } = {};
  const charts = createCharts(() =>
    holder.state === undefined ? "Australia/Sydney" : zoneOf(holder.state),
  );
  const state: PageState = {
    status: undefined,
    historyAvailable: false,
    charts,
    streamOpen: false,
  };
  holder.state = state;
  window.teslaSync = { charts: state.charts, ready: false, state };
  wireControls(state);
  await loadDashboard(state);
  await loadHistory(state);
  openStream(state);
  window.teslaSync.ready = true;
  document.body.dataset["ready"] = "true";
  document.querySelector("main")?.removeAttribute("aria-busy");

  setInterval(() => {
    void loadHistory(state).catch(reportError);
  }, HISTORY_REFRESH_MS);
  setInterval(() => {
    if (!state.streamOpen) {
      void loadDashboard(state).catch(reportError);
    }
  }, POLL_MS);
}

start().catch((error: unknown) => {
  // Ends the loading placeholders, which would otherwise stay forever.
  document.body.dataset["ready"] = "failed";
  reportError(error);
});
