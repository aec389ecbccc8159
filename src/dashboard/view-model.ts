/**
 * Pure functions behind the dashboard page: the JSON shapes the page reads,
 * number and time formatting, and the chart series built from the status
 * snapshot and the history routes. The browser bundle (client/*.mts) and
 * the unit tests both import this file, so it uses nothing from Node.js or
 * the DOM. Prices arrive in $/kWh and are shown in c/kWh, as Amber does.
 */
import type {
  StatusSlot,
  StatusSnapshot,
  SyncResult,
} from "../engine/types.js";

/** A chart point: x in ms since the epoch, y in the chart's unit. */
export interface Point {
  x: number;
  y: number;
}

/** `GET /api/dashboard`. */
export interface DashboardResponse {
  status: StatusSnapshot;
  controls: ControlsView;
  energy: EnergySampleView | null;
  history: { available: boolean };
  access: {
    mode: "open" | "login" | "ingress";
    csrfToken: string | null;
    user: string | null;
  };
}

/** The controls part of `GET /api/dashboard`, as the page reads it. */
export interface ControlsView {
  spike: {
    enabled: boolean;
    state: string;
    region: string;
    thresholdMwh: number;
    lastPrice?: { priceMwh?: number } | undefined;
    blockedBy?: string | undefined;
    lastError?: string | undefined;
  } | null;
  curtailment: {
    enabled: boolean;
    state: string;
    curtailed: boolean;
    thresholdCents: number;
    blockedBy?: string | undefined;
    lastError?: string | undefined;
  } | null;
  force: {
    state: string;
    direction?: string | undefined;
    endsAt?: number | undefined;
    remainingMs: number;
    lastError?: string | undefined;
  } | null;
}

/** A live_status reading as the API sends it. */
export interface EnergySampleView {
  at: string | number;
  solarW: number;
  gridW: number;
  batteryW: number;
  homeW: number;
  batteryPercent: number;
}

/** One row of `GET /api/history/prices`. */
export interface PriceHistoryRow {
  start: string;
  minutes: number;
  buy: number | null;
  sell: number | null;
  quality: "actual" | "estimate";
  tariffBuy: number | null;
  tariffSell: number | null;
  spikeStatus: string | null;
}

/** One bucket of `GET /api/history/energy`. */
export interface EnergyBucketView {
  start: string;
  solarWh: number;
  gridImportWh: number;
  gridExportWh: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
  homeWh: number;
  coveredMs: number;
}

/** `GET /api/history/energy`. */
export interface EnergyHistoryResponse {
  from: string;
  to: string;
  bucketMinutes: number;
  totals: Omit<EnergyBucketView, "start" | "coveredMs">;
  intervals: EnergyBucketView[];
}

/** Converts $/kWh to c/kWh, rounded to 0.01 c. */
export function toCents(dollarsPerKwh: number): number {
  return Math.round(dollarsPerKwh * 10_000) / 100;
}

/** Formats a $/kWh price as c/kWh, e.g. "-3.2 c/kWh"; "–" when unknown. */
export function formatPrice(dollarsPerKwh: number | null | undefined): string {
  if (dollarsPerKwh === null || dollarsPerKwh === undefined) {
    return "–";
  }
  const cents = toCents(dollarsPerKwh);
  const digits = Math.abs(cents) >= 100 ? 0 : 1;
  return `${cents.toFixed(digits)} c/kWh`;
}

/** Formats watts as "450 W" or "3.25 kW" (sign dropped; direction is shown apart). */
export function formatPower(watts: number): string {
  const magnitude = Math.abs(watts);
  return magnitude < 1000
    ? `${Math.round(magnitude)} W`
    : `${(magnitude / 1000).toFixed(2)} kW`;
}

/** Formats watt-hours as kWh with one decimal. */
export function formatEnergy(wattHours: number): string {
  return `${(wattHours / 1000).toFixed(1)} kWh`;
}

/** Formats a time as HH:MM in `timeZone`. */
export function formatClock(at: string | number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-AU", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(at));
}

/** Formats a time as "Mon 16 Jun, 14:05" in `timeZone`. */
export function formatDateTime(at: string | number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-AU", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(at));
}

/** The four series of the tariff chart, c/kWh, each a step line over the 24 hours. */
export interface TariffSeries {
  tariffBuy: Point[];
  tariffSell: Point[];
  amberBuy: Point[];
  amberSell: Point[];
  /** Half hours whose real buy or sell price is below zero and was written as zero. */
  clampedSlots: number;
}

