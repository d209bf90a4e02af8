/**
 * A target removed from the config during the month, on a real filesystem destination: its backups
 * and its failed restore test of that month are in the report (from the bucket alone), not dropped
 * with its config entry; one removed months ago with nothing in the month is not listed.
 */
import type { HavenConfig } from "../../src/config/types";
import { collectMonth } from "../../src/report";
import { renderHtml } from "../../src/report/html";
import { renderText } from "../../src/report/text";
import type { StorageBackend } from "../../src/storage/types";
import { oneDestination, type OneDestination } from "./one-destination";
import { Seeder } from "./seed";

const utc = (iso: string) => new Date(iso);
const NOW = utc("2026-11-01T07:00:00Z");

let fixture: OneDestination;
let primary: StorageBackend;
let config: HavenConfig;
const seeder = new Seeder();

beforeAll(async () => {
  fixture = await oneDestination(
    "former",
    `  kept: { type: files, path: /srv/kept, schedule: { daily: "0 2 * * *" } }`,
  );
  ({ primary, config } = fixture);
  await seeder.snapshot([primary], "kept", utc("2026-10-10T02:00:00Z"));
  // "retired" ran daily until Oct 20, when it was taken out of the config.
  for (let day = 11; day <= 20; day++) {
    const manifest = await seeder.snapshot([primary], "retired", utc(`2026-10-${day}T02:00:00Z`), {
      ...(day === 15 ? { state: "partial" as const, warnings: ["a.txt: changed while being read"] } : {}),
    });
    if (day === 18) await seeder.record(primary, manifest, utc("2026-10-18T05:00:00Z"), { result: "failed" });
    if (day === 19) await seeder.record(primary, manifest, utc("2026-10-19T05:00:00Z"));
  }
  // "ancient" was removed in August: its snapshot is still held, but nothing happened in October.
  await seeder.snapshot([primary], "ancient", utc("2026-08-03T02:00:00Z"));
});

afterAll(async () => {
  await fixture?.remove();
});

test("a target removed mid-month is listed with its backups and restore tests of the month", async () => {
  const report = await collectMonth(config, "2026-10", [primary], NOW);
  expect(report.targets.map((t) => t.target)).toEqual(["kept"]);
  expect(report.formerTargets).toEqual([
    {
      target: "retired",
      type: "files",
      destinations: ["primary"],
      snapshots: 10,
      partial: 1,
      newestSnapshotAt: "2026-10-20T02:05:00.000Z",
      held: 10,
      restoreTests: { run: 2, failed: 1 },
      integrityChecks: { run: 0, failed: 0 },
    },
  ]);
  expect(report.empty).toBe(false);

  const evidence = { jsonFileName: "report.json", sha256: "0".repeat(64), storedAt: null };
  const text = renderText({ report, evidence });
  expect(text).toContain("TARGETS NO LONGER IN THE CONFIG");
  expect(text).toContain(
    "retired (files, on primary): 10 snapshots this month (1 partial), the newest finished 2026-10-20 02:05; " +
      "10 taken by the month's end still held; 2 restore tests (1 failed); 0 integrity checks (none failed)",
  );
  const html = renderHtml({ report, evidence, charts: [] });
  expect(html).toContain("Targets no longer in the config");
  expect(html).toContain("retired (files, on primary): 10 snapshots this month");
  expect(html).not.toContain("ancient");
});

test("a month in which only a removed target ran is not reported as empty", async () => {
  const onlyRetired = await collectMonth({ ...config, targets: {} }, "2026-10", [primary], NOW);
  expect(onlyRetired.formerTargets.map((t) => t.target)).toEqual(["kept", "retired"]);
  expect(onlyRetired.empty).toBe(false);
});
