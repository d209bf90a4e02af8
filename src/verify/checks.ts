/**
 * The checks of a verification as pure functions: each turns what was expected (the manifest's stats,
 * the target's YAML checks, the RPO) and what was found (in the scratch place, on the clock) into a
 * `CheckResult` with both values, so the record is evidence an operator can read without Haven.
 *
 * Glossary:
 * - built-in check: derived from the manifest alone (row counts per table, Redis keys, files).
 * - YAML check: one entry of the target's `verify.checks` (`sql` or `file`).
 * - freshness: the data of the target's newest snapshot is at most `rpo` old, counted as the RPO counts
 *   it: from when its backup started.
 */
import type { CheckConfig } from "../config/types";
import { formatDuration } from "../lib/duration";
import { recoveryPointOf } from "../slo/rpo";
import type { CheckResult } from "./record";

/** Mismatches named in a summarising check's detail (the rest are counted). */
export const MISMATCHES_SHOWN = 5;

export interface SnapshotTimes {
  id: string;
  /** When its backup began (the manifest's); without it, the time in the id. */
  startedAt?: string;
  finishedAt: string;
}

/**
 * Freshness guard: fails when the data of the target's newest snapshot is more than `rpoMs` old at
 * `now`, so yesterday's good backup cannot hide today's failed one. The age counts from the recovery
 * point, as the RPO and its alert count it (`recoveryPointOf`): a long backup's data is as old as its
 * start, and a guard measuring from the finish passed a snapshot the watchdog already called breached.
 */
export function freshnessCheck(newest: SnapshotTimes, rpoMs: number, now: Date): CheckResult {
  const recoveryPoint = recoveryPointOf({
    id: newest.id,
    finishedAt: new Date(newest.finishedAt),
    ...(newest.startedAt === undefined ? {} : { startedAt: new Date(newest.startedAt) }),
  });
  const ageMs = Math.max(0, now.getTime() - recoveryPoint.getTime());
  const ok = ageMs <= rpoMs;
  return {
    name: "freshness",
    ok,
    expected: { maxAgeMs: rpoMs, maxAge: formatDuration(rpoMs) },
    actual: {
      snapshotId: newest.id,
      startedAt: recoveryPoint.toISOString(),
      finishedAt: newest.finishedAt,
      ageMs,
      age: formatDuration(ageMs),
    },
    ...(ok
      ? {}
      : {
          detail:
            `the newest snapshot ${newest.id} holds data ${formatDuration(ageMs)} old (its backup started at ` +
            `${recoveryPoint.toISOString()}), older than the RPO of ${formatDuration(rpoMs)}: backups are ` +
            `failing or not running; check the backup logs and haven status`,
        }),
  };
}

/** Row counts recorded at backup time (`manifest.stats.tables`), or undefined when none were. */
export function recordedTables(stats: Record<string, unknown>): Record<string, number> | undefined {
  const tables = stats.tables;
  if (tables === null || typeof tables !== "object") return undefined;
  const out: Record<string, number> = {};
  for (const [name, count] of Object.entries(tables)) if (typeof count === "number") out[name] = count;
  return out;
}

/** A number recorded in the manifest's stats (`keys`, `files`), or undefined. */
export function recordedNumber(stats: Record<string, unknown>, key: string): number | undefined {
  const value = stats[key];
  return typeof value === "number" ? value : undefined;
}

/** True when the manifest's row counts are planner estimates (`rowCounts: estimate`), not counts. */
export function rowCountsEstimated(stats: Record<string, unknown>): boolean {
  return stats.rowCounts === "estimate";
}

/**
 * One check per table: the restored row count (null: the table is missing) against the recorded one.
 * A planner estimate is often off (stale statistics, -1 for a table never analysed), so a restored
 * count that differs from it proves nothing; only a missing table fails then.
 */
export function rowCountChecks(
  expected: Record<string, number>,
  actual: Record<string, number | null>,
  options: { estimated?: boolean } = {},
): CheckResult[] {
  return Object.entries(expected).map(([table, count]) => {
    const found = actual[table] ?? null;
    const ok = options.estimated ? found !== null : found === count;
    return {
      name: `rows in ${table}`,
      ok,
      expected: count,
      actual: found,
      ...(found === null
        ? { detail: "the table is missing from the restored database" }
        : options.estimated && found !== count
          ? { detail: "the recorded count is a planner estimate: only the table's presence is checked" }
          : {}),
    };
  });
}

