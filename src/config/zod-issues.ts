/**
 * Turns zod's issues into config problems placed in the source: unknown keys point at the key (with a
 * "did you mean"), missing keys at their parent mapping, union mismatches at the member that came
 * closest. Messages are zod's, reworded where an operator would otherwise have to decode them.
 * Values are never quoted, since a value may be a secret.
 */
import type { z } from "zod";
import type { IssueCollector } from "./issues";
import type { PositionTarget } from "./positions";
import { objectSchemaFor, schemaAt, valueAt } from "./schema-walk";

type Issue = z.core.$ZodIssue;
type Path = Array<string | number>;

export function reportZodIssues(
  zodIssues: readonly Issue[],
  root: z.ZodType,
  data: unknown,
  issues: IssueCollector,
): void {
  const report = (issue: Issue, prefix: Path): void => {
    const path = [
      ...prefix,
      ...issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment))),
    ];
    const add = (message: string, target: PositionTarget = "value", at: Path = path) =>
      issues.atPath(at, message, target);

    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) add(unknownKeyMessage(key, root, data, path), "key", [...path, key]);
        return;
      case "invalid_key":
        add(issue.issues.map((inner) => inner.message).join("; "), "key");
        return;
      case "invalid_union": {
        if (issue.errors.length === 0) {
          // A discriminated union that found no member for the discriminator's value lists the choices.
          const choices = "options" in issue ? issue.options?.map(String).join(", ") : undefined;
          const missing = !exists(data, path);
          add(
            missing
              ? `required key is missing${choices ? ` (one of: ${choices})` : ""}`
              : `not an allowed value${choices ? `: expected one of ${choices}` : ""}`,
          );
          return;
        }
        const closest = closestBranches(issue.errors);
        if (closest.length === 1 && closest[0]) {
          for (const inner of closest[0]) report(inner, path);
        } else {
          const forms = closest.map((branch) => branch.map((inner) => describeRelative(inner)).join(", "));
          add(`matches none of the allowed forms: ${forms.join("; or ")}`);
        }
        return;
      }
      case "invalid_type":
        add(invalidTypeMessage(issue, data, path));
        return;
      case "too_small":
        if (issue.minimum === 1 && issue.origin === "string") add("must not be empty");
        else if (issue.minimum === 1 && issue.origin === "array") add("must list at least one item");
        else add(stripPrefix(issue.message));
        return;
      default:
        add(stripPrefix(issue.message));
    }
  };

  for (const issue of zodIssues) report(issue, []);
}

function invalidTypeMessage(issue: z.core.$ZodIssueInvalidType, data: unknown, path: Path): string {
  if (!exists(data, path)) return "required key is missing";
  // `key:` with nothing after it is null in YAML, which reads as a forgotten value.
  if (valueAt(data, path) === null)
    return `no value (expected ${issue.expected}): give one, or remove the key`;
  return stripPrefix(issue.message);
}

/** The union members that failed with the fewest problems: the ones the author most likely meant. */
function closestBranches(branches: Issue[][]): Issue[][] {
  const fewest = Math.min(...branches.map((branch) => branch.length));
  return branches.filter((branch) => branch.length === fewest);
}

function describeRelative(issue: Issue): string {
  const where = issue.path.map(String).join(".");
  const what = issue.code === "invalid_type" ? "is required" : stripPrefix(issue.message);
  return where ? `${where} ${what}` : what;
}

/** zod prefixes most messages with "Invalid input: " or "Invalid option: "; the position says as much. */
function stripPrefix(message: string): string {
  return message.replace(/^Invalid (input|option): /, "");
}

function unknownKeyMessage(key: string, root: z.ZodType, data: unknown, parentPath: Path): string {
  const parentSchema = schemaAt(root, data, parentPath);
  const objectSchema = parentSchema ? objectSchemaFor(parentSchema, valueAt(data, parentPath)) : null;
  const known = objectSchema ? Object.keys(objectSchema.shape) : [];
  const twinOf = key.endsWith("File") ? key.slice(0, -"File".length) : null;
  if (twinOf && known.includes(twinOf)) {
    return `unknown key: ${twinOf} has no File form here; give it through an environment variable, \${NAME}`;
  }
  const suggestion = closestKey(key, known);
  return suggestion ? `unknown key (did you mean "${suggestion}"?)` : "unknown key";
}

/** The closest known key within edit distance 2 (or equal ignoring case), if any. */
function closestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance =
      candidate.toLowerCase() === key.toLowerCase()
        ? 0
        : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function exists(data: unknown, path: Path): boolean {
  const parent = valueAt(data, path.slice(0, -1));
  const last = path[path.length - 1];
  if (last === undefined) return data !== undefined;
  return (
    typeof parent === "object" &&
    parent !== null &&
    Object.hasOwn(parent, last) &&
    valueAt(data, path) !== undefined
  );
}
