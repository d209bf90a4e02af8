/**
 * Incidents end to end: a real filesystem destination (the truth), real Redis (alert state under a
 * unique prefix), a real SMTP receiver and a real webhook receiver; time moves by an injected clock.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { backupOutcome, conditionsFromEvaluation, EVALUATED_EVENTS } from "../../src/alerts/conditions";
import { createChannels } from "../../src/alerts/channels";
import type { AlertEvent } from "../../src/alerts/events";
import { IncidentManager } from "../../src/alerts/incidents";
import { deliveryEndsReportFailure, reportFailed } from "../../src/alerts/maintenance-conditions";
import { resolveReportFailed } from "../../src/alerts/report-delivery";
import type { AlertsConfig } from "../../src/config/types";
import { Secret } from "../../src/lib/secret";
import { evaluateTarget } from "../../src/slo/evaluate";
import { loadSloInputs } from "../../src/slo/inputs";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { writeSnapshot } from "../slo/destination";
import {
  captureLogger,
  startSmtpReceiver,
  startWebhookReceiver,
  type SmtpReceiver,
  type WebhookReceiver,
} from "./receivers";

const H = 3_600_000;
const prefix = `haven-test-alerts-${randomBytes(4).toString("hex")}`;
const smtpPassword = `pw-${randomBytes(8).toString("hex")}`;
const webhookToken = `T0KEN${randomBytes(8).toString("hex")}`;

let redis: Redis;
let smtp: SmtpReceiver;
let webhook: WebhookReceiver;
let dir: string;
let storage: StorageBackend;
let nowMs: number;
const logs = captureLogger();

function alertsConfig(): AlertsConfig {
  return {
    email: {
      smtp: {
        host: "127.0.0.1",
        port: smtp.port,
        secure: false,
        user: "haven",
        password: new Secret(smtpPassword),
        // STARTTLS is required; the receiver's built-in certificate is self-signed.
        tls: { enabled: true, rejectUnauthorized: false },
      },
      from: "haven@example.com",
      to: ["ops@example.com"],
    },
    webhooks: [{ url: new Secret(`${webhook.url}/hooks/${webhookToken}`), format: "json" }],
    repeat: 4 * H,
  };
}

function manager(): IncidentManager {
  const config = alertsConfig();
  return new IncidentManager({
    redis,
    channels: createChannels(config),
    repeatMs: config.repeat,
    prefix,
    logger: logs.logger,
    now: () => new Date(nowMs),
    delivery: { attempts: 3, baseDelayMs: 10 },
  });
}

/** The watchdog's pass: evaluate the target from the destination and reconcile the alert state. */
async function watchdog(incidents: IncidentManager) {
  const now = new Date(nowMs);
  const inputs = await loadSloInputs(storage, "orders-db");
  const evaluation = evaluateTarget({ ...inputs, rpoMs: 26 * H, rtoMs: 4 * H, now });
  return incidents.reconcile(conditionsFromEvaluation(evaluation), {
    events: EVALUATED_EVENTS,
    targets: ["orders-db"],
  });
}

async function deleteAlertState(): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

beforeAll(async () => {
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
  await redis.connect();
  smtp = await startSmtpReceiver({ user: "haven", password: smtpPassword });
  webhook = await startWebhookReceiver();
  dir = await mkdtemp(join(tmpdir(), "haven-alerts-"));
  storage = createFilesystemBackend({ name: "nas", path: dir });
});

afterAll(async () => {
  await deleteAlertState();
  await redis.quit();
  await smtp.close();
  await webhook.close();
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await deleteAlertState();
  smtp.messages.length = 0;
  smtp.secured.length = 0;
  webhook.requests.length = 0;
});

