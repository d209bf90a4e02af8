/**
 * Copies end to end: snapshots committed on `primary` (s3rver) copied to `offsite` (a filesystem path,
 * or s3rver behind a proxy that can go down): streamed as stored, checked against the manifest on
 * arrival, manifest last; idempotent; a destination that is down fails with TRANSIENT and leaves no
 * manifest; per-destination retention decides what is worth copying.
 */
import { rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { listSnapshotRefs } from "../../src/catalog/catalog";
import type { HavenConfig } from "../../src/config/types";
import { copyPending, copyReportError, copySnapshot, pendingCopies } from "../../src/copy";
import { createLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { pruneRun } from "../../src/prune";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir, uniqueName } from "../helpers/s3-config";
import { startS3Proxy, type S3Proxy } from "../objectlock/s3-proxy";
import { drain } from "../storage/streams";
import { testConfig, type ConfigSpec } from "../prune/config";
import {
  DAY,
  listKeys,
  RecordingBackend,
  writeSnapshot,
  writeVerification,
  type FixtureSnapshot,
} from "../prune/fixtures";

const logger = createLogger({ level: "silent" });
const bucket = uniqueName("haven-copy");
let s3: S3rverHandle;
let proxy: S3Proxy;
const dirs: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  proxy = await startS3Proxy(s3.endpoint);
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Setup {
  config: HavenConfig;
  target: string;
  primary: RecordingBackend;
  offsite: RecordingBackend;
  open: (name: string) => StorageBackend;
  close: () => Promise<void>;
}

/** primary: s3rver; offsite: a filesystem path, or s3rver through the proxy. */
async function setup(
  offsiteKind: "filesystem" | "s3-via-proxy",
  offsiteExtra: string[] = [],
): Promise<Setup> {
  const target = uniqueName("db");
  const path = await tempDir("haven-copy");
  dirs.push(path);
  const spec: ConfigSpec = {
    destinations: {
      primary: { type: "s3", endpoint: s3.endpoint, bucket, prefix: `${uniqueName("p")}/` },
      offsite:
        offsiteKind === "filesystem"
          ? { type: "filesystem", path, extra: offsiteExtra }
          : {
              type: "s3",
              endpoint: proxy.endpoint,
              bucket,
              prefix: `${uniqueName("o")}/`,
              extra: offsiteExtra,
            },
    },
    targets: { [target]: { destinations: ["primary", "offsite"], retention: "{ daily: 30 }" } },
  };
  const config = testConfig(spec);
  // No retries on the offsite side: a dead destination fails at once instead of after backoff.
  const primaryInner = createStorage(config.destinations.primary!, logger, { retry: { baseDelayMs: 10 } });
  const offsiteInner = createStorage(config.destinations.offsite!, logger, { retry: false });
  const primary = new RecordingBackend(primaryInner);
  const offsite = new RecordingBackend(offsiteInner);
  return {
    config,
    target,
    primary,
    offsite,
    open: (name) => (name === "primary" ? primary : offsite),
    close: async () => {
      await primaryInner.close();
      await offsiteInner.close();
    },
  };
}

async function snapshotsOn(
  storage: StorageBackend,
  target: string,
  count: number,
): Promise<FixtureSnapshot[]> {
  const out: FixtureSnapshot[] = [];
  const base = Date.UTC(2026, 10, 1, 2);
  for (let i = 0; i < count; i++) {
    out.push(
      await writeSnapshot(storage, target, new Date(base + i * DAY), {
        payload: { data: Buffer.alloc(64 * 1024 + i, i), index: Buffer.from(`index of ${i}`) },
      }),
    );
  }
  return out;
}

test("snapshots on primary are copied to a filesystem destination: byte for byte, manifest last; a second run writes nothing", async () => {
  const { config, target, primary, offsite, open, close } = await setup("filesystem");
  try {
    const snapshots = await snapshotsOn(primary, target, 3);
    const pending = await pendingCopies(config, target, { openStorage: open });
    expect(pending).toEqual(
      [...snapshots].reverse().map((s) => ({ target, snapshotId: s.id, from: "primary", to: "offsite" })),
    );

    const report = await copyPending(config, target, { openStorage: open, logger });
    expect(copyReportError(report)).toBeNull();
    expect(report.copied.map((c) => [c.snapshotId, c.state, c.objects])).toEqual(
      [...snapshots].reverse().map((s) => [s.id, "copied", 2]),
    );
    expect(await listKeys(offsite)).toEqual(await listKeys(primary));
    for (const key of await listKeys(primary)) {
      const [a, b] = await Promise.all([drain(await primary.get(key)), drain(await offsite.get(key))]);
      expect([key, b.sha256]).toEqual([key, a.sha256]);
    }
    // Per snapshot: payload objects first, then the manifest, create-only.
    const puts = offsite.puts();
    for (const snapshot of snapshots) {
      const order = puts.filter((p) => p.keys[0]!.startsWith(`${target}/${snapshot.id}/`));
      expect(order.map((p) => p.keys[0])).toEqual([...snapshot.dataKeys, snapshot.manifestKey]);
      expect(order.at(-1)?.opts?.createOnly).toBe(true);
    }

    offsite.calls.length = 0;
    const again = await copyPending(config, target, { openStorage: open, logger });
    expect(again).toMatchObject({ copied: [], failed: [] });
    expect(await pendingCopies(config, target, { openStorage: open })).toEqual([]);
    const direct = await copySnapshot(config, target, snapshots[0]!.id, primary, offsite);
    expect(direct).toMatchObject({ state: "already-present", objects: 0, bytes: 0 });
    expect(offsite.puts()).toEqual([]);
  } finally {
    await close();
  }
});

test("a destination that goes down fails the copy with TRANSIENT, leaves no manifest there, and the copy succeeds once it is back", async () => {
  const { config, target, primary, offsite, open, close } = await setup("s3-via-proxy");
  try {
    const [snapshot] = await snapshotsOn(primary, target, 1);
    // Down from the start: the listing fails.
    await proxy.goDown();
    const unreachable = await copyPending(config, target, { openStorage: open, logger });
    expect(unreachable.copied).toEqual([]);
    expect(unreachable.failed).toEqual([expect.objectContaining({ to: "offsite", code: "TRANSIENT" })]);
    expect(copyReportError(unreachable)).toMatchObject({ code: "TRANSIENT" });
    await proxy.comeBack();

    // Down after the payload, just before the manifest.
    offsite.beforePut = async (key) => {
      if (key.endsWith("/manifest.json")) await proxy.goDown();
    };
    const halfway = await copyPending(config, target, { openStorage: open, logger });
    expect(halfway.failed).toEqual([
      expect.objectContaining({
        to: "offsite",
        snapshotId: snapshot!.id,
        oldestPending: snapshot!.id,
        code: "TRANSIENT",
      }),
    ]);
    await proxy.comeBack();
    offsite.beforePut = undefined;
    expect(await listSnapshotRefs(offsite, target)).toEqual([]);
    expect(await listKeys(offsite)).toEqual([...snapshot!.dataKeys].sort());

    const retried = await copyPending(config, target, { openStorage: open, logger });
    expect(retried.failed).toEqual([]);
    expect(retried.copied.map((c) => c.state)).toEqual(["copied"]);
    expect(await listKeys(offsite)).toEqual(await listKeys(primary));
  } finally {
    await proxy.comeBack();
    await close();
  }
});

test("a damaged object on primary is not copied: INTEGRITY, no manifest, nothing damaged left on the destination", async () => {
  const { config, target, primary, offsite, close } = await setup("filesystem");
  try {
    const [snapshot] = await snapshotsOn(primary, target, 1);
    const dataKey = snapshot!.dataKeys[0]!;
    const original = await drain(await primary.get(dataKey));
    const damaged = Buffer.from(original.bytes);
    damaged[100] = (damaged[100]! + 1) % 256; // one flipped byte, same size
    await primary.put(dataKey, Readable.from([damaged]));

    const error = await copySnapshot(config, target, snapshot!.id, primary, offsite).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INTEGRITY" });
    expect((error as Error).message).toContain(`${dataKey} read from destination primary`);
    expect(await listKeys(offsite)).toEqual([]);
  } finally {
    await close();
  }
});

test("per-destination retention: what the destination would not keep is not copied, nor copied back after its prune", async () => {
  const { config, target, primary, offsite, open, close } = await setup("filesystem", [
    "retention: { last: 2 }",
  ]);
  try {
    const snapshots = await snapshotsOn(primary, target, 5);
    const first = await copyPending(config, target, { openStorage: open, logger });
    expect(first.copied.map((c) => c.snapshotId)).toEqual([snapshots[4]!.id, snapshots[3]!.id]);

    const newer = await writeSnapshot(primary, target, new Date(Date.UTC(2026, 10, 10, 2)));
    const second = await copyPending(config, target, { openStorage: open, logger });
    expect(second.copied.map((c) => c.snapshotId)).toEqual([newer.id]);

    // The offsite prune applies `last: 2` there (and primary's `daily: 30` on primary).
    const pruned = await pruneRun(config, {
      now: new Date(Date.UTC(2026, 10, 11)),
      withLock: (_target, fn) => fn(new AbortController().signal),
      openStorage: (destination) => open(destination.name),
      logger,
    });
    expect(pruned.results.map((r) => [r.destination, r.removed])).toEqual([
      ["primary", []],
      ["offsite", [snapshots[3]!.id]],
    ]);
    expect(await pendingCopies(config, target, { openStorage: open })).toEqual([]);
    expect((await listSnapshotRefs(offsite, target)).map((r) => r.id)).toEqual([snapshots[4]!.id, newer.id]);
  } finally {
    await close();
  }
});

test("the primary keeps a snapshot another destination still needs until it has it, also while that one is down", async () => {
  // offsite keeps 5 dailies, primary only 1; three days were backed up while offsite was unreachable.
  const { config, target, primary, open, close } = await setup("s3-via-proxy", ["retention: { daily: 5 }"]);
  const primaryKeepsOne: HavenConfig = {
    ...config,
    targets: { [target]: { ...config.targets[target]!, retention: { daily: 1 }, maxRemoveShare: 1 } },
  };
  const prune = () =>
    pruneRun(primaryKeepsOne, {
      target,
      now: new Date(Date.UTC(2026, 10, 5)),
      withLock: (_target, fn) => fn(new AbortController().signal),
      openStorage: (destination) => open(destination.name),
      logger,
    });
  try {
    const snapshots = await snapshotsOn(primary, target, 3);
    await proxy.goDown();
    const whileDown = await prune();
    expect(whileDown.results[0]).toMatchObject({ destination: "primary", removed: [] });
    expect(whileDown.results[0]!.plan!.decision.keep.map((e) => [e.snapshot.id, e.reasons])).toEqual([
      [snapshots[2]!.id, ["daily 2026-11-03", "newest committed", "copy to offsite pending"]],
      [snapshots[1]!.id, ["copy to offsite pending"]],
      [snapshots[0]!.id, ["copy to offsite pending"]],
    ]);
    await proxy.comeBack();

    const copied = await copyPending(config, target, { openStorage: open, logger });
    expect(copied.copied).toHaveLength(3);
    const after = await prune();
    expect(after.results[0]).toMatchObject({
      destination: "primary",
      removed: [snapshots[1]!.id, snapshots[0]!.id],
    });
  } finally {
    await proxy.comeBack().catch(() => undefined);
    await close();
  }
});

test("a damaged snapshot fails its own copy only: the older ones behind it are still copied", async () => {
  const { config, target, primary, offsite, open, close } = await setup("filesystem");
  try {
    const snapshots = await snapshotsOn(primary, target, 3);
    const damagedKey = snapshots[2]!.dataKeys[0]!;
    const original = await drain(await primary.get(damagedKey));
    const damaged = Buffer.from(original.bytes);
    damaged[100] = (damaged[100]! + 1) % 256;
    await primary.put(damagedKey, Readable.from([damaged]));

    const report = await copyPending(config, target, { openStorage: open, logger });
    expect(report.failed).toEqual([
      expect.objectContaining({ to: "offsite", snapshotId: snapshots[2]!.id, code: "INTEGRITY" }),
    ]);
    expect(report.copied.map((c) => c.snapshotId)).toEqual([snapshots[1]!.id, snapshots[0]!.id]);
    expect((await listSnapshotRefs(offsite, target)).map((r) => r.id)).toEqual([
      snapshots[0]!.id,
      snapshots[1]!.id,
    ]);
    expect(copyReportError(report)).toMatchObject({ code: "INTEGRITY" });
  } finally {
    await close();
  }
});

test("a copy proven damaged on the other destination does not fill its day there: the primary's good one of that day is still owed", async () => {
  // offsite keeps 7 dailies, primary 1. On day 1, 14:00 was the newest and was copied; then the
  // offsite copy of it was proven damaged, so offsite holds no good snapshot of day 1.
  const { config, target, primary, offsite, open, close } = await setup("filesystem", [
    "retention: { daily: 7 }",
  ]);
  const primaryKeepsOne: HavenConfig = {
    ...config,
    targets: { [target]: { ...config.targets[target]!, retention: { daily: 1 }, maxRemoveShare: 1 } },
  };
  try {
    const morning = await writeSnapshot(primary, target, new Date(Date.UTC(2026, 10, 1, 2)));
    const afternoon = await writeSnapshot(primary, target, new Date(Date.UTC(2026, 10, 1, 14)));
    const next = await writeSnapshot(primary, target, new Date(Date.UTC(2026, 10, 2, 2)));
    const copied = await copyPending(config, target, { openStorage: open, logger });
    expect(copied.copied.map((c) => c.snapshotId)).toEqual([next.id, afternoon.id]);
    await writeVerification(offsite, target, afternoon.id, "damaged", new Date(Date.UTC(2026, 10, 2, 6)));

    expect((await pendingCopies(config, target, { openStorage: open })).map((p) => p.snapshotId)).toEqual([
      morning.id,
    ]);
    const pruned = await pruneRun(primaryKeepsOne, {
      target,
      now: new Date(Date.UTC(2026, 10, 3)),
      withLock: (_target, fn) => fn(new AbortController().signal),
      openStorage: (destination) => open(destination.name),
      logger,
    });
    expect(pruned.results[0]).toMatchObject({ destination: "primary", removed: [afternoon.id] });
    const kept = pruned.results[0]!.plan!.decision.keep.find((e) => e.snapshot.id === morning.id);
    expect(kept?.reasons).toEqual(["copy to offsite pending"]);
  } finally {
    await close();
  }
});
