/**
 * What `haven audit [--since TIME] [-o json]` and `haven audit verify` print, as plain functions: the
 * command (src/cli) loads the config, builds an AuditLog per destination and prints these.
 */
import { parseDuration } from "../lib/duration";
import { ExitCode, HavenError } from "../lib/errors";
import { parseOperatorTime } from "../lib/local-time";
import type { AuditLog, AuditVerifyResult } from "./log";
import type { AuditRecord } from "./record";

/**
 * `--since`: a duration back from now (`90m`, `26h`, `7d`) or an ISO 8601 date or time
 * (`2026-11-01`, `2026-11-20T02:00:00Z`; without an offset, in `timezone`). Throws HavenError USAGE
 * otherwise.
 */
export function parseSince(text: string, timezone: string, now: Date = new Date()): Date {
  const ms = parseDuration(text);
  if (ms !== null) return new Date(now.getTime() - ms);
  const date = parseOperatorTime(text, timezone);
  if (date === null) {
    throw new HavenError("USAGE", `--since ${JSON.stringify(text)} is neither a duration nor a time`, {
      hint: `use a duration back from now such as 7d or 26h, or an ISO time such as 2026-11-20T02:00:00Z (without an offset, in the config's timezone, ${timezone})`,
    });
  }
  return date;
}

export const AUDIT_TABLE_HEADERS = [
  "TIME",
  "ACTION",
  "OUTCOME",
  "TARGET",
  "SNAPSHOT",
  "WHO",
  "HOST",
  "DETAIL",
];

/** One table row per record, for `printTable(AUDIT_TABLE_HEADERS, rows)`. */
export function auditTableRows(records: ReadonlyArray<AuditRecord>): string[][] {
  return records.map((record) => [
    record.at.replace(/\.\d+Z$/, "Z"),
    record.action,
    record.outcome,
    record.target ?? "",
    record.snapshot ?? "",
    record.actor.identity ? `${record.actor.identity} (${record.actor.user})` : record.actor.user,
    record.actor.host,
    summarizeDetail(record.detail),
  ]);
}

/** `-o json`: the records as stored, with the destination each came from. */
export function auditJson(
  destination: string,
  records: ReadonlyArray<AuditRecord>,
): Array<AuditRecord & { destination: string }> {
  return records.map((record) => ({ destination, ...record }));
}

/** `key=value` pairs of the detail's scalar members, cut to fit a table column. */
function summarizeDetail(detail: AuditRecord["detail"], width = 60): string {
  const parts = Object.entries(detail)
    .filter(([, value]) => value === null || typeof value !== "object")
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const line = parts.join(" ").replace(/\s+/g, " ");
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** The lines `haven audit verify` prints for one destination. */
export function verifyReportLines(destination: string, result: AuditVerifyResult): string[] {
  const lines: string[] = [];
  if (result.ok) {
    lines.push(
      result.records === 0
        ? `${destination}: the audit log is empty`
        : `${destination}: ${result.records} audit records, chain intact` +
            (result.head ? `, head #${result.head.count} ${result.head.sha256.slice(0, 12)}…` : ""),
    );
  } else {
    lines.push(
      `${destination}: audit log BROKEN: ${result.problems.length} problem(s) in ${result.records} readable records`,
    );
    for (const { key, problem } of result.problems) lines.push(`  ${key}: ${problem}`);
  }
  for (const { key, problem } of result.warnings) lines.push(`  warning: ${key}: ${problem}`);
  return lines;
}

/** Exit code of `haven audit verify`: 1 when any destination's chain has a problem, else 0. */
export function verifyExitCode(results: ReadonlyArray<AuditVerifyResult>): number {
  return results.every((result) => result.ok) ? ExitCode.OK : ExitCode.FAILED;
}

/**
 * `haven audit verify` over several destinations: verifies each log in turn and returns the lines to
 * print and the exit code (1 when any chain is broken).
 */
export async function verifyAuditLogs(
  logs: ReadonlyArray<{ destination: string; log: AuditLog }>,
): Promise<{ lines: string[]; exitCode: number; results: AuditVerifyResult[] }> {
  const results: AuditVerifyResult[] = [];
  const lines: string[] = [];
  for (const { destination, log } of logs) {
    const result = await log.verify();
    results.push(result);
    lines.push(...verifyReportLines(destination, result));
  }
  return { lines, exitCode: verifyExitCode(results), results };
}