/**
 * Builds the tariff chart from the status slots. Each slot gives a point at
 * its start, and a last point at the end of the last slot closes the final
 * step, so a chart drawn with "step after" shows every half hour in full.
 */
export function tariffSeries(slots: readonly StatusSlot[]): TariffSeries {
  const sorted = [...slots].sort(
    (a, b) => Date.parse(a.start) - Date.parse(b.start),
  );
  const series: TariffSeries = {
    tariffBuy: [],
    tariffSell: [],
    amberBuy: [],
    amberSell: [],
    clampedSlots: 0,
  };
  for (const slot of sorted) {
    const x = Date.parse(slot.start);
    series.tariffBuy.push({ x, y: toCents(slot.buy) });
    series.tariffSell.push({ x, y: toCents(slot.sell) });
    series.amberBuy.push({ x, y: toCents(slot.buyActual) });
    series.amberSell.push({ x, y: toCents(slot.sellActual) });
    if (slot.buyActual < 0 || slot.sellActual < 0) {
      series.clampedSlots += 1;
    }
  }
  const last = sorted[sorted.length - 1];
  if (last !== undefined) {
    const x = Date.parse(last.end);
    series.tariffBuy.push({ x, y: toCents(last.buy) });
    series.tariffSell.push({ x, y: toCents(last.sell) });
    series.amberBuy.push({ x, y: toCents(last.buyActual) });
    series.amberSell.push({ x, y: toCents(last.sellActual) });
  }
  return series;
}

/** The series of the price history chart, c/kWh. */
export interface PriceHistorySeries {
  amberBuy: Point[];
  amberSell: Point[];
  tariffBuy: Point[];
  tariffSell: Point[];
}

/** Builds the price history chart; rows without a value leave a gap. */
export function priceHistorySeries(
  rows: readonly PriceHistoryRow[],
): PriceHistorySeries {
  const series: PriceHistorySeries = {
    amberBuy: [],
    amberSell: [],
    tariffBuy: [],
    tariffSell: [],
  };
  for (const row of rows) {
    const x = Date.parse(row.start);
    if (row.buy !== null) {
      series.amberBuy.push({ x, y: toCents(row.buy) });
    }
    if (row.sell !== null) {
      series.amberSell.push({ x, y: toCents(row.sell) });
    }
    if (row.tariffBuy !== null) {
      series.tariffBuy.push({ x, y: toCents(row.tariffBuy) });
    }
    if (row.tariffSell !== null) {
      series.tariffSell.push({ x, y: toCents(row.tariffSell) });
    }
  }
  return series;
}

/**
 * The energy chart as a balance, kWh per bucket: what supplied energy
 * (solar, grid import, battery discharge) above zero, and where it went
 * (home, grid export, battery charge) below zero.
 */
export interface EnergySeries {
  labels: number[];
  solar: number[];
  gridImport: number[];
  batteryDischarge: number[];
  home: number[];
  gridExport: number[];
  batteryCharge: number[];
}

/**
 * Builds the energy chart from history buckets. With a window, every bucket
 * of [from, to) gets a bar, zero where no reading covered it, so the axis
 * always spans the whole window.
 */
export function energySeries(
  history: readonly EnergyBucketView[],
  window?: { from: number; to: number; bucketMs: number },
): EnergySeries {
  const buckets =
    window === undefined ? [...history] : padBuckets(history, window);
  const kwh = (wattHours: number): number => Math.round(wattHours) / 1000;
  return {
    labels: buckets.map((bucket) => Date.parse(bucket.start)),
    solar: buckets.map((bucket) => kwh(bucket.solarWh)),
    gridImport: buckets.map((bucket) => kwh(bucket.gridImportWh)),
    batteryDischarge: buckets.map((bucket) => kwh(bucket.batteryDischargeWh)),
    home: buckets.map((bucket) => -kwh(bucket.homeWh)),
    gridExport: buckets.map((bucket) => -kwh(bucket.gridExportWh)),
    batteryCharge: buckets.map((bucket) => -kwh(bucket.batteryChargeWh)),
  };
}

