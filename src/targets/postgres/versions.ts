/**
 * PostgreSQL version numbers. pg_dump can dump servers of its own major version and older, never
 * newer ones; Haven checks this itself so the operator gets the fix, not pg_dump's abort.
 */
import { HavenError } from "../../lib/errors";
import { toolVersion } from "../process";

/** `server_version_num` style number (150020 for 15.20, 90624 for 9.6.24) from `pg_dump --version` text. */
export function parseToolVersion(text: string): number | null {
  const match = /\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text) ?? /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return null;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? 0);
  const patch = Number(match[3] ?? 0);
  // Before 10 the major version had two parts (9.6.24); from 10 on one (15.20).
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + patch;
}

/** The major version of a version number: 15 for 150020, 9.6 for 90624. */
export function majorOf(versionNum: number): string {
  const major = Math.floor(versionNum / 10000);
  return versionNum >= 100000 ? String(major) : `${major}.${Math.floor(versionNum / 100) % 100}`;
}

function majorKey(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) * 10000 : Math.floor(versionNum / 100) * 100;
}

/** Throws PERMANENT when `tool` (pg_dump, pg_dumpall) is of an older major version than the server. */
export function assertToolNotOlder(tool: string, toolVersion: number, serverVersion: number): void {
  if (majorKey(toolVersion) >= majorKey(serverVersion)) return;
  throw new HavenError(
    "PERMANENT",
    `${tool} ${majorOf(toolVersion)} is older than the PostgreSQL ${majorOf(serverVersion)} server; it cannot make a correct dump`,
    {
      hint: `install ${tool} ${majorOf(serverVersion)} or newer (Debian/Ubuntu: postgresql-client-${majorOf(serverVersion)}) and put it first on PATH`,
    },
  );
}

/** The version of a libpq tool, checked against the server's. */
export async function checkedToolVersion(
  tool: string,
  server: { versionNum: number },
  signal?: AbortSignal,
): Promise<string> {
  const text = await toolVersion(tool, signal);
  const num = parseToolVersion(text);
  if (num === null) throw new HavenError("PERMANENT", `cannot read the version of ${tool} from "${text}"`);
  assertToolNotOlder(tool, num, server.versionNum);
  return text;
}
