/**
 * One target's month, from what `readTarget` found in the bucket: a pure function of its inputs
 * (HOUSE_STYLE practice 9). RPO and RTO judgements at the end of the period are src/slo's
 * (`evaluateRpo`, `evaluateRto`); what is month-scoped (gaps, missed firings, tests of the month) is
 * computed here.
 */
import type { Manifest } from "../catalog/manifest";
import type { TargetConfig, Tier } from "../config/types";
import { formatDuration } from "../lib/duration";
import { isSnapshotId, snapshotIdTime } from "../catalog/layout";
import { evaluateRpo, evaluateRto, restoreTestsOf, DEFAULT_SCHEDULE_GRACE_MS } from "../slo/evaluate";
import { snapshotPoint } from "../slo/inputs";
import { laterOf } from "../slo/rpo";
import type { VerificationPoint } from "../slo/types";
import { damagedSnapshots, failedOnlyFreshness, provesSnapshotDamaged } from "../verify/damage";
import type { VerificationRecord } from "../verify/record";
import { daysOf, localDay, monthBounds, monthsEndingWith } from "./month";
import type { TargetBucketData } from "./read";
import { analyseGaps } from "./rpo-gaps";
import { copyFigures, retentionFigures, storageFigures } from "./holdings";
import { matchFirings, SCHEDULED_TIERS, type Firing } from "./schedule";
import {
  TREND_MONTHS,
  type BackupFigures,
  type DayCounts,
  type ReportFailure,
  type ReportIncident,
  type RestoreTestEntry,
  type RpoFigures,
  type RtoFigures,
  type TargetMonthReport,
  type TierCounts,
  type TrendPoint,
  type Verdict,
} from "./types";

export interface TargetReportInput {
  target: TargetConfig;
  data: TargetBucketData;
  period: { month: string; start: Date; end: Date; complete: boolean };
  timezone: string;
  /** Storage used at the end of the previous month as the previous report recorded it, when stored. */
  previousStoredBytes?: number | null;
  incidents?: readonly ReportIncident[];
  /**
   * When Haven first saw the target (the watchdog records it), when known: a target added during the
   * month is judged from then, its earlier firings and time not held against it. Ignored when the
   * bucket holds a snapshot of it from before then.
   */
  firstSeen?: Date;
}

const SEVERITY: Record<Verdict, number> = { met: 0, "at-risk": 1, breached: 2 };

export function worstVerdict(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (SEVERITY[v] > SEVERITY[worst] ? v : worst), "met");
}

