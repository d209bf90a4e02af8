/**
 * The HTML body of the report email. Written for mail clients, not browsers: tables for layout, every
 * style inline, no script, no inline SVG, images by `cid:` with alt text, at most 640 px wide and
 * shrinking to the screen (percent widths, long words allowed to break). Verdicts are spelled out, not
 * only coloured.
 */
import { formatDuration } from "../lib/duration";
import {
  emptyNotice,
  failureLine,
  FORMER_TARGETS_HEADING,
  FORMER_TARGETS_NOTE,
  formerTargetLine,
  formatMs,
  MAX_LISTED_FAILURES,
  periodLine,
  phasesText,
  reportTitle,
  summaryRows,
  targetRows,
  VERDICT_LABEL,
  type Evidence,
} from "./format";
import { formatLocal, monthTitle } from "./month";
import type { MonthlyReport, TargetMonthReport, Verdict } from "./types";

/** What the body says about a chart, and where its image comes from. */
export interface HtmlChart {
  cid: string;
  title: string;
  caption: string;
  alt: string;
  width: number;
  height: number;
}

export interface RenderHtmlInput {
  report: MonthlyReport;
  evidence: Evidence;
  charts: readonly HtmlChart[];
  /** The `src` of a chart's image. Default `cid:<cid>` (email); a file written with --out uses data: URLs. */
  imageSrc?: (chart: HtmlChart) => string;
}

const FONT = "Arial, Helvetica, sans-serif";
const TEXT = "#1f2937";
const MUTED = "#6b7280";
const BORDER = "#e5e7eb";
const BADGE: Record<Verdict, { bg: string; fg: string }> = {
  met: { bg: "#e6f4ea", fg: "#1e6b34" },
  "at-risk": { bg: "#fff4e0", fg: "#8a4b00" },
  breached: { bg: "#fdeaea", fg: "#a4221c" },
};

