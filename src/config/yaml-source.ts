/**
 * The YAML side of loading: parse with positions kept, report syntax problems and duplicate keys, and
 * substitute `${VAR}` in every value (keys are left alone) on the node tree, so that a problem points at
 * its exact line and column and an anchored value is substituted once.
 */
import { z } from "zod";
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Scalar,
} from "yaml";
import { interpolate, type InterpolationProblem } from "./interpolate";
import type { IssueCollector } from "./issues";
import { keyOf, SourceMap, type ConfigPath } from "./positions";
import { schemaAt, unwrapInput } from "./schema-walk";

export interface ParsedYaml {
  doc: Document;
  source: SourceMap;
  /** False when the YAML is too broken to read further (anything worse than a duplicate key). */
  readable: boolean;
}

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  // merge: `<<: *defaults` is common in hand-written configs; uniqueKeys makes duplicates an error.
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false });
  const source = new SourceMap(doc, lineCounter);
  const readable = doc.errors.every((error) => error.code === "DUPLICATE_KEY");
  return { doc, source, readable };
}

/** Records every YAML error and warning of `parsed` as a config problem. */
export function reportYamlProblems({ doc, source }: ParsedYaml, issues: IssueCollector): void {
  for (const problem of [...doc.errors, ...doc.warnings]) {
    const offset = problem.pos[0];
    const path = source.pathAtOffset(offset);
    if (problem.code === "DUPLICATE_KEY") {
      const first = source.positionOf(path, "key");
      issues.atOffset(offset, path, `duplicate key (first set on line ${first.line})`);
    } else {
      issues.atOffset(offset, path, firstLine(problem.message));
    }
  }
}

/** yaml's guard against "billion laughs" documents; a config reuses anchors a few times at most. */
const MAX_ALIAS_COUNT = 1000;

/** Where `${VAR}` substitution put the values of which variables. */
export interface VariableUse {
  path: ConfigPath;
  variables: string[];
}

/**
 * The document's data with `${VAR}` substituted and substituted values typed for `schema`, and where
 * each variable went; problems go to `issues`. Throws what yaml's toJS throws (an alias loop, an
 * unresolvable alias: already reported).
 */
export function substitutedData(
  doc: Document,
  text: string,
  env: NodeJS.ProcessEnv,
  schema: z.ZodType,
  issues: IssueCollector,
): { data: unknown; variableUses: VariableUse[] } {
  const variableUses: VariableUse[] = [];
  const substituted = interpolateDocument(doc, text, env, issues, variableUses);
  typeSubstitutedValues(substituted, schema, doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }));
  return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), variableUses };
}

/** An unquoted value that `${VAR}` substitution changed: it may stand for a number or a boolean. */
export interface SubstitutedPlainValue {
  scalar: Scalar;
  path: ConfigPath;
}

/**
 * Substitutes `${VAR}` in every scalar value of the document, in place (see interpolate.ts), and returns
 * the unquoted values it changed, for `typeSubstitutedValues`; where each variable went is added to
 * `variableUses`.
 *
 * An unquoted mapping value that comes out empty is treated as absent, so `endpoint: ${S3_ENDPOINT:-}`
 * leaves an optional key unset; quote it to keep an empty string.
 */
export function interpolateDocument(
  doc: Document,
  text: string,
  env: NodeJS.ProcessEnv,
  issues: IssueCollector,
  variableUses: VariableUse[],
): SubstitutedPlainValue[] {
  const substitutedPlain: SubstitutedPlainValue[] = [];

  const substitute = (scalar: Scalar, path: ConfigPath): "absent" | "kept" => {
    if (typeof scalar.value !== "string") return "kept";
    const original = scalar.value;
    const result = interpolate(original, env);
    for (const problem of result.problems) {
      issues.atOffset(sourceOffset(scalar, original, problem, text), path, problem.message);
    }
    if (result.variables.length > 0) variableUses.push({ path, variables: result.variables });
    if (result.text === original) return "kept";
    const plain = scalar.type === "PLAIN" && result.substituted;
    scalar.value = result.text; // also what an alias of this value sees
    if (plain && result.text === "") return "absent";
    if (plain) substitutedPlain.push({ scalar, path });
    return "kept";
  };

  const walk = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      node.items = node.items.filter((pair) => {
        const childPath = [...path, keyOf(pair.key) ?? "?"];
        if (isScalar(pair.value)) return substitute(pair.value, childPath) === "kept";
        walk(pair.value, childPath);
        return true;
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        if (isScalar(item)) substitute(item, [...path, index]);
        else walk(item, [...path, index]);
      });
    } else if (isAlias(node) && node.resolve(doc) === undefined) {
      issues.atOffset(
        node.range?.[0] ?? 0,
        path,
        `unknown alias *${node.source}: define &${node.source} before it`,
      );
    }
  };

  walk(doc.contents, []);
  return substitutedPlain;
}

const NUMBER = /^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;
const BOOLEAN = /^(?:true|True|TRUE|false|False|FALSE)$/;

/**
 * Gives substituted unquoted values the type the schema expects there, as if the text had been written
 * in the YAML: `port: ${PG_PORT:-5432}` is the number 5432, `globals: ${DUMP_ROLES:-false}` a boolean.
 * Where the schema wants text (a password, a database name), digits stay text. `draft` is the data as
 * substituted so far; it picks the union member (the target `type`) that says what a key expects.
 */
export function typeSubstitutedValues(
  values: SubstitutedPlainValue[],
  schema: z.ZodType,
  draft: unknown,
): void {
  for (const { scalar, path } of values) {
    if (typeof scalar.value !== "string") continue;
    const expected = schemaAt(schema, draft, path);
    if (!expected) continue;
    const wants = expectedScalarTypes(expected);
    if (wants.has("string")) continue;
    if (wants.has("number") && NUMBER.test(scalar.value)) {
      scalar.value = Number(scalar.value);
    } else if (wants.has("boolean") && BOOLEAN.test(scalar.value)) {
      scalar.value = scalar.value.toLowerCase() === "true";
    }
  }
}

/** Which of string, number, boolean a schema takes as input (looking through optional, unions...). */
function expectedScalarTypes(schema: z.ZodType): Set<"string" | "number" | "boolean"> {
  const base = unwrapInput(schema);
  if (base instanceof z.ZodUnion) {
    const types = new Set<"string" | "number" | "boolean">();
    for (const option of base.options as readonly z.ZodType[]) {
      for (const type of expectedScalarTypes(option)) types.add(type);
    }
    return types;
  }
  if (base instanceof z.ZodNumber) return new Set(["number"]);
  if (base instanceof z.ZodBoolean) return new Set(["boolean"]);
  if (base instanceof z.ZodString || base instanceof z.ZodEnum || base instanceof z.ZodLiteral) {
    return new Set(["string"]);
  }
  return new Set();
}

/**
 * The offset in the file of a problem found at `problem.offset` in the scalar's value. Quoting and
 * escapes shift offsets, so the reference is looked up in the scalar's source text (the n-th occurrence
 * for the n-th in the value); when that fails, the scalar's start is good enough.
 */
function sourceOffset(scalar: Scalar, value: string, problem: InterpolationProblem, text: string): number {
  const [start = 0, end = start] = scalar.range ?? [];
  const occurrence = countOccurrences(value.slice(0, problem.offset), problem.reference);
  const raw = text.slice(start, end);
  let at = -1;
  for (let n = 0; n <= occurrence; n++) {
    at = raw.indexOf(problem.reference, at + 1);
    if (at === -1) return start;
  }
  return start + at;
}

function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) {
    count++;
  }
  return count;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
