/**
 * Snapshots with chosen timestamps, written through the storage layer with the layout helpers (as a
 * backup would leave them: payload first, manifest last), and a backend wrapper that records calls.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { compactUtc, layout } from "../../src/catalog/layout";
import { MANIFEST_FORMAT_VERSION, type Manifest } from "../../src/catalog/manifest";
import type { Tier } from "../../src/config/types";
import type {
  GetOptions,
  IncompleteUpload,
  ObjectInfo,
  PutOptions,
  PutResult,
  StorageBackend,
} from "../../src/storage/types";
import type { VerificationRecord } from "../../src/verify/record";

export interface FixtureSnapshot {
  id: string;
  target: string;
  manifestKey: string;
  dataKeys: string[];
  verificationKeys: string[];
  /** Every key, manifest first. */
  keys: string[];
  manifest: Manifest;
}

export interface WriteSnapshotOptions {
  tiers?: Tier[];
  state?: "committed" | "partial";
  /** Payload objects: stream name → bytes. Default one small `data` object. */
  payload?: Record<string, Buffer>;
  /**
   * Verification records to add, oldest first; "damaged": failed on a hash mismatch (INTEGRITY);
   * "wrong-key": failed because the verifier's identity did not fit (DECRYPT), nothing of the snapshot.
   */
  verifications?: Array<FixtureResult>;
}

/** One snapshot of `target` taken at `at`. */
export async function writeSnapshot(
  storage: StorageBackend,
  target: string,
  at: Date,
  options: WriteSnapshotOptions = {},
): Promise<FixtureSnapshot> {
  const id = `${compactUtc(at)}-${randomBytes(4).toString("hex")}`;
  const payload = options.payload ?? { data: randomBytes(200 + Math.floor(Math.random() * 200)) };
  const objects: Manifest["payload"] = [];
  for (const [stream, bytes] of Object.entries(payload)) {
    const key = layout.payload(target, id, `${stream}.tar`);
    const stored = await storage.put(key, Readable.from([bytes]));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (stored.sha256 !== sha256) throw new Error("fixture: stored bytes differ");
    objects.push({
      key,
      stream,
      format: "tar",
      size: bytes.length,
      sha256,
      plainSize: bytes.length,
      plainSha256: sha256,
      compression: "none",
      encryption: null,
    });
  }
  const finished = new Date(at.getTime() + 60_000);
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    target,
    targetType: "files",
    tiers: options.tiers ?? ["daily"],
    state: options.state ?? "committed",
    startedAt: at.toISOString(),
    finishedAt: finished.toISOString(),
    source: { host: "fixture" },
    payload: objects,
    stats: { files: 1, bytes: objects.reduce((n, o) => n + o.size, 0) },
    warnings: [],
    restore: ["cat data.tar | tar x"],
    haven: { version: "test" },
  };
  const manifestKey = layout.manifest(target, id);
  await storage.put(manifestKey, Readable.from([Buffer.from(JSON.stringify(manifest, null, 2))]), {
    createOnly: true,
    contentType: "application/json",
  });
  const verificationKeys: string[] = [];
  let when = finished.getTime();
  for (const result of options.verifications ?? []) {
    when += 3_600_000;
    verificationKeys.push(await writeVerification(storage, target, id, result, new Date(when)));
  }
  const dataKeys = objects.map((o) => o.key);
  return {
    id,
    target,
    manifestKey,
    dataKeys,
    verificationKeys,
    keys: [manifestKey, ...dataKeys, ...verificationKeys],
    manifest,
  };
}

export type FixtureResult = "passed" | "failed" | "damaged" | "wrong-key";

const FIXTURE_ERRORS: Partial<Record<FixtureResult, { code: string; message: string }>> = {
  damaged: { code: "INTEGRITY", message: "data.tar: sha256 differs from the manifest's" },
  "wrong-key": { code: "DECRYPT", message: "none of the given identities can decrypt this file" },
};

/** A verification record of snapshot `id` that finished `at` (results as in `verifications` above). Its key. */
export async function writeVerification(
  storage: StorageBackend,
  target: string,
  id: string,
  result: FixtureResult,
  at: Date,
): Promise<string> {
  const error = FIXTURE_ERRORS[result];
  const record: VerificationRecord = {
    formatVersion: 1,
    kind: "integrity",
    target,
    snapshotId: id,
    result: result === "passed" ? "passed" : "failed",
    ...(error ? { error } : {}),
    startedAt: new Date(at.getTime() - 1000).toISOString(),
    finishedAt: at.toISOString(),
    phases: {},
    totalMs: 1000,
    checks: [],
    host: "fixture",
  };
  const key = layout.verification(target, id, at);
  await storage.put(key, Readable.from([Buffer.from(JSON.stringify(record))]));
  return key;
}

/** Every key under `prefix`, sorted; prune's own records (`_pruned/`) only when asked for by prefix. */
export async function listKeys(storage: StorageBackend, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix))
    if (prefix.startsWith("_pruned/") || !object.key.startsWith("_pruned/")) keys.push(object.key);
  return keys.sort();
}

export const DAY = 86_400_000;

/** A recorded call: the operation and the keys it touched. */
export interface RecordedCall {
  op: "put" | "get" | "stat" | "remove";
  keys: string[];
  opts?: PutOptions;
}

/**
 * Passes every call to `inner` and records it. `beforeRemove` may throw to inject a failure (a crash
 * between two removals).
 */
export class RecordingBackend implements StorageBackend {
  readonly calls: RecordedCall[] = [];
  beforeRemove?: (keys: string[], index: number) => void | Promise<void>;
  /** Runs before a put reaches the wrapped backend (e.g. to take the destination down). */
  beforePut?: (key: string) => void | Promise<void>;
  #removes = 0;

  constructor(readonly inner: StorageBackend) {}

  get name(): string {
    return this.inner.name;
  }
  get location(): string {
    return this.inner.location;
  }
  get capabilities(): StorageBackend["capabilities"] {
    return this.inner.capabilities;
  }
  async put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    this.calls.push({ op: "put", keys: [key], ...(opts ? { opts } : {}) });
    await this.beforePut?.(key);
    return this.inner.put(key, body, opts);
  }
  get(key: string, opts?: GetOptions): Promise<Readable> {
    this.calls.push({ op: "get", keys: [key] });
    return this.inner.get(key, opts);
  }
  stat(key: string): Promise<ObjectInfo | null> {
    this.calls.push({ op: "stat", keys: [key] });
    return this.inner.stat(key);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  async remove(keys: string[]): Promise<void> {
    await this.beforeRemove?.(keys, this.#removes++);
    this.calls.push({ op: "remove", keys: [...keys] });
    return this.inner.remove(keys);
  }
  listIncomplete(prefix: string): AsyncIterable<IncompleteUpload> {
    return this.inner.listIncomplete(prefix);
  }
  abortIncomplete(upload: IncompleteUpload): Promise<void> {
    return this.inner.abortIncomplete(upload);
  }
  probe(signal?: AbortSignal): Promise<void> {
    return this.inner.probe(signal);
  }
  /** The wrapped backend stays open: tests close it themselves. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Keys passed to remove, one array per call, in call order. */
  removals(): string[][] {
    return this.calls.filter((c) => c.op === "remove").map((c) => c.keys);
  }
  /** Keys passed to put, in call order. */
  puts(): RecordedCall[] {
    return this.calls.filter((c) => c.op === "put");
  }
}
