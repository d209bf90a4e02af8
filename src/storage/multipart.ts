/**
 * One S3 put of a stream: a PutObject for a body smaller than one part, else a multipart upload,
 * cut into parts through a fixed pool of part buffers.
 *
 * Why not lib-storage's `Upload` (used until December 2026): its chunker keeps every incoming chunk,
 * `Buffer.concat`s them per part and keeps the remainder as a view of that concatenation, so each
 * part cost about two part-size allocations outside the V8 heap, freed only when V8 next ran a
 * full GC. The peak RSS of a backup of the bench's 1 GB tree to s3rver over HTTPS varied 282–332 MB
 * (issue 2's bound: 300 MB) while the parts themselves were 24 MiB (8 MiB × 3 in flight). With the
 * pool below, the same backup peaked at 221–248 MB (median 229 against 269, 5 alternating runs
 * each) and ran 15 full GCs instead of 99 (docs/ARCHITECTURE.md, "S3 puts through our own pool").
 *
 * Memory: at most queueSize + 1 buffers of partSize per put (allocated on first need, then reused):
 * queueSize parts in flight and one being filled; 32 MiB at the defaults (8 MiB × (3 + 1)). Each
 * incoming chunk is copied once, into the buffer being filled. When that buffer is full and more
 * bytes arrive, the next buffer is taken from the pool, waiting while all are in use, and only then
 * the full one is sent, so at most queueSize UploadPart requests are in flight. While it waits the
 * body is not read: backpressure reaches the producer.
 *
 * A part's buffer goes back to the pool when its UploadPart settles, which is after the client's
 * last retry: the SDK retries a failed UploadPart with the same Buffer (a Buffer body is replayable,
 * a stream body would not be), so a retry sends the same bytes, and no buffer is refilled while a
 * request may still read it.
 *
 * Requests carry what lib-storage sent: ContentType and Object Lock on PutObject and
 * CreateMultipartUpload, `If-None-Match: *` (createOnly) on PutObject and CompleteMultipartUpload,
 * and, where the client computes checksums whenever supported (AWS), CRC32 declared on
 * CreateMultipartUpload and each part's checksum on CompleteMultipartUpload.
 *
 * Failure: the first one wins (see `onStorageError`); part requests in flight are aborted, the body
 * is destroyed, and a multipart upload that was created is aborted. An abort that fails is only
 * logged: the put already failed for a better reason, and the parts are left to `listIncomplete`
 * or a bucket lifecycle rule.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type ObjectLockMode,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { MAX_PARTS } from "./upload-plan";

/** Where a put goes and what the object carries. */
export interface MultipartTarget {
  bucket: string;
  /** The full object key (with the destination's prefix). */
  key: string;
  contentType?: string | undefined;
  objectLock?: { mode: ObjectLockMode; retainUntil: Date } | undefined;
  /** Send `If-None-Match: *` on the request that commits the object. */
  createOnly?: boolean | undefined;
}

export interface MultipartOptions {
  /** Bytes per part (all but the last); at least 5 MiB. */
  partSize: number;
  /** UploadPart requests in flight at most; the pool holds one buffer more. */
  queueSize: number;
  /** Parts an object may have (S3: 10,000); a body that needs more fails with `tooLarge()`. */
  maxParts?: number | undefined;
  /** The error a body that outgrows `maxParts` parts fails with (it should say what to raise). */
  tooLarge: () => Error;
  /** Aborting it aborts the part uploads in flight and fails the put (cancel). */
  signal?: AbortSignal | undefined;
  /**
   * Called once, with the error of the first failure on the storage side (a failed request, a
   * response without ETag), before the body is destroyed: the body's resulting error is not the cause.
   */
  onStorageError?: ((error: unknown) => void) | undefined;
  /** Allocates one part buffer. Default: Buffer.allocUnsafeSlow (tests count the calls). */
  allocate?: ((bytes: number) => Buffer) | undefined;
  logger: Logger;
}

export interface MultipartResult {
  /** 1 for a PutObject. */
  parts: number;
  /** Part buffers this put allocated (at most queueSize + 1). */
  buffers: number;
  /** How long the service took to commit the parts (CompleteMultipartUpload); 0 for a PutObject.
   * Some services copy every part into one object here, after the last byte was sent. */
  commitMs: number;
}

