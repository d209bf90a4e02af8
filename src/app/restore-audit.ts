/**
 * The audit records of one restore: `restore-start` before a byte is written, then `restore` with
 * its outcome. "Every restore is audited" holds as follows (ARCHITECTURE.md, "Decisions"):
 * - in place (over live data), the restore does not start until its start record is written;
 * - elsewhere (a scratch path, another database), it starts anyway, so a disaster-recovery operator
 *   whose credentials can only read the bucket still gets the data back;
 * - the outcome record is always attempted, and a restore whose outcome record is missing never
 *   reads as a plain success: the command says so and exits 3 (or with the restore's own failure).
 */
import type { Redis } from "ioredis";
import type { AuditActor, AuditEntry, AuditOutcome, JsonValue } from "../audit";
import type { HavenConfig } from "../config/types";
import { ExitCode, HavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { tryAudit, type AuditAttempt } from "./audit";

export interface RestoreAuditScope {
  config: HavenConfig;
  logger: Logger;
  actor: AuditActor;
  target: string;
  snapshot: string;
  /** Where the restore writes, as the operator reads it. */
  to: string;
  inPlace: boolean;
  /** What was restored and over what: approvals bind these, so the trail says them too. */
  include?: readonly string[];
  force?: boolean;
  /**
   * The lock that serializes each append with the trail's other writers (src/cli/audit-lock.ts);
   * asked at each append, since Redis may have gone away during a long restore.
   */
  auditLock?: () => Promise<{ redis?: Redis }>;
}

/**
 * Writes `restore-start`. In place, a failure throws REFUSED naming the audit folder and the fix,
 * and nothing has been written to the live data; elsewhere it is logged and the restore goes ahead.
 */
export async function auditRestoreStart(scope: RestoreAuditScope): Promise<void> {
  const attempt = await tryAudit(
    scope.config,
    scope.logger,
    entry(scope, "restore-start", "ok", {}),
    await lockOf(scope),
  );
  if (attempt.written) return;
  if (scope.inPlace) {
    throw new HavenError(
      "REFUSED",
      `restore of ${scope.target} over ${scope.to} not started: its audit record could not be written ` +
        `to ${attempt.where}: ${reason(attempt)}`,
      {
        hint:
          "check that this destination's credentials may write (PutObject) under its _audit/ prefix; if " +
          "the destination is lost, list another first in defaults.destinations (the trail is written to " +
          "the first), or restore elsewhere with --to and move the data into place (that restore runs, " +
          "reported as unaudited)",
      },
    );
  }
  scope.logger.warn(
    { target: scope.target, where: attempt.where, err: reason(attempt) },
    "restore start not audited; restoring elsewhere, not over live data, so it goes ahead",
  );
}

/**
 * Writes the restore's outcome record. Returns the error to report when it was not written (exit
 * 3, PARTIAL: the data was restored, the trail lacks it), undefined when it was.
 */
export async function auditRestoreEnd(
  scope: RestoreAuditScope,
  outcome: AuditOutcome,
  detail: Record<string, JsonValue>,
): Promise<HavenError | undefined> {
  const attempt = await tryAudit(
    scope.config,
    scope.logger,
    entry(scope, "restore", outcome, detail),
    await lockOf(scope),
  );
  if (attempt.written) return undefined;
  return new HavenError(
    "PARTIAL",
    `the audit record of this restore of ${scope.target} (outcome: ${outcome}) is missing: ` +
      `it could not be written to ${attempt.where}: ${reason(attempt)}`,
    {
      hint: "record the restore by hand in your incident log, and check that this destination's credentials may write under its _audit/ prefix",
      exitCode: ExitCode.BREACH_OR_PARTIAL,
    },
  );
}

function entry(
  scope: RestoreAuditScope,
  action: "restore" | "restore-start",
  outcome: AuditOutcome,
  detail: Record<string, JsonValue>,
): AuditEntry {
  return {
    action,
    outcome,
    actor: scope.actor,
    target: scope.target,
    snapshot: scope.snapshot,
    detail: {
      to: scope.to,
      inPlace: scope.inPlace,
      ...(scope.include !== undefined && scope.include.length > 0 ? { include: [...scope.include] } : {}),
      ...(scope.force === true ? { force: true } : {}),
      ...detail,
    },
  };
}

async function lockOf(scope: RestoreAuditScope): Promise<{ redis?: Redis }> {
  return (await scope.auditLock?.()) ?? {};
}

function reason(attempt: Extract<AuditAttempt, { written: false }>): string {
  return attempt.error instanceof Error ? attempt.error.message : String(attempt.error);
}
