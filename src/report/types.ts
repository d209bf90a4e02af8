/**
 * The monthly report as data: what `collectMonth` returns, what the JSON attachment and the
 * `_reports/<yyyy>-<mm>.json` object hold, and what the HTML and text renderings read. Every figure
 * comes from the bucket (manifests, verification records, listings), so the report of any past month
 * can be produced again.
 *
 * Glossary
 * - period: the calendar month in the config's timezone, `[start, end)`; for the month in progress the
 *   end is `now` and `complete` is false.
 * - verdict: `met` (every promise of the month was kept), `at-risk` (kept, but something that protects it
 *   failed: a scheduled backup missed, an integrity check failed, no restore test run, a restore close to
 *   its RTO), `breached` (the RPO or the RTO was broken at some point of the month).
 * - recovery point: a snapshot whose manifest says `committed` or `partial` (both are restorable).
 * - restore test: a verification record of kind `restore`; its `totalMs` is a measured restore time.
 * - gap: the time between two consecutive recovery points; the month's start and end are edges, so a
 *   target with no snapshot at all has one gap as long as the month.
 *
 * Times are ISO 8601 strings (UTC) and durations milliseconds, so the JSON reads the same everywhere.
 */
import type { RetentionPolicy, ScheduledTier, Tier } from "../config/types";

/** Version of the report's JSON shape; bumped on incompatible changes. */
export const REPORT_FORMAT_VERSION = 1;

/** How many months (the report's included) the restore-time trend covers. */
export const TREND_MONTHS = 6;

export type Verdict = "met" | "at-risk" | "breached";

export interface ReportPeriod {
  /** `2026-10` */
  month: string;
  timezone: string;
  /** First instant of the month in the timezone. */
  start: string;
  /** End of the period (exclusive): the first instant of the next month, or `now` for a month in progress. */
  end: string;
  /** False while the month is still running: figures cover `[start, now)`. */
  complete: boolean;
}

/** An open incident as the alert state knows it (structurally an `Incident` of src/alerts). */
export interface ReportIncidentInput {
  key: string;
  since: Date | string;
  event: { type: string; target?: string; summary: string };
}

export interface ReportIncident {
  key: string;
  type: string;
  target: string | null;
  since: string;
  summary: string;
}

export interface TierCounts {
  /** Firings of the tier's cron pattern in the period. */
  scheduled: number;
  /** Snapshots of the tier started in the period with state `committed`. */
  committed: number;
  /** ... with state `partial` (usable, with warnings). */
  partial: number;
  /** Firings that no snapshot of the tier answered (started before the next firing). */
  missed: number;
}

export interface BackupFigures extends TierCounts {
  /** Snapshots of the `manual` tier (never scheduled, so never missed). */
  manual: number;
  byTier: Partial<Record<ScheduledTier, TierCounts>>;
}

/** Something that went wrong in the month, in words an IT manager reads. */
/** One local day of the period: snapshots started that day, and scheduled firings nothing answered. */
export interface DayCounts {
  /** `2026-10-09`, in the config's timezone. */
  day: string;
  committed: number;
  partial: number;
  missed: number;
}

export interface ReportFailure {
  at: string;
  kind:
    | "missed-backup"
    | "partial-backup"
    | "restore-test-failed"
    | "restore-over-rto"
    | "integrity-check-failed";
  snapshotId?: string;
  tier?: Tier;
  reason: string;
}

export interface RestoreTestEntry {
  snapshotId: string;
  startedAt: string;
  finishedAt: string;
  result: "passed" | "failed";
  totalMs: number;
  rtoMs: number;
  /** Passed and no longer than the RTO. */
  withinRto: boolean;
  /** Milliseconds per phase, as recorded (download, decrypt+decompress, load, checks, cleanup). */
  phases: Record<string, number>;
  /** Why it failed: the error, or the failed checks with expected and actual values. */
  reason?: string;
  /** The restore worked but its freshness guard failed (the target's newest snapshot was older than the RPO). */
  note?: string;
}

export interface TrendPoint {
  month: string;
  tests: number;
  passed: number;
  /** Slowest and median total time of the month's passed restore tests; null without one. */
  maxMs: number | null;
  medianMs: number | null;
}

export interface RpoGap {
  /** How old the data at hand was when the next recovery point became available (or at `to`). */
  ms: number;
  /** When the data at hand was captured: the start of the backup that holds it (or the month start). */
  from: string;
  /** When the next recovery point became available: the finish of its backup (or the period's end). */
  to: string;
  /**
   * `snapshot`: the gap starts at a recovery point; `month-start`: none is known before the month;
   * `first-seen`: the target was added during the period, and Haven first saw it then.
   */
  fromEdge: "snapshot" | "month-start" | "first-seen";
  /** `snapshot`: the gap ends at a recovery point; `month-end`: it runs to the end of the period. */
  toEdge: "snapshot" | "month-end";
}

