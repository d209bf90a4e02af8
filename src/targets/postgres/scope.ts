/**
 * Which tables a dump covers, computed the way pg_dump computes it from the same include/exclude
 * patterns, so row counts (and the permission probe) describe exactly the tables in the dump.
 *
 * Patterns follow psql/pg_dump rules: `*` is any text, `?` one character, `.` separates schema and
 * name, unquoted letters are folded to lower case, double quotes keep text literal (`""` is a quote),
 * other regular expression syntax passes through (e.g. `[0-9]`), `$` is literal. A table pattern
 * without a schema matches tables visible on the search path.
 */
import { HavenError } from "../../lib/errors";

export interface ScopeOptions {
  schemas?: string[];
  excludeSchemas?: string[];
  tables?: string[];
  excludeTables?: string[];
}

interface NamePattern {
  schema?: string;
  name: string;
}

const QUOTED_REGEX_SPECIALS = new Set([..."|*+?()[]{}.^$\\"]);

/** Converts one pg_dump pattern into anchored regular expressions for the schema and object name. */
export function patternToRegex(pattern: string): NamePattern {
  const parts: string[] = [""];
  let inQuotes = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    const last = parts.length - 1;
    if (ch === '"') {
      if (inQuotes && pattern[i + 1] === '"') {
        parts[last] += '"';
        i++;
      } else {
        inQuotes = !inQuotes;
      }
    } else if (inQuotes) {
      parts[last] += QUOTED_REGEX_SPECIALS.has(ch) ? `\\${ch}` : ch;
    } else if (ch === ".") {
      parts.push("");
    } else if (ch === "*") {
      parts[last] += ".*";
    } else if (ch === "?") {
      parts[last] += ".";
    } else if (ch === "$") {
      parts[last] += "\\$";
    } else {
      parts[last] += ch.toLowerCase();
    }
  }
  if (parts.length > 2) {
    throw new HavenError("CONFIG", `pattern "${pattern}" has too many dots: use schema.table`, {
      hint: "write table patterns as schema.table or table; quote names that contain a dot",
    });
  }
  const anchor = (regex: string) => `^(${regex})$`;
  return parts.length === 2
    ? { schema: anchor(parts[0] as string), name: anchor(parts[1] as string) }
    : { name: anchor(parts[0] as string) };
}

/**
 * The WHERE clause (over `n` = pg_namespace, `c` = pg_class) selecting objects in scope, plus its
 * parameters, numbered from `firstParam`. pg_dump's rules: `tables` wins over `schemas` and
 * `excludeSchemas`; `excludeTables` always applies; system schemas and extension members are out.
 */
export function scopeCondition(options: ScopeOptions, firstParam = 1): { sql: string; params: string[] } {
  const { params, tableMatch, schemaMatch } = patternMatchers(firstParam);
  const clauses = [
    "n.nspname not in ('pg_catalog', 'information_schema')",
    "n.nspname !~ '^pg_(toast|temp_|toast_temp_)'",
    "not exists (select 1 from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')",
  ];
  if (options.tables?.length) {
    clauses.push(`(${options.tables.map(tableMatch).join(" or ")})`);
  } else {
    if (options.schemas?.length) clauses.push(`(${options.schemas.map(schemaMatch).join(" or ")})`);
    if (options.excludeSchemas?.length)
      clauses.push(`not (${options.excludeSchemas.map(schemaMatch).join(" or ")})`);
  }
  if (options.excludeTables?.length)
    clauses.push(`not (${options.excludeTables.map(tableMatch).join(" or ")})`);
  return { sql: clauses.join("\n  and "), params };
}

/**
 * SQL conditions (over `n` = pg_namespace, `c` = pg_class) for single patterns, collecting their
 * parameters in `params`, numbered from `firstParam`.
 */
function patternMatchers(firstParam: number) {
  const params: string[] = [];
  const param = (value: string) => {
    params.push(value);
    return `$${firstParam + params.length - 1}`;
  };
  const tableMatch = (pattern: string) => {
    const { schema, name } = patternToRegex(pattern);
    return schema
      ? `(n.nspname ~ ${param(schema)} and c.relname ~ ${param(name)})`
      : `(c.relname ~ ${param(name)} and pg_catalog.pg_table_is_visible(c.oid))`;
  };
  const schemaMatch = (pattern: string) => {
    const { schema, name } = patternToRegex(pattern);
    if (schema) throw new HavenError("CONFIG", `schema pattern "${pattern}" must not contain a dot`);
    return `n.nspname ~ ${param(name)}`;
  };
  return { params, tableMatch, schemaMatch };
}

/** One include option and a query counting what its patterns match (`n`). */
export interface IncludeMatchQuery {
  option: "schemas" | "tables";
  patterns: string[];
  text: string;
  values: string[];
}

/**
 * pg_dump refuses to dump when the `schemas` patterns together match no schema ("no matching
 * schemas were found"), and likewise `tables` (any relation it can dump by name); these queries let
 * the probe say so before a backup fails on it.
 */
export function includeMatchQueries(options: ScopeOptions): IncludeMatchQuery[] {
  const queries: IncludeMatchQuery[] = [];
  if (options.schemas?.length) {
    const { params, schemaMatch } = patternMatchers(1);
    queries.push({
      option: "schemas",
      patterns: options.schemas,
      text: `select count(*)::int as n from pg_catalog.pg_namespace n where (${options.schemas.map(schemaMatch).join(" or ")})`,
      values: params,
    });
  }
  if (options.tables?.length) {
    const { params, tableMatch } = patternMatchers(1);
    queries.push({
      option: "tables",
      patterns: options.tables,
      text:
        "select count(*)::int as n from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace" +
        ` where c.relkind in ('r', 'S', 'v', 'm', 'f', 'p') and (${options.tables.map(tableMatch).join(" or ")})`,
      values: params,
    });
  }
  return queries;
}

/** pg_dump arguments for the same options. */
export function scopeArgs(options: ScopeOptions): string[] {
  return [
    ...(options.schemas ?? []).map((p) => `--schema=${p}`),
    ...(options.excludeSchemas ?? []).map((p) => `--exclude-schema=${p}`),
    ...(options.tables ?? []).map((p) => `--table=${p}`),
    ...(options.excludeTables ?? []).map((p) => `--exclude-table=${p}`),
  ];
}

/**
 * Tables whose rows the dump holds: ordinary, non-temporary tables in scope (partitioned parents hold
 * no rows of their own; their partitions are listed). Parameters as `scopeCondition`.
 */
export function tablesInScopeQuery(options: ScopeOptions): { text: string; values: string[] } {
  const scope = scopeCondition(options);
  return {
    text: `select c.oid::text as oid, n.nspname as schema, c.relname as name, c.reltuples::float8 as estimate
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and c.relpersistence <> 't'
  and ${scope.sql}
order by 2, 3`,
    values: scope.params,
  };
}
