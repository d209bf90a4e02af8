/**
 * The S3 backend: an S3-compatible bucket + prefix, through `@aws-sdk/client-s3`.
 *
 * A put streams body → sha256/byte counter → putStream (multipart.ts), which copies the bytes into a
 * fixed pool of part buffers and sends up to `queueSize` parts at once (memory: partSize ×
 * (queueSize + 1), see upload-plan.ts). A small body becomes one PutObject, a larger one a multipart
 * upload that only becomes visible at CompleteMultipartUpload. On any failure the multipart upload
 * is aborted; where the service cannot abort, the leftover is logged and left to `listIncomplete` /
 * a bucket lifecycle rule.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { HavenError, isHavenError } from "../lib/errors";
import { HashingStream } from "../lib/hashing";
import { silentLogger } from "../lib/logger";
import { assertValidKey, assertValidPrefix, compareKeys } from "./keys";
import { putStream, type MultipartResult, type MultipartTarget } from "./multipart";
import { FailureTracker, abortError, alreadyExistsError, cancelledError, putError } from "./put-failure";
import { assertValidRange, httpRange } from "./range";
import {
  s3Capabilities,
  s3ClientConfig,
  s3Location,
  tuneDataRequestsOverTls,
  type S3Destination,
} from "./s3-client";
import { classifyS3Error, isNotImplemented } from "./s3-errors";
import { rangeLimit, relayResponse } from "./s3-read";
import type {
  GetOptions,
  IncompleteUpload,
  ObjectInfo,
  PutOptions,
  PutResult,
  StorageBackend,
  StorageCapabilities,
} from "./types";
import { planUpload, tooLargeError } from "./upload-plan";

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

export interface S3BackendOptions {
  logger?: Logger;
  /**
   * A ready client (tests observe the commands it sends). Default: one built from the destination
   * by `s3ClientConfig`. A client passed in is not destroyed by `close()`.
   */
  client?: S3Client;
  /** Allocates one part buffer of a put (tests count them). Default: Buffer.allocUnsafeSlow. */
  allocatePart?: (bytes: number) => Buffer;
}

export function createS3Backend(dest: S3Destination, options: S3BackendOptions = {}): StorageBackend {
  return new S3Backend(dest, options);
}

class S3Backend implements StorageBackend {
  readonly name: string;
  readonly location: string;
  /** See s3Capabilities. */
  readonly capabilities: StorageCapabilities;
  readonly #dest: S3Destination;
  readonly #client: S3Client;
  readonly #ownsClient: boolean;
  readonly #logger: Logger;
  readonly #allocatePart: ((bytes: number) => Buffer) | undefined;
  #incompleteUnsupported = false;

  constructor(dest: S3Destination, options: S3BackendOptions) {
    assertValidPrefix(dest.prefix, dest.name);
    this.name = dest.name;
    this.location = s3Location(dest);
    this.capabilities = s3Capabilities(dest);
    this.#dest = dest;
    this.#client = options.client ?? new S3Client(s3ClientConfig(dest));
    if (options.client === undefined) tuneDataRequestsOverTls(this.#client);
    this.#ownsClient = options.client === undefined;
    this.#logger = (options.logger ?? silentLogger).child({ destination: dest.name });
    this.#allocatePart = options.allocatePart;
  }

  /**
   * Streams body to key in bounded memory. Before the body is read (bad key, create-only key taken,
   * stat failing) it is left untouched; once reading began, a failure destroys it, aborts the
   * multipart upload and rejects with the body's own error when the body was the cause.
   */
  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key, this.name);
    if (opts.signal?.aborted) throw cancelledError(`put ${key} on ${this.name}`, opts.signal.reason);
    const plan = planUpload({
      destination: this.name,
      partSizeMiB: this.#dest.partSizeMiB,
      queueSize: this.#dest.queueSize,
      expectedSize: opts.expectedSize,
    });
    // Watch the body from the first moment: it may fail while we prepare, and must not crash the process.
    const failures = new FailureTracker();
    failures.watchBody(body);
    if (opts.createOnly && !this.capabilities.createOnly) {
      const existing = await this.stat(key).catch((error: unknown) => {
        failures.dispose();
        throw error;
      });
      if (existing) {
        failures.dispose();
        throw alreadyExistsError(key, this);
      }
    }

    const hasher = new HashingStream(opts.onProgress);
    // Registered before putStream's own listener, which aborts the part requests in flight.
    failures.watchSignal(opts.signal, (reason) => hasher.destroy(abortError(reason)));
    pipeline(body, hasher).catch(() => undefined); // its failures are recorded by `failures`

