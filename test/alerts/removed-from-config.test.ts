/**
 * A target or a destination removed from the config, through the Monitor `serve` runs, with real
 * Redis, real filesystem destinations and a real webhook receiver: its open incidents (evaluated and
 * event-raised alike; a destination's storage-unreachable) are resolved at the next watchdog pass,
 * saying why, instead of staying open for ever.
 */
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { PublishedEstate } from "../../src/app/published-estate";
import { silentLogger } from "../../src/lib/logger";
import {
  deletePrefix,
  failedBackup,
  monitorConfig,
  reloadedConfig,
  useMonitorFixture,
  webhookNotices,
} from "./monitor-fixture";

const fixture = useMonitorFixture();

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
  const notices = () => webhookNotices(fixture);
  const about = (target: string) => notices().filter((n) => n.incident.endsWith(`:${target}`));
  try {
    // Both have been configured for long (seen long ago: no grace) and have no snapshot: both breach.
    await fixture.redis.hset(`${prefix}:slo:first-seen`, "kept", "0", "retired", "0");
    await before.watchdog();
    await before.afterBackup(failedBackup("retired", "TRANSIENT", "share not mounted"));
    const open = about("retired").map((n) => n.incident);
    expect(open).toEqual(expect.arrayContaining(["rpo-breached:retired", "backup-failed:retired"]));
    await before.close();

    // The operator removes `retired` and restarts.
    const after = new Monitor(
      reloadedConfig(fixture, { work, prefix }, targets.replace("NAS", join(work, "nas"))),
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

test("the storage-unreachable incident of a destination removed from the config is resolved as such, once", async () => {
  const { config, work, prefix } = await monitorConfig(
    fixture,
    "haven-removed-destination",
    (work) => `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
  old-nas: { type: filesystem, path: ${join(work, "old-nas-never-mounted")} }
targets:
  docs: { type: files, path: /srv/docs, rpo: 1h, destinations: [old-nas] }
`,
  );
  const notices = () => webhookNotices(fixture);
  const about = (destination: string) =>
    notices().filter((n) => n.incident === `storage-unreachable:${destination}`);
  const before = new Monitor(config, fixture.redis, silentLogger);
  try {
    // docs has been configured for long (seen long ago: no grace) and has no snapshot.
    await fixture.redis.hset(`${prefix}:slo:first-seen`, "docs", "0");
    // old-nas's root does not exist (a share that never mounted): the watchdog cannot read it.
    await before.watchdog();
    expect(about("old-nas").map((n) => n.kind)).toEqual(["opened"]);
    await before.close();

    // The operator moves docs to nas, removes old-nas from the config and restarts.
    const after = new Monitor(
      reloadedConfig(
        fixture,
        { work, prefix },
        `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
targets:
  docs: { type: files, path: /srv/docs, rpo: 1h, destinations: [nas] }
`,
      ),
      fixture.redis,
      silentLogger,
    );
    await after.watchdog();
    const resolved = about("old-nas").filter((n) => n.kind === "resolved");
    expect(resolved).toHaveLength(1);
    expect(resolved[0]?.resolvedBecause).toBe("destination old-nas was removed from the config");
    expect(resolved[0]?.text).toContain("destination old-nas was removed from the config");
    const open = (await after.incidents.openIncidents()).map((i) => i.key);
    expect(open).not.toContain("storage-unreachable:old-nas");
    // docs itself is still evaluated (on nas now): its breach stays open.
    expect(open).toContain("rpo-breached:docs");

    const count = notices().length;
    await after.watchdog();
    expect(about("old-nas")).toHaveLength(2); // nothing more about it
    expect(notices().length).toBe(count);
    await after.close();
  } finally {
    await deletePrefix(fixture.redis, prefix);
  }
});

test("a worker still on the old config leaves alone the incidents of a target the newest serve's config added", async () => {
  const oldSections = (work: string) => `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
defaults:
  destinations: [nas]
targets:
  kept: { type: files, path: /srv/kept, rpo: 1h }
`;
  const { config: oldConfig, work, prefix } = await monitorConfig(fixture, "haven-added-target", oldSections);
  const newConfig = reloadedConfig(
    fixture,
    { work, prefix },
    `${oldSections(work)}  added: { type: files, path: /srv/added, rpo: 1h }\n`,
  );
  const estate = new PublishedEstate(fixture.redis, prefix);
  const restarted = new Monitor(newConfig, fixture.redis, silentLogger);
  const oldWorker = new Monitor(oldConfig, fixture.redis, silentLogger);
  const about = () => webhookNotices(fixture).filter((n) => n.incident === "backup-failed:added");
  try {
    // serve restarts on the new config and publishes it; the first backup of `added` fails.
    await estate.publish(newConfig);
    await restarted.afterBackup(failedBackup("added", "SOURCE_FAILED", "share not mounted"));
    await oldWorker.watchdog();
    expect(about().map((n) => n.kind)).toEqual(["opened"]);
    expect((await oldWorker.incidents.openIncidents()).map((i) => i.key)).toContain("backup-failed:added");

    // Once serve restarts on a config without it, the old worker's pass resolves it.
    await estate.publish(oldConfig);
    await oldWorker.watchdog();
    expect(about().map((n) => n.kind)).toEqual(["opened", "resolved"]);
  } finally {
    await restarted.close();
    await oldWorker.close();
    await deletePrefix(fixture.redis, prefix);
  }
});
