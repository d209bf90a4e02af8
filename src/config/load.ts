/**
 * The one entry point to the config: `loadConfig` reads haven.yaml into a `HavenConfig` or throws a
 * `ConfigError` listing every problem at once, as `FILE:LINE:COL: path.to.key: message`.
 *
 * Phases, in order (each adds to the same list of problems; the load stops only when the YAML itself
 * cannot be read):
 * 1. parse the YAML, keeping positions; syntax errors and duplicate keys are problems;
 * 2. substitute `${VAR}` / `${VAR:-default}` in values (yaml-source.ts, interpolate.ts);
 * 3. read `<key>File` secret twins (secret-files.ts);
 * 4. validate against `configSchema` (schema.ts), and the rules across sections (cross-checks.ts);
 * 5. fill each target from `defaults` (resolve.ts).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { registerEnvironmentCredentials, registerSecretVariables } from "../lib/secret";
import { HavenError } from "../lib/errors";
import { checkCrossReferences } from "./cross-checks";
import { IssueCollector } from "./issues";
import { resolveConfig } from "./resolve";
import { configSchema } from "./schema";
import { resolveSecretFiles } from "./secret-files";
import { secretVariables } from "./secret-variables";
import type { HavenConfig } from "./types";
import { parseYaml, reportYamlProblems, substitutedData, type VariableUse } from "./yaml-source";
import { reportZodIssues } from "./zod-issues";

export { ConfigError, formatConfigPath, formatIssue, type ConfigIssue } from "./issues";

/** Used when neither `-c FILE` nor `$HAVEN_CONFIG` names the config. */
export const DEFAULT_CONFIG_FILE = "./haven.yaml";

/** The config file to use: `-c FILE`, else `$HAVEN_CONFIG`, else `./haven.yaml` (DESIGN.md, CLI contract). */
export function resolveConfigPath(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.HAVEN_CONFIG || DEFAULT_CONFIG_FILE;
}

/**
 * Reads and validates the config file. `env` supplies `${VAR}` values (default: the process's).
 * @throws ConfigError (a HavenError with code CONFIG, exit code 2) listing every problem, or a
 *   HavenError CONFIG when the file cannot be read.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<HavenConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a folder, not a file"
          : code === "EACCES" || code === "EPERM"
            ? "not readable by this user"
            : String(error);
    throw new HavenError("CONFIG", `cannot read config file ${file}: ${reason}`, {
      hint: "pass -c FILE or set HAVEN_CONFIG; config/haven.example.yaml is a commented starting point",
      cause: error,
    });
  }
  return parseConfig(bytes.toString("utf8"), file, env, sha256Hex(bytes));
}

/**
 * Validates config text as if read from `file`: `file` names the source in messages and is the base of
 * relative `<key>File` paths (a name in angle brackets, like `<embedded>`, means the working directory).
 * Synchronous: secret files are small and read once, at startup.
 * @throws ConfigError listing every problem.
 */
export function parseConfigText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): HavenConfig {
  return parseConfig(text, file, env, sha256Hex(Buffer.from(text, "utf8")));
}

function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv, sha256: string): HavenConfig {
  // The process's own environment, not `env`: it is what the S3 client and every hook inherit.
  registerEnvironmentCredentials();
  const embedded = /^<.*>$/.test(file);
  const source = embedded ? file : resolve(file);
  const baseDir = embedded ? process.cwd() : dirname(source);

  const yaml = parseYaml(text);
  const issues = new IssueCollector(file, yaml.source);
  reportYamlProblems(yaml, issues);
  if (!yaml.readable) issues.throwIfAny();

  let data: unknown;
  let variableUses: VariableUse[] = [];
  try {
    ({ data, variableUses } = substitutedData(yaml.doc, text, env, configSchema, issues));
  } catch (error) {
    // Unresolvable aliases are reported by interpolateDocument already; anything else lands here.
    if (issues.size === 0) issues.atPath([], error instanceof Error ? error.message : String(error));
    issues.throwIfAny();
  }
  if (data === null || data === undefined) {
    issues.atPath([], "the config is empty: it needs at least destinations and targets");
    issues.throwIfAny();
  }

  resolveSecretFiles(data, configSchema, baseDir, issues);
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) reportZodIssues(parsed.error.issues, configSchema, data, issues);
  checkCrossReferences(data, issues);

  issues.throwIfAny();
  if (!parsed.success) throw new HavenError("CONFIG", `${file}: invalid config`); // unreachable: issues were reported
  registerSecretVariables(secretVariables(parsed.data, variableUses));
  return resolveConfig(parsed.data, data, source, sha256, baseDir);
}

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}
