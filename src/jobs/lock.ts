/**
 * One run per target at a time, across every worker on every machine: a Redis lock per target.
 *
 * - Taken with `SET key token NX PX ttl`; the token is random (plus host and pid, for messages), so
 *   only its holder can renew or release it.
 * - Renewed every ttl/3 while held, with a compare-and-expire script: a holder that dies (SIGKILL,
 *   lost host) stops renewing, and its lock expires `ttl` later.
 * - Released with a compare-and-delete script, so a holder whose lock already expired and was taken
 *   by another run never deletes that run's lock.
 * - Never waits: a held lock fails at once with HavenError LOCKED (the second run is recorded as
 *   skipped, not stacked behind the first).
 * - Except behind a prune (owner PRUNE_LOCK_OWNER): that holds the lock for seconds, so the run fails
 *   TRANSIENT and is retried after its backoff instead of losing its recovery point.
 * - And except for a job's own earlier attempt: the token names its owner (the BullMQ job id), and a job
 *   that finds the lock held by itself was re-delivered because the worker running it died (BullMQ
 *   hands on a stalled job after ~30 s, before the dead holder's lock expires). That is TRANSIENT,
 *   not LOCKED: the job is retried after its backoff, when the dead holder's lock has expired,
 *   instead of being recorded as skipped and losing the recovery point.
 * - If a renewal finds the lock gone (expired while this process was paused, or deleted), or no
 *   renewal got through until shortly before the lock could expire (Redis unreachable), the signal
 *   handed to `fn` is aborted: the run must stop, since another may start.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { formatDuration } from "../lib/duration";
import { HavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import { DEFAULT_PREFIX } from "./names";

const RENEW_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/** The owner prune takes the lock as: a backup that meets it waits and retries instead of being skipped. */
export const PRUNE_LOCK_OWNER = "prune";

export interface TargetLockOptions {
  /** Redis key prefix, the same as the queues'; default `haven`. */
  prefix?: string;
  logger?: Logger;
  /** Who takes the lock (a job id); a later attempt of the same owner is told apart from a stranger. */
  owner?: string;
}

/** The Redis key of a target's lock: `<prefix>:lock:target:<target>`. */
export function targetLockKey(target: string, prefix: string = DEFAULT_PREFIX): string {
  return `${prefix}:lock:target:${target}`;
}

/** True while some run holds the lock of `target` (maintenance leaves such a target's uploads alone). */
export async function isTargetLocked(redis: Redis, target: string, prefix?: string): Promise<boolean> {
  return (await redis.exists(targetLockKey(target, prefix))) > 0;
}

/**
 * Runs `fn` while holding the lock of `target`, and returns what it returns (or throws what it
 * throws). Throws HavenError LOCKED at once, without calling `fn`, when another run holds the lock.
 * `ttlMs` is `workers.lockTtl`: how long the lock outlives a holder that stopped renewing it.
 */
export async function withTargetLock<T>(
  redis: Redis,
  target: string,
  ttlMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  options: TargetLockOptions = {},
): Promise<T> {
  const key = targetLockKey(target, options.prefix);
  const logger = options.logger ?? silentLogger;
  const owner = options.owner === undefined ? "" : encodeURIComponent(options.owner);
  const token = `${hostname()}/${process.pid}/${randomBytes(12).toString("hex")}/${owner}`;
  // Deadlines on the monotonic clock: a wall-clock step (NTP after a VM resume) must neither end a
  // healthy run nor stretch a lock past its TTL.
  const requestedAt = performance.now();
  const taken = await redis.set(key, token, "PX", ttlMs, "NX");
  if (taken !== "OK") throw await lockedError(redis, key, target, ttlMs, owner);

  const lost = new AbortController();
  const renewal = keepRenewed(
    redis,
    key,
    token,
    ttlMs,
    requestedAt,
    (reason) => {
      logger.error({ target, lockKey: key }, reason.message);
      lost.abort(reason);
    },
    logger,
  );
  try {
    return await fn(lost.signal);
  } finally {
    await renewal.stop();
    try {
      // Bounded: with Redis unreachable the call would wait for a reconnect, and the run is over.
      await withTimeout(redis.eval(RELEASE_SCRIPT, 1, key, token), Math.min(ttlMs, 5000), "no answer");
    } catch (error) {
      // Not fatal: the lock expires by itself within ttl.
      logger.warn(
        { target, err: error instanceof Error ? error.message : String(error) },
        "could not release target lock",
      );
    }
  }
}

