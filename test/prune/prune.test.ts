/**
 * Prune end to end, on s3rver and on a filesystem destination: snapshots with past timestamps written
 * through the storage layer, decisions listed by a dry run, exactly those removed by a real run (manifest,
 * then data, then verification records, under the target's Redis lock), guard rails, orphans, and a crash
 * between the manifest and the data.
 */
import type { Redis } from "ioredis";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { rm } from "node:fs/promises";
import { listSnapshotRefs } from "../../src/catalog/catalog";
import { layout } from "../../src/catalog/layout";
import type { HavenConfig } from "../../src/config/types";
import { cleanupLeftovers } from "../../src/engine/maintenance";
import { connectRedis } from "../../src/jobs/connection";
import { targetLockKey, withTargetLock } from "../../src/jobs/lock";
import { HavenError } from "../../src/lib/errors";
import { createLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { Secret } from "../../src/lib/secret";
import {
  executePrune,
  PruneRefusedError,
  pruneReportJson,
  pruneReportTable,
  pruneRun,
  pruneRunError,
  type WithLock,
} from "../../src/prune";
import type { PrunedRecord } from "../../src/prune/evidence";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir, uniqueName } from "../helpers/s3-config";
import { testConfig, type TargetSpec } from "./config";
import { DAY, listKeys, RecordingBackend, writeSnapshot, type FixtureSnapshot } from "./fixtures";

const logger = createLogger({ level: "silent" });
const NOW = new Date("2026-11-20T12:00:00Z");
const bucket = uniqueName("haven-prune");
const queuePrefix = uniqueName("haven-prune-test");
let s3: S3rverHandle;
let redis: Redis;
const dirs: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  redis = await connectRedis(new Secret(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"), {
    role: "client",
  });
});