/**
 * Reads `body` to its end and stores it under `target.key`. Rejects with the first failure's error
 * (the body's own, a request's, or the signal's reason), after aborting what it started.
 */
export async function putStream(
  client: S3Client,
  body: Readable,
  target: MultipartTarget,
  options: MultipartOptions,
): Promise<MultipartResult> {
  return new StreamPut(client, body, target, options).run();
}

/** At most `count` buffers of `size` bytes, allocated on first need and handed out again after release. */
export class PartPool {
  readonly #free: Buffer[] = [];
  readonly #waiting: { resolve: (buffer: Buffer) => void; reject: (error: unknown) => void }[] = [];
  readonly #allocate: (bytes: number) => Buffer;
  #allocated = 0;
  #closed: { error: unknown } | undefined;

  constructor(
    readonly size: number,
    readonly count: number,
    allocate: (bytes: number) => Buffer = (bytes) => Buffer.allocUnsafeSlow(bytes),
  ) {
    this.#allocate = allocate;
  }

  /** A free buffer; waits while all `count` are taken. Rejects once the pool is closed. */
  async acquire(): Promise<Buffer> {
    if (this.#closed) throw this.#closed.error;
    const free = this.#free.pop();
    if (free) return free;
    if (this.#allocated < this.count) {
      this.#allocated++;
      return this.#allocate(this.size);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  release(buffer: Buffer): void {
    if (this.#closed) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(buffer);
    else this.#free.push(buffer);
  }

  /** Rejects every waiter and later acquire with `error`, and lets go of the free buffers. */
  close(error: unknown): void {
    this.#closed ??= { error };
    this.#free.length = 0;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  get allocated(): number {
    return this.#allocated;
  }
}

class StreamPut {
  readonly #client: S3Client;
  readonly #body: Readable;
  readonly #target: MultipartTarget;
  readonly #options: MultipartOptions;
  readonly #pool: PartPool;
  readonly #queueSize: number;
  /** Aborts the part requests in flight once the put failed. */
  readonly #requests = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #done: CompletedPart[] = [];
  #uploadId: Promise<string> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(client: S3Client, body: Readable, target: MultipartTarget, options: MultipartOptions) {
    this.#client = client;
    this.#body = body;
    this.#target = target;
    this.#options = options;
    this.#queueSize = Math.max(1, options.queueSize);
    this.#pool = new PartPool(options.partSize, this.#queueSize + 1, options.allocate);
  }

  async run(): Promise<MultipartResult> {
    const signal = this.#options.signal;
    const onAbort = () => this.#fail(signal?.reason, false);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      const { parts, commitMs } = await this.#write();
      return { parts, buffers: this.#pool.allocated, commitMs };
    } catch (error) {
      this.#fail(error, false);
      await this.#settleParts();
      await this.#abortUpload();
      throw this.#failure?.error ?? error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Returns the number of parts stored and how long their commit took; throws on any failure, which
   * #fail has then recorded. */
  async #write(): Promise<{ parts: number; commitMs: number }> {
    const partSize = this.#options.partSize;
    let current = await this.#pool.acquire();
    let filled = 0;
    let partNumber = 1;
    for await (const chunk of this.#body as AsyncIterable<Uint8Array>) {
      for (let at = 0; at < chunk.length;) {
        if (filled === partSize) {
          // More bytes after a full part: it is not the last one, so it can go.
          if (partNumber === (this.#options.maxParts ?? MAX_PARTS)) {
            throw this.#fail(this.#options.tooLarge(), true);
          }
          const next = await this.#pool.acquire(); // waits while queueSize parts are in flight
          this.#sendPart(partNumber++, current, filled);
          current = next;
          filled = 0;
        }
        const take = Math.min(partSize - filled, chunk.length - at);
        current.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
      }
    }
    this.#throwIfFailed();
    if (partNumber === 1) {
      await this.#putObject(current.subarray(0, filled));
      return { parts: 1, commitMs: 0 };
    }
    // The last part waits for a free request slot; its buffer was taken while others were in flight.
    while (this.#inFlight.size >= this.#queueSize) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
    this.#sendPart(partNumber, current, filled);
    await this.#settleParts();
    this.#throwIfFailed();
    const committing = performance.now();
    await this.#complete();
    return { parts: partNumber, commitMs: Math.round(performance.now() - committing) };
  }

  async #putObject(data: Buffer): Promise<void> {
    const { bucket, key, contentType, createOnly } = this.#target;
    await this.#request(() =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ...(contentType ? { ContentType: contentType } : {}),
          ...(createOnly ? { IfNoneMatch: "*" } : {}),
          ...this.#lockParams(),
        }),
      ),
    );
  }

