/**
 * Removing one snapshot, in the order that keeps every crash harmless (HOUSE_STYLE practice 6):
 * 0. its pruned record (`evidence.ts`): the manifest and verification records kept for the reports;
 * 1. the manifest: from here on the snapshot does not exist for any reader;
 * 2. the data objects: a crash before this step leaves a folder without manifest, which maintenance
 *    (`cleanupLeftovers`) removes after its grace period;
 * 3. the verification records, the evidence about the data, last.
 */
import { HavenError, isHavenError, type ErrorCode } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import { keepPrunedRecord } from "./evidence";
import type { SnapshotFolder } from "./inventory";

export type RemovalStage = "evidence" | "manifest" | "data" | "verifications";

/** A snapshot prune could not remove (completely). */
export interface PruneFailure {
  readonly id: string;
  /**
   * Where it stopped: at `evidence` or `manifest` the snapshot is intact; later, its leftovers are
   * invisible and maintenance removes them.
   */
  readonly stage: RemovalStage;
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
}

/** The error of a removal, with the stage it stopped at. */
export class RemovalError extends HavenError {
  readonly stage: RemovalStage;
  readonly snapshotId: string;

  constructor(snapshotId: string, stage: RemovalStage, cause: HavenError) {
    super(cause.code, cause.message, { hint: cause.hint, cause, exitCode: cause.exitCode });
    this.name = "RemovalError";
    this.stage = stage;
    this.snapshotId = snapshotId;
  }

  toFailure(): PruneFailure {
    return {
      id: this.snapshotId,
      stage: this.stage,
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/**
 * Keeps the folder's pruned record, then deletes its objects: manifest, data, verification records.
 * Throws RemovalError.
 */
export async function removeSnapshot(
  storage: StorageBackend,
  folder: SnapshotFolder,
  options: {
    /** When the prune happens (the record's prunedAt). Default: now. */
    at?: Date;
    /** false for a target removed from the config on purpose (`--orphans`): no history is kept. */
    keepRecord?: boolean;
  } = {},
): Promise<void> {
  try {
    if (options.keepRecord !== false) await keepPrunedRecord(storage, folder, options.at ?? new Date());
  } catch (error) {
    const haven = isHavenError(error)
      ? error
      : new HavenError("PERMANENT", error instanceof Error ? error.message : String(error), { cause: error });
    throw new RemovalError(
      folder.id,
      "evidence",
      new HavenError(
        haven.code,
        `the pruned record of ${folder.target}/${folder.id} could not be written to ${storage.name}: ${haven.message}`,
        {
          hint: `the snapshot is kept whole, and prune tries again next run${haven.hint ? `; ${haven.hint}` : ""}`,
          cause: haven,
        },
      ),
    );
  }
  const stages: Array<[RemovalStage, readonly string[]]> = [
    ["manifest", folder.manifestKey ? [folder.manifestKey] : []],
    ["data", folder.dataKeys],
    ["verifications", folder.verificationKeys],
  ];
  for (const [stage, keys] of stages) {
    if (keys.length === 0) continue;
    try {
      await storage.remove([...keys]);
    } catch (error) {
      throw new RemovalError(folder.id, stage, explainRefusal(error, storage, folder, stage));
    }
  }
}

/**
 * A service that refuses a delete (AccessDenied) most often protects the object: a retention or legal
 * hold that HeadObject did not show (the key may lack s3:GetObjectRetention), or a bucket policy.
 * Say so, instead of the storage layer's generic "check your credentials".
 */
function explainRefusal(
  error: unknown,
  storage: StorageBackend,
  folder: SnapshotFolder,
  stage: RemovalStage,
): HavenError {
  const haven = isHavenError(error)
    ? error
    : new HavenError("PERMANENT", error instanceof Error ? error.message : String(error), { cause: error });
  const causeName = (haven.cause as { name?: unknown } | undefined)?.name;
  if (haven.code !== "CREDENTIALS" || causeName !== "AccessDenied") return haven;
  const kept =
    stage === "manifest"
      ? "the snapshot is kept whole"
      : "its manifest is already gone, so it is invisible; maintenance removes the rest once allowed";
  return new HavenError(
    "REFUSED",
    `destination ${storage.name} refused to delete the ${stage} of ${folder.target}/${folder.id}: ${haven.message}`,
    {
      hint: `${kept}. The object is probably under Object Lock (a retention or legal hold; let Haven's key read it with s3:GetObjectRetention and s3:GetObjectLegalHold so prune can skip it) or a bucket policy denies s3:DeleteObject`,
      cause: haven,
    },
  );
}
