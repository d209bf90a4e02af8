/** Wording shared by the HTML and text renderings, so both say the same thing the same way. */
import { formatDuration } from "../lib/duration";
import { formatLocal, monthTitle, shiftMonth } from "./month";
import type {
  FormerTargetReport,
  MonthlyReport,
  ReportFailure,
  RpoGap,
  TargetMonthReport,
  Verdict,
} from "./types";

export const VERDICT_LABEL: Record<Verdict, string> = {
  met: "MET",
  "at-risk": "AT RISK",
  breached: "BREACHED",
};

/** At most this many failures are listed per target in the body; the JSON attachment has them all. */
export const MAX_LISTED_FAILURES = 10;

const FAILURE_LABEL: Record<ReportFailure["kind"], string> = {
  "missed-backup": "missed backup",
  "partial-backup": "partial backup",
  "restore-test-failed": "restore test failed",
  "restore-over-rto": "restore over RTO",
  "integrity-check-failed": "integrity check failed",
};

/** What a report body needs besides the report: the evidence trail of its JSON. */
export interface Evidence {
  /** sha256 (hex) of the JSON attachment's bytes. */
  sha256: string;
  jsonFileName: string;
  /** Where the JSON is stored (`<destination location>/_reports/<month>.json`), or null when it was not. */
  storedAt: string | null;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1);
  return `${bytes < 0 ? "-" : ""}${text} ${units[unit]}`;
}

export function formatMs(ms: number | null): string {
  return ms === null ? "–" : formatDuration(ms);
}

export function reportTitle(report: MonthlyReport): string {
  return `Haven monthly report: ${monthTitle(report.period.month)}`;
}

export function emailSubject(report: MonthlyReport): string {
  const v = report.summary.verdicts;
  if (report.empty) return `Haven report ${report.period.month}: no backups recorded`;
  return `Haven report ${report.period.month}: ${v.met} met, ${v["at-risk"]} at risk, ${v.breached} breached`;
}

/** `1 October 2026 – 31 October 2026 (Europe/Paris)`, or "... to now" for a month in progress. */
export function periodLine(report: MonthlyReport): string {
  const { period } = report;
  const end = period.complete
    ? "end of month"
    : `${formatLocal(period.end, period.timezone)} (month in progress)`;
  return `${formatLocal(period.start, period.timezone)} to ${end}, ${period.timezone}`;
}

/** The summary as label/value pairs, in reading order. */
export function summaryRows(report: MonthlyReport): Array<[string, string]> {
  const s = report.summary;
  const b = s.backups;
  return [
    ["Targets covered", String(s.targets)],
    [
      "Verdicts",
      `${s.verdicts.met} met · ${s.verdicts["at-risk"]} at risk · ${s.verdicts.breached} breached`,
    ],
    [
      "Backups",
      `${b.committed + b.partial} of ${b.scheduled} scheduled taken (${b.committed} committed, ${b.partial} partial); ${b.missed} missed; ${b.manual} manual`,
    ],
    [
      "Restore tests",
      `${s.restoreTests.passed} passed of ${s.restoreTests.run} run${s.restoreTests.overRto > 0 ? ` (${s.restoreTests.overRto} over the RTO)` : ""}`,
    ],
    ["Integrity checks", `${s.integrityChecks.passed} passed of ${s.integrityChecks.run} run`],
    ["RPO compliance", `${s.rpo.met} of ${s.rpo.of} targets met their RPO all month`],
    ["RTO compliance", `${s.rto.met} of ${s.rto.of} targets met their RTO`],
    [
      "Open incidents",
      s.openIncidents === null ? "unknown (alert state not available)" : String(s.openIncidents),
    ],
  ];
}

