/**
 * The report's pictures, rendered on the server to PNG so that they show in mail clients that run no
 * scripts and drop inline SVG: Vega-Lite spec → Vega → SVG → resvg → PNG. No browser is involved.
 *
 * Vega 5 and Vega-Lite 5 are used on purpose: their 6.x releases are ESM-only, which neither the
 * CommonJS build of Haven nor Jest's module loader can `require`.
 *
 * Every chart is a pure function of the report's JSON (`chartSpecs`), so a chart can be redrawn from
 * the stored report alone.
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { silentLogger, type Logger } from "../lib/logger";
import { chartFont } from "./fonts";
import type { MonthlyReport } from "./types";

/** Width the charts are laid out for, in CSS pixels: the email body is at most 640 px wide. */
export const CHART_WIDTH = 600;
/** PNGs are rendered at twice the CSS size, for sharp pictures on high-density screens. */
const PIXEL_RATIO = 2;

const COLORS = {
  committed: "#2e7d32",
  partial: "#f9a825",
  missed: "#c62828",
  line: "#1565c0",
  rto: "#c62828",
};

export interface ChartSpec {
  /** Content-ID of the inline image (without angle brackets). */
  cid: string;
  fileName: string;
  title: string;
  /** One sentence under the title that says how to read the chart. */
  caption: string;
  /** Alt text: what the chart shows, in words, for readers whose client hides images. */
  alt: string;
  spec: TopLevelSpec;
}

export interface ChartImage extends Omit<ChartSpec, "spec"> {
  png: Buffer;
  /** Size to display at, in CSS pixels (the PNG has twice as many). */
  width: number;
  height: number;
}

/** The charts the report has data for: restore time vs RTO (when any restore test ran in the trend window) and backups by day. */
export function chartSpecs(report: MonthlyReport): ChartSpec[] {
  const specs: ChartSpec[] = [];
  const font = chartFont().family;
  const config = {
    font,
    view: { stroke: null },
    axis: { labelFontSize: 10, titleFontSize: 11 },
    legend: { labelFontSize: 11 },
  };

  const months = report.targets[0]?.trend.map((p) => p.month) ?? [];
  const trendRows = report.targets.flatMap((t) => [
    ...t.trend.map((p) => ({
      target: t.target,
      month: p.month,
      kind: "slowest",
      minutes: p.maxMs === null ? null : round(p.maxMs / 60_000),
    })),
    { target: t.target, month: null, kind: "rto", minutes: round(t.rto.rtoMs / 60_000) },
  ]);
  if (report.targets.some((t) => t.trend.some((p) => p.tests > 0))) {
    const columns = report.targets.length > 1 ? 2 : 1;
    specs.push({
      cid: "restore-times@haven",
      fileName: "restore-times.png",
      title: "Restore time vs RTO",
      caption:
        "Blue: the slowest passed restore test of each month, in minutes. Red dashed line: the target's RTO.",
      alt: `Slowest passed restore test per month, in minutes, against the RTO, for each target over ${months.length} months ending ${report.period.month}. ${report.targets
        .map(
          (t) =>
            `${t.target}: ${t.trend.map((p) => (p.maxMs === null ? "none" : `${round(p.maxMs / 60_000)} min`)).join(", ")} (RTO ${round(t.rto.rtoMs / 60_000)} min)`,
        )
        .join("; ")}.`,
      spec: {
        $schema: "https://vega.github.io/schema/vega-lite/v5.json",
        config,
        background: "#ffffff",
        data: { values: trendRows },
        facet: {
          field: "target",
          type: "nominal",
          title: null,
          header: { labelFontSize: 12, labelFontWeight: "bold" },
        },
        columns,
        spec: {
          width: columns === 2 ? 225 : 480,
          height: 110,
          layer: [
            {
              transform: [{ filter: "datum.kind === 'rto'" }],
              mark: { type: "rule", color: COLORS.rto, strokeDash: [6, 4], strokeWidth: 1.5 },
              encoding: { y: { field: "minutes", type: "quantitative", title: "minutes" } },
            },
            {
              transform: [{ filter: "datum.kind === 'slowest'" }],
              mark: {
                type: "line",
                color: COLORS.line,
                point: { filled: true, size: 40, color: COLORS.line },
              },
              encoding: {
                x: {
                  field: "month",
                  type: "ordinal",
                  title: null,
                  scale: { domain: months },
                  axis: {
                    labelAngle: 0,
                    labelExpr: "utcFormat(toDate(datum.value + '-01T00:00:00Z'), '%b')",
                  },
                },
                y: { field: "minutes", type: "quantitative", title: "minutes" },
              },
            },
          ],
        },
        resolve: { scale: { y: "independent" } },
      },
    });
  }

  if (report.backupsByDay.length > 0) {
    const rows = report.backupsByDay.flatMap((d) =>
      (["committed", "partial", "missed"] as const).map((status) => ({
        day: d.day,
        status,
        count: d[status],
      })),
    );
    const totals = report.summary.backups;
    specs.push({
      cid: "backups-by-day@haven",
      fileName: "backups-by-day.png",
      title: "Backups by day",
      caption:
        "Snapshots started each day, all targets: committed (green), partial (amber), and scheduled runs that produced none (red).",
      alt: `Backups per day in ${report.period.month}, all targets: ${totals.committed} committed, ${totals.partial} partial and ${totals.missed} missed of ${totals.scheduled} scheduled.${
        report.backupsByDay.some((d) => d.missed > 0)
          ? ` Days with missed backups: ${report.backupsByDay
              .filter((d) => d.missed > 0)
              .map((d) => `${d.day} (${d.missed})`)
              .join(", ")}.`
          : ""
      }`,
      spec: {
        $schema: "https://vega.github.io/schema/vega-lite/v5.json",
        config,
        background: "#ffffff",
        width: CHART_WIDTH,
        height: 180,
        autosize: { type: "fit", contains: "padding" },
        data: { values: rows },
        mark: { type: "bar" },
        encoding: {
          x: {
            field: "day",
            type: "ordinal",
            title: null,
            axis: { labelAngle: 0, labelExpr: "toNumber(substring(datum.value, 8))" },
          },
          y: { field: "count", type: "quantitative", title: "backups", stack: "zero" },
          color: {
            field: "status",
            type: "nominal",
            title: null,
            scale: {
              domain: ["committed", "partial", "missed"],
              range: [COLORS.committed, COLORS.partial, COLORS.missed],
            },
            legend: { orient: "bottom" },
          },
          order: { field: "status", sort: "ascending" },
        },
      },
    });
  }
  return specs;
}

/** Renders every chart of `chartSpecs(report)` to PNG. */
export async function renderCharts(
  report: MonthlyReport,
  logger: Logger = silentLogger,
): Promise<ChartImage[]> {
  const font = chartFont();
  if (font.files.length === 0) {
    logger.warn(
      { looked: font.looked },
      "no font file found for the report charts: their text may be missing (install fonts-dejavu-core)",
    );
  }
  const images: ChartImage[] = [];
  for (const { spec, ...meta } of chartSpecs(report)) {
    const svg = await toSvg(spec);
    const rendered = new Resvg(svg, {
      background: "#ffffff",
      fitTo: { mode: "zoom", value: PIXEL_RATIO },
      font: { loadSystemFonts: true, fontFiles: font.files, defaultFontFamily: font.defaultFamily },
    }).render();
    images.push({
      ...meta,
      png: rendered.asPng(),
      width: Math.round(rendered.width / PIXEL_RATIO),
      height: Math.round(rendered.height / PIXEL_RATIO),
    });
  }
  return images;
}

async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none", logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
