/**
 * A short Redis lock that waits its turn, for read-modify-write sequences on the bucket that must not
 * interleave across processes: an audit append (find the head, write the next record) and the
 * single use of an approval. Unlike the target lock (src/jobs/lock.ts), which refuses at once, this
 * one waits up to `timeoutMs`, since the work it guards takes milliseconds.
 *
 * Taken with `SET key token NX PX ttl`, released with a compare-and-delete script, so a holder whose
 * lock expired never deletes the next holder's. It is not renewed: `ttlMs` must exceed the longest the
 * guarded work can take (a few storage calls); a holder that dies frees it after `ttlMs`.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { formatDuration } from "../lib/duration";
import { HavenError } from "../lib/errors";

const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export interface WaitingLockOptions {
  /** How long the lock outlives a holder that died. Default 60 s. */
  ttlMs?: number;
  /** How long to wait for the lock before failing TRANSIENT. Default 15 s. */
  timeoutMs?: number;
  /** What the lock guards, for the error message ("the audit log of primary"). */
  what: string;
}

/** Runs `fn` while holding the lock `key`; waits for it with a capped backoff. */
export async function withWaitingLock<T>(
  redis: Redis,
  key: string,
  fn: () => Promise<T>,
  options: WaitingLockOptions,
): Promise<T> {
  const ttlMs = options.ttlMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const token = `${hostname()}/${process.pid}/${randomBytes(12).toString("hex")}`;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while ((await redis.set(key, token, "PX", ttlMs, "NX")) !== "OK") {
    if (Date.now() >= deadline) {
      throw new HavenError(
        "TRANSIENT",
        `${options.what} is busy: its lock was not free for ${formatDuration(timeoutMs)}`,
        {
          hint: `try again; if this repeats, another process may hold the lock (Redis key ${key}), which expires by itself within ${formatDuration(ttlMs)}`,
        },
      );
    }
    // Jitter keeps waiting processes from retrying in lockstep.
    await sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    // Not fatal if this fails: the lock expires by itself within ttlMs.
    await redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => undefined);
  }
}