afterAll(async () => {
  const locks = await redis.keys(`${queuePrefix}:*`);
  if (locks.length > 0) await redis.del(...locks);
  redis.disconnect();
  await s3?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const withLock: WithLock = (target, fn) => withTargetLock(redis, target, 60_000, fn, { prefix: queuePrefix });

interface Setup {
  config: HavenConfig;
  target: string;
  storage: RecordingBackend;
  close: () => Promise<void>;
}

type Kind = "s3" | "filesystem";

async function setup(
  kind: Kind,
  target: TargetSpec = { destinations: ["primary"] },
  name = uniqueName("db"),
): Promise<Setup> {
  const primary =
    kind === "s3"
      ? { type: "s3" as const, endpoint: s3.endpoint, bucket, prefix: `${uniqueName("t")}/` }
      : { type: "filesystem" as const, path: await tempDir("haven-prune") };
  if (primary.type === "filesystem") dirs.push(primary.path);
  const config = testConfig({ destinations: { primary }, targets: { [name]: target }, queuePrefix });
  // Retries as in production (short delays): s3rver's DeleteObjects deletes keys in parallel and now
  // and then answers 500 when two of them empty the same directory at once.
  const inner = createStorage(config.destinations.primary!, logger, { retry: { baseDelayMs: 10 } });
  return { config, target: name, storage: new RecordingBackend(inner), close: () => inner.close() };
}

/**
 * Ten daily snapshots at 02:00 UTC, Nov 11 to Nov 20. Nov 12's only verification passed; Nov 13's
 * latest failed. With `daily: 5`: keep Nov 16-20 (daily) and Nov 12 (newest verified), remove Nov 15,
 * 14, 13 and 11 (4 of 10, under the default 50%).
 */
async function tenDays(storage: StorageBackend, target: string): Promise<Map<number, FixtureSnapshot>> {
  const byDay = new Map<number, FixtureSnapshot>();
  for (let day = 11; day <= 20; day++) {
    const verifications =
      day === 12 ? (["passed"] as const) : day === 13 ? (["passed", "failed"] as const) : [];
    byDay.set(
      day,
      await writeSnapshot(storage, target, new Date(Date.UTC(2026, 10, day, 2)), {
        verifications: [...verifications],
      }),
    );
  }
  return byDay;
}

const idsOf = (snapshots: Map<number, FixtureSnapshot>, days: number[]) =>
  days.map((d) => snapshots.get(d)!.id);

function keysWithout(keys: string[], removed: FixtureSnapshot[]): string[] {
  const gone = new Set(removed.flatMap((s) => s.keys));
  return keys.filter((key) => !gone.has(key));
}

describe.each<Kind>(["s3", "filesystem"])("prune on %s", (kind) => {
  test("a dry run lists every decision with its reason and removes nothing", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      const snapshots = await tenDays(storage, target);
      const before = await listKeys(storage);

      const report = await pruneRun(config, { dryRun: true, now: NOW, openStorage: () => storage, logger });
      const json = pruneReportJson(report);

      expect(json.dryRun).toBe(true);
      expect(json.results).toHaveLength(1);
      const [result] = json.results;
      expect(result).toMatchObject({ target, destination: "primary", locked: [], unreadable: [] });
      expect(result!.remove!.map((e) => [e.id, e.reasons])).toEqual(
        idsOf(snapshots, [15, 14, 13, 11]).map((id) => [id, ["no rule keeps it"]]),
      );
      expect(result!.keep!.map((e) => [e.id, e.reasons])).toEqual([
        [snapshots.get(20)!.id, ["daily 2026-11-20", "newest committed"]],
        [snapshots.get(19)!.id, ["daily 2026-11-19"]],
        [snapshots.get(18)!.id, ["daily 2026-11-18"]],
        [snapshots.get(17)!.id, ["daily 2026-11-17"]],
        [snapshots.get(16)!.id, ["daily 2026-11-16"]],
        [snapshots.get(12)!.id, ["newest verified"]],
      ]);
      expect(result!.refused).toBeUndefined();
      expect(json.orphans).toEqual([]);
      expect(pruneRunError(report)).toBeNull();
      expect(storage.removals()).toEqual([]);
      expect(await listKeys(storage)).toEqual(before);
    } finally {
      await close();
    }
  });

  test("a snapshot its verification proved damaged does not take the place of a good one of the same day", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 1 }",
    });
    try {
      const good = await writeSnapshot(storage, target, new Date("2026-11-20T02:00:00Z"));
      const damaged = await writeSnapshot(storage, target, new Date("2026-11-20T09:00:00Z"), {
        verifications: ["damaged"],
      });
      const older = await writeSnapshot(storage, target, new Date("2026-11-19T02:00:00Z"));
      const report = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      expect(report.results[0]).toMatchObject({ removed: [older.id], failed: [] });
      const keep = pruneReportJson(report).results[0]!.keep!.map((e) => [e.id, e.reasons]);
      expect(keep).toEqual([
        [damaged.id, ["daily 2026-11-20", "damaged: kept as if good, counted for no period"]],
        [good.id, ["daily 2026-11-20", "newest committed"]],
      ]);
    } finally {
      await close();
    }
  });

  test("a restore-tested snapshot stays the newest verified after a later check that failed on the verifier's key", async () => {
    // Seen in an operator drill: `haven verify` run with the wrong identity file recorded a DECRYPT
    // failure on the only verified snapshot; the next backup's prune then removed it as "no rule keeps it".
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 1 }",
    });
    try {
      const verified = await writeSnapshot(storage, target, new Date("2026-11-20T02:00:00Z"), {
        verifications: ["passed", "wrong-key"],
      });
      const newer = await writeSnapshot(storage, target, new Date("2026-11-20T09:00:00Z"));
      const report = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      expect(report.results[0]).toMatchObject({ removed: [], failed: [] });
      const keep = pruneReportJson(report).results[0]!.keep!.map((e) => [e.id, e.reasons]);
      expect(keep).toEqual([
        [newer.id, ["daily 2026-11-20", "newest committed"]],
        [verified.id, ["newest verified"]],
      ]);
    } finally {
      await close();
    }
  });

  test("a run removes exactly those snapshots, manifest first, then data, then verification records, under the lock", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      const snapshots = await tenDays(storage, target);
      const before = await listKeys(storage);
      const lockHeld: boolean[] = [];
      storage.beforeRemove = async () => {
        lockHeld.push((await redis.exists(targetLockKey(target, queuePrefix))) === 1);
      };

      const report = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });

      const removed = [15, 14, 13, 11].map((d) => snapshots.get(d)!);
      expect(report.results[0]).toMatchObject({ removed: removed.map((s) => s.id), failed: [] });
      expect(pruneRunError(report)).toBeNull();
      expect(await listKeys(storage)).toEqual(keysWithout(before, removed));

      // Before anything of it is removed, each snapshot's manifest and records are kept under _pruned/.
      expect(await listKeys(storage, "_pruned/")).toEqual(
        removed.map((s) => layout.pruned(target, s.id, s.verificationKeys.length > 0)).sort(),
      );
      for (const s of removed) {
        const kept = JSON.parse(
          await text(await storage.get(layout.pruned(target, s.id, s.verificationKeys.length > 0))),
        ) as PrunedRecord;
        expect(kept).toMatchObject({ formatVersion: 1, target, snapshotId: s.id, destination: "primary" });
        expect(kept.manifest).toMatchObject({ id: s.id, target });
        expect(kept.verifications).toHaveLength(s.verificationKeys.length);
        const putAt = storage.calls.findIndex(
          (c) => c.op === "put" && c.keys[0] === layout.pruned(target, s.id, s.verificationKeys.length > 0),
        );
        const manifestRemovedAt = storage.calls.findIndex(
          (c) => c.op === "remove" && c.keys[0] === s.manifestKey,
        );
        expect(putAt).toBeGreaterThanOrEqual(0);
        expect(putAt).toBeLessThan(manifestRemovedAt);
      }

      // One call per stage and snapshot, in the order manifest → data → verification records.
      const expectedCalls = removed.flatMap((s) => [
        [s.manifestKey],
        s.dataKeys,
        ...(s.verificationKeys.length > 0 ? [s.verificationKeys] : []),
      ]);
      expect(storage.removals()).toEqual(expectedCalls);
      expect(lockHeld.length).toBe(expectedCalls.length);
      expect(lockHeld.every(Boolean)).toBe(true);
      expect(await redis.exists(targetLockKey(target, queuePrefix))).toBe(0);

      // Pruning again changes nothing: the survivors are what the policy keeps.
      const again = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      expect(again.results[0]?.removed).toEqual([]);
    } finally {
      await close();
    }
  });

  test("a run that would remove more than maxRemoveShare is refused with a clear message, and removes nothing", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ last: 1 }",
    });
    try {
      await tenDays(storage, target);
      const before = await listKeys(storage);

      const report = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      const message = `would delete 8 of 10 snapshots of ${target} (80%), more than the allowed 50% at once; refusing`;
      expect(report.results[0]?.error).toMatchObject({ code: "REFUSED", message });
      expect(pruneReportJson(report).results[0]?.refused).toBe(message);
      const error = pruneRunError(report);
      expect(error).toMatchObject({ code: "REFUSED", exitCode: 1 });
      expect(error?.message).toContain(message);
      expect(error?.hint).toContain("haven prune TARGET --dry-run");

      const thrown = await executePrune(config, storage, target, { now: NOW, withLock }).catch(
        (e: unknown) => e,
      );
      expect(thrown).toBeInstanceOf(PruneRefusedError);
      expect((thrown as PruneRefusedError).refusal).toMatchObject({ wouldRemove: 8, total: 10 });

      expect(storage.removals()).toEqual([]);
      expect(await listKeys(storage)).toEqual(before);
    } finally {
      await close();
    }
  });

  test("a target locked by a running job is not pruned", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      await tenDays(storage, target);
      const before = await listKeys(storage);
      const report = await withTargetLock(
        redis,
        target,
        60_000,
        () => pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger }),
        { prefix: queuePrefix },
      );
      expect(report.results[0]?.error?.code).toBe("LOCKED");
      expect(pruneRunError(report)).toMatchObject({ code: "LOCKED", exitCode: 11 });
      expect(await listKeys(storage)).toEqual(before);
    } finally {
      await close();
    }
  });

  test("snapshots of a target that is not in the config are reported and kept, and removed only with orphans", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      const kept = [
        await writeSnapshot(storage, target, new Date(NOW.getTime() - 2 * DAY)),
        await writeSnapshot(storage, target, new Date(NOW.getTime() - DAY)),
      ];
      const gone = uniqueName("gone");
      const orphans = [
        await writeSnapshot(storage, gone, new Date(NOW.getTime() - 40 * DAY)),
        await writeSnapshot(storage, gone, new Date(NOW.getTime() - 30 * DAY)),
      ];
      // A folder without manifest is a leftover, maintenance's business, not an orphan snapshot.
      const leftover = await writeSnapshot(storage, gone, new Date(NOW.getTime() - 20 * DAY));
      await storage.remove([leftover.manifestKey]);
      const before = await listKeys(storage);

      const reported = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      expect(reported.orphans).toEqual([
        {
          destination: "primary",
          target: gone,
          snapshots: orphans.map((s) => s.id),
          action: "keep",
          removed: [],
          locked: [],
          failed: [],
        },
      ]);
      expect(await listKeys(storage)).toEqual(before);

      const dryRun = await pruneRun(config, {
        now: NOW,
        dryRun: true,
        orphans: true,
        openStorage: () => storage,
        logger,
      });
      expect(dryRun.orphans[0]).toMatchObject({ target: gone, action: "remove", removed: [] });
      expect(await listKeys(storage)).toEqual(before);

      // A target name that is not in the config is refused without --orphans, with a hint.
      await expect(
        pruneRun(config, { target: gone, now: NOW, withLock, openStorage: () => storage }),
      ).rejects.toMatchObject({
        code: "NOT_FOUND",
        hint: expect.stringContaining("--orphans") as unknown,
      });

      // Its history from earlier retention goes with it: a target removed on purpose keeps nothing.
      const history = `_pruned/${gone}/${orphans[0]!.id.replace(/-.*/, "-0000beef")}.json`;
      await storage.put(history, Readable.from([Buffer.from("{}")]));
      const removed = await pruneRun(config, {
        now: NOW,
        orphans: true,
        withLock,
        openStorage: () => storage,
        logger,
      });
      expect(await listKeys(storage, "_pruned/")).toEqual([]);
      expect(removed.orphans[0]).toMatchObject({
        target: gone,
        action: "remove",
        removed: orphans.map((s) => s.id),
        failed: [],
      });
      expect(await listKeys(storage)).toEqual(keysWithout(before, orphans));
      expect((await listSnapshotRefs(storage)).map((r) => r.id)).toEqual(kept.map((s) => s.id));
    } finally {
      await close();
    }
  });

  test("a sweeping --orphans keeps an orphan with a recent snapshot (someone's live target?); naming it removes it", async () => {
    const { config, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      const live = uniqueName("live");
      const recent = [
        await writeSnapshot(storage, live, new Date(NOW.getTime() - 20 * DAY)),
        await writeSnapshot(storage, live, new Date(NOW.getTime() - 2 * DAY)),
      ];
      const before = await listKeys(storage);

      const swept = await pruneRun(config, {
        now: NOW,
        orphans: true,
        withLock,
        openStorage: () => storage,
        logger,
      });
      expect(swept.orphans).toEqual([
        expect.objectContaining({
          target: live,
          action: "keep",
          keptBecause: expect.stringContaining(`haven prune ${live} --orphans`) as unknown,
          removed: [],
        }),
      ]);
      expect(pruneReportTable(swept)).toContain(`is less than 7 days old`);
      expect(await listKeys(storage)).toEqual(before);

      const named = await pruneRun(config, {
        target: live,
        now: NOW,
        orphans: true,
        withLock,
        openStorage: () => storage,
        logger,
      });
      expect(named.orphans[0]).toMatchObject({
        target: live,
        action: "remove",
        removed: recent.map((s) => s.id),
      });
      expect(await listKeys(storage)).toEqual(keysWithout(before, recent));
    } finally {
      await close();
    }
  });

  test("a crash between the manifest and the data leaves no visible snapshot, and maintenance removes the rest", async () => {
    const { config, target, storage, close } = await setup(kind, {
      destinations: ["primary"],
      retention: "{ daily: 5 }",
    });
    try {
      const snapshots = await tenDays(storage, target);
      const before = await listKeys(storage);
      storage.beforeRemove = (_keys, index) => {
        if (index === 1) throw new HavenError("TRANSIENT", "injected: the process died here");
      };

      const report = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      const first = snapshots.get(15)!;
      expect(report.results[0]).toMatchObject({
        removed: [],
        failed: [{ id: first.id, stage: "data", code: "TRANSIENT" }],
      });
      expect(pruneRunError(report)?.code).toBe("TRANSIENT");
      // The snapshot is gone for every reader; its data objects are invisible leftovers.
      expect((await listSnapshotRefs(storage, target)).map((r) => r.id)).not.toContain(first.id);
      expect(await listKeys(storage)).toEqual(keysWithout(before, [{ ...first, keys: [first.manifestKey] }]));

      storage.beforeRemove = undefined;
      const cleanup = await cleanupLeftovers(storage, {
        graceMs: 0,
        now: new Date(Date.now() + 60_000),
        logger,
      });
      expect(cleanup.removedObjects.sort()).toEqual([...first.dataKeys, ...first.verificationKeys].sort());

      const rest = await pruneRun(config, { now: NOW, withLock, openStorage: () => storage, logger });
      expect(rest.results[0]?.removed).toEqual(idsOf(snapshots, [14, 13, 11]));
      expect(await listKeys(storage)).toEqual(
        keysWithout(
          before,
          [15, 14, 13, 11].map((d) => snapshots.get(d)!),
        ),
      );
    } finally {
      await close();
    }
  });
});
