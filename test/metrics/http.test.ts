import { Redis } from "ioredis";
import { createMetrics } from "../../src/metrics/registry";
import { redisCheck, startHttpServer, type HttpServerHandle } from "../../src/metrics/http";
import { evaluateTarget } from "../../src/slo/evaluate";

const H = 3_600_000;
let redis: Redis;
let server: HttpServerHandle | undefined;

beforeAll(async () => {
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
  await redis.connect();
});

afterAll(async () => {
  await redis.quit();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The value of one sample line in Prometheus text format, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/metrics exposes Haven's metrics in Prometheus text format", async () => {
  let nowMs = Date.parse("2026-11-22T12:00:00Z");
  const metrics = createMetrics({
    now: () => new Date(nowMs),
    openIncidents: () => Promise.resolve(2),
    queueCounts: () => Promise.resolve([{ queue: "backup", counts: { waiting: 3, active: 1, failed: 0 } }]),
  });
  metrics.recordBackup({
    target: "orders-db",
    state: "committed",
    snapshotId: "20261122T020000Z-1a2b3c4d",
    destinations: ["primary"],
    startedAt: "2026-11-22T02:00:00Z",
    finishedAt: "2026-11-22T02:05:00Z",
    warnings: [],
  });
  metrics.recordBackup({
    target: "orders-db",
    state: "failed",
    destinations: [],
    startedAt: "2026-11-22T03:00:00Z",
    finishedAt: "2026-11-22T03:01:00Z",
    warnings: [],
  });
  metrics.recordEvaluation(
    evaluateTarget({
      target: "orders-db",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [
        { id: "s", finishedAt: new Date("2026-11-22T02:05:00Z"), state: "committed", storedSize: 123_456 },
      ],
      verifications: [
        {
          kind: "restore",
          snapshotId: "s",
          finishedAt: new Date("2026-11-22T06:00:00Z"),
          totalMs: 1800_000,
          result: "passed",
        },
      ],
      now: new Date(nowMs),
    }),
  );

  server = await startHttpServer({ port: 0, registry: metrics.registry });
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();

  expect(text).toContain("# TYPE haven_backups_total counter");
  expect(sample(text, 'haven_backups_total{target="orders-db",result="committed"}')).toBe(1);
  expect(sample(text, 'haven_backups_total{target="orders-db",result="failed"}')).toBe(1);
  expect(sample(text, 'haven_last_success_timestamp_seconds{target="orders-db"}')).toBe(
    Date.parse("2026-11-22T02:05:00Z") / 1000,
  );
  expect(sample(text, 'haven_snapshot_age_seconds{target="orders-db"}')).toBe(9 * 3600 + 55 * 60);
  expect(sample(text, 'haven_rpo_seconds{target="orders-db"}')).toBe(26 * 3600);
  expect(sample(text, 'haven_last_restore_test_seconds{target="orders-db"}')).toBe(1800);
  expect(sample(text, 'haven_rto_seconds{target="orders-db"}')).toBe(4 * 3600);
  expect(sample(text, 'haven_slo_breached{target="orders-db",slo="rpo"}')).toBe(0);
  expect(sample(text, 'haven_stored_bytes{target="orders-db"}')).toBe(123_456);
  expect(sample(text, "haven_open_incidents")).toBe(2);
  expect(sample(text, 'haven_queue_jobs{queue="backup",state="waiting"}')).toBe(3);
  expect(text).toMatch(/^process_cpu_user_seconds_total /m);

  // The age is computed when scraped, not when evaluated.
  nowMs += H;
  const later = await (await fetch(`${server.url}/metrics`)).text();
  expect(sample(later, 'haven_snapshot_age_seconds{target="orders-db"}')).toBe(10 * 3600 + 55 * 60);

  // A target removed from the config disappears.
  metrics.removeTarget("orders-db");
  const removed = await (await fetch(`${server.url}/metrics`)).text();
  expect(removed).not.toContain('target="orders-db"');
});

