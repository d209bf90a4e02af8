/**
 * Joins evaluation (src/slo), alerting (src/alerts) and metrics (src/metrics) for a running Haven:
 * the watchdog evaluates every target from its destination (the source of truth) and reconciles the
 * incidents; each backup run raises or clears its own incidents and counts in the metrics.
 */
import type { Redis } from "ioredis";
import {
  backupOutcome,
  conditionsFromEvaluation,
  copyOutcome,
  pruneOutcome,
  aboutDestination,
  reportFailed,
  resolveReportFailed,
  incidentManagerFor,
  EVALUATED_EVENTS,
  type IncidentManager,
  storageReachable,
  storageUnreachable,
  type AlertEvent,
  type Condition,
  type IncidentChanges,
} from "../alerts";
import type { CopyReport } from "../copy";
import type { PruneReport } from "../prune";
import type { HavenConfig } from "../config/types";
import { primaryStorage } from "../engine/backup";
import type { BackupResult } from "../engine/types";
import type { Logger } from "../lib/logger";
import { isHavenError } from "../lib/errors";
import { withTargetLock } from "../jobs/lock";
import { createMetrics, type HavenMetrics } from "../metrics";
import { FirstSeen, liveTimes } from "./first-seen";
import { namesOf, PublishedEstate, type ConfigNames } from "./published-estate";
import {
  createSloCache,
  evaluateTarget,
  loadSloInputs,
  scheduleOf,
  verifyScheduleOf,
  type SloCache,
} from "../slo";
import type { TargetEvaluation } from "../slo/types";

export interface EvaluationOutcome {
  evaluations: TargetEvaluation[];
  /** Targets whose destination could not be read, with the error. */
  unreachable: Array<{ target: string; destination: string; error: string }>;
  /** Destinations read successfully in this pass: only these may be declared reachable again. */
  reached: string[];
}

export interface WatchdogOutcome extends EvaluationOutcome {
  /** Why this pass did nothing: another pass held the watchdog lock. */
  skipped?: string;
}

/** The lock of a watchdog pass; target names cannot start with "_", so it meets no target's. */
const WATCHDOG_LOCK = "_watchdog";

export interface EvaluateTargetsOptions {
  now?: Date;
  cache?: SloCache;
  /** Default: every configured target. */
  targets?: string[];
  /**
   * When each target was first seen (see `FirstSeen`): a target that never had a snapshot is in
   * breach only from then + its RPO. Without it (`haven status` when Redis does not answer), such a
   * target is in breach at once.
   */
  firstSeen?: ReadonlyMap<string, Date>;
}

