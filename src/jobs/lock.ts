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
 * - Except for a job's own earlier attempt: the token names its owner (the BullMQ job id), and a job
 *   that finds the lock held by itself was re-delivered because the worker running it died (BullMQ
 *   hands on a stalled job after ~30 s, before the dead holder's lock expires). That is TRANSIENT,
 *   not LOCKED: the job is retried after its backoff, when the dead holder's lock has expired,
 *   instead of being recorded as skipped and losing the recovery point.
 * - If a renewal finds the lock gone (expired while this process was paused, or deleted), the
 *   signal handed to `fn` is aborted: the run must stop, since another may already have started.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { formatDuration } from "../lib/duration";
import { HavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import { DEFAULT_PREFIX } from "./names";

const RENEW_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

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
  const taken = await redis.set(key, token, "PX", ttlMs, "NX");
  if (taken !== "OK") throw await lockedError(redis, key, target, ttlMs, owner);

  const lost = new AbortController();
  const renewal = keepRenewed(
    redis,
    key,
    token,
    ttlMs,
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
      await redis.eval(RELEASE_SCRIPT, 1, key, token);
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

function keepRenewed(
  redis: Redis,
  key: string,
  token: string,
  ttlMs: number,
  onLost: (reason: HavenError) => void,
  logger: Logger,
): Renewal {
  const every = Math.max(1, Math.floor(ttlMs / 3));
  let lastRenewed = Date.now();
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const lostError = (why: string) =>
    new HavenError("TRANSIENT", `lost the lock of ${key}: ${why}`, {
      hint:
        "the run was stopped so that two runs never write the same target; if this repeats, " +
        "raise workers.lockTtl or look for event-loop stalls and Redis latency",
    });

  const renew = async () => {
    try {
      const renewed = await redis.eval(RENEW_SCRIPT, 1, key, token, String(ttlMs));
      if (stopped) return;
      if (renewed === 1) {
        lastRenewed = Date.now();
        schedule();
        return;
      }
      onLost(lostError("it expired or another run took it over"));
    } catch (error) {
      if (stopped) return;
      const reason = error instanceof Error ? error.message : String(error);
      // Redis errors do not mean the lock is gone: it holds until ttl after the last renewal.
      if (Date.now() - lastRenewed >= ttlMs) {
        onLost(lostError(`could not renew it for ${formatDuration(ttlMs)} (${reason})`));
        return;
      }
      logger.warn({ lockKey: key, err: reason }, "target lock renewal failed; retrying");
      schedule();
    }
  };

  function schedule() {
    timer = setTimeout(() => {
      inFlight = renew();
    }, every);
    // The run keeps the process alive, not its lock.
    timer.unref();
  }

  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
