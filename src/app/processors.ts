/**
 * The work behind each queue, for `serve` and `worker`: the jobs layer knows BullMQ, the engine knows
 * backups; this module joins them for one loaded config.
 */
import type { HavenConfig } from "../config/types";
import { runBackup } from "../engine/backup";
import { cleanupLeftovers } from "../engine/maintenance";
import type { JobContext, Processors } from "../jobs";
import { createStorage } from "../storage";
import { previousMonth, runMonthlyReport, undeliveredError } from "../report";
import { runVerification } from "../verify/run";
import type { Redis } from "ioredis";
import { localActor } from "../audit";
import { copyPending, copyReportError } from "../copy";
import { errorOfFailedResult, isTargetLocked, PRUNE_LOCK_OWNER, willRetry, withTargetLock } from "../jobs";
import { HavenError, isHavenError } from "../lib/errors";
import { pruneRun, pruneRunError } from "../prune";
import { auditPrune } from "./audit";
import type { Monitor } from "./monitoring";
import { PublishedEstate } from "./published-estate";
import { retentionGuard } from "./retention-agreement";

export function createProcessors(config: HavenConfig, monitor: Monitor, redis?: Redis): Processors {
  const connectionOf = (_ctx: JobContext) => redis;
  return {
    backup: async (request, ctx) => {
      assertKnownTarget(config, request.target);
      const result = await runBackup(config, request, ctx);
      // An attempt BullMQ tries again (a blip, a worker restarting mid-run) is not yet a failed
      // backup: alerting on it paged "failed" and then "resolved" a minute later.
      const retried =
        result.state === "failed" && willRetry(errorOfFailedResult(result), ctx.signal.aborted, ctx.job);
      await monitor.afterBackup(result, { retried });
      if (result.state === "committed" || result.state === "partial")
        await pruneAfterCommit(config, request.target, ctx, monitor, connectionOf(ctx));
      return result;
    },
    afterBackup: async (request, result, ctx) => {
      if (result.state === "skipped") await monitor.afterBackup(result);
      else if (result.state === "committed" || result.state === "partial")
        await copyAfterCommit(config, request.target, ctx, monitor, connectionOf(ctx));
    },
    verify: async (request, ctx) => {
      assertKnownTarget(config, request.target);
      const record = await runVerification(
        config,
        { target: request.target, snapshotId: request.snapshotId },
        ctx,
      );
      await monitor
        .watchdog([request.target])
        .catch((error: unknown) =>
          ctx.logger.error({ err: String(error) }, "evaluation after verification failed"),
        );
      return record;
    },
    report: async (_request, ctx) => {
      // Fixed here, so that a failure can name the month the alert is about. From the time the job
      // was scheduled for, not this worker's clock: a job taken late (workers down into the next
      // month), or at midnight by a worker whose clock lags the one that released it, would report
      // another month, so one month went out twice and the other never.
      const scheduledAt = ctx.job.scheduledAt === undefined ? new Date() : new Date(ctx.job.scheduledAt);
      const month = previousMonth(scheduledAt, config.timezone);
      try {
        const outcome = await runMonthlyReport(
          config,
          { send: true, month },
          {
            ...ctx,
            openIncidents: await monitor.incidents.openIncidents(),
            firstSeen: await monitor.firstSeen(),
          },
        );
        // Each attempt of the job comes here, so a retry that delivers resolves the alert. A report
        // some recipients were refused raises it without failing the job: a retry would send the
        // report again to everyone who has it.
        const undelivered = outcome.sent ? undeliveredError(outcome.sent, month) : null;
        await monitor.afterReport(month, undelivered);
        return outcome;
      } catch (error) {
        // The mailer has retried already; the job retries too, but the alert goes out now.
        await monitor.afterReport(month, error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    maintenance: async (request, ctx) => {
      if (request.kind === "cleanup") {
        if (!redis) return runCleanup(ctx);
        // One cleanup at a time across all workers: the maintenance queue runs two jobs at once so
        // that a long cleanup (an off-site backlog) never holds up the watchdog behind it.
        let entered = false;
        try {
          return await withTargetLock(
            redis,
            CLEANUP_LOCK,
            config.workers.lockTtl,
            (lockSignal) => {
              entered = true;
              return runCleanup({ ...ctx, signal: AbortSignal.any([ctx.signal, lockSignal]) });
            },
            { prefix: config.queuePrefix, logger: ctx.logger, owner: "maintenance-cleanup" },
          );
        } catch (error) {
          if (entered || !isHavenError(error, "LOCKED")) throw error;
          ctx.logger.info("another cleanup is still running; this one is skipped");
          return { skipped: "another cleanup is still running" };
        }
      }
      const outcome = await monitor.watchdog();
      if (outcome.skipped) return { skipped: outcome.skipped };
      return {
        evaluated: outcome.evaluations.map((e) => ({ target: e.target, status: e.status })),
        unreachable: outcome.unreachable,
      };
    },
  };

  async function runCleanup(ctx: JobContext) {
    // Hourly: leftovers of failed runs, copies that failed before, and retention for every target.
    // Each part runs whatever the others did (a destination down must not stop the cleanup of the
    // rest); the first failure fails the job afterwards, so it is retried and seen.
    const failures: unknown[] = [];
    const attempt = <T>(work: () => Promise<T>) =>
      work().catch((error: unknown) => {
        failures.push(error);
        return { failed: error instanceof Error ? error.message : String(error) };
      });
    const copies = await attempt(() => copyAll(config, ctx, monitor, connectionOf(ctx)));
    const prune = await attempt(() => pruneAll(config, ctx, connectionOf(ctx), monitor));
    const cleanup = await attempt(() => cleanupAll(config, ctx, connectionOf(ctx)));
    if (failures.length > 0) throw failures[0];
    return { cleanup, copies, prune };
  }
}

/**
 * Workers are restarted one by one after a config change, so a job for a target that serve's newer
 * config added (or renamed) can reach a worker still on the old config. Failing it as NOT_FOUND
 * ended the job at once, and the run was lost; TRANSIENT lets BullMQ hand it to a worker that knows
 * the target within its retries.
 */
function assertKnownTarget(config: HavenConfig, target: string): void {
  if (config.targets[target]) return;
  throw new HavenError("TRANSIENT", `this worker's config (${config.source}) has no target "${target}"`, {
    hint: "restart every worker with the config serve runs; the job is retried, by any worker",
  });
}

/** The lock of the hourly cleanup; target names cannot start with "_", so it meets no target's. */
const CLEANUP_LOCK = "_maintenance-cleanup";

/**
 * After a commit, once the target's lock is released: copy the new snapshot to the other destinations.
 * A copy over a slow link can take hours; under the lock it would make every backup of the target in
 * that time a skipped run. It may not turn a committed backup into a failed job: failures are logged,
 * and the hourly maintenance job retries them.
 */
async function copyAfterCommit(
  config: HavenConfig,
  target: string,
  ctx: JobContext,
  monitor: Monitor,
  redis: Redis | undefined,
): Promise<void> {
  try {
    const error = await copyTarget(config, target, ctx, monitor, redis);
    if (error)
      ctx.logger.warn(
        { err: error.message, hint: error.hint },
        "copy to another destination failed; maintenance retries it",
      );
  } catch (error) {
    ctx.logger.warn({ err: String(error) }, "copy to another destination failed; maintenance retries it");
  }
}

/**
 * After a commit, still under the target's lock: apply retention. The primary keeps what the other
 * destinations are still owed (prune/plan.ts), so pruning before the copy loses nothing. Failures are
 * logged, not thrown, as above.
 */
async function pruneAfterCommit(
  config: HavenConfig,
  target: string,
  ctx: JobContext,
  monitor: Monitor,
  redis: Redis | undefined,
): Promise<void> {
  try {
    const mayPrune = redis ? await retentionGuardFor(config, redis) : () => undefined;
    // The backup job holds this target's lock already: prune runs inside it.
    const report = await pruneRun(config, {
      target,
      logger: ctx.logger,
      withLock: (t, fn) => {
        mayPrune(t);
        return fn(ctx.signal);
      },
    });
    // Through the audit log's Redis lock: another worker may be appending at the same moment.
    await auditPrune(config, ctx.logger, report, localActor("haven"), redis);
    await monitor.afterPrune(report);
    const error = pruneRunError(report);
    if (error)
      ctx.logger.warn({ err: error.message, hint: error.hint }, "prune after backup did not complete");
  } catch (error) {
    ctx.logger.warn({ err: String(error) }, "prune after backup failed");
  }
}

async function copyAll(config: HavenConfig, ctx: JobContext, monitor: Monitor, redis: Redis | undefined) {
  const failures: string[] = [];
  for (const target of Object.values(config.targets)) {
    if (target.destinations.length < 2) continue;
    const error = await copyTarget(config, target.name, ctx, monitor, redis);
    if (error) failures.push(`${target.name}: ${error.message}`);
  }
  return { failures };
}

/** Copies what `target` owes its other destinations and reports it to the monitor; the copy's error or null. */
/**
 * Copies of a target run under a lock of their own (not the target's: a long off-site copy would
 * skip every backup meanwhile). Maintenance treats it as the target's (`cleanupAll`): S3 dates an
 * upload from its start, so a copy of a large snapshot that outlived `staleUploadGrace` was aborted
 * as abandoned, hour after hour, and never completed. It also keeps the after-backup and the hourly
 * copy of one target from writing the same snapshot at once; the one that finds it held is skipped
 * (the next hourly run copies what is still owed). Without Redis, copies run unlocked, as before.
 */
async function copyTarget(
  config: HavenConfig,
  target: string,
  ctx: JobContext,
  monitor: Monitor,
  redis: Redis | undefined,
) {
  const run = async (lockSignal: AbortSignal) => {
    // The job's signal (shutdown) and the lock's (lost to another holder) both stop it.
    const signal = lockSignal === ctx.signal ? ctx.signal : AbortSignal.any([lockSignal, ctx.signal]);
    const report = await copyPending(config, target, { logger: ctx.logger, signal });
    await monitor.afterCopy(report);
    return copyReportError(report);
  };
  if (!redis) return run(ctx.signal);
  try {
    return await withTargetLock(redis, copyLock(target), config.workers.lockTtl, run, {
      prefix: config.queuePrefix,
      logger: ctx.logger,
      // The job: a retry of this job's own copy is told apart from another job's copy.
      owner: `copy:${ctx.job.id}`,
    });
  } catch (error) {
    if (!isHavenError(error, "LOCKED")) throw error;
    ctx.logger.info({ target }, "another copy of this target is running; this one is skipped");
    return null;
  }
}

/** The copy lock's name; target names cannot start with "_", so it meets no target's. */
const copyLock = (target: string) => `_copy-${target}`;

/** Whether this worker's retention for a target is the newest serve's (app/retention-agreement.ts). */
async function retentionGuardFor(config: HavenConfig, redis: Redis): Promise<(target: string) => void> {
  const published = await new PublishedEstate(redis, config.queuePrefix).read();
  return retentionGuard(published, config, new Date());
}

async function pruneAll(config: HavenConfig, ctx: JobContext, redis: Redis | undefined, monitor: Monitor) {
  if (!redis) return { skipped: "no Redis connection for target locks" };
  const mayPrune = await retentionGuardFor(config, redis);
  const report = await pruneRun(config, {
    logger: ctx.logger,
    withLock: (target, fn) => {
      mayPrune(target);
      return withTargetLock(redis, target, config.workers.lockTtl, fn, {
        prefix: config.queuePrefix,
        logger: ctx.logger,
        owner: PRUNE_LOCK_OWNER,
      });
    },
  });
  await auditPrune(config, ctx.logger, report, localActor("haven"), redis);
  await monitor.afterPrune(report);
  const error = pruneRunError(report);
  if (error && error.code !== "LOCKED") throw error;
  return { removed: report.results.reduce((n, r) => n + r.removed.length, 0) };
}

async function cleanupAll(config: HavenConfig, ctx: JobContext, redis: Redis | undefined) {
  const reports: Record<string, unknown> = {};
  // A held target (or copy) lock means a run is writing there now, however old its upload looks.
  const busy = redis
    ? async (target: string) =>
        (await isTargetLocked(redis, target, config.queuePrefix)) ||
        (await isTargetLocked(redis, copyLock(target), config.queuePrefix))
    : undefined;
  for (const destination of Object.values(config.destinations)) {
    const storage = createStorage(destination, ctx.logger);
    try {
      reports[destination.name] = await cleanupLeftovers(storage, {
        graceMs: config.workers.staleUploadGrace,
        now: new Date(),
        logger: ctx.logger,
        busy,
      });
    } finally {
      await storage.close();
    }
  }
  return reports;
}
