/**
 * The minimal HTML status page served at `/`: the last sync, the live price,
 * the 48 slots of the last built tariff and the sync log, with buttons for a
 * manual sync and auto-sync. It is rendered on the server from the status
 * snapshot and reloads itself every 30 s; the full dashboard replaces it.
 */
import type { StatusSnapshot } from "../engine/types.js";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function money(value: number | undefined): string {
  return value === undefined ? "–" : `$${value.toFixed(4)}`;
}

function localTime(iso: string | null | undefined, zone: string): string {
  if (iso === null || iso === undefined) {
    return "–";
  }
  return new Intl.DateTimeFormat("en-AU", {
    timeZone: zone,
    dateStyle: "short",
    timeStyle: "medium",
    hourCycle: "h23",
  }).format(new Date(iso));
}

function slotRows(status: StatusSnapshot): string {
  return status.slots
    .map((slot) => {
      const clamped =
        slot.buyActual !== slot.buy || slot.sellActual !== slot.sell
          ? ` (actual ${money(slot.buyActual)} / ${money(slot.sellActual)})`
          : "";
      const source = slot.source as
        { buy?: { kind?: string }; sell?: { kind?: string } } | undefined;
      return `<tr><td>${escapeHtml(slot.label)}</td><td>${escapeHtml(localTime(slot.start, status.timeZone))}</td><td>${money(slot.buy)}</td><td>${money(slot.sell)}${escapeHtml(clamped)}</td><td>${escapeHtml(source?.buy?.kind ?? "")}/${escapeHtml(source?.sell?.kind ?? "")}</td><td>${escapeHtml(slot.spikeStatus)}</td></tr>`;
    })
    .join("\n");
}

function logRows(status: StatusSnapshot): string {
  return [...status.log]
    .reverse()
    .map(
      (entry) =>
        `<tr><td>${escapeHtml(localTime(entry.at, status.timeZone))}</td><td>${escapeHtml(entry.trigger)}</td><td>${escapeHtml(entry.outcome)}</td><td>${escapeHtml(entry.reason)}</td></tr>`,
    )
    .join("\n");
}

/** Renders the status page for `status`. Every value is escaped. */
export function renderStatusPage(status: StatusSnapshot): string {
  const last = status.lastSync;
  const live = status.live;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>Tesla Sync status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5rem; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; font-variant-numeric: tabular-nums; }
.outcome { font-weight: bold; }
</style>
</head>
<body>
<h1>Tesla Sync</h1>
<p>Mode: <b>${escapeHtml(status.mode)}</b>. Amber site ${escapeHtml(status.amberSiteId)}, Tesla energy site ${escapeHtml(status.teslaSiteId)}, zone ${escapeHtml(status.timeZone)} (from ${escapeHtml(status.timeZoneSource)}).</p>
<p>Auto-sync: <b id="auto-sync">${status.autoSync ? "on" : "off"}</b>.
Next sync: ${escapeHtml(localTime(status.nextSyncAt, status.timeZone))}.
<button id="sync-now" type="button">Sync now</button>
<button id="toggle-auto" type="button">Turn auto-sync ${status.autoSync ? "off" : "on"}</button>
<span id="action-result"></span></p>
<h2>Last sync</h2>
<p>${
    last === null
      ? "No sync yet."
      : `<span class="outcome">${escapeHtml(last.outcome)}</span> (${escapeHtml(last.trigger)}) at ${escapeHtml(localTime(last.at, status.timeZone))}: ${escapeHtml(last.reason)}`
  }</p>
<p>Last upload: ${status.lastUpload === null ? "none" : `${escapeHtml(localTime(status.lastUpload.at, status.timeZone))}, ${escapeHtml(status.lastUpload.summary)}`}.
Read-back: ${status.lastConfirmation === null ? "none" : `${status.lastConfirmation.confirmed ? "confirmed" : "not confirmed"} (${escapeHtml(status.lastConfirmation.detail)})`}.</p>
<h2>Live price</h2>
<p>Feed: ${escapeHtml(live.state)}. Buy ${money(live.buy)}, sell ${money(live.sell)}${live.estimate === true ? " (estimate)" : ""}, received ${escapeHtml(localTime(live.receivedAt, status.timeZone))}.</p>
<h2>Today (${escapeHtml(status.counters.day)})</h2>
<p>${status.counters.today.syncs} syncs, ${status.counters.today.uploads} uploads, ${status.counters.today.teslaWrites} Tesla writes, ${status.counters.today.teslaCalls} Tesla calls, ${status.counters.today.amberCalls} Amber calls.</p>
<h2>Tariff (${status.slots.length} slots, built ${escapeHtml(localTime(status.slotsBuiltAt, status.timeZone))})</h2>
<table>
<thead><tr><th>Slot</th><th>Starts</th><th>Buy</th><th>Sell</th><th>Source</th><th>Spike</th></tr></thead>
<tbody>
${slotRows(status)}
</tbody>
</table>
<h2>Sync log</h2>
<table>
<thead><tr><th>Time</th><th>Trigger</th><th>Outcome</th><th>Reason</th></tr></thead>
<tbody>
${logRows(status)}
</tbody>
</table>
<script>
async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return response.json();
}
document.getElementById("sync-now").addEventListener("click", async () => {
  const result = await post("/api/sync", {});
  document.getElementById("action-result").textContent = result.outcome + ": " + result.reason;
  setTimeout(() => location.reload(), 1500);
});
document.getElementById("toggle-auto").addEventListener("click", async () => {
  await post("/api/auto-sync", { enabled: ${status.autoSync ? "false" : "true"} });
  location.reload();
});
</script>
</body>
</html>
`;
}