test("the snapshot age counts from the backup's start, as the RPO does; last success is its finish", async () => {
  // A 3-hour backup that finished at 02:00 holds data from 23:00 the evening before.
  const nowMs = Date.parse("2026-11-22T12:00:00Z");
  const metrics = createMetrics({ processMetrics: false, now: () => new Date(nowMs) });
  const scrape = async () => {
    server ??= await startHttpServer({ port: 0, registry: metrics.registry });
    return (await fetch(`${server.url}/metrics`)).text();
  };
  const run = {
    target: "orders-db",
    state: "committed" as const,
    snapshotId: "20261121T230000Z-1a2b3c4d",
    destinations: ["primary"],
    startedAt: "2026-11-21T23:00:00Z",
    finishedAt: "2026-11-22T02:00:00Z",
    warnings: [],
  };
  const finishedSeconds = Date.parse(run.finishedAt) / 1000;

  // From the run event alone (before any evaluation).
  metrics.recordBackup(run);
  let text = await scrape();
  expect(sample(text, 'haven_snapshot_age_seconds{target="orders-db"}')).toBe(13 * 3600);
  expect(sample(text, 'haven_last_success_timestamp_seconds{target="orders-db"}')).toBe(finishedSeconds);

  // From the destination's view: the same recovery point the RPO counts from.
  const evaluation = evaluateTarget({
    target: "orders-db",
    rpoMs: 12 * H,
    rtoMs: 4 * H,
    snapshots: [
      {
        id: run.snapshotId,
        startedAt: new Date(run.startedAt),
        finishedAt: new Date(run.finishedAt),
        state: "committed",
      },
    ],
    verifications: [],
    now: new Date(nowMs),
  });
  metrics.recordEvaluation(evaluation);
  text = await scrape();
  expect(sample(text, 'haven_snapshot_age_seconds{target="orders-db"}')).toBe(
    (evaluation.rpo.newestAgeMs as number) / 1000,
  );
  expect(sample(text, 'haven_snapshot_age_seconds{target="orders-db"}')).toBe(13 * 3600);
  // Breached by the watchdog's rule, and by the Prometheus rule on the age (13 h > 12 h).
  expect(sample(text, 'haven_slo_breached{target="orders-db",slo="rpo"}')).toBe(1);
  expect(sample(text, 'haven_last_success_timestamp_seconds{target="orders-db"}')).toBe(finishedSeconds);
});

test("/healthz answers with the state of each check; other paths and methods are refused", async () => {
  const metrics = createMetrics({ processMetrics: false });
  const up = redisCheck(redis);
  const closed = new Redis("redis://127.0.0.1:6379", { lazyConnect: true });
  const down = redisCheck(closed); // never connected
  let checks = async () => ({ redis: await up() });
  server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    registry: metrics.registry,
    health: () => checks(),
  });

  const healthy = await fetch(`${server.url}/healthz`);
  expect(healthy.status).toBe(200);
  expect(healthy.headers.get("content-type")).toBe("application/json");
  expect(await healthy.json()).toEqual({ status: "ok", redis: "up" });

  checks = async () => ({ redis: await down() });
  const degraded = await fetch(`${server.url}/healthz`);
  expect(degraded.status).toBe(200);
  expect(await degraded.json()).toEqual({ status: "degraded", redis: "down" });

  // A check that hangs counts as down after the timeout instead of hanging the probe.
  await server.close();
  server = await startHttpServer({
    port: 0,
    registry: metrics.registry,
    health: () => new Promise(() => undefined),
    healthTimeoutMs: 50,
  });
  expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: "degraded", checks: "down" });

  expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
  closed.disconnect();
});

test("starting on a port in use fails with the listen error", async () => {
  const metrics = createMetrics({ processMetrics: false });
  server = await startHttpServer({ port: 0, registry: metrics.registry });
  await expect(startHttpServer({ port: server.port, registry: metrics.registry })).rejects.toThrow(
    /EADDRINUSE/,
  );
});
