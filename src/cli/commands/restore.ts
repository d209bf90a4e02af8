import { createInterface } from "node:readline/promises";
import { resolve } from "node:path";
import { Command } from "commander";
import { alertBreakGlass, audit, openAudit } from "../../app/audit";
import { auditRestoreEnd, auditRestoreStart } from "../../app/restore-audit";
import { auditLockOptions, openCommandAudit } from "../audit-lock";
import { withInPlaceRestoreLock } from "./direct-lock";
import type { HavenConfig, TargetConfig } from "../../config/types";
import { assertIncludeSupported, selectSnapshot, runRestore, type RestoreResult } from "../../engine/restore";
import { targetOrThrow } from "../../engine/backup";
import { describeError, HavenError, ExitCode, isHavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import {
  approvedCommand,
  decideRestoreGuard,
  describeTerms,
  operatorActor,
  RestoreApprovals,
  termsOfRequest,
  type Operator,
} from "../../operators";
import { restoresInPlace } from "../../targets/in-place";
import type { RestoreDestination } from "../../targets/types";
import {
  commandConfig,
  commandLogger,
  commandOperator,
  interruptSignal,
  printJson,
  snapshotIdArgument,
} from "../context";
import { outputOption } from "../output-option";
import { createProgress, formatBytes } from "../progress";
import { restoreShortfall } from "../restore-outcome";
import { parseOperatorTime } from "../../lib/local-time";

interface RestoreOptions {
  snapshot?: string;
  at?: string;
  to?: string;
  include?: string[];
  direct?: boolean;
  yes?: boolean;
  force?: boolean;
  dryRun?: boolean;
  from?: string;
  output?: string;
  request?: boolean;
  requestId?: string;
  breakGlass?: boolean;
  reason?: string;
}

export function restoreCommand(): Command {
  return new Command("restore")
    .description("restore a snapshot, whole or in part, to its original place or another one")
    .argument("<target>", "target name from the config")
    .option("--snapshot <id>", "snapshot id (default: the newest)", snapshotIdArgument)
    .option(
      "--at <time>",
      "the newest snapshot taken at or before this ISO time (without an offset: in the config's timezone)",
    )
    .option(
      "--to <dest>",
      "directory (files, sqlite) or database name (postgres, mysql); default: the original",
    )
    .option("--include <glob...>", "restore only matching paths (files targets)")
    .option("--from <destination>", "read from this destination instead of the target's primary")
    .option("--direct", "run in this process (needs no Redis); restores always run in the CLI process today")
    .option("--yes", "confirm restoring over the original location")
    .option("--force", "allow a non-empty destination directory or an existing database")
    .option("--dry-run", "show which snapshot would be restored where, and stop")
    .option("--request", "protected targets: ask for approval of this restore instead of running it")
    .option("--request-id <id>", "run the restore another operator approved (haven approve)")
    .option("--break-glass", "bypass approval in an emergency (admins; audited and alerted at once)")
    .option("--reason <text>", "why: shown to the approver, required with --break-glass")
    .addOption(outputOption())
    .action(async (targetName: string, opts: RestoreOptions, command: Command) => {
      const config = await commandConfig(command);
      const logger = commandLogger(command);
      const operator = await commandOperator(command, config);
      const target = targetOrThrow(config, targetName);
      if (opts.snapshot && opts.at) throw new HavenError("USAGE", "give --snapshot or --at, not both");
      if (opts.breakGlass && !opts.reason) {
        throw new HavenError("USAGE", "--break-glass needs --reason", {
          hint: 'say why, e.g. --reason "incident 4711"',
        });
      }
      const to = restoreDestination(target, opts.to);
      assertIncludeSupported(target, opts.include);
      const signal = interruptSignal();
      const ctx = { logger, signal };
      const snapshot =
        opts.snapshot ??
        (opts.requestId ? await requestedSnapshot(config, logger, opts.requestId) : undefined);
      const manifest = await selectSnapshot(
        config,
        {
          target: targetName,
          snapshot,
          at: opts.at ? parseTime(opts.at, config.timezone) : undefined,
          from: opts.from,
        },
        ctx,
      );
      const where = describeDestination(target, to);
      if (opts.dryRun) {
        const plan = {
          target: targetName,
          snapshot: manifest.id,
          finishedAt: manifest.finishedAt,
          to: where,
        };
        if (opts.output === "json") printJson(plan);
        else process.stdout.write(`would restore ${targetName} snapshot ${manifest.id} to ${where}\n`);
        return;
      }
      if (opts.request) return requestApproval(config, logger, operator, target, manifest.id, opts);

      // `--to` naming the original place (or a folder of it) is in place too: the guard must apply.
      const inPlace = await restoresInPlace(target, to);
      const confirmed = !inPlace || opts.yes === true || (await confirmOnTty(config, target, where));
      const useApproval = await guardRestore(config, logger, operator, {
        target,
        inPlace,
        confirmed,
        snapshot: manifest.id,
        opts,
      });
      let approvalUsed = false;
      const beforeWrite = useApproval
        ? async () => {
            if (approvalUsed) return;
            approvalUsed = true;
            await useApproval();
          }
        : undefined;

      const auditScope = {
        config,
        logger,
        actor: operatorActor(operator),
        target: targetName,
        snapshot: manifest.id,
        to: where,
        inPlace,
        include: opts.include,
        force: opts.force,
        auditLock: () => auditLockOptions(config, logger),
      };
      await auditRestoreStart(auditScope);
      const progress = createProgress(`restore ${targetName}`);
      let result: RestoreResult;
      const restore = () =>
        runRestore(
          config,
          {
            target: targetName,
            snapshot: manifest.id,
            to,
            include: opts.include,
            force: opts.force,
            from: opts.from,
            ...(beforeWrite ? { beforeWrite } : {}),
          },
          { ...ctx, onProgress: (event) => progress.update(event) },
        ).then(async (done) => {
          // Every adapter asks before it writes; one that did not still uses the approval up.
          await beforeWrite?.();
          return done;
        });
      try {
        result = inPlace
          ? await withInPlaceRestoreLock(config, targetName, logger, restore)
          : await restore();
      } catch (error) {
        progress.stop();
        const missing = await auditRestoreEnd(auditScope, "failed", {
          error: error instanceof Error ? error.message : String(error),
        });
        // The restore's own failure decides the exit status; the missing record is said first.
        if (missing) process.stderr.write(`haven: ${describeError(missing)}\n`);
        throw error;
      }
      progress.stop();
      const rejected = result.stats.rejected ?? [];
      const { warnings } = result;
      const missingAudit = await auditRestoreEnd(
        auditScope,
        // Refused entries were not restored, and a warning is something not restored as it was
        // (an owner the destination refused): the trail must not read as a full restore.
        rejected.length > 0 || warnings.length > 0 ? "partial" : "ok",
        {
          files: result.stats.files ?? 0,
          seconds: result.seconds,
          rejected: rejected.length,
          warnings: warnings.length,
          ...(opts.requestId ? { request: opts.requestId } : {}),
          ...(opts.breakGlass ? { breakGlass: true } : {}),
        },
      );
      if (opts.output === "json") printJson(result);
      else {
        process.stdout.write(
          `restored ${targetName} snapshot ${result.snapshotId} to ${where}: ` +
            // Database restores count no files: "0 files" read as if nothing had been restored.
            `${result.stats.files === undefined ? "" : `${result.stats.files} files, `}` +
            `${formatBytes(result.stats.bytes ?? 0)} in ${result.seconds.toFixed(1)}s\n`,
        );
        for (const r of rejected) process.stdout.write(`rejected ${JSON.stringify(r.path)}: ${r.reason}\n`);
        for (const warning of warnings) process.stdout.write(`warning: ${warning}\n`);
      }
      const shortfall = restoreShortfall(rejected, warnings);
      if (shortfall !== undefined) {
        // The shortfall decides the exit status; the missing audit record is said first.
        if (missingAudit) process.stderr.write(`haven: ${describeError(missingAudit)}\n`);
        throw shortfall;
      }
      if (missingAudit) throw missingAudit;
    });
}

/**
 * Applies the restore guard (roles, confirmation, approvals, break-glass); refusals are audited. An
 * approved request is checked here and used by the function returned, which the restore calls once
 * its own checks of the destination passed (`beforeWrite`): a restore refused for a non-empty folder
 * or a held lock leaves the approval for the next attempt.
 */
async function guardRestore(
  config: HavenConfig,
  logger: Logger,
  operator: Operator,
  input: {
    target: TargetConfig;
    inPlace: boolean;
    confirmed: boolean;
    snapshot: string;
    opts: RestoreOptions;
  },
): Promise<(() => Promise<void>) | undefined> {
  const { target, snapshot, opts } = input;
  return refusalsAudited(config, logger, operator, input, async () => {
    const guard = decideRestoreGuard({
      target: { name: target.name, protected: target.protected },
      inPlace: input.inPlace,
      confirmed: input.confirmed,
      operator,
      ...(opts.requestId ? { requestId: opts.requestId } : {}),
      ...(opts.breakGlass ? { breakGlassReason: opts.reason ?? "" } : {}),
    });
    if (guard.kind === "allowed") return undefined;
    if (guard.kind === "approved-request") {
      const expected = {
        target: target.name,
        snapshot,
        to: boundDestination(target, opts.to),
        include: opts.include ?? [],
        force: opts.force === true,
      };
      await withApprovals(config, logger, (approvals) =>
        approvals.checkApproval(guard.requestId, operator, expected),
      );
      return () =>
        refusalsAudited(config, logger, operator, input, () =>
          withApprovals(config, logger, async (approvals) => {
            await approvals.consumeApproval(guard.requestId, operator, expected);
          }),
        );
    }
    await withApprovals(config, logger, async (approvals) => {
      const event = await approvals.breakGlass(operator, {
        reason: guard.reason,
        target: target.name,
        snapshot,
        to: boundDestination(target, opts.to),
      });
      await alertBreakGlass(config, event, logger);
    });
    return undefined;
  });
}

async function withApprovals<T>(
  config: HavenConfig,
  logger: Logger,
  use: (approvals: RestoreApprovals) => Promise<T>,
): Promise<T> {
  const handle = await openCommandAudit(config, logger);
  try {
    return await use(new RestoreApprovals(handle.storage, handle.log, { logger, ...handle.approvalLock }));
  } finally {
    await handle.close();
  }
}

/** Runs `step`; a refusal (REFUSED, CREDENTIALS) is audited, and without confirmation is a usage error. */
async function refusalsAudited<T>(
  config: HavenConfig,
  logger: Logger,
  operator: Operator,
  input: { target: TargetConfig; confirmed: boolean; snapshot: string },
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (isHavenError(error) && (error.code === "REFUSED" || error.code === "CREDENTIALS")) {
      await audit(
        config,
        logger,
        {
          action: "restore",
          outcome: "refused",
          actor: operatorActor(operator),
          target: input.target.name,
          snapshot: input.snapshot,
          detail: { reason: error.message },
        },
        await auditLockOptions(config, logger),
      );
      if (error.code === "REFUSED" && !input.confirmed) {
        throw new HavenError("REFUSED", error.message, { hint: error.hint, exitCode: ExitCode.USAGE });
      }
    }
    throw error;
  }
}

