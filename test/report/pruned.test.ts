/**
 * The report's reading of pruned records (src/prune/evidence.ts) on two real filesystem destinations:
 * a snapshot pruned on the primary only (per-destination retention) keeps its verification records,
 * which live on the primary alone; the destination a record names is not trusted; a snapshot older
 * than the window whose verification falls inside it still counts.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { layout } from "../../src/catalog/layout";
import { listSnapshotFolders } from "../../src/prune/inventory";
import { removeSnapshot } from "../../src/prune/remove";
import { readTarget } from "../../src/report/read";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { Seeder } from "./seed";

let dir: string;
let primary: StorageBackend;
let offsite: StorageBackend;
const seeder = new Seeder();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-report-pruned-"));
  for (const name of ["primary", "offsite"]) await mkdir(join(dir, name)); // the destinations' roots: Haven never creates them
  primary = createFilesystemBackend({ name: "primary", path: join(dir, "primary"), prefix: "" });
  offsite = createFilesystemBackend({ name: "offsite", path: join(dir, "offsite"), prefix: "" });
});

afterAll(async () => {
  await primary.close();
  await offsite.close();
  await rm(dir, { recursive: true, force: true });
});

async function prune(storage: StorageBackend, target: string, id: string, at: Date): Promise<void> {
  const folder = (await listSnapshotFolders(storage, `${target}/`)).get(`${target}/${id}`);
  if (!folder) throw new Error(`no folder ${target}/${id} on ${storage.name}`);
  await removeSnapshot(storage, folder, { at });
}

test("pruned on the primary but held off-site: one manifest, its primary-only records, a copy on both", async () => {
  const m = await seeder.snapshot([primary, offsite], "db", new Date("2026-10-05T01:00:00Z"));
  await seeder.record(primary, m, new Date("2026-10-05T06:00:00Z"), { totalMs: 600_000 });
  await prune(primary, "db", m.id, new Date("2026-10-20T03:00:00Z"));

  const data = await readTarget("db", [primary, offsite], {
    until: new Date("2026-11-01T00:00:00Z"),
    recordsFrom: new Date("2026-05-01T00:00:00Z"),
  });
  expect(data.problems).toEqual([]);
  expect(data.manifests.map((x) => x.id)).toEqual([m.id]);
  expect(data.presence.get(m.id)).toEqual(["offsite"]);
  expect(data.pruned.get(m.id)).toEqual(["primary"]);
  expect(data.records.map((r) => [r.snapshotId, r.totalMs])).toEqual([[m.id, 600_000]]);
});

test("a pruned record is placed by the destination it was read from, whatever its JSON says", async () => {
  const m = await seeder.snapshot([offsite], "web", new Date("2026-10-06T01:00:00Z"));
  await prune(offsite, "web", m.id, new Date("2026-10-21T03:00:00Z"));
  const key = layout.pruned("web", m.id, false); // never verified
  const kept = JSON.parse(await text(await offsite.get(key))) as { destination: string };
  await offsite.put(key, Readable.from([Buffer.from(JSON.stringify({ ...kept, destination: "primary" }))]));

  const data = await readTarget("web", [primary, offsite], {
    until: new Date("2026-11-01T00:00:00Z"),
    recordsFrom: new Date("2026-05-01T00:00:00Z"),
  });
  expect(data.pruned.get(m.id)).toEqual(["offsite"]);
});

test("a snapshot older than the window, verified and pruned inside it, still brings its record", async () => {
  const old = await seeder.snapshot([primary], "files", new Date("2026-04-20T01:00:00Z"));
  await seeder.record(primary, old, new Date("2026-06-10T06:00:00Z"), { totalMs: 300_000 });
  await prune(primary, "files", old.id, new Date()); // pruned just now: inside any window

  const data = await readTarget("files", [primary], {
    until: new Date("2026-11-01T00:00:00Z"),
    recordsFrom: new Date("2026-05-01T00:00:00Z"),
  });
  expect(data.records.map((r) => r.finishedAt)).toEqual(["2026-06-10T06:00:00.000Z"]);
});
