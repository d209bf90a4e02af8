/** End to end against s3rver over HTTP: the audit log and restore approvals on an S3 destination. */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { layout } from "../../src/catalog/layout";
import { AuditLog } from "../../src/audit/log";
import { silentLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { RestoreApprovals } from "../../src/operators/approvals";
import type { Operator } from "../../src/operators/identity";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { s3rverDestination } from "../helpers/s3-config";
import { connectTestRedis, deleteKeys } from "../jobs/helpers/redis";

const bucket = `haven-audit-${randomBytes(4).toString("hex")}`;
const lockPrefix = `haven-test-audit-s3-${randomBytes(4).toString("hex")}`;
let s3: S3rverHandle;
let storage: StorageBackend;
let redis: Redis;

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3rver({ buckets: [bucket] }), connectTestRedis()]);
  storage = createStorage(s3rverDestination(s3, bucket, { prefix: "prod/" }), silentLogger, { retry: false });
});

afterAll(async () => {
  await storage?.close();
  await deleteKeys(redis, lockPrefix);
  await redis?.quit();
  await s3?.stop();
});

const admin = (name: string): Operator => ({
  name,
  role: "admin",
  source: "token",
  osUser: "root",
  host: "ops1",
});

test("audit chain on S3: append with the Redis lock, list, verify, and a removed record is found", async () => {
  const log = new AuditLog(storage, { redis, lockPrefix });
  const written = [];
  for (const action of ["backup", "restore", "prune", "prune-delete", "verify"]) {
    written.push(await log.append({ action, outcome: "ok", target: "orders-db", detail: { via: "s3" } }));
  }
  expect((await log.list()).map((r) => r.action)).toEqual([
    "backup",
    "restore",
    "prune",
    "prune-delete",
    "verify",
  ]);
  expect(await new AuditLog(storage).verify()).toMatchObject({ ok: true, records: 5, problems: [] });

  const removed = written[2]!;
  await storage.remove([layout.audit(new Date(removed.at), removed.id)]);
  const result = await log.verify();
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual([
    {
      key: layout.audit(new Date(written[3]!.at), written[3]!.id),
      problem: expect.stringMatching(/^removed: 1 record\(s\) missing before it \(#3,/),
    },
  ]);
});

test("on S3 (create-only not atomic there), the Redis lock lets an approval be used exactly once", async () => {
  expect(storage.capabilities.createOnly).toBe(false);
  const audit = new AuditLog(storage, { redis, lockPrefix });
  const approvals = new RestoreApprovals(storage, audit, { redis, lockPrefix });
  const restore = { target: "orders-db", snapshot: "20261122T020000Z-1a2b3c4d" };
  const request = await approvals.requestRestore(admin("alice"), restore);
  await approvals.approve(request.id, admin("bob"));

  const attempts = await Promise.allSettled(
    Array.from({ length: 4 }, () => approvals.consumeApproval(request.id, admin("alice"), restore)),
  );
  expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
  for (const attempt of attempts.filter((a): a is PromiseRejectedResult => a.status === "rejected")) {
    expect((attempt.reason as Error).message).toMatch(/was already used/);
  }
});
