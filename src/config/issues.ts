/**
 * Config problems as operators read them: one line each, `FILE:LINE:COL: path.to.key: message`, all of
 * them at once, sorted by position, so a broken file is fixed in one pass.
 */
import { HavenError } from "../lib/errors";
import type { ConfigPath, PositionTarget, SourceMap } from "./positions";

export interface ConfigIssue {
  /** The config file as it was named to the loader (relative paths stay relative, as editors like). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Where in the config; empty for problems of the document as a whole. */
  path: Array<string | number>;
  message: string;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `targets.orders-db.verify.checks[0].sql`; keys with dots or spaces are quoted: `targets["db.v1"]`. */
export function formatConfigPath(path: ConfigPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path.length === 0
    ? `${where}: ${issue.message}`
    : `${where}: ${formatConfigPath(issue.path)}: ${issue.message}`;
}

export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}

/**
 * An invalid config: the message is every problem, one line each; `issues` has them as data (for the
 * editor-friendly output of `haven config validate` and for tests). Exit code 2, like usage errors.
 */
export class ConfigError extends HavenError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], hint?: string) {
    const sorted = sortIssues(issues);
    const file = sorted[0]?.file ?? "the config file";
    super("CONFIG", sorted.map(formatIssue).join("\n"), {
      hint:
        hint ??
        `fix ${sorted.length === 1 ? "this problem" : `these ${sorted.length} problems`} in ${file}; ` +
          "`haven config schema` gives editors completion and checks as you type",
    });
    this.name = "ConfigError";
    this.issues = sorted;
  }
}

/** Gathers problems from every phase of a load, each placed in the source as it is found. */
export class IssueCollector {
  readonly #issues: ConfigIssue[] = [];

  constructor(
    private readonly file: string,
    private readonly source: SourceMap,
  ) {}

  get size(): number {
    return this.#issues.length;
  }

  get issues(): readonly ConfigIssue[] {
    return this.#issues;
  }

  /** A problem with the node at `path` (or its key, or, when missing, its parent mapping). */
  atPath(path: ConfigPath, message: string, target: PositionTarget = "value"): void {
    this.#issues.push({ file: this.file, ...this.source.positionOf(path, target), path: [...path], message });
  }

  /** A problem at an exact offset in the file, e.g. the `${` of an unset variable. */
  atOffset(offset: number, path: ConfigPath, message: string): void {
    this.#issues.push({ file: this.file, ...this.source.positionOfOffset(offset), path: [...path], message });
  }

  /** Throws the collected problems as one ConfigError; returns when there are none. */
  throwIfAny(): void {
    if (this.#issues.length > 0) throw new ConfigError(this.#issues);
  }
}
