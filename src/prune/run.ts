/**
 * A whole prune run over the config, as `haven prune [TARGET] [--dry-run] [--orphans]` and the
 * maintenance job do it: every target (or one) on every destination it uses, each with its own
 * decision; then the orphan scan of every destination. One target's trouble (destination down,
 * refusal, lock held) never stops the others: it is recorded and `pruneRunError` reports it at the end.
 */
import type { Logger } from "pino";
import type { HavenConfig, NamedDestination } from "../config/types";
import { HavenError, isHavenError, type ErrorCode } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";
import { executePrune, PruneRefusedError, type WithLock } from "./execute";
import { pruneOrphans, type OrphanOutcome } from "./orphans";
import { prunePlan, type TargetPrunePlan } from "./plan";
import { configuredTarget } from "./policy";
import type { PruneFailure } from "./remove";

export interface PruneRunOptions {
  /** Only this target. With `orphans`, it may also name a target that is no longer in the config. */
  target?: string;
  /** Decide and report; remove nothing, take no lock. */
  dryRun?: boolean;
  /** Remove the snapshots of targets that are not in the config (otherwise only reported). */
  orphans?: boolean;
  /** The instant the run decides for. Default: the clock, read once. */
  now?: Date;
  /** Required unless `dryRun`. */
  withLock?: WithLock;
  logger?: Logger;
  /** Opens a destination's storage (closed by the run). Default `createStorage(destination, logger)`. */
  openStorage?: (destination: NamedDestination) => StorageBackend;
}

/** A run's failure for one target on one destination, or for one destination's orphan scan. */
export interface RunError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
}

/** One target on one destination. */
export interface TargetDestinationResult {
  readonly target: string;
  readonly destination: string;
  /** The decision; absent when the destination could not be read or the lock was held. */
  readonly plan?: TargetPrunePlan;
  readonly removed: readonly string[];
  readonly failed: readonly PruneFailure[];
  /** Set when nothing was done here: REFUSED by a guard rail (plan present), LOCKED, TRANSIENT, ... */
  readonly error?: RunError;
}

export interface PruneReport {
  readonly dryRun: boolean;
  readonly now: Date;
  readonly results: readonly TargetDestinationResult[];
  readonly orphans: readonly OrphanOutcome[];
  /** Destinations whose orphan scan failed. */
  readonly orphanScanErrors: ReadonlyArray<RunError & { readonly destination: string }>;
}

export async function pruneRun(config: HavenConfig, options: PruneRunOptions = {}): Promise<PruneReport> {
  const dryRun = options.dryRun ?? false;
  const now = options.now ?? new Date();
  const logger = options.logger ?? silentLogger;
  if (!dryRun && !options.withLock) throw new Error("pruneRun: a run that removes needs withLock");
  const onlyOrphan = options.target !== undefined && !Object.hasOwn(config.targets, options.target);
  if (onlyOrphan && !options.orphans) configuredTarget(config, options.target as string); // throws NOT_FOUND

  const opened = new Map<string, StorageBackend>();
  const storageOf = (name: string): StorageBackend => {
    let storage = opened.get(name);
    if (!storage) {
      const destination = config.destinations[name];
      if (!destination) throw new HavenError("CONFIG", `unknown destination "${name}"`);
      storage = (options.openStorage ?? ((d) => createStorage(d, logger)))(destination);
      opened.set(name, storage);
    }
    return storage;
  };

  try {
    const results: TargetDestinationResult[] = [];
    const targets = onlyOrphan
      ? []
      : options.target !== undefined
        ? [configuredTarget(config, options.target)]
        : Object.values(config.targets);
    for (const target of targets) {
      for (const destination of target.destinations) {
        results.push(
          await pruneOne(config, storageOf(destination), target.name, {
            ...options,
            dryRun,
            now,
            logger,
            openDestination: storageOf,
          }),
        );
      }
    }

    const orphans: OrphanOutcome[] = [];
    const orphanScanErrors: Array<RunError & { destination: string }> = [];
    if (options.target === undefined || onlyOrphan) {
      for (const name of Object.keys(config.destinations)) {
        try {
          orphans.push(
            ...(await pruneOrphans(config, storageOf(name), {
              remove: options.orphans ?? false,
              dryRun,
              now,
              logger,
              ...(options.withLock ? { withLock: options.withLock } : {}),
              ...(onlyOrphan && options.target !== undefined ? { only: options.target } : {}),
            })),
          );
        } catch (error) {
          orphanScanErrors.push({ destination: name, ...runError(error) });
        }
      }
    }
    return { dryRun, now, results, orphans, orphanScanErrors };
  } finally {
    await Promise.allSettled([...opened.values()].map((storage) => storage.close()));
  }
}

async function pruneOne(
  config: HavenConfig,
  storage: StorageBackend,
  target: string,
  options: PruneRunOptions & {
    dryRun: boolean;
    now: Date;
    logger: Logger;
    openDestination: (name: string) => StorageBackend;
  },
): Promise<TargetDestinationResult> {
  const base = { target, destination: storage.name };
  try {
    if (options.dryRun) {
      const plan = await prunePlan(config, storage, target, options.now, {
        logger: options.logger,
        openDestination: options.openDestination,
      });
      return { ...base, plan, removed: [], failed: [] };
    }
    const outcome = await executePrune(config, storage, target, {
      withLock: options.withLock as WithLock,
      now: options.now,
      logger: options.logger,
      openDestination: options.openDestination,
    });
    return { ...base, plan: outcome.plan, removed: outcome.removed, failed: outcome.failed };
  } catch (error) {
    if (error instanceof PruneRefusedError) {
      return { ...base, plan: error.plan, removed: [], failed: [], error: runError(error) };
    }
    options.logger.error({ ...base, err: String(error) }, "prune failed");
    return { ...base, removed: [], failed: [], error: runError(error) };
  }
}

function runError(error: unknown): RunError {
  if (isHavenError(error))
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: "PERMANENT", message: error instanceof Error ? error.message : String(error) };
}

/**
 * The error a run ends with, or null when everything went as planned: a refusal first (it needs an
 * alert and a human), then any other failure. A dry run fails only when it could not read. Exit code
 * and retry decisions follow the error's code (REFUSED is not retried; TRANSIENT is).
 */
export function pruneRunError(report: PruneReport): HavenError | null {
  const problems: Array<RunError & { where: string }> = [];
  for (const result of report.results) {
    const where = `${result.target} on ${result.destination}`;
    if (result.error && !(report.dryRun && result.error.code === "REFUSED"))
      problems.push({ where, ...result.error });
    for (const failure of result.failed)
      problems.push({ where: `${where} (snapshot ${failure.id})`, ...failure });
  }
  for (const orphan of report.orphans) {
    for (const failure of orphan.failed) {
      problems.push({
        where: `orphan ${orphan.target} on ${orphan.destination} (snapshot ${failure.id})`,
        ...failure,
      });
    }
  }
  for (const scan of report.orphanScanErrors)
    problems.push({ where: `orphan scan of ${scan.destination}`, ...scan });
  // A target skipped because a backup holds its lock is routine; a failure elsewhere in the same run
  // is what the job's status, its retry and the CLI's exit code must say.
  const first =
    problems.find((p) => p.code === "REFUSED") ?? problems.find((p) => p.code !== "LOCKED") ?? problems[0];
  if (!first) return null;
  const more =
    problems.length > 1
      ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""} above)`
      : "";
  return new HavenError(first.code, `prune of ${first.where}: ${first.message}${more}`, {
    ...(first.hint ? { hint: first.hint } : {}),
  });
}
