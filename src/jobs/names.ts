/**
 * Every name the jobs layer puts into Redis: queue names, job names, job scheduler ids and the
 * default key prefix. Kept in one module so that `haven plan`, the workers and the schedulers can
 * never disagree on a spelling.
 *
 * Glossary (BullMQ terms as Haven uses them):
 * - **queue**: a named list of jobs in Redis; Haven has four (`backup`, `verify`, `maintenance`,
 *   `report`), all under one key prefix (default `haven`, so keys look like `haven:backup:...`).
 * - **job**: one request to do one thing (back up `orders-db` for the `daily` tier); a job may be
 *   tried several times (attempts) before it completes or fails for good.
 * - **job scheduler**: a Redis-stored job factory with a stable id and a cron pattern; BullMQ
 *   creates one job per scheduled time, with a job id derived from the scheduler id and that time,
 *   so any number of `serve` processes can share the schedulers without double-firing.
 */
import type { ScheduledTier } from "../config/types";
import type { BackupRequest } from "../engine/types";

/** Key prefix of every Haven queue in Redis (BullMQ's `prefix` option). */
export const DEFAULT_PREFIX = "haven";

export const QUEUE_NAMES = {
  backup: "backup",
  verify: "verify",
  maintenance: "maintenance",
  report: "report",
} as const;

export type QueueKind = keyof typeof QUEUE_NAMES;

/** The queues in a stable order, for loops that must visit each one (reconcile, close). */
export const QUEUE_KINDS: readonly QueueKind[] = ["backup", "verify", "maintenance", "report"];

/** Data of a `backup` job: the engine's request as is. */
export type BackupJobData = BackupRequest;

/** Data of a `verify` job. Without `snapshotId` the verifier picks (the newest, or per `randomWithin`). */
export interface VerifyJobData {
  target: string;
  snapshotId?: string;
  requestedBy: string;
}

/** Data of a `maintenance` job: `cleanup` removes leftovers of failed runs, `watchdog` checks RPOs. */
export interface MaintenanceJobData {
  kind: "cleanup" | "watchdog";
  requestedBy: string;
}

/** Data of a `report` job: the monthly report covers the month before the one the job was scheduled in. */
export interface ReportJobData {
  kind: "monthly";
  requestedBy: string;
}

export interface JobDataByQueue {
  backup: BackupJobData;
  verify: VerifyJobData;
  maintenance: MaintenanceJobData;
  report: ReportJobData;
}

/** Who asked, in job data, when a job scheduler created the job. */
export const SCHEDULER_REQUESTER = "scheduler";

/**
 * Stable job scheduler ids. Each starts with its queue's name and a colon: that prefix is how
 * reconcile recognises the schedulers it owns (and may remove) in a queue.
 */
export const schedulerIds = {
  backup: (target: string, tier: ScheduledTier) => `backup:${target}:${tier}`,
  verify: (target: string) => `verify:${target}`,
  cleanup: "maintenance:cleanup",
  watchdog: "maintenance:watchdog",
  monthlyReport: "report:monthly",
} as const;

/** True when a job scheduler id in `queue` follows Haven's naming, i.e. reconcile owns it. */
export function isHavenSchedulerId(queue: QueueKind, id: string): boolean {
  return id.startsWith(`${QUEUE_NAMES[queue]}:`);
}
