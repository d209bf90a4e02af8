import { spawn } from "node:child_process";
import { join } from "node:path";

export const CLI = join(__dirname, "..", "..", "dist", "cli", "main.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A command that runs Node, e.g. `unshare --user --map-root-user` for a user namespace. */
  prefix?: string[];
}

/** Runs the built CLI (dist/, built by `pretest`) as an operator would. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runNodeScript(CLI, args, options);
}

/** Runs a built script of ours (the CLI, the demo) in a child Node process and collects its output. */
export function runNodeScript(script: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefixArgs, script, ...args], {
      cwd: options.cwd,
      env: { ...process.env, HAVEN_LOG_LEVEL: "warn", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * A command's stderr without its plain progress lines (`backup shop: 2.13 MiB, 0.4 MiB/s`), which a
 * run slower than their 5 s period prints on a loaded machine: what is left is logs and errors.
 */
export function withoutProgress(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => !/^[^:\n]+: [\d.]+ [KMGT]?i?B( of .*)?, [\d.]+ MiB\/s$/.test(line))
    .join("\n");
}
