import type { Readable } from "node:stream";
import type { Logger } from "pino";

/** Everything a target adapter may need while it runs, and nothing about storage. */
export interface RunContext {
  signal: AbortSignal;
  logger: Logger;
  /** Records a non-fatal problem; any warning makes the run `partial`. */
  warn(message: string, detail?: Record<string, unknown>): void;
}

export interface ProbeResult {
  ok: boolean;
  /** One line per check: what was checked and what was found. */
  checks: Array<{ name: string; ok: boolean; detail: string; hint?: string }>;
}

/** Statistics known once the producer has finished; stored in the manifest's `stats`. */
export interface BackupStats {
  /** files targets: file count and bytes of file content. */
  files?: number;
  bytes?: number;
  /** database targets: row counts per table ("schema.table"), key counts for Redis. */
  tables?: Record<string, number>;
  keys?: number;
  /** Server and tool versions, for `manifest.source`. */
  source?: Record<string, string>;
  /** Extra named streams produced beside the main one (e.g. postgres globals); see BackupStream.extra. */
  [key: string]: unknown;
}

/** One stream of a snapshot's payload. */
export interface PayloadStream {
  /** Name of the stream, used in the object key: "data", "globals", "index". */
  name: string;
  /** File extension of the plain stream's format ("tar", "pgdump", "sql", "rdb", "sqlite", "jsonl"). */
  format: string;
  body: Readable;
}

export interface BackupStream {
  /** The main payload. Produced lazily: the adapter starts reading its source when body is read. */
  main: PayloadStream;
  /**
   * Streams that can only be produced after `main` ends (e.g. the file index built while archiving),
   * or small independent ones (postgres globals). Called once main is fully consumed.
   */
  after?: () => Promise<PayloadStream[]>;
  /**
   * Settles when the producer is done. MUST reject if the producer failed (dump tool exit code, read
   * error), even when the byte stream ended normally: the run then MUST NOT commit.
   */
  done: Promise<BackupStats>;
}

/** Where a restore goes: `original` restores over the configured source (needs consent upstream). */
export type RestoreDestination =
  { kind: "original" } | { kind: "path"; path: string } | { kind: "database"; name: string; url?: string };

export interface RestoreOptions {
  /** Glob patterns of paths to restore (files targets only). */
  include?: string[];
  /** Allow writing into a non-empty directory / over an existing database. */
  force?: boolean;
  /** Named payload streams of the snapshot other than main, when the adapter needs them. */
  extra?: Record<string, () => Promise<Readable>>;
  /**
   * Called once the adapter's own checks of the destination passed (not empty without `force`,
   * file exists...) and before it changes anything there; a rejection stops the restore. The CLI
   * uses a restore approval here, so a restore these checks refuse does not use it up.
   */
  beforeWrite?: () => Promise<void>;
}

/**
 * What kept an entry out: what the archive holds (an unsafe name, a device, a link out of the
 * destination), what the destination has in its place (a directory where the entry is a file, a
 * symbolic link where it is a folder, a name too long for that file system), or a name the
 * destination's file system cannot tell from one restored before it (`name-collision`: `Report.txt`
 * and `report.txt` on a share that folds case, one name in two Unicode forms). The operator's remedy
 * differs: inspect the snapshot, clear the destination, or restore onto a file system that keeps both.
 */
export type RejectionCause = "archive" | "destination" | "name-collision";

export interface RestoreStats {
  files?: number;
  bytes?: number;
  /** Entries refused (unsafe paths in an archive, etc.): each with the reason and, when known, its cause. */
  rejected?: Array<{ path: string; reason: string; cause?: RejectionCause }>;
  [key: string]: unknown;
}

export interface AdapterCapabilities {
  /** The backup is a consistent point-in-time image of the source. */
  pointInTime: boolean;
  /** restore() can write somewhere other than the original. */
  restoreElsewhere: boolean;
  /** restore() supports include globs (partial restore). */
  partialRestore: boolean;
}

/**
 * A source of backups. Contract (test/targets/*.test.ts):
 * - probe: cheap, read-only; never throws, reports failures in the result.
 * - backup: MUST NOT touch storage. The body streams with backpressure; `done` rejects when the
 *   producer failed. Cleans up its child processes and temp files when `run.signal` aborts.
 * - restore: consumes the plain (decompressed, decrypted) main stream into `to`. Rejects on any
 *   corrupt or hostile input, after consuming or destroying the body.
 */
export interface TargetAdapter {
  readonly name: string;
  readonly type: string;
  readonly capabilities: AdapterCapabilities;
  probe(signal: AbortSignal): Promise<ProbeResult>;
  backup(run: RunContext): Promise<BackupStream>;
  restore(
    body: Readable,
    to: RestoreDestination,
    run: RunContext,
    opts?: RestoreOptions,
  ): Promise<RestoreStats>;
  /** The manual recipe written into the manifest (`restore` field): how to restore with standard tools. */
  recipe(payload: { key: string; compression: string; encrypted: boolean }): string[];
}
