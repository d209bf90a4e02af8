/**
 * Object Lock against the requests Haven really sends. s3rver has no Object Lock, so a recording
 * proxy sits in front of it: it shows the headers of every upload, and answers where AWS S3 would
 * answer differently from s3rver (retention headers on HEAD, a delete refused for a locked object,
 * a bucket without Object Lock, a service without it).
 */
import { rm } from "node:fs/promises";
import { listSnapshotRefs } from "../../src/catalog/catalog";
import type { HavenConfig } from "../../src/config/types";
import {
  checkObjectLockDestinations,
  checkObjectLockEnabled,
  copySnapshot,
  retentionEnd,
} from "../../src/copy";
import { createLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { pruneReportJson, pruneReportTable, pruneRun, pruneRunError, type WithLock } from "../../src/prune";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir, uniqueName } from "../helpers/s3-config";
import { testConfig, type ConfigSpec } from "../prune/config";
import { DAY, listKeys, writeSnapshot, type FixtureSnapshot } from "../prune/fixtures";
import {
  deleteErrorsXml,
  deleteRequestKeys,
  objectLockEnabledXml,
  s3ErrorXml,
  startS3Proxy,
  type RecordedRequest,
  type S3Proxy,
} from "./s3-proxy";

const logger = createLogger({ level: "silent" });
const bucket = uniqueName("haven-lock");
let s3: S3rverHandle;
let proxy: S3Proxy;
const dirs: string[] = [];
const opened: StorageBackend[] = [];

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  proxy = await startS3Proxy(s3.endpoint);
});