export function buildTargetReport(input: TargetReportInput): TargetMonthReport {
  const { target, data, period, timezone } = input;
  const inPeriod = (iso: string) => {
    const t = new Date(iso).getTime();
    return t >= period.start.getTime() && t < period.end.getTime();
  };
  const snapshots = data.manifests.filter((m) => inPeriod(m.startedAt));
  const uptoEnd = data.manifests.filter((m) => new Date(m.finishedAt).getTime() < period.end.getTime());
  const records = data.records.filter((r) => new Date(r.finishedAt).getTime() < period.end.getTime());
  const monthRecords = records.filter((r) => inPeriod(r.finishedAt));
  const restoreRecords = monthRecords.filter((r) => r.kind === "restore");
  const integrityRecords = monthRecords.filter((r) => r.kind === "integrity");

  const trackedSince = newTargetSince(input);
  const { backups, missed } = backupFigures(target, timezone, period, snapshots, trackedSince, data.late);
  const rpo = rpoFigures(target, period, uptoEnd, records, trackedSince);
  const restoreTests = restoreRecords.map((r) => restoreEntry(r, target.rto));
  const rto = rtoFigures(target, period, restoreTests, records, uptoEnd);
  const integrityChecks = {
    run: integrityRecords.length,
    passed: integrityRecords.filter((r) => r.result === "passed").length,
    failed: integrityRecords.filter((r) => r.result === "failed").length,
  };

  const failures: ReportFailure[] = [
    ...missed.map((f): ReportFailure => ({
      at: f.at.toISOString(),
      kind: "missed-backup",
      tier: f.tier,
      reason: `the scheduled ${f.tier} backup produced no snapshot`,
    })),
    ...snapshots
      .filter((m) => m.state === "partial")
      .map((m): ReportFailure => ({
        at: m.finishedAt,
        kind: "partial-backup",
        snapshotId: m.id,
        reason: `partial: ${m.warnings.length} warning(s)${m.warnings[0] ? `, e.g. ${m.warnings[0]}` : ""}`,
      })),
    ...restoreTests.flatMap((t): ReportFailure[] => {
      if (t.result === "failed") {
        return [
          {
            at: t.finishedAt,
            kind: "restore-test-failed",
            snapshotId: t.snapshotId,
            reason: t.reason ?? "failed",
          },
        ];
      }
      if (!t.withinRto) {
        return [
          {
            at: t.finishedAt,
            kind: "restore-over-rto",
            snapshotId: t.snapshotId,
            reason: `the restore took ${formatDuration(t.totalMs)}, over the RTO of ${formatDuration(t.rtoMs)}`,
          },
        ];
      }
      return [];
    }),
    ...integrityRecords
      .filter((r) => r.result === "failed")
      .map((r): ReportFailure => ({
        at: r.finishedAt,
        kind: "integrity-check-failed",
        snapshotId: r.snapshotId,
        reason: failureReason(r),
      })),
  ].sort((a, b) => a.at.localeCompare(b.at));

  const reasons: string[] = [];
  const verdicts: Verdict[] = [rpo.status, rto.status];
  if (rpo.status === "breached" && rpo.worstGap) {
    reasons.push(
      `RPO breached for ${formatDuration(rpo.breachedMs)}: the longest gap without a recovery point was ${formatDuration(rpo.worstGap.ms)} (RPO ${formatDuration(target.rpo)})`,
    );
  }
  if (rto.status !== "met") reasons.push(rto.evaluation);
  if (backups.missed > 0) {
    verdicts.push("at-risk");
    reasons.push(`${backups.missed} scheduled backup(s) missed`);
  }
  if (integrityChecks.failed > 0) {
    verdicts.push("at-risk");
    reasons.push(`${integrityChecks.failed} integrity check(s) failed`);
  }

  return {
    target: target.name,
    type: target.type,
    verdict: worstVerdict(verdicts),
    reasons,
    destinations: [...target.destinations],
    snapshotsByTier: tierCounts(snapshots),
    backups,
    backupsByDay: dayCounts(period, timezone, snapshots, missed),
    rpo,
    rto,
    integrityChecks,
    restoreTests,
    failures,
    trend: trend(period, timezone, records),
    storage: storageFigures(data, period, input.previousStoredBytes ?? null),
    copies: copyFigures(target, data, period, snapshots),
    retention: retentionFigures(target, data, period, timezone, records),
    openIncidents: (input.incidents ?? []).filter((i) => i.target === target.name),
    problems: [...data.problems],
  };
}

/**
 * `firstSeen`, unless the bucket shows the target older than that (a snapshot, held or pruned, from
 * before it): the alert state may have been lost and rebuilt since, and a real gap must not vanish.
 */
function newTargetSince({ firstSeen, data }: TargetReportInput): Date | undefined {
  if (!firstSeen) return undefined;
  const older = (time: Date) => time.getTime() < firstSeen.getTime();
  const heldBefore = data.manifests.some((m) => older(new Date(m.startedAt)));
  const prunedBefore = [...data.pruned.keys()].some((id) => isSnapshotId(id) && older(snapshotIdTime(id)));
  return heldBefore || prunedBefore ? undefined : firstSeen;
}

function tierCounts(snapshots: readonly Manifest[]): Record<Tier, number> {
  const counts: Record<Tier, number> = { daily: 0, weekly: 0, monthly: 0, manual: 0 };
  for (const m of snapshots) for (const tier of m.tiers) counts[tier] += 1;
  return counts;
}