async function requestApproval(
  config: HavenConfig,
  logger: Logger,
  operator: Operator,
  target: TargetConfig,
  snapshot: string,
  opts: RestoreOptions,
): Promise<void> {
  const handle = await openCommandAudit(config, logger);
  try {
    const request = await new RestoreApprovals(handle.storage, handle.log, {
      logger,
      ...handle.approvalLock,
    }).requestRestore(operator, {
      target: target.name,
      snapshot,
      to: boundDestination(target, opts.to),
      include: opts.include ?? [],
      force: opts.force === true,
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
    // The approval binds --to, --include and --force: the command to run repeats them.
    const terms = termsOfRequest(request);
    if (opts.output === "json") printJson(request);
    else
      process.stdout.write(
        `restore request ${request.id} created for ${describeTerms(terms)}; ` +
          `another admin approves it with: haven approve ${request.id}\n` +
          `then run: ${approvedCommand(terms, request.id)}\n`,
      );
  } finally {
    await handle.close();
  }
}

async function requestedSnapshot(config: HavenConfig, logger: Logger, requestId: string): Promise<string> {
  const handle = openAudit(config, logger);
  try {
    return (await new RestoreApprovals(handle.storage, handle.log, { logger }).get(requestId)).snapshot;
  } finally {
    await handle.close();
  }
}

function parseTime(text: string, timezone: string): Date {
  const date = parseOperatorTime(text, timezone);
  if (date === null) {
    throw new HavenError("USAGE", `--at ${JSON.stringify(text)} is not a time`, {
      hint: `use an ISO 8601 time such as 2026-11-20T02:00:00Z; without an offset it is read in the config's timezone (${timezone})`,
    });
  }
  return date;
}

export function restoreDestination(target: TargetConfig, to: string | undefined): RestoreDestination {
  if (to === undefined) return { kind: "original" };
  switch (target.type) {
    case "postgres":
    case "mysql":
      return { kind: "database", name: to };
    default:
      return { kind: "path", path: to };
  }
}

/**
 * `--to` as an approval records and compares it: a path resolved against the directory of whoever
 * runs the command, so the approver and the restorer mean the same folder, whatever their working
 * directories; a database name as given.
 */
function boundDestination(target: TargetConfig, to: string | undefined): string | null {
  const destination = restoreDestination(target, to);
  if (destination.kind === "path") return resolve(destination.path);
  return to ?? null;
}

function describeDestination(target: TargetConfig, to: RestoreDestination): string {
  if (to.kind === "path") return to.path;
  if (to.kind === "database") return `database ${to.name}`;
  return `the original location of ${target.name}${"path" in target ? ` (${target.path})` : ""}`;
}

/** On a TTY, the operator types the target's name to confirm; elsewhere `--yes` is the only way. */
async function confirmOnTty(config: HavenConfig, target: TargetConfig, where: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Restore over ${where} (config ${config.source})? Type the target name to confirm: `,
    );
    if (answer.trim() !== target.name) throw new HavenError("CANCELLED", "restore cancelled");
    return true;
  } finally {
    rl.close();
  }
}
