import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { layout } from "../../src/catalog/layout";
import { evaluateTarget } from "../../src/slo/evaluate";
import { createSloCache, loadSloInputs, parseVerificationRecord } from "../../src/slo/inputs";
import { listSnapshotFolders } from "../../src/prune/inventory";
import { removeSnapshot } from "../../src/prune/remove";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { writeSnapshot, writeVerification } from "./destination";

const H = 3_600_000;
let dir: string;
let storage: StorageBackend;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-slo-inputs-"));
  storage = createFilesystemBackend({ name: "nas", path: dir, prefix: "prod/" });
});

afterEach(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

test("reads snapshots and verification records of one target from the destination alone", async () => {
  const first = await writeSnapshot(storage, "orders-db", new Date("2026-11-20T02:05:00Z"), {
    plainSize: 5000,
  });
  const second = await writeSnapshot(storage, "orders-db", new Date("2026-11-21T02:05:00Z"), {
    plainSize: 6000,
    state: "partial",
  });
  await writeSnapshot(storage, "orders-dbx", new Date("2026-11-21T03:00:00Z")); // another target, same prefix
  await writeVerification(storage, first, new Date("2026-11-20T06:30:00Z"), { totalMs: 40 * 60_000 });
  await writeVerification(storage, second, new Date("2026-11-21T02:30:00Z"), {
    kind: "integrity",
    result: "failed",
    totalMs: 2000,
    checks: [{ name: "sha256 of data.tar.zst", ok: false, expected: "ab12", actual: "cd34" }],
    error: { code: "INTEGRITY", message: "data.tar.zst: sha256 mismatch" },
  });
  // An orphan record: its snapshot has no manifest (being pruned).
  await storage.put(
    layout.verification("orders-db", "20261101T000000Z-00000000", new Date("2026-11-01T01:00:00Z")),
    Readable.from([Buffer.from("{}")]),
  );

  const inputs = await loadSloInputs(storage, "orders-db");

  expect(inputs.destination).toBe("nas");
  expect(inputs.problems).toEqual([]);
  expect(inputs.snapshots.map((s) => [s.id, s.state, s.plainSize])).toEqual([
    [first.id, "committed", 5000],
    [second.id, "partial", 6000],
  ]);
  expect(inputs.snapshots[0]!.finishedAt).toEqual(new Date("2026-11-20T02:05:00Z"));
  expect(inputs.snapshots[0]!.storedSize).toBe(first.payload[0]!.size);
  expect(inputs.verifications).toEqual([
    expect.objectContaining({
      kind: "restore",
      snapshotId: first.id,
      result: "passed",
      totalMs: 40 * 60_000,
      plainSize: 5000,
      damaged: false,
    }),
    expect.objectContaining({
      kind: "integrity",
      snapshotId: second.id,
      result: "failed",
      plainSize: 6000,
      failedChecks: ['sha256 of data.tar.zst, expected "ab12", actual "cd34"'],
      error: { code: "INTEGRITY", message: "data.tar.zst: sha256 mismatch" },
      damaged: true,
    }),
  ]);

  const evaluation = evaluateTarget({
    ...inputs,
    rpoMs: 26 * H,
    rtoMs: 4 * H,
    now: new Date("2026-11-21T12:00:00Z"),
  });
  // The newer snapshot failed its integrity check: it is not a good backup, so the RPO counts from
  // the older one, 33h55m old against 26h.
  expect(evaluation.rpo).toMatchObject({ status: "breached", newest: { id: first.id } });
  expect(evaluation.rpo.reason).toContain(`the newer snapshot ${second.id} failed its verification`);
  expect(evaluation.newestSnapshot?.id).toBe(second.id);
  expect(evaluation.rto).toMatchObject({ status: "ok", lastMs: 40 * 60_000 });
  expect(evaluation.status).toBe("breached");
});

test("a malformed manifest or record is reported in problems, not hidden, and the rest still loads", async () => {
  const good = await writeSnapshot(storage, "files", new Date("2026-11-20T02:05:00Z"));
  await storage.put(
    layout.manifest("files", "20261121T020000Z-0badf00d"),
    Readable.from([Buffer.from("{not json")]),
  );
  await storage.put(
    layout.verification("files", good.id, new Date("2026-11-20T07:00:00Z")),
    Readable.from([Buffer.from(JSON.stringify({ kind: "restore" }))]),
  );

  const inputs = await loadSloInputs(storage, "files");
  expect(inputs.snapshots.map((s) => s.id)).toEqual([good.id]);
  expect(inputs.verifications).toEqual([]);
  expect(inputs.problems).toEqual([
    expect.stringMatching(/manifest .*files\/20261121T020000Z-0badf00d\/manifest\.json is not valid JSON/),
    expect.stringMatching(
      /verification record .*\/verifications\/20261120T070000(\.000)?Z(-[0-9a-f]+)?\.json is malformed/,
    ),
  ]);
});

test("an empty destination gives no snapshots; a shared cache serves write-once objects again", async () => {
  expect(await loadSloInputs(storage, "nothing-here")).toEqual({
    target: "nothing-here",
    destination: "nas",
    snapshots: [],
    verifications: [],
    prunedVerifications: [],
    problems: [],
    everBackedUp: false,
  });

  const manifest = await writeSnapshot(storage, "cached", new Date("2026-11-20T02:05:00Z"));
  const cache = createSloCache();
  const get = jest.spyOn(storage, "get");
  expect((await loadSloInputs(storage, "cached", { cache })).everBackedUp).toBe(true);
  expect(get).toHaveBeenCalledTimes(1);
  const again = await loadSloInputs(storage, "cached", { cache });
  expect(get).toHaveBeenCalledTimes(1);
  expect(again.snapshots.map((s) => s.id)).toEqual([manifest.id]);
});

/** A verification record as stored, failed unless every check passed and no error was recorded. */
const recordJson = (checks: object[], error?: { code: string; message: string }) =>
  JSON.stringify({
    kind: "restore",
    result: checks.every((c) => (c as { ok: boolean }).ok) && !error ? "passed" : "failed",
    snapshotId: "20261121T020000Z-00000001",
    totalMs: 1000,
    finishedAt: "2026-11-21T03:00:00Z",
    checks,
    ...(error ? { error } : {}),
  });

describe("a failed verification proves its snapshot damaged only when the failure is about the snapshot", () => {
  const fresh = { name: "freshness", ok: true };
  test.each([
    ["every check passed", false, [fresh, { name: "rows in orders", ok: true }], undefined],
    ["only the freshness guard failed", false, [{ name: "freshness", ok: false }], undefined],
    ["the scratch place could not be dropped", false, [fresh, { name: "cleanup", ok: false }], undefined],
    [
      "the scratch database could not be created",
      false,
      [fresh, { name: "restore", ok: false }],
      { code: "SOURCE_FAILED", message: "connection refused" },
    ],
    [
      "a read-back failed on the network",
      false,
      [fresh, { name: "data: read back", ok: false }],
      { code: "TRANSIENT", message: "socket hang up" },
    ],
    [
      "a read-back found a hash mismatch",
      true,
      [fresh, { name: "data: read back", ok: false }],
      { code: "INTEGRITY", message: "sha256 mismatch" },
    ],
    [
      "a row count differs",
      true,
      [fresh, { name: "rows in orders", ok: false, expected: 3, actual: 2 }],
      undefined,
    ],
    ["an operator's sql check failed", true, [fresh, { name: "sql: select 1", ok: false }], undefined],
    [
      "an operator's sql check could not run",
      false,
      [fresh, { name: "sql: selct 1", ok: false, ran: false }],
      undefined,
    ],
    [
      "an operator's sql check could not run, in a record written before `ran` existed",
      false,
      [fresh, { name: "sql: selct 1", ok: false, detail: "could not run: syntax error" }],
      undefined,
    ],
    [
      "an object the manifest lists is gone",
      true,
      [fresh, { name: "data: read back", ok: false }],
      { code: "NOT_FOUND", message: "no such key" },
    ],
    [
      "no identity decrypts it (a worker without the key)",
      false,
      [fresh, { name: "restore", ok: false }],
      { code: "DECRYPT", message: "no identity matched" },
    ],
  ])("%s → damaged %s", (_what, damaged, checks, error) => {
    expect(parseVerificationRecord(recordJson(checks, error), "r.json").damaged).toBe(damaged);
  });
});

test("a verification that failed only its freshness guard is stale, not damaged; with any other failure it is not stale", () => {
  const stale = { name: "freshness", ok: false };
  const parse = (raw: string) => parseVerificationRecord(raw, "r.json");
  expect(parse(recordJson([stale, { name: "rows in orders", ok: true }]))).toMatchObject({
    stale: true,
    damaged: false,
  });
  expect(parse(recordJson([stale, { name: "rows in orders", ok: false }]))).toMatchObject({
    stale: false,
    damaged: true,
  });
  expect(
    parse(recordJson([stale, { name: "restore", ok: false }], { code: "TRANSIENT", message: "x" })).stale,
  ).toBe(false);
});

test("a pruned snapshot's verifications still measure the RTO and show the verify schedule ran", async () => {
  // Saturday Nov 21 06:00 (UTC) verified Friday's daily; retention prunes it on Nov 28 after that
  // night's backup, and keeps an older weekly one.
  await writeSnapshot(storage, "orders-db", new Date("2026-11-15T02:05:00Z"));
  const friday = await writeSnapshot(storage, "orders-db", new Date("2026-11-20T02:05:00Z"), {
    plainSize: 7000,
  });
  await writeVerification(storage, friday, new Date("2026-11-21T06:40:00Z"), { totalMs: 40 * 60_000 });
  const folder = (await listSnapshotFolders(storage, "orders-db/")).get(`orders-db/${friday.id}`)!;
  await removeSnapshot(storage, folder, { at: new Date("2026-11-28T03:00:00Z") });
  await writeSnapshot(storage, "orders-db", new Date("2026-11-28T02:05:00Z"));

  // Before today's 06:00 firing: last week's is still within the 7-day look-back, and judged.
  const now = new Date("2026-11-28T04:00:00Z");
  const inputs = await loadSloInputs(storage, "orders-db", { now });
  expect(inputs.snapshots).toHaveLength(2);
  expect(inputs.snapshots.map((s) => s.id)).not.toContain(friday.id);
  expect(inputs.verifications).toEqual([]);
  expect(inputs.prunedVerifications).toEqual([
    expect.objectContaining({
      snapshotId: friday.id,
      kind: "restore",
      totalMs: 40 * 60_000,
      plainSize: 7000,
    }),
  ]);
  const evaluation = evaluateTarget({
    ...inputs,
    rpoMs: 26 * H,
    rtoMs: 4 * H,
    verifySchedule: { patterns: ["0 6 * * 6"], timezone: "UTC" },
    now,
  });
  expect(evaluation.missedVerifications).toEqual([]);
  expect(evaluation.rto).toMatchObject({ status: "ok", lastMs: 40 * 60_000 });
  expect(evaluation.lastVerification).toBeNull(); // it speaks for no snapshot that exists
  // Without the pruned record, the same bucket reads as an untested target that missed its schedule.
  const bare = evaluateTarget({
    ...inputs,
    prunedVerifications: [],
    rpoMs: 26 * H,
    rtoMs: 4 * H,
    verifySchedule: { patterns: ["0 6 * * 6"], timezone: "UTC" },
    now,
  });
  expect(bare.rto.status).toBe("unknown");
  expect(bare.missedVerifications.map((m) => m.at)).toEqual([new Date("2026-11-21T06:00:00Z")]);
});

test("the watchdog reads only verified pruned records of its window, and sees one rewritten since it was cached", async () => {
  const now = new Date("2026-11-28T04:00:00Z");
  const old = await writeSnapshot(storage, "orders-db", new Date("2026-11-20T02:05:00Z"));
  await writeVerification(storage, old, new Date("2026-11-21T06:40:00Z"));
  const folder = (await listSnapshotFolders(storage, "orders-db/")).get(`orders-db/${old.id}`)!;
  await removeSnapshot(storage, folder, { at: now });
  // Never verified: not even read (its content here would be a problem if it were).
  const unverified = layout.pruned("orders-db", "20261119T020000Z-0000aaaa", false);
  await storage.put(unverified, Readable.from([Buffer.from("not json")]));
  // Verified, but taken and pruned long before the window: not read either.
  const ancient = layout.pruned("orders-db", "20260101T020000Z-0000bbbb", true);
  await storage.put(ancient, Readable.from([Buffer.from("not json")]));
  const longAgo = new Date("2026-01-02T00:00:00Z");
  await utimes(join(dir, "prod", ancient), longAgo, longAgo);

  const cache = createSloCache();
  const first = await loadSloInputs(storage, "orders-db", { now, cache });
  expect(first.problems).toEqual([]);
  expect(first.prunedVerifications.map((v) => v.snapshotId)).toEqual([old.id]);

  // A prune that had to try again rewrites the record, now with a second verification.
  const key = layout.pruned("orders-db", old.id, true);
  const kept = JSON.parse(await text(await storage.get(key))) as {
    verifications: Array<{ finishedAt: string }>;
  };
  const again = { ...kept.verifications[0]!, finishedAt: "2026-11-27T06:40:00.000Z" };
  await storage.put(
    key,
    Readable.from([Buffer.from(JSON.stringify({ ...kept, verifications: [...kept.verifications, again] }))]),
  );
  const second = await loadSloInputs(storage, "orders-db", { now, cache });
  expect(second.prunedVerifications).toHaveLength(2);
});

test("a target whose snapshots were all pruned has still been backed up: no grace as a new target", async () => {
  const only = await writeSnapshot(storage, "all-pruned", new Date("2026-11-01T02:05:00Z"));
  const folder = (await listSnapshotFolders(storage, "all-pruned/")).get(`all-pruned/${only.id}`)!;
  await removeSnapshot(storage, folder, { at: new Date("2026-11-28T03:00:00Z") });
  const inputs = await loadSloInputs(storage, "all-pruned", { now: new Date("2026-11-28T04:00:00Z") });
  expect(inputs).toMatchObject({ snapshots: [], prunedVerifications: [], everBackedUp: true });
});
