/**
 * A target removed from the config, through the Monitor `serve` runs, with real Redis, a real
 * filesystem destination and a real webhook receiver: its open incidents (evaluated and event-raised
 * alike) are resolved at the next watchdog pass, saying why, instead of staying open for ever.
 */
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { parseConfigText } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { deletePrefix, monitorConfig, useMonitorFixture } from "./monitor-fixture";

const fixture = useMonitorFixture();

interface Notice {
  kind: string;
  incident: string;
  text: string;
  resolvedBecause?: string;
}

test("the incidents of a target removed from the config are resolved as such, once", async () => {
  const targets = `
destinations:
  nas: { type: filesystem, path: NAS }
defaults:
  destinations: [nas]
targets:
  kept: { type: files, path: /srv/kept, rpo: 1h }`;
  const { config, work, prefix } = await monitorConfig(
    fixture,
    "haven-removed-target",
    (work) => `${targets.replace("NAS", join(work, "nas"))}
  retired: { type: files, path: /srv/retired, rpo: 1h }
`,
  );
  const before = new Monitor(config, fixture.redis, silentLogger);
  const notices = () => fixture.webhook.requests.map((r) => JSON.parse(r.body) as Notice);
  const about = (target: string) => notices().filter((n) => n.incident.endsWith(`:${target}`));
  try {
    // Both have been configured for long (seen long ago: no grace) and have no snapshot: both breach.
    await fixture.redis.hset(`${prefix}:slo:first-seen`, "kept", "0", "retired", "0");
    await before.watchdog();
    await before.afterBackup({
      target: "retired",
      state: "failed",
      destinations: [],
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      warnings: [],
      error: { code: "TRANSIENT", message: "share not mounted" },
    });
    const open = about("retired").map((n) => n.incident);
    expect(open).toEqual(expect.arrayContaining(["rpo-breached:retired", "backup-failed:retired"]));
    await before.close();

    // The operator removes `retired` and restarts.
    const after = new Monitor(
      parseConfigText(
        `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}
queuePrefix: ${prefix}
alerts:
  webhooks: [ { url: "${fixture.webhook.url}/hook" } ]
${targets.replace("NAS", join(work, "nas"))}
`,
        join(work, "haven-after.yaml"),
        {},
      ),
      fixture.redis,
      silentLogger,
    );
    await after.watchdog();
    const resolved = about("retired").filter((n) => n.kind === "resolved");
    expect(resolved.map((n) => n.incident).sort()).toEqual([...new Set(open)].sort());
    for (const n of resolved) {
      expect(n.resolvedBecause).toBe("target retired was removed from the config");
      expect(n.text).toContain("is resolved after");
      expect(n.text).toContain("target retired was removed from the config");
    }
    expect((await after.incidents.openIncidents()).map((i) => i.event.target)).not.toContain("retired");
    // `kept` is still evaluated: its breach stays open.
    expect((await after.incidents.openIncidents()).map((i) => i.key)).toContain("rpo-breached:kept");

    const count = notices().length;
    await after.watchdog();
    expect(about("retired").length).toBe(open.length + resolved.length); // nothing more about it
    expect(notices().length).toBe(count);
    await after.close();
  } finally {
    await deletePrefix(fixture.redis, prefix);
  }
});
