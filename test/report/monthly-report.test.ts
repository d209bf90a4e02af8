/**
 * The monthly report end to end: a month of snapshots and verification records seeded into two real
 * filesystem destinations (passes, failures, an RTO breach, a gap that breaks the RPO, missed and
 * partial backups), the report run as the scheduled job runs it, the email received by a real SMTP
 * server and parsed, and its HTML rendered in headless Chromium.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { DateTime } from "luxon";
import type { Attachment, ParsedMail } from "mailparser";
import { chromium } from "playwright-core";
import { layout } from "../../src/catalog/layout";
import type { Manifest } from "../../src/catalog/manifest";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { silentLogger } from "../../src/lib/logger";
import { pruneRun, pruneRunError } from "../../src/prune";
import { runMonthlyReport, type MonthlyReport, type MonthlyReportResult } from "../../src/report";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { Seeder } from "./seed";
import { startReceiver, type ReportSmtpReceiver } from "./smtp";

const ZONE = "Europe/Paris";
const MIN = 60_000;
const H = 60 * MIN;
const SMTP = { user: "haven", password: `pw-${Math.random().toString(36).slice(2)}` };
const OUTPUT_DIR = join(__dirname, "..", "..", "test-output", "report");
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A local time in Paris, 2026. */
const at = (month: number, day: number, hour: number, minute = 0, second = 0) =>
  DateTime.fromObject({ year: 2026, month, day, hour, minute, second }, { zone: ZONE }).toJSDate();
/** A daily run starts 30 s after its 01:00 firing; weekly ones after 03:00. */
const dailyStart = (month: number, day: number) => at(month, day, 1, 0, 30);
const weeklyStart = (day: number) => at(10, day, 3, 0, 30);

const MONTH_START = at(10, 1, 0);
const MONTH_END = at(11, 1, 0);
const NOW = new Date("2026-11-01T07:00:00Z");

function configText(dir: string, smtpPort: number): string {
  return `
timezone: ${ZONE}
destinations:
  primary: { type: filesystem, path: ${join(dir, "primary")} }
  offsite: { type: filesystem, path: ${join(dir, "offsite")} }
defaults:
  destinations: [primary]
  retention: { daily: 7, weekly: 4, monthly: 12 }
targets:
  orders-db:
    type: files
    path: /srv/orders
    destinations: [primary, offsite]
    schedule: { daily: "0 1 * * *", weekly: "0 3 * * 0" }
    rpo: 26h
    rto: 1h
  files:
    type: files
    path: /srv/files
    schedule: { daily: "0 1 * * *" }
    rpo: 26h
    rto: 1h
  cache:
    type: files
    path: /srv/cache
    schedule: { daily: "0 1 * * *" }
    rpo: 26h
    rto: 30m
  wiki:
    type: files
    path: /srv/wiki
    schedule: { daily: "0 1 * * *" }
    rpo: 50h
    rto: 1h
alerts:
  email:
    smtp: { host: 127.0.0.1, port: ${smtpPort}, user: ${SMTP.user}, password: "${SMTP.password}", tls: { enabled: true, rejectUnauthorized: false } }
    from: haven@example.com
    to: [ops@example.com]
reports:
  monthly: { to: [it-manager@example.com, auditor@example.com] }
`;
}

let dir: string;
let primary: StorageBackend;
let offsite: StorageBackend;
let receiver: ReportSmtpReceiver;
let config: HavenConfig;
const seeder = new Seeder();
const ids: Record<string, Set<string>> = {
  "orders-db": new Set(),
  files: new Set(),
  cache: new Set(),
  wiki: new Set(),
};
let result: MonthlyReportResult;
let mail: ParsedMail;
let attached: MonthlyReport;