/** Evaluates RPO and RTO of the given targets (default: all) from their primary destinations. */
export async function evaluateTargets(
  config: HavenConfig,
  logger: Logger,
  options: EvaluateTargetsOptions = {},
): Promise<EvaluationOutcome> {
  const now = options.now ?? new Date();
  const outcome: EvaluationOutcome = { evaluations: [], unreachable: [], reached: [] };
  for (const target of Object.values(config.targets)) {
    if (options.targets && !options.targets.includes(target.name)) continue;
    const storage = primaryStorage(config, target, { logger, signal: AbortSignal.timeout(60_000) });
    try {
      const inputs = await loadSloInputs(storage, target.name, { cache: options.cache, now });
      outcome.reached.push(storage.name);
      for (const problem of inputs.problems)
        logger.warn({ target: target.name, problem }, "unreadable object");
      // A target that has had a snapshot is not new: its breach counts whenever Haven first saw it.
      const trackedSince = inputs.everBackedUp ? undefined : options.firstSeen?.get(target.name);
      outcome.evaluations.push(
        evaluateTarget({
          target: target.name,
          rpoMs: target.rpo,
          rtoMs: target.rto,
          snapshots: inputs.snapshots,
          verifications: inputs.verifications,
          prunedVerifications: inputs.prunedVerifications,
          schedule: scheduleOf(target, config.timezone),
          verifySchedule: verifyScheduleOf(target, config.timezone),
          now,
          ...(trackedSince ? { trackedSince } : {}),
        }),
      );
    } catch (error) {
      outcome.unreachable.push({
        target: target.name,
        destination: storage.name,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      await storage.close();
    }
  }
  return outcome;
}

/**
 * What an incident is about that the config no longer has ("target X", "destination Y"), or undefined.
 * An incident is about its target when it names one (prune-refused and copy-behind name a destination
 * too, but clear with their target's runs), and about its destination when it names no target or is
 * of a type about its destination (EventInfo.about).
 */
function removedFromConfig(
  event: Pick<AlertEvent, "type" | "target" | "destination">,
  names: ConfigNames,
): string | undefined {
  if (event.target !== undefined && !names.targets.has(event.target)) return `target ${event.target}`;
  const ofDestination = event.target === undefined || aboutDestination(event.type);
  if (ofDestination && event.destination !== undefined && !names.destinations.has(event.destination)) {
    return `destination ${event.destination}`;
  }
  return undefined;
}

export class Monitor {
  readonly metrics: HavenMetrics;
  readonly incidents: IncidentManager;
  readonly #cache = createSloCache();
  readonly #firstSeen: FirstSeen;
  readonly #estate: PublishedEstate;

  constructor(
    private readonly config: HavenConfig,
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {
    this.#firstSeen = new FirstSeen(redis, config.queuePrefix);
    this.#estate = new PublishedEstate(redis, config.queuePrefix);
    this.incidents = incidentManagerFor(config, redis, logger);
    this.metrics = createMetrics({ openIncidents: () => this.incidents.countOpen() });
  }

  /**
   * The watchdog: evaluate every target and make the open incidents match what holds now. One pass at
   * a time across all workers: the minute's pass is skipped while another runs (a slow listing, two
   * maintenance jobs at once, a pass after a verification), since a pass that read the bucket earlier
   * and applied its result later would raise again what a newer pass had resolved, or the reverse.
   * Skipped, not queued: the next pass is a minute away and reads everything afresh. The lock is
   * renewed while the pass runs (`withTargetLock`); a pass that loses it applies nothing. When Redis
   * does not answer, the pass runs without it: there is no alert state to race on then.
   */
  async watchdog(targets?: string[]): Promise<WatchdogOutcome> {
    let entered = false;
    try {
      return await withTargetLock(
        this.redis,
        WATCHDOG_LOCK,
        this.config.workers.lockTtl,
        (lockSignal) => {
          entered = true;
          return this.#pass(targets, lockSignal);
        },
        { prefix: this.config.queuePrefix, logger: this.logger },
      );
    } catch (error) {
      if (entered) throw error;
      if (isHavenError(error, "LOCKED")) {
        this.logger.debug("another watchdog pass is running; this one is skipped");
        return { evaluations: [], unreachable: [], reached: [], skipped: "another watchdog pass is running" };
      }
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "could not take the watchdog lock; this pass runs without it",
      );
      return this.#pass(targets);
    }
  }

  async #pass(targets: string[] | undefined, lockSignal?: AbortSignal): Promise<EvaluationOutcome> {
    const firstSeen = await this.#recordFirstSeen(new Date());
    const outcome = await evaluateTargets(this.config, this.logger, {
      cache: this.#cache,
      firstSeen,
      ...(targets ? { targets } : {}),
    });
    // Lost (expired while this process stalled): another pass may be applying newer results now.
    lockSignal?.throwIfAborted();
    const conditions: Condition[] = outcome.evaluations.flatMap((e) => conditionsFromEvaluation(e));
    for (const evaluation of outcome.evaluations) this.metrics.recordEvaluation(evaluation);
    const now = new Date();
    const unreachable = new Set(outcome.unreachable.map((u) => u.destination));
    for (const u of outcome.unreachable) {
      const c = storageUnreachable(u.destination, new Error(u.error), now);
      await this.incidents.raise(c.key, c.event);
    }
    // Only what this pass read: a pass over some targets (after a verification) says nothing of the
    // destinations it did not touch, and clearing those would make an outage's alert flap.
    for (const name of new Set(outcome.reached)) {
      if (!unreachable.has(name)) await this.incidents.clear(storageReachable(name));
    }
    await this.incidents.reconcile(conditions, {
      events: EVALUATED_EVENTS,
      targets: outcome.evaluations.map((e) => e.target),
    });
    await this.#resolveRemovedFromConfig();
    return outcome;
  }

  /**
   * Incidents of a target, or of a destination (storage-unreachable), no longer in the config are
   * resolved, saying so: nothing evaluates, runs or lists it any more, so they could never clear, and
   * they kept counting as open (metrics, the report).
   */
  async #resolveRemovedFromConfig(): Promise<void> {
    const own = namesOf(this.config);
    const candidates = (await this.incidents.openIncidents()).flatMap((incident) => {
      const removed = removedFromConfig(incident.event, own);
      return removed === undefined ? [] : [{ incident, removed }];
    });
    if (candidates.length === 0) return;
    // The newest serve's config must agree (see published-estate.ts): a worker not yet restarted
    // on a new config must not resolve the incidents of a target that config added.
    const newest = await this.#estate.read();
    for (const { incident, removed } of candidates) {
      if (newest !== undefined && removedFromConfig(incident.event, newest) === undefined) continue;
      this.logger.info({ incident: incident.key, removed }, "removed from the config");
      await this.incidents.clear(incident.key, { resolvedBecause: `${removed} was removed from the config` });
    }
  }

  /** When each configured target was first seen (recorded by the watchdog), for the monthly report. */
  async firstSeen(): Promise<Map<string, Date>> {
    return this.#firstSeen.read();
  }

  /**
   * Records the configured targets not seen before. When Redis fails here, every target counts as
   * first seen now: a grace only for targets that never had a snapshot, and reconcile reports Redis.
   */
  async #recordFirstSeen(now: Date): Promise<Map<string, Date>> {
    const names = Object.keys(this.config.targets);
    try {
      // One read in the steady state: a first sighting, once written, never changes (HSETNX). Only
      // targets missing from it (new ones, or the hash lost with Redis's data) are written, and only
      // then are the open incidents read, for the upgrade rule (FirstSeenOptions.alreadyBreached).
      const known = await this.#firstSeen.readAll();
      const unrecorded = names.filter((name) => !known.has(name));
      if (unrecorded.length === 0) return liveTimes(known);
      const breached = (await this.incidents.openIncidents())
        .filter((i) => i.event.type === "rpo-breached" && i.event.target !== undefined)
        .map((i) => i.event.target as string);
      const times = await this.#firstSeen.record(unrecorded, now, { alreadyBreached: new Set(breached) });
      return new Map([...liveTimes(known), ...times]);
    } catch (error) {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        "could not read when targets were first seen; counting them as seen now",
      );
      return new Map(names.map((name) => [name, now]));
    }
  }

  /**
   * After each backup run: count it, and raise or clear its backup-failed / backup-partial incidents;
   * a failed attempt that will be `retried` is counted only.
   */
  async afterBackup(result: BackupResult, options: { retried?: boolean } = {}): Promise<void> {
    this.metrics.recordBackup(result);
    if (!options.retried) await this.#apply(backupOutcome(result));
  }

  /** After a prune run: a refusal alerts (nothing was removed, a human must look); a run clears it. */
  async afterPrune(report: PruneReport): Promise<void> {
    await this.#apply(pruneOutcome(report));
  }

  /** After copying a target's snapshots to its other destinations: alert when a copy is past the RPO. */
  async afterCopy(report: CopyReport, now = new Date()): Promise<void> {
    const target = this.config.targets[report.target];
    if (target) await this.#apply(copyOutcome(report, target.rpo, now));
  }

  /**
   * After a monthly report run of `month`, with its error (the mailer has retried already) or null:
   * an error raises `report-failed`; a delivery resolves it when it answers the month that failed.
   */
  async afterReport(month: string, error: Error | null, now = new Date()): Promise<void> {
    if (error) await this.#apply({ raise: [reportFailed(error, month, now)], clear: [] });
    else await this.#guard(() => resolveReportFailed(this.incidents, month));
  }

  async #apply({ raise, clear }: IncidentChanges): Promise<void> {
    await this.#guard(async () => {
      for (const c of raise) await this.incidents.raise(c.key, c.event);
      for (const key of clear) await this.incidents.clear(key);
    });
  }

  async #guard(update: () => Promise<unknown>): Promise<void> {
    try {
      await update();
    } catch (error) {
      // Alerting must never fail the work it reports on (a committed backup must not become a failed job).
      this.logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        "could not update incidents",
      );
    }
  }

  async close(): Promise<void> {
    await this.incidents.close();
  }
}