/** A target's key facts as label/value pairs. */
export function targetRows(report: MonthlyReport, t: TargetMonthReport): Array<[string, string]> {
  const tz = report.period.timezone;
  const tiers = t.snapshotsByTier;
  const rows: Array<[string, string]> = [
    [
      "Snapshots",
      `daily ${tiers.daily} · weekly ${tiers.weekly} · monthly ${tiers.monthly} · manual ${tiers.manual}`,
    ],
    [
      "Backups",
      `${t.backups.committed + t.backups.partial} of ${t.backups.scheduled} scheduled taken; ${t.backups.missed} missed${t.backups.partial > 0 ? `; ${t.backups.partial} partial` : ""}`,
    ],
    [
      "Newest at month end",
      t.rpo.newestAtEnd
        ? `${formatDuration(t.rpo.newestAtEnd.ageMs)} old (taken ${formatLocal(t.rpo.newestAtEnd.startedAt, tz)}, finished ${formatLocal(t.rpo.newestAtEnd.finishedAt, tz)})`
        : "no snapshot",
    ],
    [
      "Worst RPO gap",
      t.rpo.worstGap
        ? `${formatDuration(t.rpo.worstGap.ms)} (${gapStart(t.rpo.worstGap, tz)} to ${t.rpo.worstGap.toEdge === "month-end" ? "month end" : formatLocal(t.rpo.worstGap.to, tz)}); RPO ${formatDuration(t.rpo.rpoMs)}; in compliance ${t.rpo.compliancePercent} % of ${t.rpo.judgedSince ? `the time since ${formatLocal(t.rpo.judgedSince, tz)}, when Haven first saw it` : "the month"}`
        : "–",
    ],
    [
      "Restore tests",
      `${t.rto.passed} passed of ${t.rto.tests}; slowest ${formatMs(t.rto.slowestMs)}; RTO ${formatDuration(t.rto.rtoMs)}${t.rto.forecastMs === null ? "" : `; forecast ${formatDuration(t.rto.forecastMs)}`}`,
    ],
    ["Integrity checks", `${t.integrityChecks.passed} passed of ${t.integrityChecks.run}`],
    ["Storage used", storageText(report, t)],
    [
      "Copies",
      `${t.copies.onEveryDestination} of ${totalSnapshots(t)} on every destination; ${t.copies.destinations
        .map((d) => `${d.name} ${d.present}/${d.present + d.missing} (${formatBytes(d.bytes)})`)
        .join(", ")}`,
    ],
    [
      "Retention",
      `${t.retention.present} present; ${t.retention.rules.map((r) => `${r.rule} ${r.configured}: ${r.filled} kept`).join(", ") || "no rule (keep all)"}${t.retention.beyondPolicy > 0 ? `; ${t.retention.beyondPolicy} beyond policy (prune due)` : ""}`,
    ],
  ];
  if (t.openIncidents.length > 0)
    rows.push(["Open incidents", t.openIncidents.map((i) => i.summary).join("; ")]);
  if (t.problems.length > 0) rows.push(["Unreadable objects", t.problems.join("; ")]);
  return rows;
}

function totalSnapshots(t: TargetMonthReport): number {
  const first = t.copies.destinations[0];
  return first ? first.present + first.missing : 0;
}

function storageText(report: MonthlyReport, t: TargetMonthReport): string {
  const s = t.storage;
  const previous = monthTitle(shiftMonth(report.period.month, -1));
  if (s.growthBytes === null) return `${formatBytes(s.bytes)} in ${s.snapshots} snapshots`;
  const sign = s.growthBytes >= 0 ? "+" : "";
  const percent = s.growthPercent === null ? "" : `, ${sign}${s.growthPercent} %`;
  return `${formatBytes(s.bytes)} in ${s.snapshots} snapshots (${sign}${formatBytes(s.growthBytes)}${percent} since ${previous})`;
}

export function failureLine(report: MonthlyReport, f: ReportFailure): { when: string; what: string } {
  const tier = f.tier ? ` (${f.tier})` : "";
  const snapshot = f.snapshotId ? ` snapshot ${f.snapshotId}:` : "";
  return {
    when: formatLocal(f.at, report.period.timezone),
    what: `${FAILURE_LABEL[f.kind]}${tier}:${snapshot} ${f.reason}`,
  };
}

/** `download 2m 3s · load 10m` */
export function phasesText(phases: Record<string, number>): string {
  return Object.entries(phases)
    .map(([name, ms]) => `${name} ${formatDuration(ms)}`)
    .join(" · ");
}

export function emptyNotice(report: MonthlyReport): string {
  return `No snapshot and no verification of any target was recorded in ${monthTitle(report.period.month)}: the report is empty.`;
}

/** Where a gap begins: the month start, the target's first sighting, or the data of a snapshot. */
function gapStart(gap: RpoGap, tz: string): string {
  if (gap.fromEdge === "month-start") return "month start";
  const at = formatLocal(gap.from, tz);
  return gap.fromEdge === "first-seen" ? `${at}, when the target was added` : at;
}

export const FORMER_TARGETS_HEADING = "Targets no longer in the config";
export const FORMER_TARGETS_NOTE =
  "Backed up or verified in this period, but not in the config this report was made with, so not judged against a schedule, RPO or RTO.";

/** One line per former target: what the bucket shows it did in the period. */
export function formerTargetLine(report: MonthlyReport, t: FormerTargetReport): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const failed = (n: number) => (n === 0 ? "none failed" : `${n} failed`);
  const snapshots =
    t.snapshots === 0
      ? "no snapshot this month"
      : `${count(t.snapshots, "snapshot")} this month${t.partial > 0 ? ` (${t.partial} partial)` : ""}` +
        (t.newestSnapshotAt
          ? `, the newest finished ${formatLocal(t.newestSnapshotAt, report.period.timezone)}`
          : "");
  return (
    `${t.target} (${t.type}, on ${t.destinations.join(", ")}): ${snapshots}; ${t.held} taken by the month's end still held; ` +
    `${count(t.restoreTests.run, "restore test")} (${failed(t.restoreTests.failed)}); ` +
    `${count(t.integrityChecks.run, "integrity check")} (${failed(t.integrityChecks.failed)})`
  );
}
