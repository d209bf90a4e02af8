/**
 * `haven prune [TARGET] [--dry-run] [-o json] [--orphans]`: applies retention on every destination of
 * every target (or one). A real run takes each target's lock in Redis, like a backup; a dry run needs
 * no Redis and removes nothing. Exit codes: 0 done; 1 refused by a guard rail or a removal failed;
 * 2 usage; 11 a target was locked by a running job.
 */
import { Command } from "commander";
import type { HavenConfig } from "../../config/types";
import { HavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import {
  pruneReportJson,
  pruneReportTable,
  pruneRun,
  pruneRunError,
  type PruneReport,
  type WithLock,
} from "../../prune";
import { auditPrune } from "../../app/audit";
import { auditLockRedis } from "../audit-lock";
import { authorize, operatorActor } from "../../operators";
import { commandConfig, commandLogger, commandOperator, printJson } from "../context";
import { outputOption } from "../output-option";

interface PruneCommandOptions {
  dryRun?: boolean;
  orphans?: boolean;
  output: "table" | "json";
}

export function pruneCommand(): Command {
  return new Command("prune")
    .description(
      "remove the snapshots retention no longer keeps, on every destination (manifest first; never what Object Lock holds)",
    )
    .argument("[target]", "only this target; with --orphans also a target no longer in the config")
    .option("--dry-run", "print every snapshot with keep/remove and the reason, and remove nothing")
    .option(
      "--orphans",
      "also remove the snapshots of targets that are no longer in the config (one with a snapshot under 7 days old only when named as TARGET)",
    )
    .addOption(outputOption())
    .action(async (target: string | undefined, opts: PruneCommandOptions, command: Command) => {
      const config = await commandConfig(command);
      const logger = commandLogger(command);
      const operator = await commandOperator(command, config);
      authorize(operator, opts.dryRun ? "read" : "prune", target);
      const options = {
        ...(target === undefined ? {} : { target }),
        dryRun: opts.dryRun ?? false,
        orphans: opts.orphans ?? false,
        logger,
      };
      const report: PruneReport = options.dryRun
        ? await pruneRun(config, options)
        : await withRedisLocks(config, logger, (withLock) => pruneRun(config, { ...options, withLock }));
      await auditPrune(config, logger, report, operatorActor(operator), await auditLockRedis(config, logger));
      if (opts.output === "json") printJson(pruneReportJson(report));
      else process.stdout.write(pruneReportTable(report));
      const error = pruneRunError(report);
      if (error) throw error;
    });
}

/**
 * Runs `fn` with target locks taken in the Redis the workers use (same key prefix), on the command's
 * one connection, which its audit append then uses too (cli/audit-lock.ts).
 */
async function withRedisLocks<T>(
  config: HavenConfig,
  logger: Logger,
  fn: (withLock: WithLock) => Promise<T>,
): Promise<T> {
  const { PRUNE_LOCK_OWNER, withTargetLock } = await import("../../jobs");
  const redis = await auditLockRedis(config, logger);
  if (!redis) {
    throw new HavenError(
      "TRANSIENT",
      "prune removes snapshots only under the workers' target locks, and Redis does not answer",
      {
        hint: "start Redis or fix redis: in the config, then run it again; --dry-run shows the plan without Redis",
      },
    );
  }
  return fn((target, locked) =>
    withTargetLock(redis, target, config.workers.lockTtl, locked, {
      prefix: config.queuePrefix,
      logger,
      owner: PRUNE_LOCK_OWNER,
    }),
  );
}
