/**
 * Gathers the monthly report's data from the bucket: every configured target's manifests,
 * verification records and listings, judged for the month. Nothing comes from Redis, so a fresh
 * install pointed at the same bucket produces the same report for any past month.
 */
import { text } from "node:stream/consumers";
import { layout } from "../catalog/layout";
import type { HavenConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { havenVersion } from "../lib/version";
import type { StorageBackend } from "../storage/types";
import { monthBounds, monthsEndingWith, shiftMonth } from "./month";
import { readTarget } from "./read";
import { answersUntil } from "./schedule";
import { buildTargetReport } from "./target";
import { collectFormerTargets } from "./former";
import {
  REPORT_FORMAT_VERSION,
  TREND_MONTHS,
  type DayCounts,
  type MonthlyReport,
  type ReportIncident,
  type ReportIncidentInput,
  type ReportSummary,
  type TargetMonthReport,
} from "./types";

export interface CollectMonthOptions {
  /** Open incidents from the alert state, when available; the report says "unknown" otherwise. */
  openIncidents?: readonly ReportIncidentInput[];
  /** Objects read at once per destination. Default 16. */
  parallel?: number;
  /** When Haven first saw each target, from the alert state when available (see `TargetReportInput.firstSeen`). */
  firstSeen?: ReadonlyMap<string, Date>;
}

/**
 * The destination the report is stored on: the first of `defaults.destinations`, else the first
 * destination of the config.
 */
export function reportDestination(config: HavenConfig): string {
  const name = config.defaults.destinations?.[0] ?? Object.keys(config.destinations)[0];
  if (!name) {
    throw new HavenError("CONFIG", "the config has no destination to store the report on", {
      hint: "add a destination under destinations: in haven.yaml",
    });
  }
  return name;
}

/**
 * The report of `month` (`YYYY-MM`, in `config.timezone`) as of `now`. `storages` must hold a backend
 * for every destination a target uses (matched by `name`). A month not yet begun is a USAGE error; the
 * month in progress is reported up to `now` (`period.complete` false).
 */
export async function collectMonth(
  config: HavenConfig,
  month: string,
  storages: readonly StorageBackend[],
  now: Date,
  options: CollectMonthOptions = {},
): Promise<MonthlyReport> {
  const bounds = monthBounds(month, config.timezone);
  if (bounds.start.getTime() > now.getTime()) {
    throw new HavenError("USAGE", `month ${bounds.month} has not begun yet`, {
      hint: "report on a month that has started; without --month the previous month is reported",
    });
  }
  const complete = now.getTime() >= bounds.end.getTime();
  const end = complete ? bounds.end : now;
  const period = { month: bounds.month, start: bounds.start, end, complete };
  const recordsFrom = monthBounds(
    monthsEndingWith(bounds.month, TREND_MONTHS)[0] as string,
    config.timezone,
  ).start;

  const byName = new Map(storages.map((s) => [s.name, s]));
  const storageOf = (name: string): StorageBackend => {
    const storage = byName.get(name);
    if (!storage) {
      throw new HavenError("PERMANENT", `no storage backend was given for destination ${name}`, {
        hint: "pass a backend for every configured destination (runMonthlyReport creates them from the config)",
      });
    }
    return storage;
  };

  const problems: string[] = [];
  const previous = await readPreviousFigures(
    storageOf(reportDestination(config)),
    shiftMonth(bounds.month, -1),
    problems,
  );
  const incidents = options.openIncidents?.map(normaliseIncident) ?? null;

  const targets: TargetMonthReport[] = [];
  for (const target of Object.values(config.targets).sort((a, b) => a.name.localeCompare(b.name))) {
    // A backup of the month's last firing may start after it ended: read what answers it, so far.
    const answers = complete ? answersUntil(target, config.timezone, end) : null;
    const data = await readTarget(target.name, target.destinations.map(storageOf), {
      until: end,
      recordsFrom,
      ...(answers ? { answersUntil: new Date(Math.min(answers.getTime(), now.getTime())) } : {}),
      ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
    });
    targets.push(
      buildTargetReport({
        target,
        data,
        period,
        timezone: config.timezone,
        previousStoredBytes: previous.get(target.name) ?? null,
        incidents: incidents ?? [],
        ...(options.firstSeen?.has(target.name) ? { firstSeen: options.firstSeen.get(target.name) } : {}),
      }),
    );
  }

  const former = await collectFormerTargets({
    configured: new Set(Object.keys(config.targets)),
    storages,
    period: { start: bounds.start, end },
    ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
  });
  problems.push(...former.problems);
  const empty =
    former.targets.length === 0 &&
    targets.every(
      (t) =>
        Object.values(t.snapshotsByTier).every((n) => n === 0) &&
        t.restoreTests.length === 0 &&
        t.integrityChecks.run === 0,
    );
  return {
    formatVersion: REPORT_FORMAT_VERSION,
    kind: "haven-monthly-report",
    period: {
      month: bounds.month,
      timezone: config.timezone,
      start: bounds.start.toISOString(),
      end: end.toISOString(),
      complete,
    },
    generatedAt: now.toISOString(),
    haven: { version: havenVersion },
    configSha256: config.sha256,
    empty,
    summary: summarise(targets, incidents),
    backupsByDay: addDays(targets),
    targets,
    formerTargets: former.targets,
    incidents,
    problems,
  };
}

export function summarise(
  targets: readonly TargetMonthReport[],
  incidents: readonly ReportIncident[] | null,
): ReportSummary {
  const sum = (pick: (t: TargetMonthReport) => number) => targets.reduce((n, t) => n + pick(t), 0);
  return {
    targets: targets.length,
    verdicts: {
      met: targets.filter((t) => t.verdict === "met").length,
      "at-risk": targets.filter((t) => t.verdict === "at-risk").length,
      breached: targets.filter((t) => t.verdict === "breached").length,
    },
    backups: {
      scheduled: sum((t) => t.backups.scheduled),
      committed: sum((t) => t.backups.committed),
      partial: sum((t) => t.backups.partial),
      missed: sum((t) => t.backups.missed),
      manual: sum((t) => t.backups.manual),
    },
    restoreTests: {
      run: sum((t) => t.rto.tests),
      passed: sum((t) => t.rto.passed),
      failed: sum((t) => t.rto.failed),
      overRto: sum((t) => t.rto.overRto),
    },
    integrityChecks: {
      run: sum((t) => t.integrityChecks.run),
      passed: sum((t) => t.integrityChecks.passed),
      failed: sum((t) => t.integrityChecks.failed),
    },
    rpo: { met: targets.filter((t) => t.rpo.status === "met").length, of: targets.length },
    rto: { met: targets.filter((t) => t.rto.status === "met").length, of: targets.length },
    openIncidents: incidents === null ? null : incidents.length,
  };
}

/** Every target's daily counts, added up day by day (every target covers the same days). */
function addDays(targets: readonly TargetMonthReport[]): DayCounts[] {
  const days = new Map<string, DayCounts>();
  for (const t of targets) {
    for (const d of t.backupsByDay) {
      const sum = days.get(d.day) ?? { day: d.day, committed: 0, partial: 0, missed: 0 };
      sum.committed += d.committed;
      sum.partial += d.partial;
      sum.missed += d.missed;
      days.set(d.day, sum);
    }
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

function normaliseIncident(input: ReportIncidentInput): ReportIncident {
  return {
    key: input.key,
    type: input.event.type,
    target: input.event.target ?? null,
    since: typeof input.since === "string" ? input.since : input.since.toISOString(),
    summary: input.event.summary,
  };
}

/**
 * Storage used per target at the end of the previous month, as the previous month's stored report
 * recorded it (snapshots pruned since are no longer in the bucket to be counted). Empty when there
 * is no such report.
 */
async function readPreviousFigures(
  storage: StorageBackend,
  month: string,
  problems: string[],
): Promise<Map<string, number>> {
  const key = layout.report(month);
  let raw: string;
  try {
    raw = await text(await storage.get(key));
  } catch (error) {
    if (isHavenError(error, "NOT_FOUND")) return new Map();
    throw error;
  }
  try {
    const previous = JSON.parse(raw) as Partial<MonthlyReport>;
    const figures = new Map<string, number>();
    for (const t of previous.targets ?? []) {
      if (typeof t?.target === "string" && typeof t.storage?.bytes === "number")
        figures.set(t.target, t.storage.bytes);
    }
    return figures;
  } catch {
    problems.push(
      `the previous report ${storage.location}/${key} is not valid JSON; storage growth is recounted from the bucket`,
    );
    return new Map();
  }
}