async function seed(): Promise<void> {
  const snap = async (
    target: string,
    startedAt: Date,
    options: Parameters<Seeder["snapshot"]>[3] & { offsite?: boolean } = {},
  ): Promise<Manifest> => {
    const m = await seeder.snapshot(
      options.offsite ? [primary, offsite] : [primary],
      target,
      startedAt,
      options,
    );
    ids[target]?.add(m.id);
    return m;
  };
  const restore = (
    m: Manifest,
    finishedAt: Date,
    totalMs: number,
    fields: Parameters<Seeder["record"]>[3] = {},
  ) => seeder.record(primary, m, finishedAt, { totalMs, ...fields });

  // History before the month: the trend, and the recovery points the month's first gap starts from.
  for (const target of ["orders-db", "cache"]) {
    const aug = await snap(target, dailyStart(8, 15));
    const sep = await snap(target, dailyStart(9, 15));
    await restore(aug, at(8, 16, 6), target === "cache" ? 12 * MIN : 20 * MIN);
    await restore(sep, at(9, 16, 6), target === "cache" ? 11 * MIN : 18 * MIN);
  }
  for (const target of Object.keys(ids)) {
    await snap(target, dailyStart(9, 29));
    await snap(target, dailyStart(9, 30));
  }

  const october: Record<string, Map<number, Manifest>> = {};
  for (const target of Object.keys(ids)) {
    const days = new Map<number, Manifest>();
    for (let day = 1; day <= 31; day++) {
      if (target === "files" && day >= 10 && day <= 12) continue; // a gap of 4 days: RPO breached
      if (target === "wiki" && day === 20) continue; // one missed run, within wiki's 50h RPO
      const partial = target === "cache" && day === 2;
      days.set(
        day,
        await snap(target, dailyStart(10, day), {
          ...(partial ? { state: "partial" as const, warnings: ["tmp/session.db changed while read"] } : {}),
        }),
      );
    }
    october[target] = days;
  }
  const orders = october["orders-db"] as Map<number, Manifest>;
  for (const day of [4, 11, 18, 25])
    await snap("orders-db", weeklyStart(day), { tiers: ["weekly"], offsite: true });

  // orders-db: four passed restore tests, getting faster, and a passed integrity check.
  for (const [day, minutes] of [
    [3, 15],
    [10, 14],
    [17, 13],
    [24, 12],
  ] as const) {
    await restore(orders.get(day) as Manifest, at(10, day, 6), minutes * MIN);
  }
  await restore(orders.get(28) as Manifest, at(10, 28, 7), 2000, {
    kind: "integrity",
    phases: { read: 2000 },
  });
  // files: restores pass; its problem is the gap.
  const files = october.files as Map<number, Manifest>;
  await restore(files.get(5) as Manifest, at(10, 5, 6), 10 * MIN);
  await restore(files.get(19) as Manifest, at(10, 19, 6), 10 * MIN);
  // A restore that worked but failed only its freshness guard: the RPO's finding, not the RTO's.
  await restore(files.get(13) as Manifest, at(10, 13, 0, 30), 12 * MIN, {
    result: "failed",
    checks: [{ name: "freshness", ok: false, detail: "the newest snapshot is 3d old, older than the RPO" }],
  });
  // cache (RTO 30m): a pass, a failed restore test, then a pass that took longer than the RTO.
  const cache = october.cache as Map<number, Manifest>;
  await restore(cache.get(4) as Manifest, at(10, 4, 6), 10 * MIN);
  await restore(cache.get(11) as Manifest, at(10, 11, 6), 8 * MIN, {
    result: "failed",
    checks: [{ name: "row count of sessions", ok: false, expected: ">= 1", actual: 0 }],
  });
  await restore(cache.get(18) as Manifest, at(10, 18, 6), 45 * MIN);
  // wiki: a passed restore test and a failed integrity check.
  const wiki = october.wiki as Map<number, Manifest>;
  await restore(wiki.get(8) as Manifest, at(10, 8, 6), 5 * MIN);
  await restore(wiki.get(22) as Manifest, at(10, 22, 7), 3000, {
    kind: "integrity",
    result: "failed",
    phases: { read: 3000 },
    checks: [{ name: "sha256 of data.tar.zst", ok: false, expected: "ab12", actual: "cd34" }],
    error: { code: "INTEGRITY", message: "data.tar.zst: sha256 mismatch" },
  });

  // After the month: must not count.
  const november = await snap("orders-db", dailyStart(11, 1));
  await restore(november, new Date("2026-11-01T05:00:00Z"), 1 * MIN);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-report-"));
  for (const name of ["primary", "offsite"]) await mkdir(join(dir, name)); // the destinations' roots: Haven never creates them
  receiver = await startReceiver(SMTP);
  config = parseConfigText(configText(dir, receiver.port), "<report-test>", {});
  primary = createFilesystemBackend({ name: "primary", path: join(dir, "primary"), prefix: "" });
  offsite = createFilesystemBackend({ name: "offsite", path: join(dir, "offsite"), prefix: "" });
  await seed();

  // As the scheduled job runs it: no month given, so the month before `now` (October, in Paris).
  result = await runMonthlyReport(
    config,
    { send: true },
    {
      logger: silentLogger,
      now: NOW,
      storages: [primary, offsite],
      openIncidents: [
        {
          key: "rpo-breached:files",
          since: new Date("2026-10-11T01:05:30Z"),
          event: { type: "rpo-breached", target: "files", summary: "no recovery point of files for 96h" },
        },
      ],
    },
  );
  expect(receiver.messages).toHaveLength(1);
  mail = receiver.messages[0] as ParsedMail;
  const json = jsonAttachment(mail);
  attached = JSON.parse(json.content.toString("utf8")) as MonthlyReport;
});

