/**
 * Which dump tool and client to run. Debian's MariaDB packages install `mariadb-dump` (with a
 * `mysqldump` link), MySQL's install `mysqldump`; each works best against its own server, so the
 * server's flavour picks among the tools on PATH.
 */
import { HavenError } from "../../lib/errors";
import { toolVersion, whichSync } from "../process";
import type { MysqlFlavor } from "./connection";

export interface MysqlTool {
  command: string;
  flavor: MysqlFlavor;
  /** First line of `--version`. */
  version: string;
}

/** Every dump tool and client found on PATH. */
export interface MysqlToolset {
  dumps: MysqlTool[];
  clients: MysqlTool[];
}

const DUMP_COMMANDS = ["mariadb-dump", "mysqldump"];
const CLIENT_COMMANDS = ["mariadb", "mysql"];

export function flavorOf(versionText: string): MysqlFlavor {
  return /mariadb/i.test(versionText) ? "mariadb" : "mysql";
}

async function found(commands: string[], signal?: AbortSignal): Promise<MysqlTool[]> {
  const tools: MysqlTool[] = [];
  for (const command of commands) {
    if (!whichSync(command)) continue;
    const version = await toolVersion(command, signal);
    tools.push({ command, flavor: flavorOf(version), version });
  }
  return tools;
}

export async function discoverMysqlTools(signal?: AbortSignal): Promise<MysqlToolset> {
  return { dumps: await found(DUMP_COMMANDS, signal), clients: await found(CLIENT_COMMANDS, signal) };
}

/** The tool of `kind` for a server of `serverFlavor` (unknown: the first found). */
export function pickTool(
  toolset: MysqlToolset,
  kind: "dump" | "client",
  serverFlavor?: MysqlFlavor,
): MysqlTool {
  const tools = kind === "dump" ? toolset.dumps : toolset.clients;
  const tool = tools.find((t) => t.flavor === serverFlavor) ?? tools[0];
  if (!tool) {
    const names = (kind === "dump" ? DUMP_COMMANDS : CLIENT_COMMANDS).join(", ");
    throw new HavenError("PERMANENT", `no MySQL/MariaDB ${kind} tool on PATH (looked for ${names})`, {
      hint: "install the client tools: apt-get install mariadb-client (or mysql-client)",
    });
  }
  return tool;
}