afterEach(async () => {
  proxy.rules.length = 0;
  proxy.requests.length = 0;
  await Promise.all(opened.splice(0).map((storage) => storage.close()));
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A lock for these tests' single process: the Redis lock itself is tested with prune and the CLI. */
const inProcessLock: WithLock = (_target, fn) => fn(new AbortController().signal);

function open(config: HavenConfig, name: string): StorageBackend {
  const storage = createStorage(config.destinations[name]!, logger, { retry: { baseDelayMs: 10 } });
  opened.push(storage);
  return storage;
}

/** Requests that create an object and carry its metadata: PutObject and CreateMultipartUpload. */
function objectCreations(requests: RecordedRequest[]): RecordedRequest[] {
  return requests.filter(
    (r) =>
      (r.method === "PUT" && !r.query.has("partNumber")) || (r.method === "POST" && r.query.has("uploads")),
  );
}

function keyOf(request: RecordedRequest, prefix: string): string {
  return request.path.slice(`/${bucket}/${prefix}`.length);
}

describe("uploads to a destination with objectLock", () => {
  async function copyToLocked(objectLock: string) {
    const target = uniqueName("db");
    const path = await tempDir("haven-lock");
    dirs.push(path);
    const prefix = `${uniqueName("vault")}/`;
    const config = testConfig({
      destinations: {
        primary: { type: "filesystem", path },
        vault: { type: "s3", endpoint: proxy.endpoint, bucket, prefix, extra: [`objectLock: ${objectLock}`] },
      },
      targets: { [target]: { destinations: ["primary", "vault"], retention: "{ daily: 7, weekly: 4 }" } },
    });
    const primary = open(config, "primary");
    const snapshot = await writeSnapshot(primary, target, new Date("2026-11-20T02:00:00Z"), {
      // 6 MiB: a multipart upload with 5 MiB parts, whose lock headers go on CreateMultipartUpload.
      payload: { data: Buffer.alloc(6 * 1024 * 1024, 7), index: Buffer.from("index") },
    });
    const now = new Date("2026-11-20T03:00:00Z");
    const result = await copySnapshot(config, target, snapshot.id, primary, open(config, "vault"), { now });
    return { snapshot, prefix, result, now };
  }

  test("days: every object of the snapshot (data, index, manifest) carries the mode and the date", async () => {
    const { snapshot, prefix, result, now } = await copyToLocked("{ mode: compliance, days: 30 }");
    const until = new Date(now.getTime() + 30 * DAY);
    expect(result).toMatchObject({ state: "copied", retainUntil: until });

    const creations = objectCreations(proxy.requests);
    expect(creations.map((r) => keyOf(r, prefix)).sort()).toEqual(
      [snapshot.manifestKey, ...snapshot.dataKeys].sort(),
    );
    expect(creations.find((r) => r.method === "POST")).toBeDefined(); // the multipart data object
    for (const request of creations) {
      expect([keyOf(request, prefix), request.headers["x-amz-object-lock-mode"]]).toEqual([
        keyOf(request, prefix),
        "COMPLIANCE",
      ]);
      expect(new Date(String(request.headers["x-amz-object-lock-retain-until-date"]))).toEqual(until);
    }
    // Part uploads carry no lock headers of their own: the upload's lock applies to the object.
    const parts = proxy.requests.filter((r) => r.query.has("partNumber"));
    expect(parts.length).toBeGreaterThanOrEqual(2);
  });

  test("untilRetention: governance mode, dated at the end of the retention periods", async () => {
    const { prefix, result } = await copyToLocked("{ mode: governance, untilRetention: true }");
    const until = retentionEnd(new Date("2026-11-20T02:00:00Z"), { daily: 7, weekly: 4 }, "UTC");
    expect(until).toEqual(new Date("2026-12-14T00:00:00Z"));
    expect(result.retainUntil).toEqual(until);
    const creations = objectCreations(proxy.requests);
    expect(creations).toHaveLength(3);
    for (const request of creations) {
      expect([keyOf(request, prefix), request.headers["x-amz-object-lock-mode"]]).toEqual([
        keyOf(request, prefix),
        "GOVERNANCE",
      ]);
      expect(new Date(String(request.headers["x-amz-object-lock-retain-until-date"]))).toEqual(until);
    }
  });

  test("a bucket without Object Lock refuses the headers (InvalidRequest): the copy fails for good and commits nothing", async () => {
    proxy.rules.push((request) =>
      request.headers["x-amz-object-lock-mode"]
        ? {
            respond: {
              status: 400,
              body: s3ErrorXml("InvalidRequest", "Bucket is missing Object Lock Configuration"),
            },
          }
        : undefined,
    );
    const error = await copyToLocked("{ mode: compliance, days: 30 }").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PERMANENT" });
    expect((error as Error).message).toContain("Bucket is missing Object Lock Configuration");
    expect(proxy.requests.some((r) => r.path.endsWith("/manifest.json") && r.method === "PUT")).toBe(false);
  });
});

describe("checkObjectLockEnabled", () => {
  function lockConfig(endpoint: string): HavenConfig {
    return testConfig({
      destinations: {
        vault: {
          type: "s3",
          endpoint,
          bucket,
          prefix: "",
          extra: ["objectLock: { mode: compliance, days: 7 }"],
        },
        plain: { type: "s3", endpoint, bucket: `${bucket}-plain`, prefix: "" },
      },
      targets: {},
    });
  }

  test("passes when the bucket has Object Lock enabled", async () => {
    proxy.rules.push((r) =>
      r.query.has("object-lock") ? { respond: { status: 200, body: objectLockEnabledXml() } } : undefined,
    );
    await expect(
      checkObjectLockEnabled(lockConfig(proxy.endpoint).destinations.vault!),
    ).resolves.toBeUndefined();
    expect(proxy.requests.map((r) => [r.method, r.path, [...r.query.keys()]])).toEqual([
      ["GET", `/${bucket}/`, ["object-lock"]],
    ]);
  });

  test("fails clearly when the bucket has no Object Lock configuration (what AWS answers)", async () => {
    proxy.rules.push((r) =>
      r.query.has("object-lock")
        ? {
            respond: {
              status: 404,
              body: s3ErrorXml(
                "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
              ),
            },
          }
        : undefined,
    );
    const error = await checkObjectLockEnabled(lockConfig(proxy.endpoint).destinations.vault!).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "CONFIG", exitCode: 2 });
    expect((error as Error).message).toBe(
      `destination vault (s3://${bucket}) asks for Object Lock (destinations.vault.objectLock), but bucket ${bucket} does not have Object Lock enabled`,
    );
    expect((error as { hint: string }).hint).toContain("remove destinations.vault.objectLock");
  });

  test("fails clearly on a service without Object Lock (s3rver itself answers NotImplemented)", async () => {
    const error = await checkObjectLockEnabled(lockConfig(s3.endpoint).destinations.vault!).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "CONFIG" });
    expect((error as Error).message).toContain("its S3 service does not implement it");
  });

  test("asks nothing of destinations without objectLock, and reports every problem of a config at once", async () => {
    await checkObjectLockEnabled(lockConfig(proxy.endpoint).destinations.plain!);
    expect(proxy.requests).toEqual([]);

    const config = testConfig({
      destinations: {
        one: {
          type: "s3",
          endpoint: s3.endpoint,
          bucket,
          prefix: "one/",
          extra: ["objectLock: { mode: compliance, days: 7 }"],
        },
        two: {
          type: "s3",
          endpoint: s3.endpoint,
          bucket,
          prefix: "two/",
          extra: ["objectLock: { mode: compliance }"],
        },
        three: {
          type: "s3",
          endpoint: proxy.endpoint,
          bucket,
          prefix: "three/",
          extra: ["objectLock: { mode: governance, untilRetention: true }"],
        },
      },
      targets: { counted: { destinations: ["three"], retention: "{ last: 3 }" } },
    });
    proxy.rules.push((r) =>
      r.query.has("object-lock") ? { respond: { status: 200, body: objectLockEnabledXml() } } : undefined,
    );
    const error = await checkObjectLockDestinations(config).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFIG" });
    expect((error as Error).message.split("\n")).toEqual([
      expect.stringContaining("destination one"),
      "destinations.two.objectLock needs exactly one of days or untilRetention: true",
      "destinations.three.objectLock.untilRetention cannot date the objects of target counted: its retention there has no time-bound rule",
    ]);
  });
});

