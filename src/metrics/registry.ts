/**
 * Haven's Prometheus metrics (prom-client), with Prometheus naming conventions: base units (seconds,
 * bytes), `_total` for counters, one label set per target. The run events feed them: `recordBackup`
 * after each backup run, `recordEvaluation` after each watchdog evaluation.
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | haven_backups_total | counter | target, result | backup runs by result (committed, partial, failed, skipped) |
 * | haven_last_success_timestamp_seconds | gauge | target | when the backup of the newest good snapshot finished |
 * | haven_snapshot_age_seconds | gauge | target | age of that snapshot's data (from its backup's start, as the RPO counts), at scrape time |
 * | haven_rpo_seconds | gauge | target | the configured RPO |
 * | haven_last_restore_test_seconds | gauge | target | duration of the newest passed restore test |
 * | haven_rto_seconds | gauge | target | the configured RTO |
 * | haven_rto_forecast_seconds | gauge | target | the highest restore-time forecast (see src/slo/rto.ts) |
 * | haven_slo_breached | gauge | target, slo | 1 when the RPO or RTO is breached, else 0 |
 * | haven_stored_bytes | gauge | target | bytes stored for the target's snapshots on the evaluated destination |
 * | haven_open_incidents | gauge | | open alert incidents |
 * | haven_queue_jobs | gauge | queue, state | jobs per queue and state (waiting, active, failed, delayed) |
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { BackupResult } from "../engine/types";
import type { TargetEvaluation } from "../slo/types";

export interface QueueCounts {
  queue: string;
  /** Job counts by state, e.g. { waiting: 2, active: 1, failed: 0 }. */
  counts: Record<string, number>;
}

export interface HavenMetricsOptions {
  /** Register into this registry; default a new one (never prom-client's global registry). */
  registry?: Registry;
  /** Also export Node process metrics (process_*, nodejs_*). Default true. */
  processMetrics?: boolean;
  /** Read at scrape time for haven_open_incidents (e.g. `() => incidents.countOpen()`). */
  openIncidents?: () => Promise<number>;
  /** Read at scrape time for haven_queue_jobs (the jobs layer's `getJobCounts` per queue). */
  queueCounts?: () => Promise<QueueCounts[]>;
  /** The clock for snapshot ages. Default `() => new Date()`. */
  now?: () => Date;
}

export class HavenMetrics {
  readonly registry: Registry;
  readonly #backups: Counter<"target" | "result">;
  readonly #lastSuccess: Gauge<"target">;
  readonly #rpo: Gauge<"target">;
  readonly #rto: Gauge<"target">;
  readonly #lastRestore: Gauge<"target">;
  readonly #forecast: Gauge<"target">;
  readonly #breached: Gauge<"target" | "slo">;
  readonly #stored: Gauge<"target">;
  readonly #openIncidents: Gauge;
  /** Newest recovery point per target (ms), for ages computed when scraped rather than when evaluated. */
  readonly #newest = new Map<string, number>();

