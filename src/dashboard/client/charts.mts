/**
 * The three Chart.js charts: the tariff against Amber's forecast, the price
 * history and the energy balance. Colours come from CSS custom properties,
 * so the charts follow the light or dark theme and are redrawn when the
 * theme changes. Times on the axes are shown in the site's zone.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from "chart.js";

import {
  energySeries,
  formatClock,
  priceHistorySeries,
  tariffSeries,
  type EnergyBucketView,
  type Point,
  type PriceHistoryRow,
} from "../view-model.js";
import type { StatusSlot } from "../../engine/types.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

const HALF_HOUR_MS = 1_800_000;

/**
 * Returns a tick at every third whole hour of the site's local time in
 * [min, max]. Half-hour steps find whole local hours in zones with a
 * half-hour offset too, such as Adelaide.
 */
function localTicks(
  min: number,
  max: number,
  zone: string,
): Array<{ value: number }> {
  const ticks: Array<{ value: number }> = [];
  for (
    let at = Math.ceil(min / HALF_HOUR_MS) * HALF_HOUR_MS;
    at <= max;
    at += HALF_HOUR_MS
  ) {
    const [hour, minute] = formatClock(at, zone).split(":");
    if (minute === "00" && Number(hour) % 3 === 0) {
      ticks.push({ value: at });
    }
  }
  return ticks;
}

/** The charts on the page, exposed for tests and debugging. */
export interface DashboardCharts {
  tariff: Chart<"line", Point[]>;
  prices: Chart<"line", Point[]>;
  energy: Chart<"bar", number[], number>;
}

function color(name: string): string {
  return getComputedStyle(document.documentElement)
    .getPropertyValue(name)
    .trim();
}

function canvas(id: string): HTMLCanvasElement {
  const found = document.getElementById(id);
  if (!(found instanceof HTMLCanvasElement)) {
    throw new Error(`dashboard page has no canvas #${id}`);
  }
  return found;
}

function stepLine(
  label: string,
  colorName: string,
  dashed: boolean,
): ChartDataset<"line", Point[]> {
  const value = color(colorName);
  return {
    label,
    data: [],
    stepped: "after",
    borderColor: value,
    backgroundColor: value,
    borderWidth: dashed ? 1.5 : 2.5,
    borderDash: dashed ? [5, 4] : [],
    pointRadius: 0,
    pointHitRadius: 6,
  };
}

/** Options shared by the two price charts: time on x, c/kWh on y, zero line drawn bold. */
function priceOptions(zone: () => string) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false as const,
    parsing: false as const,
    interaction: { mode: "index" as const, intersect: false },
    scales: {
      x: {
        type: "linear" as const,
        afterBuildTicks: (scale: {
          min: number;
          max: number;
          ticks: Array<{ value: number }>;
        }) => {
          scale.ticks = localTicks(scale.min, scale.max, zone());
        },
        ticks: {
          color: color("--muted"),
          callback: (value: string | number) =>
            formatClock(Number(value), zone()),
        },
        grid: { color: color("--grid") },
      },
      y: {
        title: { display: true, text: "c/kWh", color: color("--muted") },
        ticks: { color: color("--muted") },
        grid: {
          color: (context: { tick?: { value: number } }) =>
            context.tick?.value === 0 ? color("--text") : color("--grid"),
        },
      },
    },
    plugins: {
      legend: { labels: { color: color("--text"), boxWidth: 14 } },
      tooltip: {
        callbacks: {
          title: (items: Array<{ parsed: { x: number | null } }>) =>
            items[0]?.parsed.x === undefined || items[0].parsed.x === null
              ? ""
              : formatClock(items[0].parsed.x, zone()),
          label: (item: {
            dataset: { label?: string };
            parsed: { y: number | null };
          }) => `${item.dataset.label ?? ""}: ${item.parsed.y ?? "–"} c/kWh`,
        },
      },
    },
  };
}

/** Creates the three charts; `zone` returns the site's time zone. */
export function createCharts(zone: () => string): DashboardCharts {
  const tariff = new Chart<"line", Point[]>(canvas("tariff-chart"), {
    type: "line",
    data: {
      datasets: [
        stepLine("Tariff buy", "--buy", false),
        stepLine("Tariff sell", "--sell", false),
        stepLine("Amber buy forecast", "--buy-forecast", true),
        stepLine("Amber sell forecast", "--sell-forecast", true),
      ],
    },
    options: priceOptions(zone),
  });

  const prices = new Chart<"line", Point[]>(canvas("price-chart"), {
    type: "line",
    data: {
      datasets: [
        stepLine("Amber buy", "--buy", false),
        stepLine("Amber sell", "--sell", false),
        stepLine("Tariff buy", "--buy-forecast", true),
        stepLine("Tariff sell", "--sell-forecast", true),
      ],
    },
    options: priceOptions(zone),
  });

  const bar = (
    label: string,
    colorName: string,
  ): ChartDataset<"bar", number[]> => ({
    label,
    data: [],
    backgroundColor: color(colorName),
    stack: "energy",
  });
  const energy = new Chart<"bar", number[], number>(canvas("energy-chart"), {
    type: "bar",
    data: {
      labels: [],
      datasets: [
        bar("Solar", "--solar"),
        bar("Grid import", "--grid-import"),
        bar("Battery discharge", "--battery"),
        bar("Home", "--home"),
        bar("Grid export", "--grid-export"),
        bar("Battery charge", "--battery-charge"),
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: {
          stacked: true,
          ticks: {
            color: color("--muted"),
            maxTicksLimit: 12,
            callback(value) {
              const label = this.getLabelForValue(Number(value));
              return formatClock(Number(label), zone());
            },
          },
          grid: { display: false },
        },
        y: {
          stacked: true,
          title: { display: true, text: "kWh", color: color("--muted") },
          ticks: { color: color("--muted") },
          grid: { color: color("--grid") },
        },
      },
      plugins: {
        legend: { labels: { color: color("--text"), boxWidth: 14 } },
        tooltip: {
          callbacks: {
            title: (items) => {
              const label = items[0]?.label;
              return label === undefined
                ? ""
                : formatClock(Number(label), zone());
            },
            label: (item) =>
              `${item.dataset.label ?? ""}: ${Math.abs(Number(item.raw)).toFixed(2)} kWh`,
          },
        },
      },
    },
  });

  return { tariff, prices, energy };
}

