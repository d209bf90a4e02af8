/**
 * Job schedulers from the config, applied at every start (HOUSE_STYLE practice 11): each schedule has
 * a stable id, so applying the same config twice changes nothing, a changed cron expression updates
 * the scheduler in place, and a schedule that left the config is removed. The schedulers live in
 * Redis, so any number of `serve` processes may reconcile and run workers: BullMQ makes one job per
 * scheduled time whoever asks.
 *
 * `planSchedules` computes the changes without applying them (`haven plan`); `reconcileSchedules`
 * computes and applies them.
 */
import { isDeepStrictEqual } from "node:util";
import type { HavenConfig, ScheduledTier } from "../config/types";
import { HavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import {
  QUEUE_KINDS,
  SCHEDULER_REQUESTER,
  isHavenSchedulerId,
  schedulerIds,
  type JobDataByQueue,
  type QueueKind,
} from "./names";
import { jobOptions, watchdogJobOptions, type HavenJobOptions } from "./policy";
import { queueOf, type HavenQueues } from "./queues";

/** Hourly: removes leftovers of failed runs once `workers.staleUploadGrace` has passed. */
export const CLEANUP_PATTERN = "0 * * * *";
/** Every minute: checks RPOs and runs that stopped reporting. */
export const WATCHDOG_PATTERN = "* * * * *";

const SCHEDULED_TIERS: readonly ScheduledTier[] = ["daily", "weekly", "monthly"];

/** One job scheduler as the config wants it. */
export type ScheduleSpec = {
  [K in QueueKind]: {
    queue: K;
    /** Stable id, e.g. `backup:orders-db:daily`; also the name of the jobs it creates. */
    id: string;
    /** Cron expression (5 fields, or 6 with seconds first). */
    pattern: string;
    /** IANA timezone the pattern is read in (`timezone:` in the config). */
    tz: string;
    data: JobDataByQueue[K];
    opts: HavenJobOptions;
  };
}[QueueKind];

/** One job scheduler as found in Redis. */
export interface ExistingSchedule {
  queue: QueueKind;
  id: string;
  pattern?: string;
  every?: number;
  tz?: string;
  /** The job name the scheduler gives its jobs. */
  name: string;
  data?: unknown;
  opts?: unknown;
  /** When its next job is due (epoch ms), if known. */
  next?: number;
}

export interface ScheduleUpdate {
  spec: ScheduleSpec;
  current: ExistingSchedule;
  /** What differs, one line each, e.g. `pattern: "0 2 * * *" → "0 3 * * *"`. */
  changes: string[];
}

export interface SchedulePlan {
  create: ScheduleSpec[];
  update: ScheduleUpdate[];
  /** Haven's schedulers (by id prefix) that the config no longer has. */
  remove: ExistingSchedule[];
  unchanged: ScheduleSpec[];
}

/** Every job scheduler the config asks for, in a stable order (queue, then id; so are plans). */
export function desiredSchedules(config: HavenConfig): ScheduleSpec[] {
  const tz = config.timezone;
  const specs: ScheduleSpec[] = [];
  for (const target of Object.values(config.targets)) {
    for (const tier of SCHEDULED_TIERS) {
      const pattern = target.schedule[tier];
      if (pattern === undefined) continue;
      specs.push({
        queue: "backup",
        id: schedulerIds.backup(target.name, tier),
        pattern,
        tz,
        data: { target: target.name, tier, requestedBy: SCHEDULER_REQUESTER },
        opts: jobOptions("backup"),
      });
    }
    specs.push({
      queue: "verify",
      id: schedulerIds.verify(target.name),
      pattern: target.verify.schedule,
      tz,
      data: { target: target.name, requestedBy: SCHEDULER_REQUESTER },
      opts: jobOptions("verify"),
    });
  }
  specs.push(
    {
      queue: "maintenance",
      id: schedulerIds.cleanup,
      pattern: CLEANUP_PATTERN,
      tz,
      data: { kind: "cleanup", requestedBy: SCHEDULER_REQUESTER },
      opts: jobOptions("maintenance"),
    },
    {
      queue: "maintenance",
      id: schedulerIds.watchdog,
      pattern: WATCHDOG_PATTERN,
      tz,
      data: { kind: "watchdog", requestedBy: SCHEDULER_REQUESTER },
      opts: watchdogJobOptions(),
    },
  );
  const monthly = config.reports?.monthly;
  if (monthly) {
    specs.push({
      queue: "report",
      id: schedulerIds.monthlyReport,
      pattern: monthly.schedule,
      tz,
      data: { kind: "monthly", requestedBy: SCHEDULER_REQUESTER },
      opts: jobOptions("report"),
    });
  }
  return specs.sort(byQueueThenId);
}

function byQueueThenId(a: { queue: QueueKind; id: string }, b: { queue: QueueKind; id: string }): number {
  return QUEUE_KINDS.indexOf(a.queue) - QUEUE_KINDS.indexOf(b.queue) || compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Haven's job schedulers currently stored in Redis, all queues. */
export async function existingSchedules(queues: HavenQueues): Promise<ExistingSchedule[]> {
  const found: ExistingSchedule[] = [];
  for (const kind of QUEUE_KINDS) {
    for (const scheduler of await queueOf(queues, kind).getJobSchedulers()) {
      if (!isHavenSchedulerId(kind, scheduler.key)) continue;
      found.push({
        queue: kind,
        id: scheduler.key,
        name: scheduler.name,
        ...(scheduler.pattern ? { pattern: scheduler.pattern } : {}),
        ...(scheduler.every ? { every: scheduler.every } : {}),
        ...(scheduler.tz ? { tz: scheduler.tz } : {}),
        ...(scheduler.template?.data !== undefined ? { data: scheduler.template.data } : {}),
        ...(scheduler.template?.opts !== undefined ? { opts: scheduler.template.opts } : {}),
        ...(scheduler.next !== undefined ? { next: scheduler.next } : {}),
      });
    }
  }
  return found;
}

/** What differs between a stored scheduler and the one wanted; empty when they are the same. */
export function scheduleChanges(spec: ScheduleSpec, current: ExistingSchedule): string[] {
  const changes: string[] = [];
  const show = (value: unknown) => (value === undefined ? "(none)" : JSON.stringify(value));
  if (current.pattern !== spec.pattern || current.every !== undefined) {
    const was = current.pattern ?? (current.every === undefined ? undefined : `every ${current.every} ms`);
    changes.push(`pattern: ${show(was)} → ${show(spec.pattern)}`);
  }
  if (current.tz !== spec.tz) changes.push(`tz: ${show(current.tz)} → ${show(spec.tz)}`);
  if (current.name !== spec.id) changes.push(`job name: ${show(current.name)} → ${show(spec.id)}`);
  if (!isDeepStrictEqual(current.data, spec.data))
    changes.push(`data: ${show(current.data)} → ${show(spec.data)}`);
  if (!isDeepStrictEqual(withoutUndefined(current.opts), withoutUndefined(spec.opts))) {
    changes.push(`job options: ${show(current.opts)} → ${show(spec.opts)}`);
  }
  return changes;
}

/** Stored options come back through JSON; drop undefined keys so both sides compare alike. */
function withoutUndefined(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Computes, without changing anything, what `reconcileSchedules` would do (for `haven plan`). */
export async function planSchedules(config: HavenConfig, queues: HavenQueues): Promise<SchedulePlan> {
  assertTimezone(config);
  const wanted = desiredSchedules(config);
  const existing = await existingSchedules(queues);
  const byKey = new Map(existing.map((schedule) => [`${schedule.queue}/${schedule.id}`, schedule]));
  const plan: SchedulePlan = { create: [], update: [], remove: [], unchanged: [] };
  for (const spec of wanted) {
    const key = `${spec.queue}/${spec.id}`;
    const current = byKey.get(key);
    byKey.delete(key);
    if (!current) {
      plan.create.push(spec);
      continue;
    }
    const changes = scheduleChanges(spec, current);
    if (changes.length > 0) plan.update.push({ spec, current, changes });
    else plan.unchanged.push(spec);
  }
  plan.remove.push(...[...byKey.values()].sort(byQueueThenId));
  return plan;
}

/**
 * Applies the config's schedules to Redis and returns what it did. Unchanged schedulers are left
 * alone (not even re-upserted), so a restart never shifts or re-creates a pending job.
 * Throws HavenError CONFIG naming the scheduler when BullMQ rejects a pattern or a timezone.
 */
export async function reconcileSchedules(
  config: HavenConfig,
  queues: HavenQueues,
  logger: Logger,
): Promise<SchedulePlan> {
  const plan = await planSchedules(config, queues);
  for (const spec of [...plan.create, ...plan.update.map((update) => update.spec)]) {
    await upsert(queues, spec, config.source);
  }
  for (const update of plan.update) {
    logger.info({ scheduler: update.spec.id, changes: update.changes }, "job scheduler updated");
  }
  for (const spec of plan.create) {
    logger.info({ scheduler: spec.id, pattern: spec.pattern, tz: spec.tz }, "job scheduler created");
  }
  for (const stale of plan.remove) {
    await queueOf(queues, stale.queue).removeJobScheduler(stale.id);
    logger.info({ scheduler: stale.id }, "job scheduler removed: no longer in the config");
  }
  logger.info(
    {
      created: plan.create.length,
      updated: plan.update.length,
      removed: plan.remove.length,
      unchanged: plan.unchanged.length,
    },
    "job schedulers reconciled",
  );
  return plan;
}

/** BullMQ's cron parser reports an unknown timezone as "CronDate: unhandled timestamp": say it plainly. */
function assertTimezone(config: HavenConfig): void {
  try {
    new Intl.DateTimeFormat("en", { timeZone: config.timezone });
  } catch {
    throw new HavenError("CONFIG", `timezone "${config.timezone}" is not a known IANA timezone`, {
      hint: `fix \`timezone:\` in ${config.source} (e.g. UTC, Europe/Paris, America/New_York)`,
    });
  }
}

/** Errors of BullMQ's cron parser (the config loader validates with node-cron, which is laxer in places). */
const CRON_ERROR = /constraint|invalid|cron|pattern/i;

async function upsert(queues: HavenQueues, spec: ScheduleSpec, source: string): Promise<void> {
  try {
    await queueOf(queues, spec.queue).upsertJobScheduler(
      spec.id,
      { pattern: spec.pattern, tz: spec.tz },
      { name: spec.id, data: spec.data, opts: spec.opts },
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!CRON_ERROR.test(reason)) {
      throw new HavenError("TRANSIENT", `could not store job scheduler ${spec.id} in Redis: ${reason}`, {
        hint: "check that Redis is reachable and not out of memory, then start again",
        cause: error,
      });
    }
    throw new HavenError("CONFIG", `job scheduler ${spec.id}: cron "${spec.pattern}": ${reason}`, {
      hint: `fix the schedule in ${source}`,
      cause: error,
    });
  }
}
