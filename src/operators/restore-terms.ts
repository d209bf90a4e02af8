/**
 * What a guarded restore does, as an approval binds it: target, snapshot, place, `--include` patterns
 * and `--force`. An approval read for a whole-snapshot restore must not release a restore of a part,
 * nor one that overwrites what the approved one would have refused (`--force`), so the run must match
 * on every term, and a refusal names each difference and the request that would cover it.
 */
import type { RestoreTerms } from "./request-store";

/** `--include` patterns are the same when they are the same set: order and repeats do not matter. */
function sameInclude(a: readonly string[], b: readonly string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((pattern, i) => pattern === right[i]);
}

function includeFlag(include: readonly string[]): string {
  return include.length === 0 ? "" : `--include ${include.map((p) => JSON.stringify(p)).join(" ")}`;
}

/** The command-line flags for `include` and `force`, as an operator types them ("" for neither). */
export function restoreFlags(terms: Pick<RestoreTerms, "include" | "force">): string {
  return [includeFlag(terms.include), terms.force ? "--force" : ""].filter((flag) => flag !== "").join(" ");
}

/** "vault snapshot S over the original location with --force", for messages and `haven approve`. */
export function describeTerms(terms: RestoreTerms): string {
  const where = terms.to === null ? "over the original location" : `to ${terms.to}`;
  const flags = restoreFlags(terms);
  return `${terms.target} snapshot ${terms.snapshot} ${where}${flags === "" ? "" : ` with ${flags}`}`;
}

/** True when the restore goes to another target, snapshot or place than approved. */
export function otherRestore(approved: RestoreTerms, run: RestoreTerms): boolean {
  return approved.target !== run.target || approved.snapshot !== run.snapshot || approved.to !== run.to;
}

/** Each way `run`'s `--include` and `--force` differ from `approved`'s, in words; empty when they do not. */
export function flagDifferences(approved: RestoreTerms, run: RestoreTerms): string[] {
  const differences: string[] = [];
  const include = (patterns: readonly string[]) => includeFlag(patterns) || "no --include";
  if (!sameInclude(approved.include, run.include)) {
    differences.push(`${include(run.include)}, where the approval has ${include(approved.include)}`);
  }
  const force = (on: boolean) => (on ? "--force" : "no --force");
  if (approved.force !== run.force) {
    differences.push(`${force(run.force)}, where the approval has ${force(approved.force)}`);
  }
  return differences;
}

/** The `haven restore ... --request` that asks approval for exactly `terms`. */
export function requestCommand(terms: RestoreTerms): string {
  return `haven restore ${terms.target} --snapshot ${terms.snapshot}${termFlags(terms)} --request`;
}

/**
 * The command that runs the restore request `requestId` approved: its terms as stored, so `--to` is
 * the folder the approval binds (resolved against the requester's directory), which works from any
 * directory, where the words the requester typed would name another folder elsewhere.
 */
export function approvedCommand(terms: RestoreTerms, requestId: string): string {
  return `haven restore ${terms.target} --request-id ${requestId} --yes${termFlags(terms)}`;
}

function termFlags(terms: RestoreTerms): string {
  const flags = restoreFlags(terms);
  return `${terms.to === null ? "" : ` --to ${terms.to}`}${flags === "" ? "" : ` ${flags}`}`;
}