/** Puts the status slots into the tariff chart. */
export function showTariff(
  charts: DashboardCharts,
  slots: readonly StatusSlot[],
): number {
  const series = tariffSeries(slots);
  const datasets = charts.tariff.data.datasets;
  setData(datasets[0], series.tariffBuy);
  setData(datasets[1], series.tariffSell);
  setData(datasets[2], series.amberBuy);
  setData(datasets[3], series.amberSell);
  const first = series.tariffBuy[0];
  const last = series.tariffBuy[series.tariffBuy.length - 1];
  if (first !== undefined && last !== undefined) {
    setRange(charts.tariff, first.x, last.x);
  }
  charts.tariff.update();
  return series.clampedSlots;
}

/**
 * Names the tariff chart's solid lines: "Tariff buy/sell" while they are the
 * Powerwall's tariff, and "Last Amber tariff …" while a control holds the
 * Powerwall's tariff (`held`), because the lines are then not on it.
 */
export function labelTariffLines(charts: DashboardCharts, held: boolean): void {
  const [buy, sell] = charts.tariff.data.datasets;
  const buyLabel = held
    ? "Last Amber tariff buy (not on the Powerwall)"
    : "Tariff buy";
  const sellLabel = held
    ? "Last Amber tariff sell (not on the Powerwall)"
    : "Tariff sell";
  if (buy === undefined || sell === undefined || buy.label === buyLabel) {
    return;
  }
  buy.label = buyLabel;
  sell.label = sellLabel;
  // A held tariff's lines are drawn thinner and dotted, as stale values.
  buy.borderDash = held ? [2, 3] : [];
  sell.borderDash = held ? [2, 3] : [];
  charts.tariff.update();
}

/** Puts price history rows from the window [from, to) (ms) into the price chart. */
export function showPriceHistory(
  charts: DashboardCharts,
  rows: readonly PriceHistoryRow[],
  from: number,
  to: number,
): void {
  const series = priceHistorySeries(rows);
  const datasets = charts.prices.data.datasets;
  setData(datasets[0], series.amberBuy);
  setData(datasets[1], series.amberSell);
  setData(datasets[2], series.tariffBuy);
  setData(datasets[3], series.tariffSell);
  setRange(charts.prices, from, to);
  charts.prices.update();
}

/** Puts energy buckets into the energy chart, one bar per bucket of the window. */
export function showEnergy(
  charts: DashboardCharts,
  buckets: readonly EnergyBucketView[],
  window: { from: number; to: number; bucketMs: number },
): void {
  const series = energySeries(buckets, window);
  const chart = charts.energy;
  chart.data.labels = series.labels;
  const values = [
    series.solar,
    series.gridImport,
    series.batteryDischarge,
    series.home,
    series.gridExport,
    series.batteryCharge,
  ];
  chart.data.datasets.forEach((dataset, index) => {
    dataset.data = values[index] ?? [];
  });
  chart.update();
}

/** Re-reads the theme colours into every chart, after a light/dark switch. */
export function restyleCharts(charts: DashboardCharts): void {
  const lineColors = ["--buy", "--sell", "--buy-forecast", "--sell-forecast"];
  for (const chart of [charts.tariff, charts.prices]) {
    chart.data.datasets.forEach((dataset, index) => {
      const value = color(lineColors[index] ?? "--text");
      dataset.borderColor = value;
      dataset.backgroundColor = value;
    });
  }
  const barColors = [
    "--solar",
    "--grid-import",
    "--battery",
    "--home",
    "--grid-export",
    "--battery-charge",
  ];
  charts.energy.data.datasets.forEach((dataset, index) => {
    dataset.backgroundColor = color(barColors[index] ?? "--text");
  });
  for (const chart of [charts.tariff, charts.prices, charts.energy]) {
    const legend = chart.options.plugins?.legend?.labels;
    if (legend !== undefined) {
      legend.color = color("--text");
    }
    chart.update();
  }
}

function setRange(
  chart: Chart<"line", Point[]>,
  min: number,
  max: number,
): void {
  const x = chart.options.scales?.["x"];
  if (x !== undefined) {
    x.min = min;
    x.max = max;
  }
}

function setData(
  dataset: ChartDataset<"line", Point[]> | undefined,
  points: Point[],
): void {
  if (dataset !== undefined) {
    dataset.data = points;
  }
}