/** The LOCKED error, naming the holder and when its lock expires if the holder stops renewing it. */
async function lockedError(
  redis: Redis,
  key: string,
  target: string,
  ttlMs: number,
  owner: string,
): Promise<HavenError> {
  const [holder, pttl] = await Promise.all([redis.get(key), redis.pttl(key)]).catch(
    () => [null, -1] as const,
  );
  const [host, pid, , holderOwner] = holder?.split("/") ?? [];
  const by = host && pid ? ` (held by pid ${pid} on ${host})` : "";
  const expiry = pttl > 0 ? `; it expires in ${formatDuration(pttl)} unless its holder renews it` : "";
  if (holderOwner === PRUNE_LOCK_OWNER && owner !== PRUNE_LOCK_OWNER) {
    // Retention holds the lock for seconds; skipping would lose this run's recovery point.
    return new HavenError("TRANSIENT", `target ${target} is being pruned${by}`, {
      hint: `try again in a moment: a prune holds the lock only while it removes snapshots${expiry}`,
    });
  }
  if (owner !== "" && holderOwner === owner) {
    return new HavenError(
      "TRANSIENT",
      `target ${target} is locked by an earlier attempt of this same job${by}, whose worker stopped`,
      { hint: `retried after the job's backoff, once that lock has expired${expiry}` },
    );
  }
  return new HavenError("LOCKED", `target ${target} is locked by another run${by}`, {
    hint:
      `wait for that run to finish and try again${expiry}; ` +
      `a lock whose holder died expires after workers.lockTtl (${formatDuration(ttlMs)})`,
  });
}

interface Renewal {
  /** Stops renewing; resolves once a renewal in flight has settled. */
  stop(): Promise<void>;
}

/**
 * Renews every ttl/3, and declares the lock lost (aborting the run) a margin before it can expire in
 * Redis unless a renewal got through: the expiry is counted from when the last successful renewal
 * was sent, which Redis applied later, so the run stops before another can take the lock. A renewal
 * call that hangs (Redis unreachable, the connection waiting to reconnect) neither holds back the
 * next attempt nor that deadline.
 */
function keepRenewed(
  redis: Redis,
  key: string,
  token: string,
  ttlMs: number,
  acquiredAt: number,
  onLost: (reason: HavenError) => void,
  logger: Logger,
): Renewal {
  const every = Math.max(1, Math.floor(ttlMs / 3));
  // Time for the run to notice the abort and stop writing before the lock can pass to another.
  const margin = Math.floor(every / 2);
  let validUntil = acquiredAt + ttlMs;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  let attempt: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;

  const lostError = (why: string) =>
    new HavenError("TRANSIENT", `lost the lock of ${key}: ${why}`, {
      hint:
        "the run was stopped so that two runs never write the same target; if this repeats, " +
        "raise workers.lockTtl or look for event-loop stalls and Redis latency",
    });

  const stop = () => {
    stopped = true;
    clearTimeout(attempt);
    clearTimeout(deadline);
  };
  const lose = (why: string) => {
    if (stopped) return;
    stop();
    onLost(lostError(why));
  };

  function armDeadline() {
    clearTimeout(deadline);
    deadline = setTimeout(
      () =>
        lose(
          `could not renew it in time (Redis did not confirm a renewal for ${formatDuration(ttlMs - margin)})`,
        ),
      Math.max(0, validUntil - margin - performance.now()),
    );
    // The run keeps the process alive, not its lock.
    deadline.unref();
  }

  const renew = async () => {
    const sentAt = performance.now();
    try {
      const renewed = await redis.eval(RENEW_SCRIPT, 1, key, token, String(ttlMs));
      if (stopped) return;
      if (renewed !== 1) return lose("it expired or another run took it over");
      if (sentAt + ttlMs > validUntil) {
        validUntil = sentAt + ttlMs;
        armDeadline();
      }
    } catch (error) {
      if (stopped) return;
      // Redis errors do not mean the lock is gone: it holds until the deadline above.
      logger.warn(
        { lockKey: key, err: error instanceof Error ? error.message : String(error) },
        "target lock renewal failed; retrying",
      );
    }
  };

  function scheduleAttempt() {
    attempt = setTimeout(() => {
      if (stopped) return;
      const call = renew();
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
      scheduleAttempt();
    }, every);
    attempt.unref();
  }

  armDeadline();
  scheduleAttempt();
  return {
    async stop() {
      stop();
      // A renewal that hangs on an unreachable Redis must not hold the run's end back.
      await Promise.race([
        Promise.allSettled([...inFlight]),
        sleep(Math.min(every, 1000), undefined, { ref: false }),
      ]);
    },
  };
}

/** `promise`, or a rejection with `message` after `ms` (the promise itself goes on). */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
