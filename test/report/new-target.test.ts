/**
 * A target added to the config during the month, on a real filesystem destination: with the time the
 * watchdog first saw it, the report judges it from then (no gap from the month start, no missed
 * firings before it existed); a target whose bucket shows it older than that keeps its real gap.
 */
import type { HavenConfig } from "../../src/config/types";
import { collectMonth } from "../../src/report";
import { targetRows } from "../../src/report/format";
import type { StorageBackend } from "../../src/storage/types";
import { oneDestination, type OneDestination } from "./one-destination";
import { Seeder } from "./seed";

const H = 3_600_000;
const utc = (iso: string) => new Date(iso);
const NOW = utc("2026-11-01T07:00:00Z");

let fixture: OneDestination;
let primary: StorageBackend;
let config: HavenConfig;
const seeder = new Seeder();

beforeAll(async () => {
  fixture = await oneDestination(
    "new-target",
    `  newcomer: { type: files, path: /srv/new, schedule: { daily: "0 2 * * *" }, rpo: 26h }
  veteran: { type: files, path: /srv/old, schedule: { daily: "0 2 * * *" }, rpo: 26h }
  silent: { type: files, path: /srv/silent, schedule: { daily: "0 2 * * *" }, rpo: 26h }`,
  );
  ({ primary, config } = fixture);
  // Both back up daily from Oct 20; veteran also had one on Oct 5 (then its backups stopped).
  await seeder.snapshot([primary], "veteran", utc("2026-10-05T02:00:00Z"));
  for (let day = 20; day <= 31; day++) {
    for (const target of ["newcomer", "veteran"])
      await seeder.snapshot([primary], target, utc(`2026-10-${day}T02:00:00Z`));
  }
});

afterAll(async () => {
  await fixture?.remove();
});

test("a target first seen during the month is judged from then; one the bucket shows older is not", async () => {
  const firstSeen = new Map([
    ["newcomer", utc("2026-10-19T10:00:00Z")],
    // Its Oct 5 snapshot says it was there before: the alert state was rebuilt since.
    ["veteran", utc("2026-10-19T10:00:00Z")],
  ]);
  const report = await collectMonth(config, "2026-10", [primary], NOW, { firstSeen });
  const newcomer = report.targets.find((t) => t.target === "newcomer");
  // Its worst gap is a normal day (24h 5m), not the weeks before it existed.
  expect(newcomer).toMatchObject({
    rpo: { status: "met", breachedMs: 0, worstGap: { ms: 24 * H + 5 * 60_000 } },
    backups: { scheduled: 12, missed: 0 },
  });
  expect(newcomer?.reasons.join(" ")).not.toMatch(/RPO|missed/);
  const veteran = report.targets.find((t) => t.target === "veteran");
  expect(veteran?.rpo).toMatchObject({ status: "breached", worstGap: { from: "2026-10-05T02:00:00.000Z" } });
  expect(veteran?.backups.missed).toBe(18); // Oct 1 to 4 and 6 to 19

  // Without the alert state (a fresh install reading the bucket), the newcomer is judged from the month start.
  const blind = await collectMonth(config, "2026-10", [primary], NOW);
  expect(blind.targets.find((t) => t.target === "newcomer")?.rpo.status).toBe("breached");
});

test("a target added during the month and never backed up is in compliance only for its first RPO, not for the weeks before it existed", async () => {
  const firstSeen = new Map([["silent", utc("2026-10-20T00:00:00Z")]]);
  const report = await collectMonth(config, "2026-10", [primary], NOW, { firstSeen });
  const silent = report.targets.find((t) => t.target === "silent");
  // Judged from Oct 20 (12 days): in breach from Oct 21 02:00 to the end, 262 h of 288.
  expect(silent?.rpo).toMatchObject({ status: "breached", breachedMs: 262 * H, compliancePercent: 9 });
  // The report says what the share is of: not "of the month".
  const gapRow = targetRows(report, silent!).find(([label]) => label === "Worst RPO gap");
  expect(gapRow?.[1]).toMatch(/in compliance 9 % of the time since 2026-10-20 .*, when Haven first saw it$/);
  const veteran = report.targets.find((t) => t.target === "veteran");
  const veteranRow = targetRows(report, veteran!).find(([label]) => label === "Worst RPO gap");
  expect(veteranRow?.[1]).toMatch(/ % of the month$/);
});
