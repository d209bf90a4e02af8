/**
 * One payload stream into one object: plain bytes are hashed, compressed, optionally encrypted,
 * and streamed to storage with backpressure end to end. Nothing is buffered beyond stream buffers
 * and the backend's upload parts.
 */
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StoredObject } from "../catalog/manifest";
import type { CompressionConfig } from "../config/types";
import { HashingStream } from "../lib/hashing";
import type { PutResult, StorageBackend } from "../storage/types";
import type { PayloadStream } from "../targets/types";
import { createCompressor, effectiveAlgorithm, extensionFor } from "./compression";
import type { EncryptionPlan } from "./encryption";

export interface StorePayloadOptions {
  storage: StorageBackend;
  /** Builds the object key from the file name (`data.tar.zst.age`). */
  keyFor: (fileName: string) => string;
  compression: CompressionConfig;
  encryption: EncryptionPlan | null;
  signal: AbortSignal;
  onPlainBytes?: (bytes: number) => void;
  retainUntil?: Date;
  /** Stored size this object will probably reach (from the previous snapshot), so the S3
   * backend can choose a part size that keeps it under the provider's part-count limit. */
  expectedSize?: number;
}

export function payloadFileName(
  stream: Pick<PayloadStream, "name" | "format">,
  algorithm: CompressionConfig["algorithm"],
  encrypted: boolean,
): string {
  return `${stream.name}.${stream.format}${extensionFor(algorithm)}${encrypted ? ".age" : ""}`;
}

export async function storePayload(
  payload: PayloadStream,
  options: StorePayloadOptions,
): Promise<StoredObject> {
  const algorithm = effectiveAlgorithm(options.compression.algorithm);
  const key = options.keyFor(payloadFileName(payload, algorithm, options.encryption !== null));
  const plain = new HashingStream(options.onPlainBytes);
  const compressor = createCompressor({ ...options.compression, algorithm });
  const stages: NodeJS.ReadWriteStream[] = [plain, compressor.stream];
  if (options.encryption) stages.push(options.encryption.createStream());
  const toStorage = new PassThrough({ highWaterMark: 1 << 20 });

  const produced = pipeline([payload.body, ...stages, toStorage], { signal: options.signal });
  const stored = options.storage.put(key, toStorage, {
    signal: options.signal,
    retainUntil: options.retainUntil,
    expectedSize: options.expectedSize,
  });
  // Whichever side fails first tears down the other, so neither waits forever on backpressure.
  produced.catch((error: unknown) => toStorage.destroy(error as Error));
  stored.catch((error: unknown) => payload.body.destroy(error as Error));
  const [producedOutcome, storedOutcome, codecOutcome] = await Promise.allSettled([
    produced,
    stored,
    compressor.finished,
  ]);
  // Wait for every side to settle first, so an aborted upload has cleaned up before we report.
  // The storage's error first: a backend reports a body that failed first as that body's error, and
  // its own failure classified (TRANSIENT, CREDENTIALS), where the torn-down pipeline holds only the
  // raw socket error it was destroyed with.
  for (const outcome of [storedOutcome, producedOutcome, codecOutcome]) {
    if (outcome.status === "rejected") throw outcome.reason;
  }
  const result = (storedOutcome as PromiseFulfilledResult<PutResult>).value;

  return {
    key,
    stream: payload.name,
    format: payload.format,
    size: result.size,
    sha256: result.sha256,
    plainSize: plain.bytes,
    plainSha256: plain.sha256,
    compression: algorithm,
    encryption: options.encryption ? { format: "age-v1", recipients: options.encryption.fingerprints } : null,
  };
}