function backupFigures(
  target: TargetConfig,
  timezone: string,
  period: TargetReportInput["period"],
  snapshots: readonly Manifest[],
  trackedSince: Date | undefined,
  late: readonly Manifest[] = [],
) {
  // While the month runs, a firing gets the same grace as in src/slo before it counts as missed.
  const until = period.complete ? period.end : new Date(period.end.getTime() - DEFAULT_SCHEDULE_GRACE_MS);
  // Before the target was added, nothing was scheduled for it.
  const from = laterOf(period.start, trackedSince);
  // Snapshots started after the period only answer its last firings; they are counted in their own.
  const started = [...snapshots, ...late]
    .map((m) => ({ id: m.id, startedAt: new Date(m.startedAt), tiers: m.tiers }))
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const firings = matchFirings(target, timezone, { start: from, end: period.end, until }, started);

  const byTier: BackupFigures["byTier"] = {};
  const total: TierCounts = { scheduled: 0, committed: 0, partial: 0, missed: 0 };
  for (const tier of SCHEDULED_TIERS) {
    const tierFirings = firings.filter((f) => f.tier === tier);
    const tierSnapshots = snapshots.filter((m) => m.tiers.includes(tier));
    if (!target.schedule[tier] && tierSnapshots.length === 0) continue;
    const counts: TierCounts = {
      scheduled: tierFirings.length,
      committed: tierSnapshots.filter((m) => m.state === "committed").length,
      partial: tierSnapshots.filter((m) => m.state === "partial").length,
      missed: tierFirings.filter((f) => f.answeredBy === null).length,
    };
    byTier[tier] = counts;
    total.scheduled += counts.scheduled;
    total.committed += counts.committed;
    total.partial += counts.partial;
    total.missed += counts.missed;
  }
  const manual = snapshots.filter((m) => m.tiers.includes("manual")).length;
  return {
    backups: { ...total, manual, byTier },
    missed: firings.filter((f) => f.answeredBy === null),
  };
}

function dayCounts(
  period: TargetReportInput["period"],
  timezone: string,
  snapshots: readonly Manifest[],
  missed: readonly Firing[],
): DayCounts[] {
  const days = new Map<string, DayCounts>(
    daysOf(period.start, period.end, timezone).map((day) => [
      day,
      { day, committed: 0, partial: 0, missed: 0 },
    ]),
  );
  for (const m of snapshots) {
    const counts = days.get(localDay(new Date(m.startedAt), timezone));
    if (counts) counts[m.state === "partial" ? "partial" : "committed"] += 1;
  }
  for (const f of missed) {
    const counts = days.get(localDay(f.at, timezone));
    if (counts) counts.missed += 1;
  }
  return [...days.values()];
}

function rpoFigures(
  target: TargetConfig,
  period: TargetReportInput["period"],
  uptoEnd: readonly Manifest[],
  records: readonly VerificationRecord[],
  trackedSince: Date | undefined,
): RpoFigures {
  // A snapshot proven damaged by the month's end was never a good backup: its time is not covered.
  const damaged = damagedSnapshots(
    records.map((r) => ({ ...r, finishedAt: new Date(r.finishedAt), damaged: provesSnapshotDamaged(r) })),
  );
  // Each recovery point holds the data of its backup's start and can be restored once it finished.
  const gaps = analyseGaps(
    uptoEnd
      .filter((m) => !damaged.has(m.id))
      .map((m) => ({ capturedAt: new Date(m.startedAt), availableAt: new Date(m.finishedAt) })),
    period.start,
    period.end,
    target.rpo,
    trackedSince ? { trackedSince } : {},
  );
  const atEnd = evaluateRpo({
    target: target.name,
    rpoMs: target.rpo,
    snapshots: uptoEnd.map(snapshotPoint),
    damaged,
    now: period.end,
    ...(trackedSince ? { trackedSince } : {}),
  });
  // The share of the time judged: a target added during the month is judged from then (see
  // analyseGaps), and the weeks before it existed are not time in compliance.
  const judgedFrom = laterOf(period.start, trackedSince).getTime();
  const length = Math.max(0, period.end.getTime() - judgedFrom);
  return {
    status: gaps.breachedMs > 0 ? "breached" : "met",
    rpoMs: target.rpo,
    worstGap: gaps.worstGap,
    breachedMs: gaps.breachedMs,
    compliancePercent: length > 0 ? Math.round((1000 * (length - gaps.breachedMs)) / length) / 10 : 100,
    ...(judgedFrom > period.start.getTime() ? { judgedSince: new Date(judgedFrom).toISOString() } : {}),
    newestAtEnd:
      atEnd.newest && atEnd.newestAgeMs !== null
        ? {
            id: atEnd.newest.id,
            startedAt: atEnd.newest.startedAt.toISOString(),
            finishedAt: atEnd.newest.finishedAt.toISOString(),
            ageMs: atEnd.newestAgeMs,
          }
        : null,
  };
}

/**
 * Whether the restore itself worked: passed, or failed only its freshness guard (a stale target is
 * the RPO's finding, and its restore time is a real measurement).
 */
function restoreWorked(record: VerificationRecord): boolean {
  return record.result === "passed" || failedOnlyFreshness(record);
}