    this.#logger.debug(
      { key, partSize: plan.partSize, queueSize: plan.queueSize, maxBytes: plan.maxBytes },
      "upload plan",
    );
    let upload: MultipartResult;
    try {
      upload = await putStream(this.#client, hasher, this.#target(key, opts), {
        partSize: plan.partSize,
        queueSize: plan.queueSize,
        tooLarge: () => tooLargeError(this.name, key, plan),
        signal: opts.signal,
        // Recorded before the body is torn down, so the body's resulting error is not taken for the cause.
        onStorageError: (error) => failures.fail("storage", error),
        allocate: this.#allocatePart,
        logger: this.#logger.child({ key }),
      });
    } catch (error) {
      hasher.destroy(); // stops the body when the upload gave up before reading all of it
      throw putError(error, failures, key, this, (e) => this.#error(e, "put", key));
    } finally {
      failures.dispose();
    }
    return this.#checkStored(key, hasher, upload);
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    assertValidKey(key, this.name);
    if (opts.range) assertValidRange(opts.range);
    try {
      const out = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#dest.bucket,
          Key: this.#dest.prefix + key,
          ...(opts.range ? { Range: httpRange(opts.range) } : {}),
        }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
      const body = out.Body as Readable;
      let limit: number | undefined;
      try {
        if (opts.range)
          limit = rangeLimit(
            opts.range,
            { contentRange: out.ContentRange, contentLength: out.ContentLength },
            `get ${key} on ${this.name}`,
          );
      } catch (error) {
        body.destroy();
        throw error;
      }
      return relayResponse(body, (error) => this.#error(error, "get", key), limit);
    } catch (error) {
      throw this.#error(error, "get", key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key, this.name);
    try {
      const out = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#dest.bucket, Key: this.#dest.prefix + key }),
      );
      return {
        key,
        size: out.ContentLength ?? 0,
        lastModified: dateOf(out.LastModified),
        // Object Lock: prune must not try to delete an object before this date (see ObjectInfo).
        ...(out.ObjectLockRetainUntilDate ? { retainUntil: dateOf(out.ObjectLockRetainUntilDate) } : {}),
        ...(out.ObjectLockLegalHoldStatus === "ON" ? { legalHold: true } : {}),
      };
    } catch (error) {
      const haven = this.#error(error, "stat", key);
      if (haven.code === "NOT_FOUND") return null;
      throw haven;
    }
  }

  /**
   * ListObjectsV2 page by page (1,000 keys each). Folder markers (keys ending in "/") are skipped.
   * S3 returns keys in UTF-8 byte order; each page is sorted again anyway, because some compatible
   * services (s3rver) return a page in the order of their own directory walk.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix, this.name);
    const strip = this.#dest.prefix.length;
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#dest.bucket,
            Prefix: this.#dest.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        throw this.#error(error, "list", prefix);
      }
      const objects = (page.Contents ?? [])
        .filter(
          (object): object is typeof object & { Key: string } => !!object.Key && !object.Key.endsWith("/"),
        )
        .sort((a, b) => compareKeys(a.Key, b.Key));
      for (const object of objects) {
        yield {
          key: object.Key.slice(strip),
          size: object.Size ?? 0,
          lastModified: dateOf(object.LastModified),
        };
      }
      if (page.IsTruncated && !page.NextContinuationToken) {
        // Ending here would hand callers a partial listing as the whole: clean-up would take a
        // snapshot whose manifest was on the next page for one without a manifest.
        throw new HavenError(
          "TRANSIENT",
          `listing ${prefix || "the bucket"} on destination ${this.name} was cut short: the service said there is more but gave no continuation token`,
          {
            hint: "try again; if it persists, the S3-compatible service mishandles ListObjectsV2 paging: report it to its vendor",
          },
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** DeleteObjects in batches of 1,000; one DeleteObject per key where the service lacks it. */
  async remove(keys: string[]): Promise<void> {
    for (const key of keys) assertValidKey(key, this.name);
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      try {
        const out = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#dest.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: this.#dest.prefix + key })), Quiet: true },
          }),
        );
        const failed = (out.Errors ?? []).find((e) => e.Code !== "NoSuchKey");
        if (failed) {
          const key = (failed.Key ?? "").slice(this.#dest.prefix.length);
          throw this.#error(
            Object.assign(new Error(failed.Message ?? "delete failed"), { name: failed.Code ?? "Error" }),
            "remove",
            key,
          );
        }
      } catch (error) {
        if (!isNotImplemented(error)) throw this.#error(error, "remove");
        for (const key of batch) await this.#removeOne(key);
      }
    }
  }

  /**
   * ListMultipartUploads. Services without it (s3rver answers NotImplemented) yield nothing, with a
   * warning once per backend, because leftovers there can only be handled by the service itself.
   */
  async *listIncomplete(prefix: string): AsyncIterable<IncompleteUpload> {
    assertValidPrefix(prefix, this.name);
    if (this.#incompleteUnsupported) return;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#dest.bucket,
            Prefix: this.#dest.prefix + prefix,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
      } catch (error) {
        if (!isNotImplemented(error)) throw this.#error(error, "list incomplete uploads", prefix);
        this.#incompleteUnsupported = true;
        this.#logger.warn(
          { location: this.location },
          "the S3 service cannot list incomplete multipart uploads (ListMultipartUploads not implemented); " +
            "parts of failed uploads that could not be aborted stay until the service removes them: " +
            "configure an AbortIncompleteMultipartUpload lifecycle rule on the bucket if the service has one",
        );
        return;
      }
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId) continue;
        yield {
          key: upload.Key.slice(this.#dest.prefix.length),
          startedAt: dateOf(upload.Initiated),
          id: upload.UploadId,
        };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** Idempotent: an upload already completed or aborted (NoSuchUpload) is not an error. */
  async abortIncomplete(upload: IncompleteUpload): Promise<void> {
    assertValidKey(upload.key, this.name);
    try {
      await this.#client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.#dest.bucket,
          Key: this.#dest.prefix + upload.key,
          UploadId: upload.id,
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === "NoSuchUpload") return;
      if (isNotImplemented(error)) {
        throw new HavenError(
          "PERMANENT",
          `the S3 service of destination ${this.name} cannot abort multipart uploads`,
          {
            hint: "remove the upload with the service's own tools, or configure an AbortIncompleteMultipartUpload lifecycle rule",
            cause: error,
          },
        );
      }
      throw this.#error(error, "abort upload", upload.key);
    }
  }

  /** One ListObjectsV2 of at most one key: reachability, credentials, bucket and list permission. */
  async probe(signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#dest.bucket, Prefix: this.#dest.prefix, MaxKeys: 1 }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (error) {
      throw this.#error(error, "probe");
    }
  }

  close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
    return Promise.resolve();
  }

  #target(key: string, opts: PutOptions): MultipartTarget {
    const lock = this.#dest.objectLock;
    return {
      bucket: this.#dest.bucket,
      key: this.#dest.prefix + key,
      contentType: opts.contentType,
      createOnly: opts.createOnly,
      objectLock:
        lock && opts.retainUntil
          ? { mode: lock.mode === "compliance" ? "COMPLIANCE" : "GOVERNANCE", retainUntil: opts.retainUntil }
          : undefined,
    };
  }

  /**
   * A HEAD after the upload: the stored size must be the number of bytes hashed, which catches
   * services that store framing as data. A HEAD that fails is only logged, since the object is
   * committed and a retry of a create-only put would then fail.
   */
  async #checkStored(key: string, hasher: HashingStream, upload: MultipartResult): Promise<PutResult> {
    let stored: ObjectInfo | null = null;
    try {
      stored = await this.stat(key);
    } catch (error) {
      this.#logger.warn(
        { key, err: (error as Error).message },
        "put done, but the stored size could not be checked",
      );
    }
    if (stored && stored.size !== hasher.bytes) {
      await this.#removeOne(key).catch(() => undefined);
      throw new HavenError(
        "INTEGRITY",
        `${key} on destination ${this.name} was stored with ${stored.size} bytes instead of ${hasher.bytes}`,
        {
          hint: `the S3 service alters streamed uploads; for a non-AWS service keep destinations.${this.name}.endpoint set (it disables the SDK's streaming checksums), or report the service`,
        },
      );
    }
    this.#logger.debug(
      { key, bytes: hasher.bytes, parts: upload.parts, buffers: upload.buffers, commitMs: upload.commitMs },
      "put done",
    );
    return {
      key,
      size: hasher.bytes,
      lastModified: stored?.lastModified ?? new Date(),
      sha256: hasher.sha256,
    };
  }

  async #removeOne(key: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteObjectCommand({ Bucket: this.#dest.bucket, Key: this.#dest.prefix + key }),
      );
    } catch (error) {
      const haven = this.#error(error, "remove", key);
      if (haven.code !== "NOT_FOUND") throw haven;
    }
  }

  #error(error: unknown, operation: string, key?: string): HavenError {
    if (isHavenError(error)) return error;
    return classifyS3Error(error, {
      destination: this.name,
      location: this.location,
      operation,
      ...(key === undefined ? {} : { key }),
    });
  }
}

/** A Date of this realm (the SDK's may come from another one under test runners); epoch when absent. */
function dateOf(value: Date | undefined): Date {
  return new Date(value ? value.getTime() : 0);
}
