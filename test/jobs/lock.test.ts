import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { HavenError, isHavenError } from "../../src/lib/errors";
import { targetLockKey, withTargetLock } from "../../src/jobs/lock";
import { uniquePrefix } from "./helpers/config";
import { connectTestRedis, deleteKeys } from "./helpers/redis";

const prefix = uniquePrefix("lock");
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

/** A promise with its resolver, for runs the test holds open until it has checked what it needs. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

test("two concurrent runs of one target: one runs, the other fails LOCKED at once without running", async () => {
  const release = gate();
  const started = gate();
  const first = withTargetLock(
    redis,
    "orders-db",
    10_000,
    async () => {
      started.open();
      await release.wait;
      return "first";
    },
    { prefix },
  );
  await started.wait;

  const second = jest.fn(() => Promise.resolve("second"));
  const failure = await withTargetLock(redis, "orders-db", 10_000, second, { prefix }).catch(
    (e: unknown) => e,
  );

  expect(second).not.toHaveBeenCalled();
  expect(isHavenError(failure, "LOCKED")).toBe(true);
  expect((failure as HavenError).exitCode).toBe(11);
  expect((failure as HavenError).message).toMatch(
    /target orders-db is locked by another run \(held by pid \d+ on /,
  );
  expect((failure as HavenError).hint).toMatch(/workers\.lockTtl/);

  // Another target is not affected.
  await expect(
    withTargetLock(redis, "shared-files", 10_000, () => Promise.resolve("other"), { prefix }),
  ).resolves.toBe("other");

  release.open();
  await expect(first).resolves.toBe("first");
  // Released: the next run takes it.
  expect(await redis.exists(targetLockKey("orders-db", prefix))).toBe(0);
  await expect(
    withTargetLock(redis, "orders-db", 10_000, () => Promise.resolve("third"), { prefix }),
  ).resolves.toBe("third");
});

test("the lock is released when the run throws, and the error is the run's", async () => {
  const boom = new HavenError("SOURCE_FAILED", "pg_dump exited with 1");
  await expect(
    withTargetLock(redis, "failing", 10_000, async () => Promise.reject(boom), { prefix }),
  ).rejects.toBe(boom);
  expect(await redis.exists(targetLockKey("failing", prefix))).toBe(0);
});

test("renewal keeps the lock of a run that lasts several times its ttl", async () => {
  const ttl = 300;
  const key = targetLockKey("long-run", prefix);
  const signal = await withTargetLock(
    redis,
    "long-run",
    ttl,
    async (signal) => {
      // Wall time has to pass here: the point is that the lock outlives its ttl while renewed.
      await sleep(ttl * 4);
      expect(await redis.pttl(key)).toBeGreaterThan(0);
      await expect(
        withTargetLock(redis, "long-run", ttl, () => Promise.resolve("intruder"), { prefix }),
      ).rejects.toMatchObject({
        code: "LOCKED",
      });
      return signal;
    },
    { prefix },
  );
  expect(signal.aborted).toBe(false);
  expect(await redis.exists(key)).toBe(0);
});

test("a lost lock aborts the run's signal, and the old holder never deletes the new holder's lock", async () => {
  const key = targetLockKey("stolen", prefix);
  const reason = await withTargetLock(
    redis,
    "stolen",
    300,
    async (signal) => {
      // Simulates expiry during a long pause followed by another run taking the lock.
      await redis.set(key, "otherhost/1/othertoken", "PX", 60_000);
      await once(signal, "abort");
      return signal.reason as unknown;
    },
    { prefix },
  );

  expect(reason).toBeInstanceOf(HavenError);
  expect(reason).toMatchObject({ code: "TRANSIENT", message: expect.stringContaining("lost the lock") });
  expect(await redis.get(key)).toBe("otherhost/1/othertoken");
  await redis.del(key);
});
