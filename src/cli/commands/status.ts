import { Command } from "commander";
import type { HavenConfig } from "../../config/types";
import { formatDuration } from "../../lib/duration";
import { ExitCode, HavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { statusExitCode } from "../../slo";
import { authorize } from "../../operators";
import { commandConfig, commandLogger, commandOperator, printJson, printTable } from "../context";
import { outputOption } from "../output-option";
import { connectRedisIfUp } from "../redis-if-up";

export function statusCommand(): Command {
  return new Command("status")
    .description(
      "RPO and RTO compliance per target, read from the destinations (exit 3 when anything is breached)",
    )
    .addOption(outputOption())
    .action(async (opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      authorize(await commandOperator(command, config), "status");
      const logger = commandLogger(command);
      const { evaluateTargets } = await import("../../app/monitoring");
      const firstSeen = await readFirstSeen(config, logger);
      const { evaluations, unreachable } = await evaluateTargets(config, logger, {
        ...(firstSeen ? { firstSeen } : {}),
      });
      const rows = evaluations.map((e) => ({
        target: e.target,
        status: e.status,
        newestSnapshot: e.newestSnapshot?.id ?? null,
        /** The snapshot the RPO counts from (`newestAgeMs` is its age): the newest not proven damaged. */
        newestGoodSnapshot: e.rpo.newest?.id ?? null,
        /** When the watchdog first saw the target (its RPO's grace), null when unknown. */
        firstSeenAt: firstSeen?.get(e.target)?.toISOString() ?? null,
        newestAgeMs: e.rpo.newestAgeMs,
        rpoMs: e.rpo.rpoMs,
        rpo: e.rpo.status,
        missedSchedules: e.rpo.missedSchedules.length,
        missedVerifications: e.missedVerifications.length,
        lastVerification: e.lastVerification
          ? {
              kind: e.lastVerification.kind,
              result: e.lastVerification.result,
              at: e.lastVerification.finishedAt,
            }
          : null,
        lastRestoreMs: e.rto.lastMs,
        forecastRestoreMs: e.rto.forecastMs,
        rtoMs: e.rto.rtoMs,
        rto: e.rto.status,
        reasons: e.reasons,
      }));
      if (opts.output === "json") printJson({ targets: rows, unreachable });
      else {
        const ms = (v: number | null) => (v === null ? "-" : formatDuration(v));
        printTable(
          ["TARGET", "STATUS", "NEWEST", "AGE", "RPO", "LAST CHECK", "RESTORE", "RTO", ""],
          rows.map((r) => [
            r.target,
            r.status,
            // The snapshot AGE is the age of; a newer damaged one is in the reasons. Not an age: a
            // target with no snapshot has none, whatever its status.
            r.newestGoodSnapshot ?? (r.newestSnapshot === null ? "never backed up" : "none good"),
            ms(r.newestAgeMs),
            `${formatDuration(r.rpoMs)} ${r.rpo}`,
            r.lastVerification ? `${r.lastVerification.kind} ${r.lastVerification.result}` : "never",
            ms(r.lastRestoreMs),
            `${formatDuration(r.rtoMs)} ${r.rto}`,
            r.reasons.join("; "),
          ]),
        );
        for (const u of unreachable)
          process.stdout.write(`unreachable: ${u.target} on ${u.destination}: ${u.error}\n`);
        const never = rows.filter((r) => r.newestSnapshot === null).map((r) => r.target);
        const unseen = never.filter((target) => !firstSeen?.has(target));
        if (unseen.length > 0) {
          const why = firstSeen
            ? `the watchdog has not seen ${unseen.join(", ")} yet`
            : `Redis did not answer: when Haven first saw ${unseen.join(", ")} is unknown`;
          const next = firstSeen
            ? "it records a new target within a minute of a serve or worker running this config"
            : "start Redis, or check redis: in the config";
          process.stdout.write(
            `${why}, so each counts as breached until its first backup (a new target gets its RPO ` +
              `from when it was first seen): ${next}\n`,
          );
        }
      }
      const code = Math.max(statusExitCode(evaluations), unreachable.length > 0 ? ExitCode.FAILED : 0);
      if (code !== 0) {
        throw new HavenError(
          code === ExitCode.BREACH_OR_PARTIAL ? "PARTIAL" : "TRANSIENT",
          "not every target meets its RPO and RTO",
          {
            hint: `${opts.output === "json" ? "each target's reasons" : "the last column"} says why; haven doctor checks targets and destinations`,
            exitCode: code,
          },
        );
      }
    });
}

/**
 * When the watchdog first saw each target (`FirstSeen`, in Redis), so that a target never backed up
 * is judged as the watchdog judges it: in breach only from then + its RPO. Read, never recorded:
 * status observes. Undefined when Redis does not answer; each such target then counts as breached at
 * once (the safe side), and the output says why.
 */
async function readFirstSeen(config: HavenConfig, logger: Logger): Promise<Map<string, Date> | undefined> {
  const redis = await connectRedisIfUp(config, logger, {
    connectionName: "haven-cli-status",
    withoutIt: "a target never backed up counts as breached at once",
  });
  if (!redis) return undefined;
  try {
    const { FirstSeen } = await import("../../app/first-seen");
    return await new FirstSeen(redis, config.queuePrefix).read();
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "could not read when targets were first seen: a target never backed up counts as breached at once",
    );
    return undefined;
  } finally {
    redis.disconnect();
  }
}