  constructor(options: HavenMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    const registers = [registry];
    const now = options.now ?? (() => new Date());
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

    this.#backups = new Counter({
      name: "haven_backups_total",
      help: "Backup runs by result (committed, partial, failed, skipped).",
      labelNames: ["target", "result"],
      registers,
    });
    this.#lastSuccess = new Gauge({
      name: "haven_last_success_timestamp_seconds",
      // Kept as the finish, as the name says to anyone who alerts on batch jobs: the RPO counts from
      // the start (haven_snapshot_age_seconds), which a long backup leaves hours earlier.
      help:
        "Unix time the backup of the target's newest good (committed or partial, not proven damaged) snapshot " +
        "finished. Its data is older: the RPO counts from the backup's start, see haven_snapshot_age_seconds.",
      labelNames: ["target"],
      registers,
    });
    const newest = this.#newest;
    new Gauge({
      name: "haven_snapshot_age_seconds",
      help:
        "Age of the data in the target's newest good snapshot: from its backup's start (manifest startedAt), " +
        "as the RPO and rpo-breached count it, not from its finish.",
      labelNames: ["target"],
      registers,
      collect() {
        this.reset();
        const nowMs = now().getTime();
        for (const [target, recoveryPointMs] of newest)
          this.set({ target }, (nowMs - recoveryPointMs) / 1000);
      },
    });
    this.#rpo = new Gauge({
      name: "haven_rpo_seconds",
      help: "The target's RPO.",
      labelNames: ["target"],
      registers,
    });
    this.#rto = new Gauge({
      name: "haven_rto_seconds",
      help: "The target's RTO.",
      labelNames: ["target"],
      registers,
    });
    this.#lastRestore = new Gauge({
      name: "haven_last_restore_test_seconds",
      help: "Duration of the newest passed restore test of the target.",
      labelNames: ["target"],
      registers,
    });
    this.#forecast = new Gauge({
      name: "haven_rto_forecast_seconds",
      help: "Highest forecast restore time of the target (restore-test history and size trend).",
      labelNames: ["target"],
      registers,
    });
    this.#breached = new Gauge({
      name: "haven_slo_breached",
      help: "1 when the target's RPO or RTO (label slo) is breached, else 0.",
      labelNames: ["target", "slo"],
      registers,
    });
    this.#stored = new Gauge({
      name: "haven_stored_bytes",
      help: "Bytes stored for the target's snapshots on the evaluated destination.",
      labelNames: ["target"],
      registers,
    });
    const openIncidents = options.openIncidents;
    this.#openIncidents = new Gauge({
      name: "haven_open_incidents",
      help: "Open alert incidents.",
      registers,
      ...(openIncidents
        ? {
            async collect() {
              this.set(await openIncidents());
            },
          }
        : {}),
    });
    const queueCounts = options.queueCounts;
    if (queueCounts) {
      new Gauge({
        name: "haven_queue_jobs",
        help: "Jobs per queue and state.",
        labelNames: ["queue", "state"],
        registers,
        async collect() {
          this.reset();
          for (const { queue, counts } of await queueCounts()) {
            for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
          }
        },
      });
    }
  }

  /** Counts a finished backup run; a committed or partial run with newer data moves the newest snapshot. */
  recordBackup(result: BackupResult): void {
    this.#backups.inc({ target: result.target, result: result.state });
    if (result.state !== "committed" && result.state !== "partial") return;
    const finishedAt = new Date(result.finishedAt);
    // The run's start is its snapshot's recovery point (the RPO's rule, slo/rpo.ts).
    const recoveryPoint = new Date(result.startedAt);
    if (Number.isNaN(recoveryPoint.getTime()) || Number.isNaN(finishedAt.getTime())) return;
    const current = this.#newest.get(result.target) ?? -Infinity;
    if (recoveryPoint.getTime() >= current) this.#setNewest(result.target, recoveryPoint, finishedAt);
  }

  /** Sets every per-target gauge from an evaluation (the destination's view wins over run events). */
  recordEvaluation(evaluation: TargetEvaluation): void {
    const target = evaluation.target;
    const labels = { target };
    this.#rpo.set(labels, evaluation.rpo.rpoMs / 1000);
    this.#rto.set(labels, evaluation.rto.rtoMs / 1000);
    this.#stored.set(labels, evaluation.storedBytes);
    this.#breached.set({ target, slo: "rpo" }, evaluation.rpo.status === "breached" ? 1 : 0);
    this.#breached.set({ target, slo: "rto" }, evaluation.rto.status === "breached" ? 1 : 0);
    const newest = evaluation.rpo.newest;
    // The RPO's own pick and time (`startedAt` there is the recovery point), so both always agree.
    if (newest) this.#setNewest(target, newest.startedAt, newest.finishedAt);
    else {
      this.#newest.delete(target);
      this.#lastSuccess.remove(labels);
    }
    if (evaluation.rto.lastMs === null) this.#lastRestore.remove(labels);
    else this.#lastRestore.set(labels, evaluation.rto.lastMs / 1000);
    if (evaluation.rto.forecastMs === null) this.#forecast.remove(labels);
    else this.#forecast.set(labels, evaluation.rto.forecastMs / 1000);
  }

  #setNewest(target: string, recoveryPoint: Date, finishedAt: Date): void {
    this.#newest.set(target, recoveryPoint.getTime());
    this.#lastSuccess.set({ target }, finishedAt.getTime() / 1000);
  }

  /** Sets haven_open_incidents directly (when no `openIncidents` callback was given). */
  setOpenIncidents(count: number): void {
    this.#openIncidents.set(count);
  }

  /** Drops every series of a target removed from the config. */
  removeTarget(target: string): void {
    this.#newest.delete(target);
    for (const gauge of [
      this.#lastSuccess,
      this.#rpo,
      this.#rto,
      this.#lastRestore,
      this.#forecast,
      this.#stored,
    ]) {
      gauge.remove({ target });
    }
    for (const slo of ["rpo", "rto"]) this.#breached.remove({ target, slo });
    for (const result of ["committed", "partial", "failed", "skipped"])
      this.#backups.remove({ target, result });
  }
}

export function createMetrics(options?: HavenMetricsOptions): HavenMetrics {
  return new HavenMetrics(options);
}
