/** The plain-text alternative of the report email: the same content as the HTML body, in lines. */
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
import type { MonthlyReport, TargetMonthReport } from "./types";

export interface RenderTextInput {
  report: MonthlyReport;
  evidence: Evidence;
  /** Charts attached to the HTML part: named, with their alt text, for readers of the text part. */
  charts?: ReadonlyArray<{ title: string; alt: string }>;
}

export function renderText(input: RenderTextInput): string {
  const { report, evidence } = input;
  const title = reportTitle(report);
  const lines: string[] = [title, "=".repeat(title.length), periodLine(report), ""];
  if (report.empty) lines.push(emptyNotice(report), "");

  lines.push("SUMMARY", ...pairs(summaryRows(report)), "");
  if (report.targets.length > 0) {
    lines.push("VERDICT PER TARGET");
    for (const t of report.targets) {
      lines.push(
        `  ${t.target}: ${VERDICT_LABEL[t.verdict]}${t.reasons.length > 0 ? ` (${t.reasons.join("; ")})` : ""}`,
      );
    }
    lines.push("");
  }
  for (const chart of input.charts ?? []) lines.push(`CHART: ${chart.title}`, `  ${chart.alt}`, "");
  for (const t of report.targets) lines.push(...targetLines(report, t), "");
  if (report.formerTargets.length > 0) {
    lines.push(
      FORMER_TARGETS_HEADING.toUpperCase(),
      `  ${FORMER_TARGETS_NOTE}`,
      ...report.formerTargets.map((t) => `  - ${formerTargetLine(report, t)}`),
      "",
    );
  }
  if (report.problems.length > 0) lines.push("PROBLEMS", ...report.problems.map((p) => `  - ${p}`), "");

  lines.push(
    "EVIDENCE",
    `  The data of this report is attached as ${evidence.jsonFileName}.`,
    `  sha256 of the JSON: ${evidence.sha256}`,
    evidence.storedAt
      ? `  Stored at: ${evidence.storedAt}`
      : "  Not stored in the bucket (the report was not sent).",
    `  Made by Haven ${report.haven.version} from the bucket alone; regenerate with: haven report --month ${report.period.month}`,
    "",
  );
  return lines.join("\n");
}

function targetLines(report: MonthlyReport, t: TargetMonthReport): string[] {
  const header = `${t.target} (${t.type}): ${VERDICT_LABEL[t.verdict]}`;
  const lines = [header, "-".repeat(header.length)];
  for (const reason of t.reasons) lines.push(`  ! ${reason}`);
  lines.push(...pairs(targetRows(report, t)));
  lines.push("  Restore tests:");
  if (t.restoreTests.length === 0) lines.push("    none this month");
  for (const r of t.restoreTests) {
    const result = r.result === "failed" ? "FAILED" : r.withinRto ? "passed" : "OVER RTO";
    lines.push(
      `    ${formatLocal(r.finishedAt, report.period.timezone)}  ${result}  ${formatDuration(r.totalMs)} / RTO ${formatDuration(r.rtoMs)}  snapshot ${r.snapshotId}`,
    );
    const phases = phasesText(r.phases);
    if (phases) lines.push(`      phases: ${phases}`);
    if (r.reason) lines.push(`      reason: ${r.reason}`);
  }
  lines.push(`  Restore time, last ${t.trend.length} months:`);
  for (const p of t.trend) {
    lines.push(
      `    ${monthTitle(p.month)}: ${p.passed}/${p.tests} passed, slowest ${formatMs(p.maxMs)}, median ${formatMs(p.medianMs)}`,
    );
  }
  if (t.failures.length > 0) {
    lines.push("  Failures:");
    for (const f of t.failures.slice(0, MAX_LISTED_FAILURES)) {
      const line = failureLine(report, f);
      lines.push(`    ${line.when}  ${line.what}`);
    }
    if (t.failures.length > MAX_LISTED_FAILURES) {
      lines.push(`    and ${t.failures.length - MAX_LISTED_FAILURES} more, listed in the JSON attachment`);
    }
  }
  return lines;
}

function pairs(rows: ReadonlyArray<[string, string]>): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}
