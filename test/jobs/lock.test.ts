import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { connectRedis } from "../../src/jobs/connection";
import { HavenError, isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { targetLockKey, withTargetLock } from "../../src/jobs/lock";
import { uniquePrefix } from "./helpers/config";
import { connectTestRedis, deleteKeys, redisUrl } from "./helpers/redis";

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

test("a backward step of the wall clock (NTP after a VM resume) does not end a healthy run", async () => {
  const ttl = 300;
  const realNow = Date.now.bind(Date);
  const stepped = jest.spyOn(Date, "now");
  try {
    const signal = await withTargetLock(
      redis,
      "clock-step",
      ttl,
      async (signal) => {
        stepped.mockImplementation(() => realNow() - 10 * ttl);
        await sleep(ttl * 4);
        return signal;
      },
      { prefix },
    );
    expect(signal.aborted).toBe(false);
  } finally {
    stepped.mockRestore();
  }
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

/** A TCP relay to the test Redis that can stop passing bytes: a partition, with the connection open. */
async function freezingRelay(): Promise<{ url: Secret; freeze: () => void; close: () => Promise<void> }> {
  const upstream = new URL(redisUrl.reveal());
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const redisSide = connect(Number(upstream.port || 6379), upstream.hostname);
    for (const socket of [client, redisSide]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (data) => frozen || redisSide.write(data));
    redisSide.on("data", (data) => frozen || client.write(data));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new Secret(`redis://127.0.0.1:${port}`),
    freeze: () => (frozen = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("a Redis that stops answering aborts the run before its lock can expire, and does not hold the run's end", async () => {
  const relay = await freezingRelay();
  const partitioned = await connectRedis(relay.url, {
    role: "worker",
    connectionName: "haven-lock-partition",
  });
  const ttl = 1500;
  const key = targetLockKey("partitioned", prefix);
  try {
    const started = Date.now();
    const outcome = await withTargetLock(
      partitioned,
      "partitioned",
      ttl,
      async (signal) => {
        relay.freeze(); // every renewal from now on waits for an answer that never comes
        await once(signal, "abort");
        // Aborted while the lock still holds in Redis: no other run can have taken it yet.
        return { reason: signal.reason as unknown, pttl: await redis.pttl(key) };
      },
      { prefix },
    );
    expect(outcome.reason).toMatchObject({
      code: "TRANSIENT",
      message: expect.stringContaining("could not renew it in time") as unknown,
    });
    expect(outcome.pttl).toBeGreaterThan(0);
    // The release cannot reach Redis either; the run still ends, and the lock expires by itself.
    expect(Date.now() - started).toBeLessThan(ttl + 3 * ttl);
  } finally {
    partitioned.disconnect();
    await relay.close();
    await redis.del(key);
  }
});
