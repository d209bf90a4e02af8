/**
 * A scratch place: where a restore test puts a snapshot to prove it restorable, then throws it away.
 *
 * Contract, for every implementation (postgres.ts, mysql.ts, redis.ts, files.ts, sqlite.ts):
 * - creating the place object touches nothing or only what `cleanup` removes; names are unique
 *   (`haven_verify_<target>_<random>`, `haven-verify-<target>-XXXXXX`), never a real database;
 * - `restore` streams the plain main payload in with backpressure, honours `run.signal`, and consumes
 *   or destroys the body on failure;
 * - `cleanup` removes everything the place may have created, whether `restore` succeeded, failed,
 *   was cancelled or never ran; it is idempotent and needs no live `run.signal` (the run's may be
 *   aborted by then). It rejects only when something was left behind, naming it.
 */
import type { Readable } from "node:stream";
import type { Manifest } from "../../catalog/manifest";
import type { RestoreOptions, RestoreStats, RunContext } from "../../targets/types";
import type { CheckResult } from "../record";

export interface BuiltInCheckContext {
  manifest: Manifest;
  /** Opens another payload stream of the snapshot by name ("index"), plain; null when absent. */
  openStream: (name: string) => Promise<Readable | null>;
  signal: AbortSignal;
}

/** The first column of the first row of a query, or `hasRow: false`. */
export interface QueryValue {
  value: unknown;
  hasRow: boolean;
}

export interface ScratchPlace {
  /** What and where, for logs and the record ("postgres database haven_verify_x on host:5432"); no secret. */
  readonly description: string;
  /** Streams the snapshot's plain main payload into the place. */
  restore(body: Readable, run: RunContext, options: RestoreOptions): Promise<RestoreStats>;
  /** The checks derived from the manifest (row counts, keys, files), run against the restored place. */
  builtInChecks(context: BuiltInCheckContext): Promise<CheckResult[]>;
  /** SQL databases: runs a YAML `sql` check's query in the scratch database. */
  query?(sql: string, signal: AbortSignal): Promise<QueryValue>;
  /** Files: the restored directory, which YAML `file` checks are relative to. */
  readonly directory?: string;
  /** Removes the place; see the contract above. */
  cleanup(): Promise<void>;
}

/** How long cleanup may take per step; it runs after the run's own signal may have been aborted. */
export const CLEANUP_TIMEOUT_MS = 60_000;

/** `haven_verify_<target>_<8 hex>`: a valid unquoted identifier in PostgreSQL and MySQL (<= 63 chars). */
export function scratchDatabaseName(target: string, suffix: string): string {
  const safe = target
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 32);
  return `haven_verify_${safe}_${suffix}`;
}