test("RPO breach: one incident, repeats at the interval, rebuilt without a storm, resolved by a new backup", async () => {
  const incidents = manager();
  // The RPO counts from the data's time: the backup's start (it finishes 5 minutes later).
  const snapshotAt = Date.parse("2026-11-20T02:00:00Z");
  await writeSnapshot(storage, "orders-db", new Date(snapshotAt + 5 * 60_000));
  const breachAt = new Date(snapshotAt + 26 * H);

  // Within the RPO: nothing.
  nowMs = snapshotAt + 20 * H;
  expect(await watchdog(incidents)).toMatchObject({ opened: [], resolved: [], unchanged: [] });
  expect(smtp.messages).toHaveLength(0);

  // Past the RPO: one incident, one email, one webhook.
  nowMs = snapshotAt + 27 * H;
  const first = await watchdog(incidents);
  expect(first.opened).toEqual(["rpo-breached:orders-db"]);
  expect(smtp.messages).toHaveLength(1);
  expect(webhook.requests).toHaveLength(1);
  const mail = smtp.messages[0]!;
  expect(smtp.secured[0]).toBe(true); // STARTTLS before the password
  expect(mail.subject).toBe("[haven] RPO breached: orders-db");
  expect(mail.text).toContain("Target: orders-db");
  expect(mail.text).toContain("Since: 2026-11-21 04:00 UTC (1h ago)");
  expect(mail.text).toMatch(/What to do: .*haven backup orders-db/);
  const hook = JSON.parse(webhook.requests[0]!.body);
  expect(webhook.requests[0]!.path).toBe(`/hooks/${webhookToken}`);
  expect(hook).toMatchObject({
    source: "haven",
    kind: "opened",
    incident: "rpo-breached:orders-db",
    type: "rpo-breached",
    severity: "critical",
    target: "orders-db",
    since: breachAt.toISOString(),
  });
  expect(await incidents.countOpen()).toBe(1);

  // Evaluated again within the repeat interval: nothing sent.
  nowMs += 1 * H;
  expect(await watchdog(incidents)).toMatchObject({
    opened: [],
    reminded: [],
    unchanged: ["rpo-breached:orders-db"],
  });
  nowMs += 2 * H;
  await watchdog(incidents);
  expect(smtp.messages).toHaveLength(1);
  expect(webhook.requests).toHaveLength(1);

  // Past the repeat interval (4 h after the first notice): one reminder.
  nowMs = snapshotAt + 31 * H;
  expect((await watchdog(incidents)).reminded).toEqual(["rpo-breached:orders-db"]);
  expect(smtp.messages).toHaveLength(2);
  expect(smtp.messages[1]!.subject).toBe("[haven] Still open: RPO breached: orders-db");
  expect(JSON.parse(webhook.requests[1]!.body).kind).toBe("reminder");
  nowMs += 1 * H;
  await watchdog(incidents);
  expect(smtp.messages).toHaveLength(2);

  // Redis loses the alert state: the next pass re-creates the incident and announces it once.
  await deleteAlertState();
  const rebuilt = await watchdog(incidents);
  expect(rebuilt).toMatchObject({ rebuilt: true, reannounced: ["rpo-breached:orders-db"], opened: [] });
  expect(smtp.messages).toHaveLength(3);
  expect(smtp.messages[2]!.subject).toBe("[haven] Still open: RPO breached: orders-db");
  expect(smtp.messages[2]!.text).toContain("still open since 2026-11-21 04:00 UTC (announced again");
  expect(JSON.parse(webhook.requests[2]!.body)).toMatchObject({
    kind: "still-open",
    since: breachAt.toISOString(),
  });
  const [open] = await incidents.openIncidents();
  expect(open).toMatchObject({ key: "rpo-breached:orders-db", since: breachAt, notifications: 1 });
  nowMs += 1 * H;
  expect(await watchdog(incidents)).toMatchObject({ rebuilt: false, unchanged: ["rpo-breached:orders-db"] });
  expect(smtp.messages).toHaveLength(3);

  // A new backup: the condition clears and a resolved notice goes out, once.
  await writeSnapshot(storage, "orders-db", new Date(nowMs - 10 * 60_000));
  expect((await watchdog(incidents)).resolved).toEqual(["rpo-breached:orders-db"]);
  expect(smtp.messages).toHaveLength(4);
  expect(smtp.messages[3]!.subject).toBe("[haven] Resolved: RPO breached: orders-db");
  expect(smtp.messages[3]!.text).toMatch(/RPO breached is resolved after 7h: the condition no longer holds/);
  expect(smtp.messages[3]!.text).not.toContain("What to do");
  expect(JSON.parse(webhook.requests[3]!.body)).toMatchObject({ kind: "resolved", hint: null });
  expect(await incidents.countOpen()).toBe(0);
  await watchdog(incidents);
  expect(smtp.messages).toHaveLength(4);
  expect(webhook.requests).toHaveLength(4);

  // Secrets never reach the logs.
  expect(logs.text()).toContain("incident opened");
  expect(logs.text()).not.toContain(smtpPassword);
  expect(logs.text()).not.toContain(webhookToken);
  await incidents.close();
});

