/**
 * The PostgreSQL probe: pg_dump present, server reachable and the login accepted, pg_dump not older
 * than the server, every table and sequence in scope readable, and (with `globals`) pg_dumpall usable.
 * Read-only and cheap: one connection, three catalog queries. Never throws.
 */
import type { Client } from "pg";
import type { TargetConfigOf } from "../../config/types";
import { describeError, isHavenError } from "../../lib/errors";
import { toolVersion } from "../process";
import type { ProbeResult } from "../types";
import { connectPg, serverInfo } from "./client";
import { describePg, resolvePgConnection } from "./connection";
import { includeMatchQueries, scopeCondition } from "./scope";
import { assertToolNotOlder, checkedToolVersion, majorOf, parseToolVersion } from "./versions";

type Check = ProbeResult["checks"][number];

export async function probePostgres(
  target: TargetConfigOf<"postgres">,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const checks: Check[] = [];
  const result = () => ({ ok: checks.every((c) => c.ok), checks });
  const fail = (name: string, error: unknown) =>
    checks.push({
      name,
      ok: false,
      detail: errorText(error),
      hint: isHavenError(error) ? error.hint : undefined,
    });

  // Asked while the connection is being made: Debian's pg_dump wrapper takes ~0.1 s to answer.
  const version = toolVersion("pg_dump", signal).then(
    (text) => ({ text, num: parseToolVersion(text) }),
    (error: unknown) => ({ error }),
  );
  /** Records the pg_dump check; its version number, or null when unknown. */
  const versionCheck = (outcome: Awaited<typeof version>): number | null => {
    if ("error" in outcome) {
      fail("pg_dump", outcome.error);
      return null;
    }
    checks.push({ name: "pg_dump", ok: true, detail: outcome.text });
    return outcome.num;
  };
  let conn;
  try {
    conn = resolvePgConnection(target);
  } catch (error) {
    versionCheck(await version);
    fail("config", error);
    return result();
  }
  const connecting = connectPg(conn, conn.database, signal);
  connecting.catch(() => undefined);
  const dumpVersion = versionCheck(await version);

  let client: Client;
  try {
    client = await connecting;
  } catch (error) {
    fail("connection", error);
    return result();
  }
  try {
    const server = await serverInfo(client);
    checks.push({
      name: "connection",
      ok: true,
      detail: `PostgreSQL ${server.version} at ${describePg(conn)}${server.superuser ? " (superuser)" : ""}`,
    });
    if (dumpVersion !== null) {
      try {
        assertToolNotOlder("pg_dump", dumpVersion, server.versionNum);
        checks.push({
          name: "versions",
          ok: true,
          detail: `pg_dump ${majorOf(dumpVersion)} can dump a PostgreSQL ${majorOf(server.versionNum)} server`,
        });
      } catch (error) {
        fail("versions", error);
      }
    }
    checks.push(...(await includeChecks(client, target)));
    checks.push(await permissionsCheck(client, target));
    if (target.globals) checks.push(await globalsCheck(server, signal));
  } catch (error) {
    fail("queries", error);
  } finally {
    await client.end().catch(() => undefined);
  }
  return result();
}

/**
 * An include list (`schemas`, `tables`) that matches nothing: pg_dump then fails every backup with
 * "no matching ... were found", while every object "in scope" (none) is readable.
 */
async function includeChecks(client: Client, target: TargetConfigOf<"postgres">): Promise<Check[]> {
  const checks: Check[] = [];
  for (const query of includeMatchQueries(target)) {
    const { rows } = await client.query<{ n: number }>(query.text, query.values);
    const matched = rows[0]?.n ?? 0;
    const patterns = query.patterns.join(", ");
    checks.push(
      matched > 0
        ? { name: query.option, ok: true, detail: `${patterns}: ${matched} matched` }
        : {
            name: query.option,
            ok: false,
            detail: `nothing in the database matches ${query.option}: ${patterns}; pg_dump would fail with "no matching ${query.option} were found"`,
            hint: `fix targets.${target.name}.${query.option} (unquoted names are folded to lower case; write "MixedCase" in double quotes)`,
          },
    );
  }
  return checks;
}

/** Tables and sequences in scope that the login cannot read: pg_dump would fail on the first one. */
async function permissionsCheck(client: Client, target: TargetConfigOf<"postgres">): Promise<Check> {
  const scope = scopeCondition(target);
  const { rows } = await client.query<{ name: string; total: string }>(
    `select n.nspname || '.' || c.relname as name, count(*) over () as total
     from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'S', 'm') and c.relpersistence <> 't'
       and ${scope.sql}
       and (not pg_catalog.has_schema_privilege(n.oid, 'USAGE') or not pg_catalog.has_table_privilege(c.oid, 'SELECT'))
     order by 1 limit 5`,
    scope.params,
  );
  if (rows.length === 0)
    return { name: "permissions", ok: true, detail: "every table and sequence in scope is readable" };
  return {
    name: "permissions",
    ok: false,
    detail: `${rows[0]?.total} objects are not readable, e.g. ${rows.map((r) => r.name).join(", ")}`,
    hint: "GRANT pg_read_all_data TO the backup role (PostgreSQL 14+), or grant USAGE and SELECT on them, or exclude them (excludeSchemas/excludeTables)",
  };
}

/**
 * pg_dumpall present and not older than the server, as pg_dump: the backup checks both, so a probe
 * that did not passed `doctor` and then failed every backup at its globals stream.
 */
export async function globalsCheck(
  server: { superuser: boolean; versionNum: number },
  signal: AbortSignal,
): Promise<Check> {
  try {
    const text = await checkedToolVersion("pg_dumpall", server, signal);
    return {
      name: "globals",
      ok: true,
      detail: server.superuser
        ? `${text}; roles with their passwords`
        : `${text}; not a superuser, so role passwords will be left out (--no-role-passwords)`,
    };
  } catch (error) {
    return {
      name: "globals",
      ok: false,
      detail: errorText(error),
      hint: (isHavenError(error) ? error.hint : undefined) ?? "install pg_dumpall (postgresql-client)",
    };
  }
}

function errorText(error: unknown): string {
  return isHavenError(error) ? error.message : describeError(error);
}