export interface RpoFigures {
  status: Verdict;
  rpoMs: number;
  /** The largest gap that reaches into the period (from the recovery point before it, when one exists). */
  worstGap: RpoGap | null;
  /** Time of the period during which the newest recovery point was older than the RPO. */
  breachedMs: number;
  /**
   * Share of the period in compliance, 0 to 100, one decimal; for a target added during the period,
   * of the time since Haven first saw it.
   */
  compliancePercent: number;
  /** When the judged time began, for a target Haven first saw after the period's start. */
  judgedSince?: string;
  /** The newest good snapshot at the period's end; `ageMs` counts from its start (its data's time). */
  newestAtEnd: { id: string; startedAt: string; finishedAt: string; ageMs: number } | null;
}

export interface RtoFigures {
  status: Verdict;
  rtoMs: number;
  tests: number;
  passed: number;
  failed: number;
  overRto: number;
  /** The slowest passed restore test of the month. */
  slowestMs: number | null;
  /** The restore-time forecast of src/slo at the end of the period, when the history makes one. */
  forecastMs: number | null;
  /** One sentence, from src/slo's evaluation at the end of the period. */
  evaluation: string;
}

export interface StorageFigures {
  /** Sum of the sizes of the objects of the target's snapshots present at the end of the period. */
  bytes: number;
  snapshots: number;
  /** The same at the end of the previous month; null when unknown. */
  previousBytes: number | null;
  /** `stored-report`: from `_reports/<previous>.json`; `bucket`: recounted from what is present now. */
  previousFrom: "stored-report" | "bucket" | null;
  growthBytes: number | null;
  /** Growth in percent, one decimal; null when the previous figure is 0 or unknown. */
  growthPercent: number | null;
}

export interface CopyFigures {
  /**
   * Per configured destination: how many of the period's snapshots reached it (held now, or held
   * until retention pruned them there).
   */
  destinations: Array<{ name: string; present: number; missing: number; bytes: number }>;
  /** Snapshots of the period on every configured destination. */
  onEveryDestination: number;
  /** Ids of the period's snapshots missing somewhere (at most 20 listed). */
  incomplete: Array<{ id: string; missingOn: string[] }>;
}

export interface RetentionFigures {
  configured: RetentionPolicy;
  /** Recovery points present at the end of the period, on the target's first destination. */
  present: number;
  /** Per rule of the policy: the slots it asks for, and how many a snapshot present fills. */
  rules: Array<{ rule: string; configured: number | string; filled: number }>;
  /** Present snapshots no rule keeps (a prune is due or failing). */
  beyondPolicy: number;
}

export interface TargetMonthReport {
  target: string;
  type: string;
  verdict: Verdict;
  /** Why the verdict is not `met`, one sentence each. */
  reasons: string[];
  destinations: string[];
  /** Snapshots started in the period, by tier (a snapshot counts once per tier it serves). */
  snapshotsByTier: Record<Tier, number>;
  backups: BackupFigures;
  /** Every day of the period: the daily record that the backups ran. */
  backupsByDay: DayCounts[];
  rpo: RpoFigures;
  rto: RtoFigures;
  integrityChecks: { run: number; passed: number; failed: number };
  restoreTests: RestoreTestEntry[];
  failures: ReportFailure[];
  /** Restore time per month, oldest first, the report's month last. */
  trend: TrendPoint[];
  storage: StorageFigures;
  copies: CopyFigures;
  retention: RetentionFigures;
  openIncidents: ReportIncident[];
  /** Objects that could not be read or parsed: reported, never hidden. */
  problems: string[];
}

export interface ReportSummary {
  targets: number;
  verdicts: Record<Verdict, number>;
  backups: { scheduled: number; committed: number; partial: number; missed: number; manual: number };
  restoreTests: { run: number; passed: number; failed: number; overRto: number };
  integrityChecks: { run: number; passed: number; failed: number };
  /** Targets whose RPO / RTO held for the whole period. */
  rpo: { met: number; of: number };
  rto: { met: number; of: number };
  /** null when the alert state was not available to the report. */
  openIncidents: number | null;
}

export interface MonthlyReport {
  formatVersion: typeof REPORT_FORMAT_VERSION;
  kind: "haven-monthly-report";
  period: ReportPeriod;
  generatedAt: string;
  haven: { version: string };
  /** sha256 of the config file the report was made with. */
  configSha256: string;
  /** True when the period holds no snapshot and no verification of any target. */
  empty: boolean;
  summary: ReportSummary;
  /** `backupsByDay` of every target, added up. */
  backupsByDay: DayCounts[];
  targets: TargetMonthReport[];
  /**
   * Targets no longer in the config that were backed up or verified in the period (removed during
   * it, or still run by an older config somewhere), from the bucket alone.
   */
  formerTargets: FormerTargetReport[];
  /** null when unknown (see `summary.openIncidents`). */
  incidents: ReportIncident[] | null;
  problems: string[];
}

export interface FormerTargetReport {
  target: string;
  /** From its newest manifest. */
  type: string;
  /** The destinations that hold any snapshot of it. */
  destinations: string[];
  /** Snapshots started in the period, and how many of them are partial. */
  snapshots: number;
  partial: number;
  /** When the newest of them finished (ISO), null when none was taken in the period. */
  newestSnapshotAt: string | null;
  /** Its snapshots taken by the period's end (in any month) that the destinations still hold. */
  held: number;
  restoreTests: { run: number; failed: number };
  integrityChecks: { run: number; failed: number };
}