/** A count compared for equality (Redis keys, restored files). */
export function countCheck(
  name: string,
  expected: number,
  actual: number,
  detail?: string,
  options: { tolerance?: number } = {},
): CheckResult {
  const ok = Math.abs(expected - actual) <= (options.tolerance ?? 0);
  return { name, ok, expected, actual, ...(expected !== actual && detail ? { detail } : {}) };
}

export type SqlCheck = Extract<CheckConfig, { sql: string }>;
export type FileCheck = Extract<CheckConfig, { file: string }>;

export function isSqlCheck(check: CheckConfig): check is SqlCheck {
  return "sql" in check;
}

/**
 * A YAML `sql` check: `atLeast` compares the first column of the first row as a number, `equals`
 * as a number when given a number, else as text. A check with neither passes when the query returns
 * a row. Both may be given; both must hold.
 */
export function sqlCheckResult(check: SqlCheck, value: unknown, hasRow: boolean): CheckResult {
  const name = `sql: ${check.sql}`;
  const expected: Record<string, unknown> = {};
  const failures: string[] = [];
  const asNumber = toNumber(value);
  if (check.atLeast !== undefined) {
    expected.atLeast = check.atLeast;
    if (asNumber === undefined || asNumber < check.atLeast) failures.push(`less than ${check.atLeast}`);
  }
  if (check.equals !== undefined) {
    expected.equals = check.equals;
    const same =
      typeof check.equals === "number" ? asNumber === check.equals : textOf(value) === check.equals;
    if (!same) failures.push(`not equal to ${JSON.stringify(check.equals)}`);
  }
  if (!hasRow) {
    return { name, ok: false, expected, actual: null, detail: "the query returned no row" };
  }
  if (Object.keys(expected).length === 0) expected.row = true;
  const actual = asNumber ?? (value === null || value === undefined ? null : textOf(value));
  return {
    name,
    ok: failures.length === 0,
    expected,
    actual,
    ...(failures.length > 0
      ? { detail: `the first column of the first row is ${failures.join(" and ")}` }
      : {}),
  };
}

/** A YAML `file` check from what was found on disk (null: missing; `regular` false: not a file). */
export function fileCheckResult(
  check: FileCheck,
  found: { size: number; regular: boolean } | null,
): CheckResult {
  const name = `file: ${check.file}`;
  const expected = check.minSize === undefined ? { exists: true } : { exists: true, minSize: check.minSize };
  if (found === null) return { name, ok: false, expected, actual: { exists: false }, detail: "missing" };
  if (!found.regular) {
    return {
      name,
      ok: false,
      expected,
      actual: { exists: true, regular: false },
      detail: "not a regular file",
    };
  }
  const ok = check.minSize === undefined || found.size >= check.minSize;
  return {
    name,
    ok,
    expected,
    actual: { exists: true, size: found.size },
    ...(ok ? {} : { detail: `${found.size} bytes, fewer than ${check.minSize}` }),
  };
}

/** A check that cannot run in this kind of scratch place (a `sql` check on a files target). */
export function notApplicable(check: CheckConfig, targetType: string): CheckResult {
  const name = isSqlCheck(check) ? `sql: ${check.sql}` : `file: ${check.file}`;
  const kind = isSqlCheck(check) ? "sql checks need a SQL database" : "file checks need a files target";
  return {
    name,
    ok: false,
    ran: false,
    detail: `${kind}; a ${targetType} target cannot run it: remove it from verify.checks`,
  };
}

/** A YAML check that threw (bad SQL, permissions): the error is the finding. */
export function failedToRun(check: CheckConfig, error: unknown): CheckResult {
  const name = isSqlCheck(check) ? `sql: ${check.sql}` : `file: ${check.file}`;
  return {
    name,
    ok: false,
    ran: false,
    detail: `could not run: ${error instanceof Error ? error.message : String(error)}`,
  };
}

export interface FileMismatch {
  path: string;
  reason: string;
}

/** One check summarising every restored file against the snapshot's index, naming the first few. */
export function fileTreeCheck(
  checked: number,
  mismatches: readonly FileMismatch[],
  total: number,
): CheckResult {
  const ok = total === 0;
  const shown = mismatches.slice(0, MISMATCHES_SHOWN).map((m) => `${m.path}: ${m.reason}`);
  const more = total > shown.length ? `; and ${total - shown.length} more` : "";
  return {
    name: "files: size and sha256 against the index",
    ok,
    expected: { mismatches: 0 },
    actual: { checked, mismatches: total, first: mismatches.slice(0, MISMATCHES_SHOWN) },
    ...(ok ? {} : { detail: `${shown.join("; ")}${more}` }),
  };
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function textOf(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return `${value}`;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return JSON.stringify(value) ?? "";
}
