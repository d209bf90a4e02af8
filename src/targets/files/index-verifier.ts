/**
 * Checks a restore against the snapshot's file index: every written file's sha256, and that every
 * file the index lists (within the include globs) came out of the archive. Mismatches are gathered and
 * reported together at the end as one INTEGRITY error, so the operator sees all of them at once.
 */
import type { Logger } from "pino";
import { HavenError } from "../../lib/errors";
import type { FileIndexEntry } from "./file-index";

/** Mismatches named in the error message (all of them are logged). */
const MISMATCHES_SHOWN = 10;

export class IndexVerifier {
  /** Files whose sha256 matched. */
  verified = 0;
  readonly #expected: Map<string, FileIndexEntry>;
  readonly #seen = new Set<string>();
  readonly #mismatches: Array<{ path: string; reason: string }> = [];
  /** Digests still being computed on the hashing thread. */
  readonly #pending = new Set<Promise<boolean>>();

  constructor(expected: Map<string, FileIndexEntry>) {
    this.#expected = expected;
  }

  /**
   * Records a restored file and the sha256 of the bytes written (compared once it is known). Settles
   * with whether they match, for a caller that must know before it goes on (a staged replacement).
   */
  check(path: string, sha256: Promise<string>): Promise<boolean> {
    this.#seen.add(path);
    const expected = this.#expected.get(path);
    if (expected === undefined) {
      this.#mismatches.push({ path, reason: "not in the snapshot's file index" });
      sha256.catch(() => undefined);
      return Promise.resolve(false);
    }
    const compared = sha256.then(
      (actual) => {
        if (expected.sha256 === actual) {
          this.verified++;
          return true;
        }
        this.#mismatches.push({ path, reason: "sha256 differs from the file index" });
        return false;
      },
      (error: unknown) => {
        this.#mismatches.push({ path, reason: `sha256 could not be computed (${(error as Error).message})` });
        return false;
      },
    );
    this.#pending.add(compared);
    void compared.then(() => this.#pending.delete(compared));
    return compared;
  }

  /**
   * Throws INTEGRITY when anything failed, including index files missing from the archive. `wanted`
   * says which index paths this restore was meant to write (include globs, minus refused entries).
   */
  async finish(wanted: (path: string) => boolean, logger: Logger): Promise<void> {
    await Promise.all(this.#pending);
    for (const path of this.#expected.keys()) {
      if (!this.#seen.has(path) && wanted(path)) {
        this.#mismatches.push({ path, reason: "in the file index but missing from the archive" });
      }
    }
    if (this.#mismatches.length === 0) return;
    for (const mismatch of this.#mismatches) logger.error(mismatch, "restore: file failed verification");
    const count = this.#mismatches.length;
    const shown = this.#mismatches
      .slice(0, MISMATCHES_SHOWN)
      .map((m) => `${m.path} (${m.reason})`)
      .join("; ");
    const more = count > MISMATCHES_SHOWN ? `; and ${count - MISMATCHES_SHOWN} more` : "";
    throw new HavenError(
      "INTEGRITY",
      `${count} restored file(s) do not match the snapshot's index: ${shown}${more}`,
      {
        hint: "the snapshot is damaged: restore an older snapshot (haven snapshots TARGET) and run haven verify on this one",
      },
    );
  }
}
