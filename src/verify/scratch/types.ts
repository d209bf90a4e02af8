/**
 * A scratch place: where a restore test puts a snapshot to prove it restorable, then throws it away.
 *
 * Contract, for every implementation (postgres.ts, mysql.ts, redis.ts, files.ts, sqlite.ts):
 * - creating the place object touches nothing or only what `cleanup` removes; names are unique and
 *   carry their creation time (names.ts), never a real database;
 * - `restore` streams the plain main payload in with backpressure, honours `run.signal`, and consumes
 *   or destroys the body on failure;
 * - `cleanup` removes everything the place may have created, whether `restore` succeeded, failed,
 *   was cancelled or never ran; it is idempotent and needs no live `run.signal` (the run's may be
 *   aborted by then). It rejects only when something was left behind, naming it.
 */
import type { Readable } from "node:stream";
import type { Manifest } from "../../catalog/manifest";
import { Secret } from "../../lib/secret";
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

/**
 * The connection to scratch database `name`: on the server of `verify.into` when set (a URL), else on
 * the target's own server. Creating, using, dropping and sweeping all connect through this, so a sweep
 * looks exactly where the target's scratch databases are made.
 */
export function scratchServer<C extends { database: string }>(
  target: { name: string; verify: { into?: string | undefined } },
  name: string,
  resolve: (from: { name: string; url: Secret; database: string }) => C,
  own: () => C,
): C {
  const into = target.verify.into;
  return into
    ? resolve({ name: target.name, url: new Secret(into), database: name })
    : { ...own(), database: name };
}