function restoreEntry(record: VerificationRecord, rtoMs: number): RestoreTestEntry {
  const worked = restoreWorked(record);
  const entry: RestoreTestEntry = {
    snapshotId: record.snapshotId,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    result: worked ? "passed" : "failed",
    totalMs: record.totalMs,
    rtoMs,
    withinRto: worked && record.totalMs <= rtoMs,
    phases: record.phases,
  };
  if (!worked) entry.reason = failureReason(record);
  else if (record.result === "failed") entry.note = `the target was stale: ${failureReason(record)}`;
  return entry;
}

/** The error, else the failed checks with expected and actual values. */
function failureReason(record: VerificationRecord): string {
  if (record.error) return `${record.error.code}: ${record.error.message}`;
  const failed = record.checks.filter((c) => !c.ok);
  if (failed.length === 0) return "failed (no reason recorded)";
  return failed
    .map((c) => {
      const parts = [c.name];
      if (c.expected !== undefined) parts.push(`expected ${JSON.stringify(c.expected)}`);
      if (c.actual !== undefined) parts.push(`actual ${JSON.stringify(c.actual)}`);
      if (c.detail) parts.push(c.detail);
      return parts.join(", ");
    })
    .join("; ");
}

function verificationPoint(record: VerificationRecord, plainSizes: Map<string, number>): VerificationPoint {
  const size = plainSizes.get(record.snapshotId);
  return {
    kind: record.kind,
    snapshotId: record.snapshotId,
    finishedAt: new Date(record.finishedAt),
    totalMs: record.totalMs,
    result: record.result,
    stale: failedOnlyFreshness(record),
    ...(size === undefined ? {} : { plainSize: size }),
  };
}

function rtoFigures(
  target: TargetConfig,
  period: TargetReportInput["period"],
  tests: readonly RestoreTestEntry[],
  records: readonly VerificationRecord[],
  uptoEnd: readonly Manifest[],
): RtoFigures {
  const points = uptoEnd.map(snapshotPoint);
  const sizes = new Map(points.map((p) => [p.id, p.plainSize ?? 0]));
  const evaluation = evaluateRto({
    target: target.name,
    rtoMs: target.rto,
    restoreTests: restoreTestsOf(records.map((r) => verificationPoint(r, sizes))),
    snapshots: points,
    now: period.end,
  });
  const passed = tests.filter((t) => t.result === "passed");
  const failed = tests.length - passed.length;
  const overRto = passed.filter((t) => !t.withinRto).length;

  let status: Verdict;
  let sentence: string;
  if (failed > 0 || overRto > 0) {
    status = "breached";
    sentence = `RTO breached: ${failed} restore test(s) failed and ${overRto} took longer than the RTO of ${formatDuration(target.rto)}`;
  } else if (tests.length === 0) {
    status = evaluation.status === "breached" ? "breached" : "at-risk";
    sentence = `no restore test this month: ${evaluation.reason}`;
  } else if (evaluation.status === "at-risk" || evaluation.status === "breached") {
    status = evaluation.status;
    sentence = `RTO ${evaluation.status}: ${evaluation.reason}`;
  } else {
    status = "met";
    sentence = evaluation.reason;
  }
  return {
    status,
    rtoMs: target.rto,
    tests: tests.length,
    passed: passed.length,
    failed,
    overRto,
    slowestMs: passed.length > 0 ? Math.max(...passed.map((t) => t.totalMs)) : null,
    forecastMs: evaluation.forecastMs,
    evaluation: sentence,
  };
}

function trend(
  period: TargetReportInput["period"],
  timezone: string,
  records: readonly VerificationRecord[],
): TrendPoint[] {
  return monthsEndingWith(period.month, TREND_MONTHS).map((month) => {
    const bounds = monthBounds(month, timezone);
    const end = Math.min(bounds.end.getTime(), period.end.getTime());
    const tests = records.filter((r) => {
      const t = new Date(r.finishedAt).getTime();
      return r.kind === "restore" && t >= bounds.start.getTime() && t < end;
    });
    const times = tests
      .filter(restoreWorked)
      .map((r) => r.totalMs)
      .sort((a, b) => a - b);
    return {
      month,
      tests: tests.length,
      passed: times.length,
      maxMs: times.at(-1) ?? null,
      medianMs: times.length > 0 ? median(times) : null,
    };
  });
}

function median(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}
