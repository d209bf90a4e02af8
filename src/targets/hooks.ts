/**
 * Target hooks: shell commands run before and after a backup, typically to quiesce an application
 * (flush caches, pause writers) and to resume it. A hook runs in `/bin/sh -c` in its own process
 * group, so a timeout or a cancelled run kills the hook and everything it started.
 */
import type { Logger } from "pino";
import { HavenError } from "../lib/errors";
import { formatDuration } from "../lib/duration";
import { isSecretVariable } from "../lib/secret";
import { spawnTool } from "./process";

export interface HookOptions {
  /** The hook is killed after this long and the hook fails. */
  timeoutMs: number;
  /** Aborting kills the hook; it then fails with CANCELLED. */
  signal: AbortSignal;
  /** Added to the inherited environment (HAVEN_TARGET, HAVEN_SNAPSHOT; HAVEN_RESULT after a run). */
  env?: Record<string, string>;
  logger: Logger;
  /** For messages: "before" or "after" (default "hook"). */
  name?: string;
}

export interface HookResult {
  durationMs: number;
  /** The end of what the hook printed (stdout and stderr). */
  output: string;
}

const OUTPUT_TAIL_BYTES = 8 * 1024;

/**
 * This process's environment without the variables Haven took a secret from: a password the config
 * took from `${DB_PASSWORD}`, a `${REDIS_URL}` with one, an S3 secret key the SDK reads from the
 * environment (`isSecretVariable`). A hook that logs `env`, or a tool it runs that reports its
 * environment, would carry them out in clear. Variables are matched by name, not by value: a
 * password "postgres" must not take `PGUSER=postgres`, `PGDATABASE=postgres` or a PATH through
 * /usr/lib/postgresql from the hook, which then fails for want of them. What a hook prints is
 * scrubbed of every secret's value wherever Haven logs or reports it (lib/logger.ts, HavenError).
 */
function inheritableEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !isSecretVariable(name)) env[name] = value;
  }
  return env;
}

/**
 * Runs one hook command to completion. Resolves when it exits 0; rejects with HavenError
 * SOURCE_FAILED (exit status, signal or timeout, with the end of its output) or CANCELLED. The
 * caller decides what a failure means: a failed `before` fails the run, a failed `after` is a warning.
 */
export async function runHook(command: string, options: HookOptions): Promise<HookResult> {
  const name = options.name ?? "hook";
  const started = Date.now();
  const hook = spawnTool({
    command: "/bin/sh",
    // Both output streams go to stderr, so the tail the error carries shows them interleaved as printed.
    args: ["-c", `exec 1>&2\n${command}`],
    env: { ...inheritableEnvironment(), ...options.env },
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    processGroup: true,
    stdout: "ignore",
    stderrTailBytes: OUTPUT_TAIL_BYTES,
    killGraceMs: 2_000,
  });
  options.logger.info({ hook: name, pid: hook.pid }, "hook started");
  const exit = await hook.exit;
  const durationMs = Date.now() - started;
  const output = exit.stderr.trim();
  if (exit.ok) {
    options.logger.info({ hook: name, durationMs, output: output || undefined }, "hook finished");
    return { durationMs, output };
  }
  if (exit.aborted) throw new HavenError("CANCELLED", `${name} hook stopped: the run was cancelled`);
  const how = exit.timedOut
    ? `timed out after ${formatDuration(options.timeoutMs)}`
    : exit.signal
      ? `was killed by ${exit.signal}`
      : exit.spawnError
        ? `could not start (${exit.spawnError})`
        : `failed with exit code ${exit.code}`;
  throw new HavenError("SOURCE_FAILED", `${name} hook ${how}${output ? `: ${output}` : ""}`, {
    hint: exit.timedOut
      ? `make the ${name} hook finish sooner or raise hooks.timeout for this target`
      : `fix the command in hooks.${name} of this target; run it by hand with /bin/sh -c to see why it fails`,
  });
}
