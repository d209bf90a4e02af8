/**
 * A target newly added to the config, through the Monitor `serve` runs, with real Redis, a real
 * filesystem destination and a real webhook receiver: it is in breach of its RPO only from when the
 * watchdog first saw it + the RPO, while a target that has had snapshots pages at once, even after
 * Redis lost when targets were first seen.
 */
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { silentLogger } from "../../src/lib/logger";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import { writeSnapshot } from "../slo/destination";
import { deletePrefix, monitorConfig, useMonitorFixture } from "./monitor-fixture";

const H = 3_600_000;
const fixture = useMonitorFixture();

test("a new target with no snapshot pages only once its RPO has passed since it was first seen", async () => {
  const { config, work, prefix } = await monitorConfig(
    fixture,
    "haven-new-target",
    (work) => `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
defaults:
  destinations: [nas]
targets:
  fresh: { type: files, path: /srv/fresh, rpo: 1h }
  stopped: { type: files, path: /srv/stopped, rpo: 1h }
`,
  );
  const nas = createFilesystemBackend({ name: "nas", path: join(work, "nas"), prefix: "" });
  // `stopped` backed up two days ago, then never again: a real breach.
  await writeSnapshot(nas, "stopped", new Date(Date.now() - 48 * H));
  await nas.close();
  const monitor = new Monitor(config, fixture.redis, silentLogger);
  // The first pass finds no alert state and announces what holds as "still open" (a rebuild).
  const rpoNotices = () =>
    fixture.webhook.requests
      .map((r) => JSON.parse(r.body) as { kind: string; incident: string; since: string })
      .filter((n) => n.incident.startsWith("rpo-breached:"));

  try {
    const first = await monitor.watchdog();
    expect(first.evaluations.find((e) => e.target === "fresh")?.rpo).toMatchObject({
      status: "ok",
      reason: expect.stringContaining("no snapshot yet") as string,
    });
    expect(rpoNotices().map((n) => n.incident)).toEqual(["rpo-breached:stopped"]);

    // Redis loses when targets were first seen: `stopped` has had snapshots, so it gets no grace and
    // its incident stays open (no "resolved").
    await fixture.redis.del(`${prefix}:slo:first-seen`);
    await monitor.watchdog();
    expect(rpoNotices()).toHaveLength(1);

    // Two hours after `fresh` was first seen (a 1h RPO), still without a snapshot: it pages, dated then + RPO.
    const seenAt = Date.now() - 2 * H;
    await fixture.redis.hset(`${prefix}:slo:first-seen`, "fresh", String(seenAt));
    await monitor.watchdog();
    expect(rpoNotices().find((n) => n.incident === "rpo-breached:fresh")).toMatchObject({
      kind: "opened",
      since: new Date(seenAt + H).toISOString(),
    });
  } finally {
    await monitor.close();
    await deletePrefix(fixture.redis, prefix);
  }
});