function padBuckets(
  history: readonly EnergyBucketView[],
  window: { from: number; to: number; bucketMs: number },
): EnergyBucketView[] {
  const byStart = new Map(
    history.map((bucket) => [Date.parse(bucket.start), bucket]),
  );
  const padded: EnergyBucketView[] = [];
  const first = Math.floor(window.from / window.bucketMs) * window.bucketMs;
  for (let start = first; start < window.to; start += window.bucketMs) {
    padded.push(
      byStart.get(start) ?? {
        start: new Date(start).toISOString(),
        solarWh: 0,
        gridImportWh: 0,
        gridExportWh: 0,
        batteryChargeWh: 0,
        batteryDischargeWh: 0,
        homeWh: 0,
        coveredMs: 0,
      },
    );
  }
  return padded;
}

/** The energy flow card's text. */
export interface FlowView {
  solar: string;
  grid: string;
  gridDirection: "importing" | "exporting" | "idle";
  battery: string;
  batteryDirection: "charging" | "discharging" | "idle";
  home: string;
  batteryPercent: string;
}

/** Power below this is shown as idle, W. */
const IDLE_WATTS = 20;

/** Describes a live_status reading for the energy flow card. */
export function flowView(sample: EnergySampleView): FlowView {
  return {
    solar: formatPower(sample.solarW),
    grid: formatPower(sample.gridW),
    gridDirection:
      sample.gridW > IDLE_WATTS
        ? "importing"
        : sample.gridW < -IDLE_WATTS
          ? "exporting"
          : "idle",
    battery: formatPower(sample.batteryW),
    batteryDirection:
      sample.batteryW > IDLE_WATTS
        ? "discharging"
        : sample.batteryW < -IDLE_WATTS
          ? "charging"
          : "idle",
    home: formatPower(sample.homeW),
    batteryPercent: `${Math.round(sample.batteryPercent)} %`,
  };
}

/** Describes a sync result in one line, e.g. "uploaded: no tariff uploaded yet". */
export function describeSync(
  result: Pick<SyncResult, "outcome" | "reason">,
): string {
  return `${result.outcome}: ${result.reason}`;
}

/** Returns `count` with the noun in the singular for 1 and the plural otherwise, e.g. "1 sync". */
export function countOf(
  count: number,
  singular: string,
  plural: string,
): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/** Describes today's counters in one sentence for the API calls card. */
export function describeToday(
  day: string,
  today: StatusSnapshot["counters"]["today"],
): string {
  const parts = [
    countOf(today.teslaWrites, "Tesla tariff write", "Tesla tariff writes"),
    countOf(today.teslaCalls, "Tesla call", "Tesla calls"),
    countOf(today.amberCalls, "Amber call", "Amber calls"),
    countOf(today.syncs, "sync", "syncs"),
    countOf(today.uploads, "upload", "uploads"),
  ];
  return `Today (${day}): ${parts.join(", ")}.`;
}

/** Returns the rows of the API call table, busiest endpoint first. */
export function callRows(
  counters: Readonly<Record<string, number>>,
): Array<[string, number]> {
  return Object.entries(counters).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
}

/** Describes a control's state in one line for its panel. */
export function describeSpike(
  spike: NonNullable<ControlsView["spike"]>,
): string {
  const price =
    spike.lastPrice?.priceMwh === undefined
      ? ""
      : `, AEMO ${spike.region} at $${spike.lastPrice.priceMwh.toFixed(0)}/MWh`;
  const blocked =
    spike.blockedBy === undefined ? "" : `, waiting for ${spike.blockedBy}`;
  return `${spike.enabled ? "On" : "Off"}: ${spike.state} (threshold $${spike.thresholdMwh}/MWh${price})${blocked}`;
}

/** Describes the curtailment control's state in one line. */
export function describeCurtailment(
  curtailment: NonNullable<ControlsView["curtailment"]>,
): string {
  const blocked =
    curtailment.blockedBy === undefined
      ? ""
      : `, waiting for ${curtailment.blockedBy}`;
  return `${curtailment.enabled ? "On" : "Off"}: ${curtailment.curtailed ? "export blocked" : "export allowed"} (${curtailment.state}; curtails below ${curtailment.thresholdCents} c/kWh)${blocked}`;
}

/** A control's line in the "Price events" panel. */
export interface ControlLine {
  /** Sentence shown under the control's heading. */
  text: string;
  /** Whether the control is acting on the Powerwall now, so the page highlights it. */
  active: boolean;
}

