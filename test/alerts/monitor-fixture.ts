/**
 * What a test of the Monitor `serve` runs needs: real Redis and a real webhook receiver for the file's
 * tests, and a config on a fresh filesystem destination `nas` whose alerts go to that webhook.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import type { BackupResult } from "../../src/engine/types";
import { tempDir, uniqueName } from "../helpers/s3-config";
import { startWebhookReceiver, type WebhookReceiver } from "./receivers";

export interface MonitorFixture {
  redis: Redis;
  webhook: WebhookReceiver;
}

/** Opens Redis and the webhook receiver before the file's tests and closes them after. */
export function useMonitorFixture(): MonitorFixture {
  const fixture = {} as MonitorFixture;
  beforeAll(async () => {
    fixture.redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    fixture.webhook = await startWebhookReceiver();
  });
  afterAll(async () => {
    await fixture.webhook.close();
    await fixture.redis.quit();
  });
  return fixture;
}

/**
 * A config with a unique Redis prefix, the filesystem destination `nas` (its root created: Haven never
 * creates it) and the fixture's webhook; `sections` adds the rest (targets, more destinations).
 */
export async function monitorConfig(
  fixture: MonitorFixture,
  name: string,
  sections: (work: string) => string | Promise<string>,
): Promise<{ config: HavenConfig; work: string; prefix: string }> {
  const work = await tempDir(name);
  await mkdir(join(work, "nas"));
  const prefix = uniqueName(name);
  const config = reloadedConfig(fixture, { work, prefix }, await sections(work), "haven.yaml");
  return { config, work, prefix };
}

/**
 * The config an operator restarts with: the same Redis prefix and webhook as `monitorConfig`'s, and
 * `sections` (targets, destinations) in place of the first ones.
 */
export function reloadedConfig(
  fixture: MonitorFixture,
  { work, prefix }: { work: string; prefix: string },
  sections: string,
  file = "haven-after.yaml",
): HavenConfig {
  const text = `
redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}
queuePrefix: ${prefix}
alerts:
  webhooks: [ { url: "${fixture.webhook.url}/hook" } ]
${sections}`;
  return parseConfigText(text, join(work, file), {});
}

/** Deletes every Redis key of a test's prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** A notice as the JSON webhook received it (the fields these tests read). */
export interface WebhookNotice {
  kind: string;
  incident: string;
  text: string;
  resolvedBecause?: string;
}

/** Every notice the fixture's webhook received, oldest first. */
export function webhookNotices(fixture: MonitorFixture): WebhookNotice[] {
  return fixture.webhook.requests.map((r) => JSON.parse(r.body) as WebhookNotice);
}

/** A backup run of `target` that failed now, with `code` and `message`, as a worker reports it. */
export function failedBackup(target: string, code: string, message: string): BackupResult {
  const now = new Date().toISOString();
  return {
    target,
    state: "failed",
    destinations: [],
    startedAt: now,
    finishedAt: now,
    warnings: [],
    error: { code, message },
  };
}