afterAll(async () => {
  await receiver?.close();
  await primary?.close();
  await offsite?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function jsonAttachment(message: ParsedMail): Attachment {
  const json = message.attachments.find((a) => a.contentType === "application/json");
  if (!json) throw new Error("no JSON attachment");
  return json;
}

function pngAttachments(message: ParsedMail): Attachment[] {
  return message.attachments.filter((a) => a.contentType === "image/png");
}

function target(name: string) {
  const t = attached.targets.find((x) => x.target === name);
  if (!t) throw new Error(`no target ${name} in the report`);
  return t;
}

test("the email goes to reports.monthly.to with a subject that gives the verdicts", () => {
  expect(result.month).toBe("2026-10");
  expect(mail.subject).toBe("Haven report 2026-10: 1 met, 1 at risk, 2 breached");
  const to = Array.isArray(mail.to) ? mail.to : [mail.to];
  expect(to.flatMap((a) => a?.value.map((v) => v.address))).toEqual([
    "it-manager@example.com",
    "auditor@example.com",
  ]);
  expect(mail.from?.value[0]?.address).toBe("haven@example.com");
  expect(result.sent?.attempts).toBe(1);
});

test("the summary figures count the month's backups, restore tests and compliance", () => {
  expect(attached.period).toEqual({
    month: "2026-10",
    timezone: ZONE,
    start: MONTH_START.toISOString(),
    end: MONTH_END.toISOString(),
    complete: true,
  });
  expect(attached.empty).toBe(false);
  expect(attached.summary).toEqual({
    targets: 4,
    verdicts: { met: 1, "at-risk": 1, breached: 2 },
    // 31 daily firings per target plus orders-db's 4 weekly ones; files missed 3, wiki 1.
    backups: { scheduled: 128, committed: 123, partial: 1, missed: 4, manual: 0 },
    // files' stale-only restore test counts as passed: its restore worked.
    restoreTests: { run: 11, passed: 10, failed: 1, overRto: 1 },
    integrityChecks: { run: 2, passed: 1, failed: 1 },
    // cache's Oct 11 snapshot failed its restore test's row count: not a good backup (see below).
    rpo: { met: 2, of: 4 },
    rto: { met: 3, of: 4 },
    openIncidents: 1,
  });
  expect(attached.backupsByDay).toHaveLength(31);
  expect(attached.backupsByDay.find((d) => d.day === "2026-10-11")).toEqual({
    day: "2026-10-11",
    committed: 4, // orders-db daily + weekly, cache, wiki
    partial: 0,
    missed: 1,
  });
});

test("each target gets the verdict its month earned, with the reasons", () => {
  expect(Object.fromEntries(attached.targets.map((t) => [t.target, t.verdict]))).toEqual({
    cache: "breached",
    files: "breached",
    "orders-db": "met",
    wiki: "at-risk",
  });
  expect(target("orders-db").reasons).toEqual([]);
  expect(target("files").reasons.join(" ")).toMatch(
    /RPO breached for 2d 22h: the longest gap without a recovery point was 4d/,
  );
  expect(target("cache").reasons.join(" ")).toMatch(
    /1 restore test\(s\) failed and 1 took longer than the RTO of 30m/,
  );
  expect(target("wiki").reasons).toEqual(["1 scheduled backup(s) missed", "1 integrity check(s) failed"]);
});

test("the RPO figures measure the worst gap, the breach time and the newest snapshot at month end", () => {
  const files = target("files");
  expect(files.rpo.status).toBe("breached");
  // Measured from the data's time: Oct 9's backup started at 01:00 and held data of then until Oct
  // 13's finished, 5 minutes after its start.
  expect(files.rpo.worstGap).toEqual({
    ms: 96 * H + 5 * MIN,
    from: dailyStart(10, 9).toISOString(),
    to: new Date(dailyStart(10, 13).getTime() + 5 * MIN).toISOString(),
    fromEdge: "snapshot",
    toEdge: "snapshot",
  });
  expect(files.rpo.breachedMs).toBe(70 * H + 5 * MIN);
  // October in Paris has 745 hours (the clocks go back on the 25th).
  expect(files.rpo.compliancePercent).toBe(
    Math.round((1000 * (745 * H - 70 * H - 5 * MIN)) / (745 * H)) / 10,
  );
  expect(files.backups).toMatchObject({ scheduled: 31, committed: 28, missed: 3 });
  expect(files.failures.filter((f) => f.kind === "missed-backup").map((f) => f.at)).toEqual(
    [10, 11, 12].map((day) => at(10, day, 1).toISOString()),
  );

  // A snapshot whose verification proved it damaged covers no time: cache's Oct 11 snapshot failed its
  // row count, so cache went from Oct 10 to Oct 12 without a good backup, 22h past its 26h RPO.
  const cache = target("cache");
  expect(cache.rpo.status).toBe("breached");
  expect(cache.rpo.worstGap).toMatchObject({
    ms: 48 * H + 5 * MIN,
    from: dailyStart(10, 10).toISOString(),
  });
  expect(cache.rpo.breachedMs).toBe(22 * H + 5 * MIN);

  // wiki's Oct 22 snapshot failed its integrity check: its gaps (19 → 21, 21 → 23) are 48h, within 50h.
  const wiki = target("wiki");
  expect(wiki.rpo.status).toBe("met");
  expect(wiki.rpo.worstGap?.ms).toBe(48 * H + 5 * MIN);

  // files' restore test of Oct 13 failed only its freshness guard: a measured restore within its RTO,
  // and no restore failure; the stale target is the RPO breach above.
  expect(files.rto.status).toBe("met");
  expect(files.restoreTests.find((t) => t.totalMs === 12 * MIN)).toMatchObject({
    result: "passed",
    withinRto: true,
    note: expect.stringContaining("the target was stale: freshness") as unknown,
  });
  expect(files.failures.filter((f) => f.kind === "restore-test-failed")).toEqual([]);

  const orders = target("orders-db");
  expect(orders.rpo.newestAtEnd).toMatchObject({
    startedAt: dailyStart(10, 31).toISOString(),
    ageMs: MONTH_END.getTime() - dailyStart(10, 31).getTime(),
  });
  expect(orders.snapshotsByTier).toEqual({ daily: 31, weekly: 4, monthly: 0, manual: 0 });
  expect(orders.backups.byTier).toEqual({
    daily: { scheduled: 31, committed: 31, partial: 0, missed: 0 },
    weekly: { scheduled: 4, committed: 4, partial: 0, missed: 0 },
  });
});

test("restore tests are listed with date, result, time vs RTO and phases, and trend over six months", () => {
  const cache = target("cache");
  expect(cache.restoreTests.map((r) => [r.finishedAt, r.result, r.totalMs, r.withinRto])).toEqual([
    [at(10, 4, 6).toISOString(), "passed", 10 * MIN, true],
    [at(10, 11, 6).toISOString(), "failed", 8 * MIN, false],
    [at(10, 18, 6).toISOString(), "passed", 45 * MIN, false],
  ]);
  expect(cache.restoreTests[0]?.phases).toEqual({ download: 3 * MIN, load: 6 * MIN, checks: 1 * MIN });
  expect(cache.restoreTests[1]?.reason).toBe('row count of sessions, expected ">= 1", actual 0');
  expect(cache.rto).toMatchObject({
    status: "breached",
    rtoMs: 30 * MIN,
    tests: 3,
    passed: 2,
    failed: 1,
    overRto: 1,
  });
  expect(cache.failures.map((f) => f.kind)).toEqual([
    "partial-backup",
    "restore-test-failed",
    "restore-over-rto",
  ]);

  const orders = target("orders-db");
  expect(orders.rto).toMatchObject({ status: "met", tests: 4, passed: 4, slowestMs: 15 * MIN });
  expect(orders.integrityChecks).toEqual({ run: 1, passed: 1, failed: 0 });
  expect(orders.trend).toEqual([
    { month: "2026-05", tests: 0, passed: 0, maxMs: null, medianMs: null },
    { month: "2026-06", tests: 0, passed: 0, maxMs: null, medianMs: null },
    { month: "2026-07", tests: 0, passed: 0, maxMs: null, medianMs: null },
    { month: "2026-08", tests: 1, passed: 1, maxMs: 20 * MIN, medianMs: 20 * MIN },
    { month: "2026-09", tests: 1, passed: 1, maxMs: 18 * MIN, medianMs: 18 * MIN },
    { month: "2026-10", tests: 4, passed: 4, maxMs: 15 * MIN, medianMs: 13.5 * MIN },
  ]);
});

test("storage, copies and retention are read from what the destinations hold", () => {
  const orders = target("orders-db");
  const expectedNow = seeder.bytesAt(ids["orders-db"] as Set<string>, MONTH_END);
  const expectedBefore = seeder.bytesAt(ids["orders-db"] as Set<string>, MONTH_START);
  expect(orders.storage).toEqual({
    bytes: expectedNow,
    snapshots: 39,
    previousBytes: expectedBefore,
    previousFrom: "bucket",
    growthBytes: expectedNow - expectedBefore,
    growthPercent: Math.round((1000 * (expectedNow - expectedBefore)) / expectedBefore) / 10,
  });
  expect(
    orders.copies.destinations.map(({ name, present, missing }) => ({ name, present, missing })),
  ).toEqual([
    { name: "primary", present: 35, missing: 0 },
    { name: "offsite", present: 4, missing: 31 },
  ]);
  expect(orders.copies.onEveryDestination).toBe(4);
  expect(orders.retention.present).toBe(39);
  expect(orders.retention.rules).toEqual([
    { rule: "daily", configured: 7, filled: 7 },
    { rule: "weekly", configured: 4, filled: 4 },
    { rule: "monthly", configured: 12, filled: 3 },
  ]);
  expect(orders.retention.beyondPolicy).toBe(28);
  expect(target("files").openIncidents.map((i) => i.key)).toEqual(["rpo-breached:files"]);
});

test("charts arrive as inline PNG parts referenced by cid, with alt text", () => {
  const html = mail.html as string;
  const pngs = pngAttachments(mail);
  expect(pngs.map((p) => p.cid).sort()).toEqual(["backups-by-day@haven", "restore-times@haven"]);
  for (const png of pngs) {
    expect(png.content.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.contentDisposition).toBe("inline");
    const img = new RegExp(`<img src="cid:${png.cid}" alt="([^"]+)"`).exec(html);
    expect(img?.[1]?.length).toBeGreaterThan(40);
  }
  expect(html).not.toMatch(/<script|<svg/i);
  expect(mail.text).toContain("VERDICT PER TARGET");
  expect(mail.text).toContain("files: BREACHED");
});

test("the JSON attachment's sha256 is the one printed in the body and the one stored under _reports/", async () => {
  const json = jsonAttachment(mail);
  expect(json.filename).toBe("haven-report-2026-10.json");
  const sha256 = createHash("sha256").update(json.content).digest("hex");
  expect(result.json.sha256).toBe(sha256);
  expect(mail.html).toContain(`data-sha256="${sha256}"`);
  expect(mail.text).toContain(`sha256 of the JSON: ${sha256}`);

  const stored = Buffer.from(await text(await primary.get(layout.report("2026-10"))), "utf8");
  expect(createHash("sha256").update(stored).digest("hex")).toBe(sha256);
  expect(result.storedAt).toBe(`${primary.location.replace(/\/+$/, "")}/_reports/2026-10.json`);
  expect(await offsite.stat(layout.report("2026-10"))).toBeNull();
});

interface LayoutFacts {
  scrollWidth: number;
  images: Array<{ complete: boolean; naturalWidth: number }>;
}

test("the HTML renders in headless Chromium without overflow at 700 px, every image loaded", async () => {
  let html = mail.html as string;
  for (const png of pngAttachments(mail)) {
    html = html.split(`cid:${png.cid}`).join(`data:image/png;base64,${png.content.toString("base64")}`);
  }
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    await mkdir(OUTPUT_DIR, { recursive: true });
    // Kept for people to look at: the email as received, images inlined.
    await writeFile(join(OUTPUT_DIR, "email.html"), html);
    await writeFile(join(OUTPUT_DIR, "email.txt"), mail.text ?? "");
    for (const width of [700, 375]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.setContent(html, { waitUntil: "load" });
      // Runs in the page; a string, because this project compiles without the DOM library.
      const layoutFacts = await page.evaluate<LayoutFacts>(`({
        scrollWidth: document.scrollingElement ? document.scrollingElement.scrollWidth : Infinity,
        images: Array.from(document.images).map((img) => ({ complete: img.complete, naturalWidth: img.naturalWidth })),
      })`);
      expect(layoutFacts.scrollWidth).toBeLessThanOrEqual(width);
      expect(layoutFacts.images).toHaveLength(2);
      for (const image of layoutFacts.images) {
        expect(image.complete).toBe(true);
        expect(image.naturalWidth).toBeGreaterThan(0);
      }
      const screenshot = await page.screenshot({
        path: join(OUTPUT_DIR, `report-${width}.png`),
        fullPage: true,
      });
      expect(screenshot.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test("after retention prunes the month's dailies, the report of that month is made again the same from the bucket", async () => {
  // The configured retention (daily 7, weekly 4, monthly 12), applied on the report's morning; the
  // guard rail is lifted so the whole backlog goes in one run.
  const pruneConfig: HavenConfig = {
    ...config,
    targets: Object.fromEntries(
      Object.entries(config.targets).map(([name, t]) => [name, { ...t, maxRemoveShare: 1 }]),
    ),
  };
  const pruned = await pruneRun(pruneConfig, {
    now: NOW,
    withLock: (_target, fn) => fn(new AbortController().signal),
    openStorage: (d) => (d.name === "primary" ? primary : offsite),
    logger: silentLogger,
  });
  expect(pruneRunError(pruned)).toBeNull();
  const removed = pruned.results.reduce((n, r) => n + r.removed.length, 0);
  expect(removed).toBeGreaterThan(60); // most of October's dailies, on every target

  const again = await runMonthlyReport(
    config,
    { month: "2026-10", send: false },
    { logger: silentLogger, now: NOW, storages: [primary, offsite] },
  );
  const sameMonth = (report: MonthlyReport) =>
    report.targets.map((t) => ({
      target: t.target,
      verdict: t.verdict,
      reasons: t.reasons,
      backups: t.backups,
      snapshotsByTier: t.snapshotsByTier,
      rpo: t.rpo,
      rto: t.rto,
      restoreTests: t.restoreTests,
      failures: t.failures,
      copies: { onEveryDestination: t.copies.onEveryDestination, incomplete: t.copies.incomplete },
    }));
  expect(sameMonth(again.report)).toEqual(sameMonth(attached));
  expect(again.report.summary).toEqual({ ...attached.summary, openIncidents: null }); // none were passed in
});