/**
 * Describes the force control in sentence case, with the end time in
 * `timeZone`, e.g. "Charging from the grid until 14:35 (120 min left)."
 */
export function describeForce(
  force: NonNullable<ControlsView["force"]>,
  timeZone: string,
): ControlLine {
  const charge = force.direction !== "discharge";
  switch (force.state) {
    case "idle":
      return {
        text:
          force.lastError === undefined
            ? "Idle."
            : `Idle. Last error: ${force.lastError}`,
        active: false,
      };
    case "entering":
      return {
        text: charge
          ? "Starting to charge from the grid…"
          : "Starting to discharge to the grid…",
        active: true,
      };
    case "active": {
      const minutes = Math.ceil(force.remainingMs / 60_000);
      const until =
        force.endsAt === undefined
          ? ""
          : ` until ${formatClock(force.endsAt, timeZone)}`;
      const action = charge
        ? "Charging from the grid"
        : "Discharging to the grid";
      return { text: `${action}${until} (${minutes} min left).`, active: true };
    }
    case "restoring":
      return {
        text: "Stopping: putting back the tariff and settings from before.",
        active: true,
      };
    default:
      return { text: `State: ${force.state}.`, active: false };
  }
}

/** Spike states in which the spike response has changed the Powerwall's settings. */
const SPIKE_ACTIVE_STATES = new Set(["entering", "active", "restoring"]);

/** Returns whether the spike response is acting on the Powerwall now. */
export function isSpikeActive(
  spike: NonNullable<ControlsView["spike"]>,
): boolean {
  return SPIKE_ACTIVE_STATES.has(spike.state);
}

/** Returns whether curtailment is blocking or starting to block export now. */
export function isCurtailmentActive(
  curtailment: NonNullable<ControlsView["curtailment"]>,
): boolean {
  return curtailment.curtailed || curtailment.state !== "normal";
}

/** The tariff chart's note and whether its solid lines are the last Amber tariff rather than the Powerwall's. */
export interface TariffNote {
  text: string;
  /** True while a control holds the Powerwall's tariff. */
  held: boolean;
}

/**
 * Describes the tariff chart. The status carries the last tariff built from
 * Amber's prices, which is on the Powerwall unless the last sync neither
 * uploaded it nor found it unchanged, or a control holds the tariff. The
 * status does not carry a held tariff's rates, so while a control holds it
 * the note names the control and its end, and calls the lines what they are.
 */
export function describeTariff(
  status: Pick<
    StatusSnapshot,
    | "slots"
    | "timeZone"
    | "slotsBuiltAt"
    | "lastSync"
    | "lastUpload"
    | "tariffHold"
  >,
  clampedSlots: number,
): TariffNote {
  if (status.slots.length === 0) {
    return { text: "No tariff built yet.", held: false };
  }
  const zone = status.timeZone;
  const built =
    status.slotsBuiltAt === null
      ? ""
      : ` ${formatDateTime(status.slotsBuiltAt, zone)}`;
  const negative =
    clampedSlots === 0
      ? ""
      : ` ${countOf(clampedSlots, "half hour has", "half hours have")} a negative price that the tariff writes as zero.`;
  const hold = status.tariffHold ?? null;
  if (hold !== null) {
    const until =
      hold.until === null
        ? `until ${hold.endCondition}`
        : `until ${formatClock(hold.until, zone)}`;
    const holder = sentenceCase(hold.description);
    return {
      text: `${holder} holds the Powerwall's tariff ${until}, so the Amber sync does not upload. Solid lines are the last Amber tariff, built${built}, which is not on the Powerwall while ${hold.description} holds it; dashed lines Amber's prices. Times in ${zone}.${negative}`,
      held: true,
    };
  }
  const outcome = status.lastSync?.outcome;
  const onPowerwall = outcome === "uploaded" || outcome === "unchanged";
  const upload =
    status.lastUpload === null
      ? "none yet"
      : formatDateTime(status.lastUpload.at, zone);
  const lines = onPowerwall
    ? "Solid lines are the rates written to the Powerwall"
    : `Solid lines are the rates of this build, which was not uploaded (${outcome ?? "no sync"}); the Powerwall keeps the tariff of the last upload (${upload})`;
  return {
    text: `Built${built}; times in ${zone}. ${lines}, dashed lines Amber's prices.${negative}`,
    held: false,
  };
}

function sentenceCase(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
