/**
 * Where the audit trail lives and how commands write to it. The trail is in the audit destination
 * (the first of `defaults.destinations`, else the first destination): the bucket is the record.
 */
import type { Redis } from "ioredis";
import type { Notice } from "../alerts";
import { AuditLog, collectSecrets, type AuditActor, type AuditEntry, type AuditRecord } from "../audit";
import { layout } from "../catalog/layout";
import type { PruneReport } from "../prune";
import type { HavenConfig, NamedDestination } from "../config/types";
import type { Logger } from "../lib/logger";
import type { BreakGlassEvent } from "../operators";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";

export function auditDestination(config: HavenConfig): NamedDestination {
  const name = config.defaults.destinations?.[0] ?? Object.keys(config.destinations)[0];
  const destination = name === undefined ? undefined : config.destinations[name];
  if (!destination) throw new Error("the config has no destination for the audit trail");
  return destination;
}

export interface AuditHandle {
  log: AuditLog;
  storage: StorageBackend;
  close(): Promise<void>;
}

export function openAudit(config: HavenConfig, logger: Logger, redis?: Redis): AuditHandle {
  const storage = createStorage(auditDestination(config), logger);
  const log = new AuditLog(storage, {
    logger,
    secrets: collectSecrets(config),
    ...(redis ? { redis, lockPrefix: config.queuePrefix } : {}),
  });
  return { log, storage, close: () => storage.close() };
}

/** What became of one append: the record, or the error and the folder it could not be written to. */
export type AuditAttempt =
  { written: true; record: AuditRecord } | { written: false; error: unknown; where: string };

/** Appends one record and reports whether it was written; callers decide what a failure means. */
export async function tryAudit(
  config: HavenConfig,
  logger: Logger,
  entry: AuditEntry,
  options: { redis?: Redis } = {},
): Promise<AuditAttempt> {
  const handle = openAudit(config, logger, options.redis);
  try {
    return { written: true, record: await handle.log.append(entry) };
  } catch (error) {
    const where = `${layout.auditPrefix()} on destination ${handle.storage.name} (${handle.storage.location})`;
    return { written: false, error, where };
  } finally {
    await handle.close();
  }
}

/**
 * Appends one record, best effort: a failure is logged loudly and the caller carries on. For
 * actions that change no data (backup, verify, key check, config reload), whose refusal in a
 * disaster would cost more than a missing record. Restores use `tryAudit` (restore-audit.ts).
 */
export async function audit(
  config: HavenConfig,
  logger: Logger,
  entry: AuditEntry,
  options: { redis?: Redis } = {},
): Promise<AuditRecord | null> {
  const attempt = await tryAudit(config, logger, entry, options);
  if (attempt.written) return attempt.record;
  logger.error(
    {
      err: attempt.error instanceof Error ? attempt.error.message : String(attempt.error),
      action: entry.action,
      where: attempt.where,
    },
    "audit record not written",
  );
  return null;
}

/** A break-glass is alerted at once, to every channel, outside the incident machinery. */
export async function alertBreakGlass(
  config: HavenConfig,
  event: BreakGlassEvent,
  logger: Logger,
): Promise<void> {
  const { createChannels, deliver } = await import("../alerts");
  const channels = createChannels(config.alerts, { logger });
  if (channels.length === 0) {
    logger.warn("break-glass restore with no alert channel configured");
    return;
  }
  const at = new Date(event.at);
  const notice: Notice = {
    kind: "opened",
    key: `break-glass:${event.target}`,
    event: {
      type: "break-glass",
      target: event.target,
      since: event.at,
      summary: `${event.operator} restores ${event.target}${event.snapshot ? ` snapshot ${event.snapshot}` : ""} over ${event.to ?? "its original location"} without approval: ${event.reason}`,
      details: { operator: event.operator, host: event.actor.host, reason: event.reason },
    },
    since: at,
    openedAt: at,
    at: new Date(),
  };
  try {
    await deliver(channels, notice, { logger, attempts: 3 });
  } finally {
    await Promise.all(channels.map((c) => c.close().catch(() => undefined)));
  }
}

/** One `prune-delete` record per removed snapshot, then a `prune` summary (dry runs write nothing). */
export async function auditPrune(
  config: HavenConfig,
  logger: Logger,
  report: PruneReport,
  actor: AuditActor,
  redis?: Redis,
): Promise<void> {
  if (report.dryRun) return;
  const handle = openAudit(config, logger, redis);
  try {
    for (const result of report.results) {
      for (const snapshot of result.removed) {
        await handle.log.append({
          action: "prune-delete",
          outcome: "ok",
          actor,
          target: result.target,
          snapshot,
          detail: { destination: result.destination },
        });
      }
    }
    await handle.log.append({
      action: "prune",
      outcome: report.results.some((r) => r.error || r.failed.length > 0) ? "failed" : "ok",
      actor,
      detail: {
        removed: report.results.reduce((n, r) => n + r.removed.length, 0),
        refused: report.results
          .filter((r) => r.error?.code === "REFUSED")
          .map((r) => `${r.target} on ${r.destination}`),
      },
    });
  } catch (error) {
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      "prune audit records not written",
    );
  } finally {
    await handle.close();
  }
}
