/**
 * The storage-unreachable incident through the Monitor `serve` runs, with real Redis and a real
 * webhook receiver: a watchdog pass over some targets (what runs after each verification) must not
 * declare reachable a destination it did not read, or an outage's alert flaps with every check.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Monitor } from "../../src/app/monitoring";
import { silentLogger } from "../../src/lib/logger";
import { freePort } from "../helpers/db";
import { monitorConfig, useMonitorFixture } from "./monitor-fixture";

const fixture = useMonitorFixture();

test("a watchdog pass over one target does not clear the outage of a destination it did not read", async () => {
  const { config } = await monitorConfig(fixture, "haven-unreach", async (work) => {
    await mkdir(join(work, "share"));
    await writeFile(join(work, "share", "a.txt"), "a\n");
    return `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
  dead: { type: s3, bucket: haven-dead, endpoint: "http://127.0.0.1:${await freePort()}", accessKeyId: x, secretAccessKey: y, maxAttempts: 1 }
targets:
  share: { type: files, path: ${join(work, "share")}, destinations: [nas] }
  elsewhere: { type: files, path: ${join(work, "share")}, destinations: [dead] }
`;
  });
  const monitor = new Monitor(config, fixture.redis, silentLogger);
  const aboutDead = () => fixture.webhook.requests.filter((r) => r.body.includes("storage-unreachable"));

  const full = await monitor.watchdog();
  expect(full.unreachable.map((u) => u.destination)).toEqual(["dead"]);
  expect(aboutDead()).toHaveLength(1); // opened

  const partial = await monitor.watchdog(["share"]);
  expect(partial.unreachable).toEqual([]);
  expect(aboutDead()).toHaveLength(1); // no "resolved" for a destination this pass never read

  await monitor.watchdog();
  expect(aboutDead()).toHaveLength(1); // still the same open incident: no second "opened"
});
