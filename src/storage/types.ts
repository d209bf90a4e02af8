import type { Readable } from "node:stream";

/**
 * Glossary
 * - key: a slash-separated object name relative to the destination's prefix ("orders-db/2026.../manifest.json").
 * - backend: one destination (an S3-compatible bucket + prefix, or a filesystem directory).
 */

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  /**
   * Object Lock retention: this version of the object cannot be deleted before this instant. Filled by
   * `stat` on backends that hold locks (S3, from HeadObject), when the object has a retention and the
   * credentials may read it (s3:GetObjectRetention); absent otherwise, and never filled by `list`.
   */
  retainUntil?: Date;
  /** Object Lock legal hold on this version (S3 HeadObject, with s3:GetObjectLegalHold): it cannot be
   * deleted until the hold is lifted, whatever retainUntil says. */
  legalHold?: boolean;
}

export interface PutResult extends ObjectInfo {
  /** sha256 (hex) of the bytes as stored, computed while streaming. */
  sha256: string;
}

export interface PutOptions {
  /** Fail with HavenError("ALREADY_EXISTS") instead of overwriting (manifests). Best effort where
   * the backend cannot do it atomically: see `capabilities.createOnly`. */
  createOnly?: boolean;
  contentType?: string;
  /** Object Lock retain-until date, on backends that support it. */
  retainUntil?: Date;
  signal?: AbortSignal;
  /** Called with the total bytes consumed so far, for progress bars. */
  onProgress?: (bytes: number) => void;
  /**
   * Expected size of the body in bytes, exact or estimated (e.g. the previous snapshot's size).
   * The S3 backend grows its multipart part size so that 1.25 × this fits in S3's 10,000 parts;
   * without it, a body may be at most 10,000 × the configured part size. Ignored by other backends.
   */
  expectedSize?: number;
}

export interface GetOptions {
  /** Inclusive byte range. */
  range?: [number, number];
  signal?: AbortSignal;
}

/** An upload started but never completed (S3 multipart, or a filesystem temp file). */
export interface IncompleteUpload {
  key: string;
  startedAt: Date;
  /** Opaque handle for `abortIncomplete`. */
  id: string;
}

export interface StorageCapabilities {
  /** put with createOnly is atomic (no race window between check and write). */
  createOnly: boolean;
  /** The backend can hold objects under an Object Lock retention. */
  objectLock: boolean;
}

/**
 * Where snapshots live. Contract (tested by test/storage/contract.ts against every backend):
 * - put: streams body to key with backpressure, in bounded memory. On success the whole object is
 *   visible at once, and never part of one. A failure before the commit (the body's error, an abort,
 *   a network error while sending) leaves nothing under key, and any partial upload is aborted best
 *   effort (leftovers are listed by `listIncomplete`). A failure reported at or after the commit (a
 *   lost CompleteMultipartUpload answer, a directory fsync after the rename) may leave the whole
 *   object there: callers that must know read the key back (engine/commit-manifest.ts). Not
 *   idempotent with createOnly. Rejects with the body's error when the body fails.
 * - get: a stream of the object's bytes; HavenError("NOT_FOUND") for a missing key.
 * - stat: null for a missing key; never throws "not found".
 * - list: every object whose key starts with prefix, in lexicographic key order, across pages.
 * - remove: deleting a missing key is not an error. Idempotent.
 * Errors are HavenError with code TRANSIENT (worth a retry), CREDENTIALS, NOT_FOUND, ALREADY_EXISTS or PERMANENT.
 */
export interface StorageBackend {
  /** The destination's name in the config ("primary", "nas"). */
  readonly name: string;
  readonly capabilities: StorageCapabilities;
  /** Human-readable location for messages, never holding a secret ("s3://bucket/prefix", "/mnt/nas"). */
  readonly location: string;
  put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  get(key: string, opts?: GetOptions): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | null>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  remove(keys: string[]): Promise<void>;
  /** Uploads begun under prefix and never completed. */
  listIncomplete(prefix: string): AsyncIterable<IncompleteUpload>;
  abortIncomplete(upload: IncompleteUpload): Promise<void>;
  /** Cheap reachability and permission check (used by `haven doctor` and at startup). */
  probe(signal?: AbortSignal): Promise<void>;
  /** Releases sockets and handles. */
  close(): Promise<void>;
}
