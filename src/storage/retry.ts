/**
 * Retries as a wrapper (HOUSE_STYLE practice 3): backends stay small, and every backend gets the same
 * policy. Only HavenError("TRANSIENT") is retried, with exponential backoff and jitter.
 *
 * What can be retried, and why:
 * - stat, remove, abortIncomplete: idempotent, retried whole.
 * - get: opening the stream is retried; an error in the middle of reading it is the reader's (the
 *   bytes already consumed cannot be taken back).
 * - list: resumed after the last key it yielded (keys come in lexicographic order), so a listing of
 *   many pages survives a blip without repeating or skipping keys.
 * - listIncomplete: retried only before its first result (its order is not defined).
 * - put: only while the body has not started flowing (the backend failed before reading it, e.g. in a
 *   create-only check or when opening a temp file). A stream that was read from cannot be replayed,
 *   so such a failure is returned as is; the caller retries the whole run with a fresh stream.
 * - probe: not retried; it reports the state of the destination now.
 */
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { cancelledError } from "./put-failure";
import type {
  GetOptions,
  IncompleteUpload,
  ObjectInfo,
  PutOptions,
  PutResult,
  StorageBackend,
  StorageCapabilities,
} from "./types";

export interface RetryOptions {
  /** Tries per operation, the first included. Default 3. */
  attempts?: number;
  /** Delay before the first retry; doubled for each further one. Default 1000 ms. */
  baseDelayMs?: number;
  /** Cap of a single delay. Default 30,000 ms. */
  maxDelayMs?: number;
  logger?: Logger;
  /** Source of jitter in [0, 1); default Math.random (tests pin it). */
  random?: () => number;
}

export function withRetry(backend: StorageBackend, options: RetryOptions = {}): StorageBackend {
  return new RetryingBackend(backend, options);
}

/** Delay before retry number `retry` (1-based): half fixed, half random ("equal jitter"), so
 * retries of many workers spread out but never come back immediately. */
export function backoffDelay(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** True while no consumer was ever attached to the stream and nothing was read from it. */
export function isUntouched(body: Readable): boolean {
  return !body.readableDidRead && !body.destroyed && body.readableFlowing === null;
}

class RetryingBackend implements StorageBackend {
  readonly #inner: StorageBackend;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #random: () => number;
  readonly #logger: Logger;

  constructor(inner: StorageBackend, options: RetryOptions) {
    this.#inner = inner;
    this.#attempts = Math.max(1, options.attempts ?? 3);
    this.#baseDelayMs = options.baseDelayMs ?? 1000;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
  }

  get name(): string {
    return this.#inner.name;
  }

  get location(): string {
    return this.#inner.location;
  }

  get capabilities(): StorageCapabilities {
    return this.#inner.capabilities;
  }

  async put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#inner.put(key, body, opts);
      } catch (error) {
        if (!this.#shouldRetry(error, attempt) || !isUntouched(body)) throw error;
        await this.#pause("put", key, attempt, error, opts?.signal);
      }
    }
  }

  get(key: string, opts?: GetOptions): Promise<Readable> {
    return this.#retried("get", key, () => this.#inner.get(key, opts), opts?.signal);
  }

  stat(key: string): Promise<ObjectInfo | null> {
    return this.#retried("stat", key, () => this.#inner.stat(key));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // A resumed listing skips what the failed pass already yielded, by key: not "everything up to the
    // last key", since some services (s3rver) do not list in one global order, and a key skipped
    // here would be a manifest that maintenance then misses. ~100 bytes per key listed.
    const yielded = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const object of this.#inner.list(prefix)) {
          if (yielded.has(object.key)) continue;
          yielded.add(object.key);
          attempt = 1; // progress: a later failure gets the full number of tries again
          yield object;
        }
        return;
      } catch (error) {
        if (!this.#shouldRetry(error, attempt)) throw error;
        await this.#pause("list", prefix, attempt, error);
      }
    }
  }

  remove(keys: string[]): Promise<void> {
    return this.#retried("remove", keys[0], () => this.#inner.remove(keys));
  }

  async *listIncomplete(prefix: string): AsyncIterable<IncompleteUpload> {
    for (let attempt = 1; ; attempt++) {
      let yielded = false;
      try {
        for await (const upload of this.#inner.listIncomplete(prefix)) {
          yielded = true;
          yield upload;
        }
        return;
      } catch (error) {
        if (yielded || !this.#shouldRetry(error, attempt)) throw error;
        await this.#pause("list incomplete uploads", prefix, attempt, error);
      }
    }
  }

  abortIncomplete(upload: IncompleteUpload): Promise<void> {
    return this.#retried("abort upload", upload.key, () => this.#inner.abortIncomplete(upload));
  }

  probe(signal?: AbortSignal): Promise<void> {
    return this.#inner.probe(signal);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #retried<T>(
    operation: string,
    key: string | undefined,
    run: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (!this.#shouldRetry(error, attempt)) throw error;
        await this.#pause(operation, key, attempt, error, signal);
      }
    }
  }

  #shouldRetry(error: unknown, attempt: number): boolean {
    return attempt < this.#attempts && isHavenError(error, "TRANSIENT");
  }

  async #pause(
    operation: string,
    key: string | undefined,
    attempt: number,
    error: unknown,
    signal?: AbortSignal,
  ) {
    const delayMs = backoffDelay(attempt, this.#baseDelayMs, this.#maxDelayMs, this.#random);
    this.#logger.warn(
      {
        destination: this.#inner.name,
        operation,
        key,
        attempt,
        of: this.#attempts,
        delayMs,
        err: (error as Error).message,
      },
      "storage operation failed transiently; retrying",
    );
    try {
      await sleep(delayMs, undefined, signal ? { signal } : {});
    } catch (abort) {
      throw cancelledError(`${operation} ${key ?? ""} on ${this.#inner.name}`.trim(), abort);
    }
  }
}
