/**
 * Reads one stored object back as its plain stream: stored bytes are checked (size, and sha256 unless
 * `storedCheck: "size"`) while streaming, then decrypted, decompressed, and the plain bytes checked
 * (size, sha256). Every check fails the stream at its end, so a consumer never sees a clean end for
 * corrupt data.
 */
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StoredObject } from "../catalog/manifest";
import type { EncryptionConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { SizeCheckingStream, VerifyingStream } from "../lib/hashing";
import type { StorageBackend } from "../storage/types";
import { createDecompressor } from "./compression";
import { createDecryptor } from "./encryption";

export interface PlainStream {
  stream: Readable;
  /** Settles when every stage finished; rejects with the first failure (integrity, decryption, I/O). */
  finished: Promise<void>;
}

/**
 * An object its manifest lists is gone: the snapshot is damaged (NOT_FOUND, which verification
 * records as damage), not "no such snapshot", and another snapshot or a copy is the way on.
 */
function missingObject(storage: StorageBackend, key: string, cause: unknown): HavenError {
  return new HavenError(
    "NOT_FOUND",
    `${key} is missing from destination ${storage.name} although the snapshot's manifest lists it: the snapshot is damaged`,
    {
      hint: "restore another snapshot (haven snapshots lists them), or this one from a copy with --from <destination>",
      cause,
    },
  );
}

export async function openPlainStream(
  storage: StorageBackend,
  object: StoredObject,
  options: {
    encryption?: EncryptionConfig;
    signal: AbortSignal;
    onStoredBytes?: (bytes: number) => void;
    /** "size": the stored bytes are only counted (the plain sha256 is checked whatever this says). */
    storedCheck?: "sha256" | "size";
  },
): Promise<PlainStream> {
  const what = `stored object ${object.key}`;
  // The object first: a zstd child spawned before a GET that fails (missing object, network,
  // cancellation) would be left waiting on its stdin for ever.
  const body = await storage.get(object.key, { signal: options.signal }).catch((error: unknown) => {
    throw isHavenError(error, "NOT_FOUND") ? missingObject(storage, object.key, error) : error;
  });
  // An error before the pipeline below is attached (during the decryptor's await) must not crash
  // the process: the pipeline still sees it, the stream being errored.
  body.on("error", () => undefined);
  const stages: NodeJS.ReadWriteStream[] = [
    options.storedCheck === "size"
      ? new SizeCheckingStream({ size: object.size, what }, options.onStoredBytes)
      : new VerifyingStream({ size: object.size, sha256: object.sha256, what }, options.onStoredBytes),
  ];
  let decompressor: ReturnType<typeof createDecompressor>;
  try {
    if (object.encryption) stages.push(await createDecryptor(options.encryption));
    decompressor = createDecompressor(object.compression); // throws when no zstd is installed
  } catch (error) {
    body.destroy();
    throw error;
  }
  stages.push(decompressor.stream);
  stages.push(
    new VerifyingStream({
      size: object.plainSize,
      sha256: object.plainSha256,
      what: `plain stream of ${object.key}`,
    }),
  );
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const piped = pipeline([body, ...stages, out], { signal: options.signal }).catch((error: unknown) => {
    out.destroy(error as Error);
    throw error;
  });
  const finished = Promise.all([piped, decompressor.finished]).then(() => undefined);
  finished.catch(() => undefined);
  return { stream: out, finished };
}
