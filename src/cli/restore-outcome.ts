/**
 * How `haven restore` ends when it did not restore everything as the snapshot has it: entries
 * refused (each printed with its reason) or warnings. Either is a PARTIAL error (exit 3) whose hint
 * matches what caused it, because the operator's remedy differs: a snapshot holding unsafe entries
 * is inspected before it is trusted; a destination in the way is cleared and the paths restored again;
 * names the destination's file system folds together are restored elsewhere.
 */
import { ExitCode, HavenError } from "../lib/errors";
import type { RejectionCause, RestoreStats } from "../targets/types";

type Rejected = NonNullable<RestoreStats["rejected"]>;

/** What to do, after "<n> entries refused for ...". */
const REMEDY: Record<RejectionCause, string> = {
  archive:
    "what the snapshot holds (unsafe paths, device files, links out of the destination): inspect it before trusting it",
  destination:
    "what is at the destination (a directory where the snapshot has a file, a file or symbolic link where it has a " +
    "folder, a name too long for that file system): move it aside and restore those paths again with --force " +
    "--include PATH, or restore into an empty directory (or another file system) with --to",
  "name-collision":
    "names this destination's file system does not tell apart (Report.txt and report.txt where it ignores case, " +
    "one name in two Unicode forms): each was kept out to keep the one restored before it, which is there. Restore " +
    "them with --to onto a case-sensitive file system (ext4, xfs; not an SMB share, a macOS volume or vfat), " +
    "or one at a time with --include PATH --to into a folder of their own",
};

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One clause per cause present, archive first; an entry without a cause is taken as the archive's. */
function rejectionHint(rejected: Rejected): string {
  const causes: RejectionCause[] = ["archive", "destination", "name-collision"];
  return causes
    .map((cause) => ({ cause, n: rejected.filter((r) => (r.cause ?? "archive") === cause).length }))
    .filter(({ n }) => n > 0)
    .map(({ cause, n }) => `${count(n, "entry", "entries")} refused for ${REMEDY[cause]}`)
    .join("; ");
}

/** The error a restore ends with when it fell short of the snapshot; undefined when it did not. */
export function restoreShortfall(rejected: Rejected, warnings: readonly string[]): HavenError | undefined {
  if (rejected.length > 0) {
    return new HavenError(
      "PARTIAL",
      `${count(rejected.length, "archive entry was", "archive entries were")} rejected and not restored`,
      { hint: rejectionHint(rejected), exitCode: ExitCode.BREACH_OR_PARTIAL },
    );
  }
  if (warnings.length > 0) {
    // As GNU tar exits non-zero after "Cannot change ownership": the data is there, not all as it was.
    return new HavenError(
      "PARTIAL",
      `the restore finished with ${count(warnings.length, "warning", "warnings")}`,
      {
        hint: "each warning above says what was not restored or checked as the snapshot has it, and what to do",
        exitCode: ExitCode.BREACH_OR_PARTIAL,
      },
    );
  }
  return undefined;
}
