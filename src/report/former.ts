/**
 * Targets that left the config during (or before) the month but were backed up or verified in it.
 * The report is built from the config's targets, so one removed on the 20th vanished from the month
 * it ran in: its backups, and its failed restore tests, were in no report at all. They are listed
 * from the bucket, with what the bucket alone can say (no schedule or RPO remains to judge them by).
 */
import { listSnapshotRefs } from "../catalog/catalog";
import { snapshotIdTime } from "../catalog/layout";
import type { StorageBackend } from "../storage/types";
import { readTarget } from "./read";
import type { FormerTargetReport } from "./types";

export interface FormerTargetsInput {
  /** Names of the targets in the config. */
  configured: ReadonlySet<string>;
  storages: readonly StorageBackend[];
  period: { start: Date; end: Date };
  parallel?: number;
}

export async function collectFormerTargets(
  input: FormerTargetsInput,
): Promise<{ targets: FormerTargetReport[]; problems: string[] }> {
  const { period } = input;
  const destinationsOf = new Map<string, Set<string>>();
  for (const storage of input.storages) {
    for (const ref of await listSnapshotRefs(storage)) {
      if (input.configured.has(ref.target)) continue;
      const names = destinationsOf.get(ref.target) ?? new Set<string>();
      names.add(storage.name);
      destinationsOf.set(ref.target, names);
    }
  }
  const targets: FormerTargetReport[] = [];
  const problems: string[] = [];
  for (const [target, names] of [...destinationsOf].sort(([a], [b]) => a.localeCompare(b))) {
    const storages = input.storages.filter((storage) => names.has(storage.name));
    const data = await readTarget(target, storages, {
      until: period.end,
      recordsFrom: period.start,
      ...(input.parallel === undefined ? {} : { parallel: input.parallel }),
    });
    problems.push(...data.problems);
    const taken = data.manifests.filter((m) => snapshotIdTime(m.id).getTime() >= period.start.getTime());
    const tally = (kind: "integrity" | "restore") => {
      const records = data.records.filter((r) => r.kind === kind);
      return { run: records.length, failed: records.filter((r) => r.result === "failed").length };
    };
    const restoreTests = tally("restore");
    const integrityChecks = tally("integrity");
    if (taken.length === 0 && restoreTests.run === 0 && integrityChecks.run === 0) continue;
    const newest = taken.at(-1);
    targets.push({
      target,
      type: newest?.targetType ?? data.manifests.at(-1)?.targetType ?? "unknown",
      destinations: [...names].sort(),
      snapshots: taken.length,
      partial: taken.filter((m) => m.state === "partial").length,
      newestSnapshotAt: newest?.finishedAt ?? null,
      held: data.presence.size,
      restoreTests,
      integrityChecks,
    });
  }
  return { targets, problems };
}
