/**
 * Watchdog passes never overlap, whichever worker runs them: two Monitors (two workers of one
 * deployment) on real Redis, a filesystem destination and a webhook receiver that holds the first
 * pass's notice, as a slow S3 listing or SMTP server would hold a pass past the next minute.
 */
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { silentLogger } from "../../src/lib/logger";
import { deletePrefix, monitorConfig, useMonitorFixture, webhookNotices } from "./monitor-fixture";

const fixture = useMonitorFixture();

test("a pass that starts while another runs is skipped and changes nothing; the next one runs", async () => {
  const { config, prefix } = await monitorConfig(
    fixture,
    "haven-watchdog-exclusive",
    (work) => `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
targets:
  docs: { type: files, path: /srv/docs, rpo: 1h, destinations: [nas] }
`,
  );
  const first = new Monitor(config, fixture.redis, silentLogger);
  const second = new Monitor(config, fixture.redis, silentLogger);
  try {
    // Configured long ago, never backed up: breached, so the pass sends a notice, which is held.
    await fixture.redis.hset(`${prefix}:slo:first-seen`, "docs", "0");
    const release = fixture.webhook.hold();
    const slow = first.watchdog();
    while (webhookNotices(fixture).length === 0) await new Promise((r) => setTimeout(r, 10));

    // The next minute's pass, on another worker, while the first is still delivering.
    const overlapping = await second.watchdog();
    expect(overlapping.skipped).toBe("another watchdog pass is running");
    expect(overlapping.evaluations).toEqual([]);
    expect(webhookNotices(fixture)).toHaveLength(1); // nothing sent by the skipped pass

    release();
    const done = await slow;
    expect(done.skipped).toBeUndefined();
    expect(done.evaluations.map((e) => e.rpo.status)).toEqual(["breached"]);
    expect(webhookNotices(fixture).map((n) => n.incident)).toEqual(["rpo-breached:docs"]);

    // Once it is over, the lock is free: the next pass runs, on either worker.
    const next = await second.watchdog();
    expect(next.skipped).toBeUndefined();
    expect(next.evaluations.map((e) => e.target)).toEqual(["docs"]);
    expect(await fixture.redis.exists(`${prefix}:lock:target:_watchdog`)).toBe(0);
  } finally {
    await first.close();
    await second.close();
    await deletePrefix(fixture.redis, prefix);
  }
});