/** The outcome of a backup of shared-files that failed on Nov 22. */
function failedBackup() {
  return backupOutcome({
    target: "shared-files",
    state: "failed",
    destinations: [],
    startedAt: "2026-11-22T02:00:00Z",
    finishedAt: "2026-11-22T02:10:00Z",
    warnings: [],
    error: { code: "SOURCE_FAILED", message: "tar: /srv/share: permission denied", hint: "check the path" },
  });
}

test("backup results raise and clear their incidents; concurrent raises open one incident", async () => {
  const incidents = manager();
  nowMs = Date.parse("2026-11-22T02:10:00Z");
  const failed = failedBackup();
  expect(failed.raise.map((c) => c.key)).toEqual(["backup-failed:shared-files"]);
  const condition = failed.raise[0]!;

  const outcomes = await Promise.all([
    incidents.raise(condition.key, condition.event),
    incidents.raise(condition.key, condition.event),
  ]);
  expect(outcomes.map((o) => o.action).sort()).toEqual(["opened", "unchanged"]);
  expect(smtp.messages).toHaveLength(1);
  expect(smtp.messages[0]!.text).toContain(
    "the backup of shared-files failed: tar: /srv/share: permission denied",
  );
  expect(outcomes.find((o) => o.action === "opened")!.deliveries).toEqual([
    { channel: "email", ok: true, attempts: 1 },
    { channel: expect.stringMatching(/^webhook #1 \(127\.0\.0\.1:\d+\)$/), ok: true, attempts: 1 },
  ]);

  // A watchdog reconcile does not touch incidents outside its scope.
  expect((await incidents.reconcile([], { events: EVALUATED_EVENTS })).resolved).toEqual([]);
  expect(await incidents.countOpen()).toBe(1);

  nowMs += 24 * H;
  const committed = backupOutcome({
    target: "shared-files",
    state: "committed",
    snapshotId: "20261123T020000Z-1a2b3c4d",
    destinations: ["nas"],
    startedAt: "2026-11-23T02:00:00Z",
    finishedAt: "2026-11-23T02:10:00Z",
    warnings: [],
  });
  const cleared = await Promise.all(committed.clear.map((key) => incidents.clear(key)));
  expect(cleared.map((c) => c.resolved)).toEqual([true, false]); // backup-failed was open, backup-partial not
  expect(smtp.messages.map((m) => m.subject)).toEqual([
    "[haven] Backup failed: shared-files",
    "[haven] Resolved: Backup failed: shared-files",
  ]);
  await incidents.close();
});

test("a channel that cannot deliver is logged and reported, and never throws into the caller", async () => {
  const broken = new IncidentManager({
    redis,
    channels: createChannels({
      email: {
        ...alertsConfig().email!,
        smtp: { ...alertsConfig().email!.smtp, password: new Secret("wrong-password") },
      },
      webhooks: [],
      repeat: H,
    }),
    repeatMs: H,
    prefix,
    logger: logs.logger,
    now: () => new Date(nowMs),
    delivery: { attempts: 3, baseDelayMs: 10 },
  });
  nowMs = Date.parse("2026-11-22T02:10:00Z");
  const outcome = await broken.raise("storage-unreachable:nas", {
    type: "storage-unreachable",
    destination: "nas",
    since: new Date(nowMs).toISOString(),
    summary: "destination nas cannot be reached",
  });
  expect(outcome.action).toBe("opened");
  // Authentication failures are permanent: one try, no retry storm against the SMTP server.
  expect(outcome.deliveries).toEqual([
    {
      channel: "email",
      ok: false,
      attempts: 1,
      error: expect.stringMatching(/Invalid login|535|Invalid username/),
    },
  ]);
  expect(smtp.messages).toHaveLength(0);
  expect(logs.text()).toContain("alert delivery failed; giving up");
  expect(logs.text()).not.toContain("wrong-password");
  await broken.close();
});

test("a notice a channel missed is sent again to that channel only, the resolved one too, until it is accepted", async () => {
  const incidents = manager(); // retries every 5 minutes (the default), each try 3 attempts
  const MIN = 60_000;
  nowMs = Date.parse("2026-11-22T02:10:00Z");
  const { raise } = failedBackup();
  const condition = raise[0]!;
  const kinds = () => webhook.requests.map((r) => (JSON.parse(r.body) as { kind: string }).kind);
  const pass = () => incidents.reconcile([], { events: EVALUATED_EVENTS });

  webhook.respondWith(503, 503, 503);
  const opened = await incidents.raise(condition.key, condition.event);
  expect(opened.deliveries.map((d) => d.ok)).toEqual([true, false]);
  expect(kinds()).toEqual(["opened", "opened", "opened"]);

  nowMs += 1 * MIN; // not due yet
  expect((await pass()).retried).toEqual([]);
  nowMs += 4 * MIN;
  expect((await pass()).retried).toEqual([condition.key]);
  expect(kinds()).toEqual(["opened", "opened", "opened", "opened"]);
  expect(smtp.messages).toHaveLength(1); // email had it: not sent twice
  nowMs += 5 * MIN; // accepted: nothing more to send
  expect((await pass()).retried).toEqual([]);
  expect(webhook.requests).toHaveLength(4);

  webhook.respondWith(503, 503, 503);
  const cleared = await incidents.clear(condition.key);
  expect(cleared.deliveries.map((d) => d.ok)).toEqual([true, false]);
  nowMs += 1 * MIN;
  expect((await pass()).resolvedRetried).toEqual([]);
  webhook.respondWith(503); // still down at the first retry: one attempt per retry, the next pass retries
  nowMs += 4 * MIN;
  expect((await pass()).resolvedRetried).toEqual([condition.key]);
  nowMs += 5 * MIN;
  expect((await pass()).resolvedRetried).toEqual([condition.key]);
  nowMs += 5 * MIN;
  expect((await pass()).resolvedRetried).toEqual([]);
  expect(kinds().slice(4)).toEqual(Array(5).fill("resolved")); // 3 at the clear, 1 per retry
  expect(smtp.messages.map((m) => m.subject)).toEqual([
    "[haven] Backup failed: shared-files",
    "[haven] Resolved: Backup failed: shared-files",
  ]);

  // An incident that opens again before its resolved notice got through drops that notice: a late
  // "resolved" must not follow the new "opened".
  webhook.respondWith(503, 503, 503);
  await incidents.raise(condition.key, condition.event);
  await incidents.clear(condition.key);
  webhook.respondWith(503, 503, 503);
  await incidents.raise(condition.key, condition.event);
  nowMs += 5 * MIN;
  const after = await pass();
  expect(after.resolvedRetried).toEqual([]);
  expect(after.retried).toEqual([condition.key]);
  expect(kinds().at(-1)).toBe("opened");
  await incidents.close();
});

test("retries are bounded and safe: a channel down is tried once per pass, a reopened incident drops its late resolved notice, a damaged record is dropped", async () => {
  const incidents = manager();
  const MIN = 60_000;
  nowMs = Date.parse("2026-11-22T02:10:00Z");
  const pass = () => incidents.reconcile([], { events: EVALUATED_EVENTS });
  const event = (target: string) => ({ ...failedBackup().raise[0]!.event, target });

  // Two incidents miss the webhook; at the retry it is still down: one request for the pass, not two.
  webhook.respondWith(503, 503, 503, 503, 503, 503);
  await incidents.raise("backup-failed:a", event("a"));
  await incidents.raise("backup-failed:b", event("b"));
  const before = webhook.requests.length;
  webhook.respondWith(503);
  nowMs += 5 * MIN;
  expect((await pass()).retried).toEqual(["backup-failed:a"]);
  expect(webhook.requests.length - before).toBe(1);
  nowMs += 5 * MIN; // back up: both get it
  expect((await pass()).retried.sort()).toEqual(["backup-failed:a", "backup-failed:b"]);
  expect((await pass()).retried).toEqual([]);

  // A resolved notice the webhook missed, whose incident opened again before the notice was kept
  // (as when another process raises it during a slow clear): the late "resolved" is dropped.
  webhook.respondWith(503, 503, 503);
  await incidents.clear("backup-failed:a");
  await redis.hset(`${prefix}:incident:backup-failed:a`, {
    key: "backup-failed:a",
    event: JSON.stringify(event("a")),
  });
  const sent = webhook.requests.length;
  nowMs += 5 * MIN;
  expect((await pass()).resolvedRetried).toEqual([]);
  expect(webhook.requests.length).toBe(sent);
  expect(await redis.exists(`${prefix}:unsent-resolved:backup-failed:a`)).toBe(0);

  // A record left half-written (expired while being updated) is dropped, and the pass goes on.
  await redis.sadd(`${prefix}:unsent-resolved`, "backup-failed:c");
  await redis.hset(`${prefix}:unsent-resolved:backup-failed:c`, { channels: "[]" });
  nowMs += 5 * MIN;
  await expect(pass()).resolves.toMatchObject({ resolvedRetried: [] });
  expect(await redis.exists(`${prefix}:unsent-resolved:backup-failed:c`)).toBe(0);
  await incidents.close();
});

test("an incident raised again while its clear is still delivering keeps no late resolved notice", async () => {
  const incidents = manager();
  nowMs = Date.parse("2026-11-22T02:10:00Z");
  const condition = failedBackup().raise[0]!;
  await incidents.raise(condition.key, condition.event);
  const sent = webhook.requests.length;

  // The webhook is slow, then refuses (the clear's tries and the raise's): the clear is still
  // delivering when another process raises again.
  webhook.respondWith(503, 503, 503, 503, 503, 503);
  const release = webhook.hold();
  const clearing = incidents.clear(condition.key);
  while (webhook.requests.length === sent) await new Promise((r) => setTimeout(r, 5));
  // The raise reopens the incident at once, then delivers its own notice (held too, until released).
  const raising = incidents.raise(condition.key, condition.event);
  while (!(await redis.exists(`${prefix}:incident:${condition.key}`)))
    await new Promise((r) => setTimeout(r, 5));
  release();
  expect((await clearing).deliveries.map((d) => d.ok)).toEqual([true, false]);
  expect((await raising).action).toBe("opened");
  expect(await redis.exists(`${prefix}:unsent-resolved:${condition.key}`)).toBe(0);
  nowMs += 5 * 60_000;
  expect((await incidents.reconcile([], { events: EVALUATED_EVENTS })).resolvedRetried).toEqual([]);
  await incidents.close();
});

test("a clear on condition leaves an incident that a newer raise replaced between its read and its clear", async () => {
  const incidents = manager();
  const now = new Date(nowMs);
  const october = reportFailed(new Error("SMTP 535"), "2026-10", now);
  const november = reportFailed(new Error("SMTP 535"), "2026-11", now);
  await incidents.raise(october.key, october.event);
  const endsWithOctober = (event: AlertEvent) => deliveryEndsReportFailure(event, "2026-10");

  // November fails after the event was read and judged, before the clear: on this one connection
  // the HSET is sent before the clear's script, so the interleaving is the same every run.
  const judged = await incidents.clear(october.key, {
    onlyIf: (event) => {
      void redis.hset(`${prefix}:incident:${october.key}`, "event", JSON.stringify(november.event));
      return endsWithOctober(event);
    },
  });
  expect(judged.resolved).toBe(false);
  expect((await incidents.openIncidents()).map((i) => i.event.details?.month)).toEqual(["2026-11"]);

  // Delivering October does not end November's failure; delivering November does.
  expect(await resolveReportFailed(incidents, "2026-10")).toBe(false);
  expect(await resolveReportFailed(incidents, "2026-11")).toBe(true);
  expect(await incidents.openIncidents()).toEqual([]);
});