  #sendPart(partNumber: number, buffer: Buffer, length: number): void {
    const part = (async () => {
      const uploadId = await this.#createUpload();
      const out = await this.#request(() =>
        this.#client.send(
          new UploadPartCommand({
            Bucket: this.#target.bucket,
            Key: this.#target.key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: buffer.subarray(0, length),
            ContentLength: length,
          }),
          { abortSignal: this.#requests.signal },
        ),
      );
      if (!out.ETag) {
        throw this.#fail(new Error(`the UploadPart response of part ${partNumber} has no ETag`), true);
      }
      this.#done.push({
        PartNumber: partNumber,
        ETag: out.ETag,
        ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}),
        ...(out.ChecksumCRC32C ? { ChecksumCRC32C: out.ChecksumCRC32C } : {}),
        ...(out.ChecksumSHA1 ? { ChecksumSHA1: out.ChecksumSHA1 } : {}),
        ...(out.ChecksumSHA256 ? { ChecksumSHA256: out.ChecksumSHA256 } : {}),
      });
    })().then(
      // Only now, after the last attempt, may the buffer be filled again.
      () => this.#pool.release(buffer),
      (error: unknown) => {
        this.#fail(error, false); // a failed request has reported itself already
      },
    );
    this.#inFlight.add(part);
    void part.finally(() => this.#inFlight.delete(part));
  }

  /** CreateMultipartUpload, sent once, when the first part is ready. */
  #createUpload(): Promise<string> {
    this.#uploadId ??= (async () => {
      const { bucket, key, contentType } = this.#target;
      const checksums = (await this.#client.config.requestChecksumCalculation()) === "WHEN_SUPPORTED";
      const out = await this.#request(() =>
        this.#client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ...(contentType ? { ContentType: contentType } : {}),
            ...this.#lockParams(),
            // As lib-storage: where the client checksums every part, the upload declares it.
            ...(checksums ? { ChecksumAlgorithm: "CRC32" as const } : {}),
          }),
        ),
      );
      if (!out.UploadId) throw this.#fail(new Error("CreateMultipartUpload returned no UploadId"), true);
      return out.UploadId;
    })();
    return this.#uploadId;
  }

  async #complete(): Promise<void> {
    const { bucket, key, createOnly } = this.#target;
    const uploadId = await this.#createUpload();
    const parts = [...this.#done].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await this.#request(() =>
      this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          // The commit itself refuses an existing key (on AWS; see s3Capabilities).
          ...(createOnly ? { IfNoneMatch: "*" } : {}),
        }),
      ),
    );
  }

  /** AbortMultipartUpload of an upload this put created; its failure is only logged. */
  async #abortUpload(): Promise<void> {
    const uploadId = await this.#uploadId?.catch(() => undefined);
    if (uploadId === undefined) return;
    try {
      await this.#client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.#target.bucket,
          Key: this.#target.key,
          UploadId: uploadId,
        }),
      );
    } catch (error) {
      this.#options.logger.warn(
        { err: (error as Error).message },
        "could not abort the multipart upload of a failed put; its parts stay until maintenance or a lifecycle rule removes them",
      );
    }
  }

  #lockParams(): { ObjectLockMode?: ObjectLockMode; ObjectLockRetainUntilDate?: Date } {
    const lock = this.#target.objectLock;
    return lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.retainUntil } : {};
  }

  /** Runs one request; its failure is the storage's. */
  async #request<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw this.#fail(error, true);
    }
  }

  /**
   * Records the put's first failure and stops everything: part requests in flight, buffer waits,
   * the body. Returns `error`, for `throw this.#fail(...)`.
   */
  #fail(error: unknown, storageSide: boolean): unknown {
    if (this.#failure) return error;
    this.#failure = { error };
    if (storageSide) this.#options.onStorageError?.(error);
    this.#requests.abort(error);
    this.#pool.close(error);
    this.#body.destroy(error instanceof Error ? error : new Error(String(error)));
    return error;
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  async #settleParts(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
