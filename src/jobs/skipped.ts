/**
 * The result of a backup that did not run because another run held the target's lock: recorded as
 * `skipped`, not stacked behind the running one. Shared by the workers and `haven backup --direct`.
 */
import type { BackupResult } from "../engine/types";
import type { HavenError } from "../lib/errors";

export function skippedBackup(target: string, locked: HavenError, startedAt: Date): BackupResult {
  return {
    target,
    state: "skipped",
    destinations: [],
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    warnings: [locked.message],
    error: { code: locked.code, message: locked.message, ...(locked.hint ? { hint: locked.hint } : {}) },
  };
}
