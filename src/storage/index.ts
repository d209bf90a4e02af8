/**
 * The one way the rest of Haven gets a storage backend for a configured destination.
 */
import type { Logger } from "pino";
import type { NamedDestination } from "../config/types";
import { createFilesystemBackend } from "./filesystem";
import { assertValidPrefix } from "./keys";
import { lazyBackend } from "./lazy";
import { withRetry, type RetryOptions } from "./retry";
import { s3Capabilities, s3Location } from "./s3-client";
import type { StorageBackend } from "./types";

export interface CreateStorageOptions {
  /**
   * Retry policy for TRANSIENT errors (see retry.ts), or false for none. Default: 3 tries, 1 s base
   * delay. For S3 this comes on top of the SDK's own per-request retries (`maxAttempts`), and covers
   * what those cannot: resuming a long listing, and outages longer than the SDK's backoff.
   */
  retry?: RetryOptions | false;
}

export function createStorage(
  dest: NamedDestination,
  logger: Logger,
  options: CreateStorageOptions = {},
): StorageBackend {
  const backend =
    dest.type === "s3"
      ? lazyS3Backend(dest, logger)
      : createFilesystemBackend({ name: dest.name, path: dest.path, prefix: dest.prefix, logger });
  if (options.retry === false) return backend;
  return withRetry(backend, { logger, ...options.retry });
}

function lazyS3Backend(dest: Extract<NamedDestination, { type: "s3" }>, logger: Logger): StorageBackend {
  // Checked now, as the eager backend did: a bad prefix is a config error, not a first-use error.
  assertValidPrefix(dest.prefix, dest.name);
  return lazyBackend(
    { name: dest.name, location: s3Location(dest), capabilities: s3Capabilities(dest) },
    () => import("./s3").then((s3) => s3.createS3Backend(dest, { logger })),
  );
}

export { withRetry, type RetryOptions } from "./retry";
export type { S3BackendOptions } from "./s3";
export { createFilesystemBackend, type FilesystemBackendOptions } from "./filesystem";
export type * from "./types";
