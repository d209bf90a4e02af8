import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { AuditLog } from "../../src/audit/log";
import { withWaitingLock } from "../../src/audit/lock";
import { isHavenError } from "../../src/lib/errors";
import { connectTestRedis, deleteKeys } from "../jobs/helpers/redis";
import { fsAudit, type FsAudit } from "./helpers";

const prefix = `haven-test-audit-${randomBytes(4).toString("hex")}`;
let redis: Redis;
let env: FsAudit;

beforeAll(async () => {
  redis = await connectTestRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});
beforeEach(async () => {
  env = await fsAudit();
});
afterEach(async () => {
  await env.cleanup();
});

/** 2 × 12 appends started at once from two AuditLog objects (two processes' worth of cached state). */
async function appendConcurrently(first: AuditLog, second: AuditLog): Promise<void> {
  await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      (i % 2 === 0 ? first : second).append({
        action: "backup",
        outcome: "ok",
        target: `t${i % 2}`,
        detail: { i },
      }),
    ),
  );
}

test("two appenders sharing a Redis lock keep one linear chain", async () => {
  const first = new AuditLog(env.storage, { redis, lockPrefix: prefix });
  const second = new AuditLog(env.storage, { redis, lockPrefix: prefix });
  expect(first.lockKey).toBe(`${prefix}:lock:audit:${env.storage.location}`);

  await appendConcurrently(first, second);

  const records = await first.list();
  expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  expect(new Set(records.map((r) => r.target))).toEqual(new Set(["t0", "t1"]));
  expect(await second.verify()).toMatchObject({ ok: true, records: 24, problems: [], warnings: [] });
  expect(await redis.exists(first.lockKey)).toBe(0);
});

test("the same appends without the lock fork the chain, and verify reports the fork", async () => {
  // The single-writer fallback: what happens when it is not respected.
  await appendConcurrently(new AuditLog(env.storage), new AuditLog(env.storage));

  const result = await new AuditLog(env.storage).verify();
  expect(result.ok).toBe(false);
  expect(result.problems.map((p) => p.problem)).toContainEqual(
    expect.stringMatching(/^forked: it and .* both (start a chain|chain to the same record)/),
  );
});

test("the waiting lock runs holders one at a time and times out when it is never free", async () => {
  const key = `${prefix}:lock:test`;
  let releaseFirst!: () => void;
  const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
  let firstStarted!: () => void;
  const started = new Promise<void>((resolve) => (firstStarted = resolve));
  const order: string[] = [];

  const first = withWaitingLock(
    redis,
    key,
    async () => {
      firstStarted();
      await firstHolds;
      order.push("first done");
    },
    { what: "test lock" },
  );
  await started;
  const timedOut = await withWaitingLock(redis, key, () => Promise.resolve("never"), {
    what: "test lock",
    timeoutMs: 50,
  }).catch((error: unknown) => error);
  expect(isHavenError(timedOut, "TRANSIENT")).toBe(true);
  expect((timedOut as Error).message).toMatch(/^test lock is busy/);

  const second = withWaitingLock(
    redis,
    key,
    () => {
      order.push("second ran");
      return Promise.resolve();
    },
    { what: "test lock" },
  );
  releaseFirst();
  await Promise.all([first, second]);
  expect(order).toEqual(["first done", "second ran"]);
  expect(await redis.exists(key)).toBe(0);
});
