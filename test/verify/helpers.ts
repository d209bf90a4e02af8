/**
 * Shared setup of the verification tests: a config parsed by the real loader (filesystem or s3rver
 * destination), snapshots made by the real engine, and verification records read back from the
 * destination, as an operator's tools would read them.
 */
import { text } from "node:stream/consumers";
import { layout } from "../../src/catalog/layout";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { runBackup } from "../../src/engine/backup";
import type { EngineContext } from "../../src/engine/types";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import type { VerificationRecord } from "../../src/verify/record";
import type { RestoreTestRecord } from "../../src/verify/restore-test";

/** A haven.yaml with one destination named `primary` and the given targets (YAML lines under `targets:`). */
export function verifyConfigYaml(destination: string[], targets: string[]): string {
  return [
    `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
    "destinations:",
    "  primary:",
    ...destination.map((line) => `    ${line}`),
    "defaults:",
    "  destinations: [primary]",
    "targets:",
    ...targets.map((line) => `  ${line}`),
    "",
  ].join("\n");
}

export function verifyConfig(destination: string[], targets: string[]): HavenConfig {
  return parseConfigText(verifyConfigYaml(destination, targets), "<verify test>", {});
}

export function filesystemDestination(path: string): string[] {
  return ["type: filesystem", `path: ${JSON.stringify(path)}`];
}

export function context(signal: AbortSignal = new AbortController().signal): EngineContext {
  return { logger: silentLogger, signal };
}

/** Runs a real backup and returns the committed snapshot's id. */
export async function backup(config: HavenConfig, target: string): Promise<string> {
  const result = await runBackup(config, { target, tier: "manual", requestedBy: "test" }, context());
  if (result.state !== "committed" || !result.snapshotId) {
    throw new Error(`backup of ${target} did not commit: ${JSON.stringify(result.error ?? result.warnings)}`);
  }
  return result.snapshotId;
}

/** Reads a stored verification record back from the target's primary destination. */
export async function readRecord(config: HavenConfig, key: string): Promise<RestoreTestRecord> {
  const storage = createStorage(config.destinations.primary!, silentLogger);
  try {
    return JSON.parse(await text(await storage.get(key))) as RestoreTestRecord;
  } finally {
    await storage.close();
  }
}

/** Every verification record stored for one snapshot. */
export async function recordKeys(config: HavenConfig, target: string, snapshotId: string): Promise<string[]> {
  const storage = createStorage(config.destinations.primary!, silentLogger);
  try {
    const keys: string[] = [];
    for await (const object of storage.list(layout.verificationsPrefix(target, snapshotId)))
      keys.push(object.key);
    return keys;
  } finally {
    await storage.close();
  }
}

/** The check named `name` of a record (fails the test when missing). */
export function check(record: VerificationRecord, name: string) {
  const found = record.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check "${name}" in ${JSON.stringify(record.checks.map((c) => c.name))}`);
  return found;
}

/** A restore test's record has every phase timed and the restore measured. */
export function expectMeasured(record: RestoreTestRecord): void {
  expect(record.kind).toBe("restore");
  expect(Object.keys(record.phases).sort()).toEqual(["checks", "cleanup", "restore"]);
  for (const ms of Object.values(record.phases)) expect(ms).toBeGreaterThanOrEqual(0);
  expect(record.totalMs).toBeGreaterThanOrEqual(record.phases.restore!);
  expect(record.restore.plainBytes).toBeGreaterThan(0);
  expect(record.restore.storedBytes).toBeGreaterThan(0);
  expect(record.restore.megabytesPerSecond).toBeGreaterThanOrEqual(0);
}
