/**
 * Reads the config schema alongside a value: which object schema applies at a path (choosing the union
 * member by its literal `type`), which keys it knows, whether a leaf is a duration. The loader uses this
 * to find `<key>File` twins and to suggest keys; the printable view uses it to show durations as text.
 * Only zod's public classes are used, no internals.
 */
import { z } from "zod";
import type { ConfigPath } from "./positions";

/** Wrappers that do not change what the input looks like; pipes are read from their input side. */
export function unwrapInput(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodReadonly ||
      current instanceof z.ZodCatch
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The object schema `value` is meant to match, or null when the schema there is not an object. */
export function objectSchemaFor(schema: z.ZodType, value: unknown): z.ZodObject | null {
  const base = selectUnionMember(unwrapInput(schema), value);
  return base instanceof z.ZodObject ? base : null;
}

/** The schema of `value[segment]` given the schema of `value`; undefined when the schema has no such child. */
export function childSchema(
  schema: z.ZodType,
  value: unknown,
  segment: string | number,
): z.ZodType | undefined {
  const base = selectUnionMember(unwrapInput(schema), value);
  if (base instanceof z.ZodObject) {
    return typeof segment === "string" ? (base.shape as Record<string, z.ZodType>)[segment] : undefined;
  }
  if (base instanceof z.ZodRecord) return base.valueType as z.ZodType;
  if (base instanceof z.ZodArray) return base.element as z.ZodType;
  return undefined;
}

/** The schema at `path` inside `root`, following `data` to choose union members. */
export function schemaAt(root: z.ZodType, data: unknown, path: ConfigPath): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  let value = data;
  for (const segment of path) {
    if (!schema) return undefined;
    schema = childSchema(schema, value, segment);
    value = isRecordLike(value) ? (value as Record<string | number, unknown>)[segment] : undefined;
  }
  return schema;
}

const durationProbe = new WeakMap<z.core.$ZodType, boolean>();

/** True for schemas made by `duration()`: they turn the text "1h" into 3,600,000 milliseconds. */
export function isDurationSchema(schema: z.core.$ZodType): boolean {
  let known = durationProbe.get(schema);
  if (known === undefined) {
    known = z.safeParse(schema, "1h").data === 3_600_000;
    durationProbe.set(schema, known);
  }
  return known;
}

/**
 * For a union, the member whose literal fields (e.g. `type: postgres`) match `value`; failing that, the
 * object member sharing the most keys with it. Other schemas are returned as they are.
 */
function selectUnionMember(schema: z.ZodType, value: unknown): z.ZodType {
  if (!(schema instanceof z.ZodUnion)) return schema;
  const members = (schema.options as readonly z.ZodType[]).map((option) =>
    selectUnionMember(unwrapInput(option), value),
  );
  const record = isRecordLike(value) ? (value as Record<string, unknown>) : {};

  const byLiteral = members.find((member) => {
    if (!(member instanceof z.ZodObject)) return false;
    const literals = Object.entries(member.shape as Record<string, z.ZodType>).filter(
      ([, field]) => field instanceof z.ZodLiteral,
    );
    return (
      literals.length > 0 &&
      literals.every(([key, field]) => (field as z.ZodLiteral).values.has(record[key] as z.util.Literal))
    );
  });
  if (byLiteral) return byLiteral;

  let best: z.ZodType | undefined;
  let bestOverlap = -1;
  for (const member of members) {
    if (!(member instanceof z.ZodObject)) continue;
    const overlap = Object.keys(record).filter((key) => key in member.shape).length;
    if (overlap > bestOverlap) [best, bestOverlap] = [member, overlap];
  }
  return best ?? members[0] ?? schema;
}

function isRecordLike(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

/** What the data (the YAML's, or the parsed config) holds at `path`; undefined where nothing is. */
export function valueAt(data: unknown, path: ConfigPath): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}