describe("prune and locked objects", () => {
  async function lockedSetup(): Promise<{
    config: HavenConfig;
    target: string;
    prefix: string;
    storage: StorageBackend;
    snapshots: FixtureSnapshot[];
  }> {
    const target = uniqueName("db");
    const prefix = `${uniqueName("locked")}/`;
    const spec: ConfigSpec = {
      destinations: { primary: { type: "s3", endpoint: proxy.endpoint, bucket, prefix } },
      // last: 2 over six snapshots removes four: allowed by this target's own maxRemoveShare.
      targets: { [target]: { destinations: ["primary"], retention: "{ last: 2 }", maxRemoveShare: 0.8 } },
    };
    const config = testConfig(spec);
    const storage = open(config, "primary");
    const snapshots: FixtureSnapshot[] = [];
    for (let day = 1; day <= 6; day++) {
      snapshots.push(await writeSnapshot(storage, target, new Date(Date.UTC(2026, 10, day, 2))));
    }
    return { config, target, prefix, storage, snapshots };
  }

  /** HEAD answers carry a retention for these keys, as S3 answers for locked objects. */
  function lockOnHead(prefix: string, until: Record<string, string>) {
    proxy.rules.push((request) => {
      const date = request.method === "HEAD" ? until[keyOf(request, prefix)] : undefined;
      return date
        ? {
            addResponseHeaders: {
              "x-amz-object-lock-mode": "COMPLIANCE",
              "x-amz-object-lock-retain-until-date": date,
            },
          }
        : undefined;
    });
  }

  /** A dry run's JSON report. */
  const dryRun = async (config: HavenConfig, storage: StorageBackend, now: Date) =>
    pruneReportJson(await pruneRun(config, { dryRun: true, now, openStorage: () => storage, logger }));

  /** The real run, with the proxy's record cleared first so it shows only this run's requests. */
  const realRun = (config: HavenConfig, storage: StorageBackend, now: Date) => {
    proxy.requests.length = 0;
    return pruneRun(config, { now, withLock: inProcessLock, openStorage: () => storage, logger });
  };

  /**
   * No delete request (since proxy.requests was cleared) named an object of a `kept` snapshot, and
   * the bucket holds what it held `before` less the `removed` snapshots' objects.
   */
  async function expectOnlyRemoved(
    storage: StorageBackend,
    prefix: string,
    before: string[],
    snapshots: { kept: FixtureSnapshot[]; removed: FixtureSnapshot[] },
  ) {
    const deleted = proxy.requests
      .filter((r) => r.query.has("delete"))
      .flatMap((r) => deleteRequestKeys(r.body));
    const keptKeys = snapshots.kept.flatMap((s) => s.keys).map((key) => prefix + key);
    expect(deleted.filter((key) => keptKeys.includes(key))).toEqual([]);
    const gone = new Set(snapshots.removed.flatMap((s) => s.keys));
    expect(await listKeys(storage)).toEqual(before.filter((key) => !gone.has(key)));
  }

  test("a snapshot with any object still locked is kept whole, reported as locked until its date", async () => {
    const { config, prefix, storage, snapshots } = await lockedSetup();
    const [s1, s2, s3_, s4] = snapshots as [
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
    ];
    const future = "2099-01-01T00:00:00.000Z";
    lockOnHead(prefix, {
      [s1.manifestKey]: future,
      [s1.dataKeys[0]!]: future,
      [s2.dataKeys[0]!]: "2098-06-01T00:00:00.000Z", // only the data: the manifest must stay too
      [s3_.manifestKey]: "2020-01-01T00:00:00.000Z", // expired: no longer a lock
    });
    const now = new Date("2026-11-10T00:00:00Z");
    const before = await listKeys(storage);

    const dry = await dryRun(config, storage, now);
    expect(dry.results[0]?.remove?.map((e) => e.id)).toEqual([s4.id, s3_.id, s2.id, s1.id]);
    expect(dry.results[0]?.locked).toEqual([
      { id: s2.id, until: "2098-06-01T00:00:00.000Z" },
      { id: s1.id, until: future },
    ]);

    const report = await realRun(config, storage, now);
    expect(report.results[0]).toMatchObject({ removed: [s4.id, s3_.id], failed: [] });
    expect(pruneRunError(report)).toBeNull();
    expect(pruneReportTable(report)).toContain(`kept: ${s1.id} locked until ${future}`);

    await expectOnlyRemoved(storage, prefix, before, { kept: [s1, s2], removed: [s3_, s4] });
  });

  test("a legal hold, which has no date, keeps the snapshot whole too; the reports say so", async () => {
    const { config, prefix, storage, snapshots } = await lockedSetup();
    const [s1, s2, s3_, s4] = snapshots as [
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
    ];
    // s2: a hold on its data object; s1: a hold on its manifest, whose retention is also ahead.
    const headers: Record<string, Record<string, string>> = {
      [s2.dataKeys[0]!]: { "x-amz-object-lock-legal-hold": "ON" },
      [s1.manifestKey]: {
        "x-amz-object-lock-legal-hold": "ON",
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00.000Z",
      },
    };
    proxy.rules.push((request) => {
      const add = request.method === "HEAD" ? headers[keyOf(request, prefix)] : undefined;
      return add ? { addResponseHeaders: add } : undefined;
    });
    const now = new Date("2026-11-10T00:00:00Z");
    const before = await listKeys(storage);

    const dry = await dryRun(config, storage, now);
    expect(dry.results[0]?.locked).toEqual([
      { id: s2.id, legalHold: true },
      { id: s1.id, until: "2099-01-01T00:00:00.000Z", legalHold: true },
    ]);

    const report = await realRun(config, storage, now);
    expect(report.results[0]).toMatchObject({ removed: [s4.id, s3_.id], failed: [] });
    const table = pruneReportTable(report);
    expect(table).toContain(`kept: ${s2.id} under a legal hold`);
    expect(table).toContain(`kept: ${s1.id} under a legal hold and locked until 2099-01-01T00:00:00.000Z`);
    await expectOnlyRemoved(storage, prefix, before, { kept: [s1, s2], removed: [s3_, s4] });
  });

  test("a delete the service refuses (AccessDenied for a locked object) keeps the snapshot whole and says why", async () => {
    const { config, target, prefix, storage, snapshots } = await lockedSetup();
    const [s1, s2, s3_, s4] = snapshots as [
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
      FixtureSnapshot,
    ];
    // The lock is invisible to HEAD (no s3:GetObjectRetention), so only the delete tells.
    proxy.rules.push((request) => {
      const keys = deleteRequestKeys(request.body);
      return request.query.has("delete") && keys.includes(prefix + s2.manifestKey)
        ? {
            respond: {
              status: 200,
              body: deleteErrorsXml(
                keys,
                "AccessDenied",
                "Access Denied because object protected by object lock.",
              ),
            },
          }
        : undefined;
    });
    const before = await listKeys(storage);

    const report = await pruneRun(config, {
      now: new Date("2026-11-10T00:00:00Z"),
      withLock: inProcessLock,
      openStorage: () => storage,
      logger,
    });
    expect(report.results[0]?.removed).toEqual([s4.id, s3_.id, s1.id]);
    expect(report.results[0]?.failed).toEqual([
      expect.objectContaining({
        id: s2.id,
        stage: "manifest",
        code: "REFUSED",
        hint: expect.stringContaining("Object Lock") as unknown,
      }),
    ]);
    expect(pruneRunError(report)).toMatchObject({ code: "REFUSED" });
    expect((await listSnapshotRefs(storage, target)).map((r) => r.id)).toEqual([
      s2.id,
      snapshots[4]!.id,
      snapshots[5]!.id,
    ]);
    const gone = new Set([...s1.keys, ...s3_.keys, ...s4.keys]);
    expect(await listKeys(storage)).toEqual(before.filter((key) => !gone.has(key)));
  });
});
