/**
 * The pruned records of a target (src/prune/evidence.ts) as the report reads them: the manifests and
 * verification records of snapshots retention has removed since. Without them, the report of a month
 * whose daily snapshots were pruned would count their backups as missed and their time as an RPO gap.
 */
import type { Manifest } from "../catalog/manifest";
import { parsePrunedRecord } from "../prune/evidence";
import type { VerificationRecord } from "../verify/record";
import { parseRecord } from "./parse-record";

export interface PrunedSnapshot {
  manifest: Manifest;
  /** The destination it was removed from. */
  destination: string;
  records: VerificationRecord[];
}

/** Parses a pruned record read from `destination`, with its verification records; see parsePrunedRecord. */
export function parsePrunedSnapshot(
  raw: string,
  where: string,
  expected: { target: string; id: string; destination: string },
): PrunedSnapshot {
  const evidence = parsePrunedRecord(raw, where, expected);
  const records = evidence.verifications.flatMap((r) => {
    try {
      return [parseRecord(JSON.stringify(r), `${where} (verification)`)];
    } catch {
      return []; // an unreadable record is no evidence; the manifest still is
    }
  });
  return { manifest: evidence.manifest, destination: evidence.destination, records };
}
