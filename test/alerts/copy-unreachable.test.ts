/**
 * A copy destination that cannot be listed, through the Monitor `serve` runs, with real Redis, real
 * filesystem destinations and a real webhook receiver: the operator is told at once that the
 * destination cannot be reached (what it holds is unknown), and told again when it answers.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { copyPending } from "../../src/copy";
import { silentLogger } from "../../src/lib/logger";
import { deletePrefix, monitorConfig, useMonitorFixture } from "./monitor-fixture";

const fixture = useMonitorFixture();

test("a copy destination that cannot be listed raises storage-unreachable for that copy; only the next copy that lists it resolves it", async () => {
  const { config, work, prefix } = await monitorConfig(
    fixture,
    "haven-copy-unreach",
    (work) => `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
  offsite: { type: filesystem, path: ${join(work, "offsite")} }
targets:
  share: { type: files, path: /srv/share, destinations: [nas, offsite] }
  logs: { type: files, path: /srv/logs, destinations: [offsite] }
`,
  );
  const monitor = new Monitor(config, fixture.redis, silentLogger);
  const notices = () =>
    fixture.webhook.requests
      .map((r) => JSON.parse(r.body) as { kind: string; incident: string; summary: string })
      .filter((n) => n.incident === "storage-unreachable:offsite/share");
  try {
    // The off-site share did not mount: its root is missing, so it cannot be listed (whatever the
    // primary holds: even with nothing to copy, what offsite holds is unknown).
    const failed = await copyPending(config, "share");
    expect(failed.failed).toEqual([expect.objectContaining({ to: "offsite" })]);
    await monitor.afterCopy(failed);
    expect(notices()).toEqual([
      expect.objectContaining({ kind: "opened", summary: expect.stringContaining("offsite") as string }),
    ]);

    // The watchdog reading logs' snapshots on offsite says nothing of share's copies there: a prefix
    // the key may not list would otherwise be raised by each copy and cleared by each pass.
    await mkdir(join(work, "offsite"));
    await monitor.watchdog();
    expect(notices().map((n) => n.kind)).toEqual(["opened"]);
    expect((await monitor.incidents.openIncidents()).map((i) => i.key)).toContain(
      "storage-unreachable:offsite/share",
    );

    const copied = await copyPending(config, "share");
    expect(copied).toMatchObject({ failed: [], listed: ["offsite"] });
    await monitor.afterCopy(copied);
    expect(notices().map((n) => n.kind)).toEqual(["opened", "resolved"]);
  } finally {
    await monitor.close();
    await deletePrefix(fixture.redis, prefix);
  }
});
