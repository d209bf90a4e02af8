/**
 * A backup fired on the month's last evening that waited in the queue past midnight, on a real
 * filesystem destination: it answers its firing though it started the next month, so the month's
 * report does not count that firing as missed. A firing nothing answered before the next one still is.
 */
import { collectMonth, type MonthlyReport } from "../../src/report";
import type { StorageBackend } from "../../src/storage/types";
import { oneDestination } from "./one-destination";
import { Seeder } from "./seed";

const utc = (iso: string) => new Date(iso);
const NOW = utc("2026-11-03T07:00:00Z");

/** Daily at 23:30 up to Oct 30; Oct 31's firing answered after midnight by `queued` only. */
async function seed(primary: StorageBackend): Promise<void> {
  const seeder = new Seeder();
  for (let day = 1; day <= 30; day++) {
    const at = utc(`2026-10-${String(day).padStart(2, "0")}T23:30:05Z`);
    for (const target of ["queued", "skipped"]) await seeder.snapshot([primary], target, at);
  }
  // Oct 31's 23:30 firing: queued's backup started at 00:20 on Nov 1; skipped's never ran, and its
  // next one is Nov 1's own.
  await seeder.snapshot([primary], "queued", utc("2026-11-01T00:20:00Z"));
  for (const target of ["queued", "skipped"])
    await seeder.snapshot([primary], target, utc("2026-11-01T23:30:05Z"));
}

test("the last firing of the month is answered by a backup that started after midnight", async () => {
  const fixture = await oneDestination(
    "late-start",
    `  queued: { type: files, path: /srv/queued, schedule: { daily: "30 23 * * *" }, rpo: 26h }
  skipped: { type: files, path: /srv/skipped, schedule: { daily: "30 23 * * *" }, rpo: 26h }`,
  );
  let report: MonthlyReport;
  try {
    await seed(fixture.primary);
    report = await collectMonth(fixture.config, "2026-10", [fixture.primary], NOW);
  } finally {
    await fixture.remove();
  }
  const byName = new Map(report.targets.map((t) => [t.target, t]));

  const queued = byName.get("queued");
  expect(queued?.backups).toMatchObject({ scheduled: 31, missed: 0 });
  expect(queued?.failures.filter((f) => f.kind === "missed-backup")).toEqual([]);
  expect(queued?.verdict).not.toBe("breached");
  // It is November's snapshot: October counts the 30 it started.
  expect(queued?.snapshotsByTier.daily).toBe(30);

  // Nov 1's own 23:30 backup answers Nov 1's firing, not Oct 31's.
  const skipped = byName.get("skipped");
  expect(skipped?.backups).toMatchObject({ scheduled: 31, missed: 1 });
  expect(skipped?.failures.filter((f) => f.kind === "missed-backup").map((f) => f.at)).toEqual([
    "2026-10-31T23:30:00.000Z",
  ]);
});
