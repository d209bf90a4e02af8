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

/** The creation time as scratch names carry it (7 base36 digits of Unix seconds), written out here
 * rather than imported, so the sweep tests build leftovers the way a crashed worker named them. */
export function scratchStamp(at: Date): string {
  return Math.floor(at.getTime() / 1000)
    .toString(36)
    .padStart(7, "0");
}

/** When a crashed test's leftover was made: four days ago, older than any running test. */
export const LONG_AGO = (): Date => new Date(Date.now() - 4 * 86_400_000);

/**
 * Databases as a sweep finds them on a server, for a target whose scratch names start with
 * `prefix`: only `crashed` is one to remove.
 */
export function leftoverDatabases(prefix: string): Record<string, string> & { crashed: string } {
  return {
    crashed: `${prefix}${scratchStamp(LONG_AGO())}_0001`,
    // Another worker's test of the same target, still running: young, so it stays.
    running: `${prefix}${scratchStamp(new Date(Date.now() - 3600_000))}_0002`,
    // Target "<this>-eu": its prefix starts with this one's.
    otherTarget: `${prefix}eu_${scratchStamp(LONG_AGO())}_0003`,
    // An operator's database merely named like one.
    notHavens: `${prefix}reports_2024`,
    // The format before creation times: age unknown, so it stays.
    oldFormat: `${prefix}1a2b3c4d`,
  };
}