export function renderHtml(input: RenderHtmlInput): string {
  const { report, evidence } = input;
  const src = input.imageSrc ?? ((c: HtmlChart) => `cid:${c.cid}`);
  const title = reportTitle(report);
  const body = [
    `<tr><td style="padding:24px 24px 8px 24px;">` +
      `<h1 style="margin:0;font-size:22px;line-height:1.3;color:${TEXT};">${esc(title)}</h1>` +
      `<p style="margin:6px 0 0 0;color:${MUTED};font-size:13px;">${esc(periodLine(report))} · generated ${esc(formatLocal(report.generatedAt, report.period.timezone))}</p>` +
      `</td></tr>`,
    report.empty
      ? section(
          `<p style="margin:0;padding:12px;background:#f3f4f6;border-radius:4px;">${esc(emptyNotice(report))}</p>`,
        )
      : "",
    section(heading("Summary") + keyValueTable(summaryRows(report))),
    report.targets.length > 0 ? section(heading("Verdict per target") + verdictTable(report.targets)) : "",
    input.charts.length > 0
      ? section(
          input.charts
            .map(
              (c) =>
                `<h3 style="margin:12px 0 2px 0;font-size:15px;color:${TEXT};">${esc(c.title)}</h3>` +
                `<p style="margin:0 0 6px 0;color:${MUTED};font-size:12px;">${esc(c.caption)}</p>` +
                `<img src="${esc(src(c))}" alt="${esc(c.alt)}" width="${Math.min(c.width, 592)}" style="display:block;width:100%;max-width:${Math.min(c.width, 592)}px;height:auto;border:0;outline:none;text-decoration:none;">`,
            )
            .join(""),
        )
      : "",
    ...report.targets.map((t) => section(targetSection(report, t))),
    report.formerTargets.length > 0
      ? section(
          heading(FORMER_TARGETS_HEADING) +
            `<p style="margin:0 0 6px 0;color:${MUTED};font-size:12px;">${esc(FORMER_TARGETS_NOTE)}</p>` +
            list(report.formerTargets.map((t) => formerTargetLine(report, t))),
        )
      : "",
    report.problems.length > 0 ? section(heading("Problems") + list(report.problems)) : "",
    section(evidenceBlock(report, evidence)),
  ].join("");

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${esc(title)}</title>
</head>
<body style="margin:0;padding:0;background:#f3f4f6;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;background:#f3f4f6;border-collapse:collapse;">
<tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:640px;background:#ffffff;border-collapse:collapse;font-family:${FONT};font-size:14px;line-height:1.45;color:${TEXT};">
${body}
</table>
</td></tr>
</table>
</body>
</html>
`;
}

function section(inner: string): string {
  return `<tr><td style="padding:8px 24px 16px 24px;">${inner}</td></tr>`;
}

function heading(text: string): string {
  return `<h2 style="margin:8px 0 8px 0;font-size:17px;line-height:1.3;color:${TEXT};">${esc(text)}</h2>`;
}

function badge(verdict: Verdict): string {
  const { bg, fg } = BADGE[verdict];
  return `<span style="display:inline-block;padding:2px 8px;border-radius:10px;background:${bg};color:${fg};font-size:12px;font-weight:bold;white-space:nowrap;">${VERDICT_LABEL[verdict]}</span>`;
}

/** Two columns; the label column is narrow and the values may wrap anywhere (ids, hashes). */
function keyValueTable(rows: ReadonlyArray<[string, string]>): string {
  return table(
    rows
      .map(
        ([label, value]) =>
          `<tr><td width="34%" style="${cell()}color:${MUTED};width:34%;">${esc(label)}</td><td style="${cell()}">${esc(value)}</td></tr>`,
      )
      .join(""),
  );
}

function verdictTable(targets: readonly TargetMonthReport[]): string {
  return table(
    targets
      .map(
        (t) =>
          `<tr><td width="30%" style="${cell()}font-weight:bold;width:30%;">${esc(t.target)}</td>` +
          `<td width="22%" style="${cell()}width:22%;">${badge(t.verdict)}</td>` +
          `<td style="${cell()}font-size:13px;">${esc(t.reasons.length > 0 ? t.reasons.join("; ") : "every promise of the month kept")}</td></tr>`,
      )
      .join(""),
  );
}

function targetSection(report: MonthlyReport, t: TargetMonthReport): string {
  const parts = [
    `<h2 style="margin:8px 0 4px 0;font-size:17px;line-height:1.3;color:${TEXT};word-break:break-word;">${esc(t.target)} <span style="font-weight:normal;color:${MUTED};font-size:13px;">${esc(t.type)}</span> ${badge(t.verdict)}</h2>`,
  ];
  if (t.reasons.length > 0) parts.push(list(t.reasons));
  parts.push(keyValueTable(targetRows(report, t)));
  parts.push(subheading("Restore tests"));
  parts.push(t.restoreTests.length > 0 ? restoreTable(report, t) : muted("No restore test this month."));
  parts.push(subheading(`Restore time, last ${t.trend.length} months`));
  parts.push(trendTable(t));
  if (t.failures.length > 0) {
    parts.push(subheading("Failures"));
    const shown = t.failures.slice(0, MAX_LISTED_FAILURES).map((f) => {
      const line = failureLine(report, f);
      return `<tr><td width="30%" style="${cell()}width:30%;color:${MUTED};font-size:13px;">${esc(line.when)}</td><td style="${cell()}font-size:13px;">${esc(line.what)}</td></tr>`;
    });
    parts.push(table(shown.join("")));
    if (t.failures.length > MAX_LISTED_FAILURES) {
      parts.push(
        muted(`and ${t.failures.length - MAX_LISTED_FAILURES} more, listed in the JSON attachment.`),
      );
    }
  }
  return parts.join("");
}

function restoreTable(report: MonthlyReport, t: TargetMonthReport): string {
  const head =
    `<tr><th align="left" width="32%" style="${cell()}width:32%;color:${MUTED};font-size:12px;">Date</th>` +
    `<th align="left" width="22%" style="${cell()}width:22%;color:${MUTED};font-size:12px;">Result</th>` +
    `<th align="left" style="${cell()}color:${MUTED};font-size:12px;">Time vs RTO</th></tr>`;
  const rows = t.restoreTests.map((r) => {
    const verdict: Verdict = r.result === "failed" || !r.withinRto ? "breached" : "met";
    const result = r.result === "failed" ? "FAILED" : r.withinRto ? "passed" : "OVER RTO";
    const detail = [phasesText(r.phases), r.reason ?? "", `snapshot ${r.snapshotId}`]
      .filter((s) => s !== "")
      .join(" — ");
    return (
      `<tr><td style="${cell("none")}">${esc(formatLocal(r.finishedAt, report.period.timezone))}</td>` +
      `<td style="${cell("none")}color:${BADGE[verdict].fg};font-weight:bold;">${esc(result)}</td>` +
      `<td style="${cell("none")}">${esc(formatDuration(r.totalMs))} / ${esc(formatDuration(r.rtoMs))}</td></tr>` +
      `<tr><td colspan="3" style="${cell()}padding-top:0;color:${MUTED};font-size:12px;">${esc(detail)}</td></tr>`
    );
  });
  return table(head + rows.join(""));
}

function trendTable(t: TargetMonthReport): string {
  const head =
    `<tr><th align="left" style="${cell()}color:${MUTED};font-size:12px;">Month</th>` +
    `<th align="left" style="${cell()}color:${MUTED};font-size:12px;">Passed / run</th>` +
    `<th align="left" style="${cell()}color:${MUTED};font-size:12px;">Slowest</th>` +
    `<th align="left" style="${cell()}color:${MUTED};font-size:12px;">Median</th></tr>`;
  const rows = t.trend.map(
    (p) =>
      `<tr><td style="${cell()}">${esc(monthTitle(p.month))}</td><td style="${cell()}">${p.passed} / ${p.tests}</td>` +
      `<td style="${cell()}">${esc(formatMs(p.maxMs))}</td><td style="${cell()}">${esc(formatMs(p.medianMs))}</td></tr>`,
  );
  return table(head + rows.join(""));
}

function evidenceBlock(report: MonthlyReport, evidence: Evidence): string {
  const stored = evidence.storedAt
    ? `It is also stored at ${esc(evidence.storedAt)}, so it can be checked later.`
    : "It was not stored in the bucket (the report was not sent).";
  return (
    heading("Evidence") +
    `<p style="margin:0 0 8px 0;font-size:13px;">The data of this report is attached as <b>${esc(evidence.jsonFileName)}</b>. ${stored}</p>` +
    `<p style="margin:0 0 8px 0;font-size:13px;">sha256 of the JSON:</p>` +
    `<p style="margin:0 0 8px 0;padding:8px;background:#f3f4f6;font-family:Consolas,Menlo,monospace;font-size:12px;word-break:break-all;overflow-wrap:anywhere;" data-sha256="${esc(evidence.sha256)}">${esc(evidence.sha256)}</p>` +
    `<p style="margin:0;font-size:12px;color:${MUTED};">Made by Haven ${esc(report.haven.version)} from the bucket alone (manifests and verification records); regenerate with <code>haven report --month ${esc(report.period.month)}</code>.</p>`
  );
}

function subheading(text: string): string {
  return `<h3 style="margin:14px 0 4px 0;font-size:14px;color:${TEXT};">${esc(text)}</h3>`;
}

function muted(text: string): string {
  return `<p style="margin:4px 0;color:${MUTED};font-size:13px;">${esc(text)}</p>`;
}

function list(items: readonly string[]): string {
  return `<ul style="margin:4px 0 8px 0;padding-left:20px;">${items.map((i) => `<li style="margin:2px 0;">${esc(i)}</li>`).join("")}</ul>`;
}

function table(rows: string): string {
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;border-collapse:collapse;table-layout:fixed;">${rows}</table>`;
}

function cell(border: "bottom" | "none" = "bottom"): string {
  const line = border === "bottom" ? `border-bottom:1px solid ${BORDER};` : "";
  return `padding:6px 6px 6px 0;vertical-align:top;text-align:left;${line}word-break:break-word;overflow-wrap:anywhere;`;
}

/** Escapes text for HTML content and attribute values. */
export function esc(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}
