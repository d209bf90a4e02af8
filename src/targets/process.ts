/**
 * Child processes for target adapters: dump tools, restore tools and hooks, all run the same way.
 *
 * - `spawnTool` starts a tool with an explicit environment, keeps the last bytes of its stderr with
 *   secrets scrubbed, settles its exit status exactly once, and kills it when the run is aborted.
 * - `settledOutput` turns a tool's stdout into a stream that ends only after the tool exited 0 and
 *   errors otherwise, so a dump that dies half way never looks like a complete stream.
 * - `feedTool` feeds a restore tool from a stream and decides whose failure explains the outcome.
 * - `runTool` runs a short command and returns its stdout (version checks, small queries).
 * - `PrivateDir` holds credentials handed to a tool through a file (0700 directory, 0600 files),
 *   because a password on a command line is visible to every user in `ps`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import {
  PassThrough,
  Transform,
  finished,
  type Readable,
  type TransformCallback,
  type Writable,
} from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { HavenError, type ErrorCode } from "../lib/errors";
import { scrubSecrets, type Secret } from "../lib/secret";
import { withholdRowData } from "./row-data";

/** How much stderr is kept for error messages: the end of the output is where tools say why. */
const DEFAULT_STDERR_TAIL = 16 * 1024;
/** After SIGTERM, a tool gets this long to exit before SIGKILL. */
const DEFAULT_KILL_GRACE_MS = 5_000;

/** How long stderr may stay open after the process exited (held by a background child). */
const STDERR_AFTER_EXIT_MS = 2000;

export interface ToolSpec {
  /** Executable name (looked up on PATH) or path. */
  command: string;
  args: readonly string[];
  /**
   * The child's complete environment. Build it with `toolEnv` so that variables of the parent that
   * would change the tool's behaviour (PGPASSWORD, MYSQL_PWD, ...) are not inherited by accident.
   */
  env?: NodeJS.ProcessEnv;
  /** Aborting kills the child (SIGTERM, then SIGKILL after the grace period). */
  signal?: AbortSignal;
  /** Kills the child after this long; the exit then reports `timedOut`. */
  timeoutMs?: number;
  /** stdin: "ignore" (default) or "pipe" (restores feed the payload through it). */
  stdin?: "ignore" | "pipe";
  /** stdout: "pipe" (default) or "ignore". */
  stdout?: "pipe" | "ignore";
  /**
   * The tool writes a large stream through C stdio (pg_dump, mysqldump): run it under
   * `stdbuf -o 1M` where coreutils' stdbuf is present, so it writes 1 MiB at a time instead of 4 KiB.
   * Otherwise each small write wakes the reader: a 953 MB pg_dump arrived in ~80,000 reads averaging
   * 12 KiB, and those reads were ~1.5 CPU-s of Haven's main thread; with stdbuf, ~15,000 reads of
   * 60 KiB and ~0.9 CPU-s. stdbuf execs the tool in its own process, so its pid is the tool's.
   */
  largeOutput?: boolean;
  /** Put the child in its own process group and kill the whole group (shell hooks start children). */
  processGroup?: boolean;
  /** Values scrubbed from stderr before it is kept. */
  secrets?: ReadonlyArray<Secret | string | undefined>;
  stderrTailBytes?: number;
  killGraceMs?: number;
  cwd?: string;
  logger?: Logger;
}

/** How a tool ended. Never a secret in `stderr`. */
export interface ToolExit {
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `stderrTailBytes` of stderr, secrets scrubbed. */
  stderr: string;
  /** Killed because the run's signal aborted. */
  aborted: boolean;
  /** Killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** The process could not be started (e.g. ENOENT); `stderr` holds the reason. */
  spawnError?: string;
}

export interface ToolProcess {
  readonly command: string;
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** Settles once, when the process exited and its stderr is read. Never rejects. */
  readonly exit: Promise<ToolExit>;
  /** SIGTERM now, SIGKILL after the grace period if it is still running. Idempotent. */
  kill(): void;
}

/** Starts a tool. The caller MUST consume or destroy `stdout` (when piped) and await `exit`. */
export function spawnTool(spec: ToolSpec): ToolProcess {
  const tailLimit = spec.stderrTailBytes ?? DEFAULT_STDERR_TAIL;
  const grace = spec.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  let stderrTail = Buffer.alloc(0);
  let aborted = false;
  let timedOut = false;
  let spawnError: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  // Only a tool that is there: a missing one then fails its own spawn (ENOENT, "not found on PATH").
  const env = spec.env ?? process.env;
  const stdbuf = spec.largeOutput && whichSync(spec.command, env.PATH) ? stdbufPath() : null;
  const [command, args] = stdbuf
    ? [stdbuf, ["-o", STDBUF_OUTPUT_BUFFER, spec.command, ...spec.args]]
    : [spec.command, spec.args];
  const child: ChildProcess = spawn(command, args, {
    env,
    cwd: spec.cwd,
    stdio: [spec.stdin ?? "ignore", spec.stdout ?? "pipe", "pipe"],
    detached: spec.processGroup === true,
  });

  const signalChild = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      // The group even after its leader exited: a hook's background process may live on in it.
      if (spec.processGroup) process.kill(-child.pid, signal);
      else if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    } catch {
      // Already gone (ESRCH): nothing to kill.
    }
  };
  const kill = () => {
    if (killTimer) return;
    signalChild("SIGTERM");
    killTimer = setTimeout(() => signalChild("SIGKILL"), grace);
    killTimer.unref();
  };

  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener("abort", onAbort, { once: true });
  if (spec.timeoutMs !== undefined) {
    timeoutTimer = setTimeout(() => {
      timedOut = true;
      kill();
    }, spec.timeoutMs);
    timeoutTimer.unref();
  }

  child.stderr?.on("data", (chunk: Buffer) => {
    stderrTail = Buffer.concat([stderrTail, chunk]);
    // Keep twice the limit before trimming, so a secret split across chunks is still whole when scrubbed.
    if (stderrTail.length > tailLimit * 2)
      stderrTail = stderrTail.subarray(stderrTail.length - tailLimit * 2);
  });

  const exit = new Promise<ToolExit>((resolve) => {
    let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stderrDone = child.stderr === null;
    const settle = () => {
      if (!exitStatus || !stderrDone) return;
      spec.signal?.removeEventListener("abort", onAbort);
      clearTimeout(timeoutTimer);
      // Once killed, a group keeps its SIGKILL: the leader dying of SIGTERM says nothing of a process
      // it started that ignores SIGTERM (the timer is unreferenced, and a group already gone is ESRCH).
      if (!spec.processGroup) clearTimeout(killTimer);
      const text = scrubSecrets(stderrTail.toString("utf8"), spec.secrets ?? []);
      const stderr = text.length > tailLimit ? `…${text.slice(text.length - tailLimit)}` : text;
      const ok = exitStatus.code === 0 && !aborted && !timedOut && spawnError === undefined;
      resolve({ ok, ...exitStatus, stderr: spawnError ?? stderr, aborted, timedOut, spawnError });
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      // Only a failed spawn leaves the child without a pid; other errors (a failed kill) change nothing.
      if (child.pid !== undefined) return;
      spawnError =
        error.code === "ENOENT"
          ? `${spec.command}: command not found on PATH`
          : `${spec.command}: ${error.message}`;
      exitStatus = { code: null, signal: null };
      stderrDone = true;
      settle();
    });
    child.once("exit", (code, signal) => {
      exitStatus = { code, signal };
      settle();
      // A process it started in the background (`cmd &` in a hook) may hold stderr open for ever;
      // the exit is known, so stop waiting for the rest of stderr after a short grace. The pipe stays
      // open (still drained, unreferenced): closing it would kill that process at its next write.
      if (!stderrDone && child.stderr) {
        setTimeout(() => {
          if (stderrDone) return;
          stderrDone = true;
          (child.stderr as { unref?: () => void } | null)?.unref?.();
          spec.logger?.warn(
            { tool: spec.command },
            "the process exited but something it started still holds its output; not waiting for it",
          );
          settle();
        }, STDERR_AFTER_EXIT_MS).unref();
      }
    });
    if (child.stderr) {
      finished(child.stderr, () => {
        stderrDone = true;
        settle();
      });
    }
  });

  void exit.then((result) => {
    spec.logger?.debug(
      {
        tool: spec.command,
        pid: child.pid,
        code: result.code,
        signal: result.signal,
        aborted: result.aborted,
      },
      "tool exited",
    );
  });

  return { command: spec.command, pid: child.pid, stdin: child.stdin, stdout: child.stdout, exit, kill };
}

/**
 * A tool's stdout as a stream that ends only after the tool exited with status 0; otherwise it is
 * destroyed with `toError(exit)`. If the consumer destroys it early, the tool is killed.
 */
export function settledOutput(tool: ToolProcess, toError: (exit: ToolExit) => Error): Readable {
  const stdout = tool.stdout;
  if (!stdout) throw new Error(`${tool.command}: stdout is not piped`);
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  let settled = false;
  // The failure is also reported by the caller's `done`; a body nobody reads must not crash the process.
  out.on("error", () => undefined);
  stdout.pipe(out, { end: false });

  const stdoutEnded = new Promise<Error | undefined>((resolve) =>
    finished(stdout, (error) => resolve(error ?? undefined)),
  );
  void tool.exit.then(async (exit) => {
    if (!exit.ok) {
      settled = true;
      out.destroy(toError(exit));
      stdout.destroy();
      return;
    }
    const readError = await stdoutEnded;
    settled = true;
    if (readError) out.destroy(readError);
    else out.end();
  });
  out.once("close", () => {
    if (settled) return;
    // The consumer gave up: stop the producer instead of leaving it blocked on a full pipe.
    stdout.destroy();
    tool.kill();
  });
  return out;
}

export interface RunToolOptions extends Omit<ToolSpec, "stdin" | "stdout"> {
  /** Written to stdin (then closed). */
  input?: string | Buffer;
  /** Largest stdout kept; more is an error (these are small commands). */
  maxOutputBytes?: number;
}

/** Runs a short command to completion. Rejects with `toError(exit)` (default: `toolError`) on failure. */
export async function runTool(
  options: RunToolOptions,
  toError: (exit: ToolExit) => Error = (exit) => toolError(options.command, exit),
): Promise<string> {
  const limit = options.maxOutputBytes ?? 8 * 1024 * 1024;
  const tool = spawnTool({ ...options, stdin: options.input === undefined ? "ignore" : "pipe" });
  const chunks: Buffer[] = [];
  let size = 0;
  tool.stdout?.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      tool.kill();
      return;
    }
    chunks.push(chunk);
  });
  if (tool.stdin) {
    // A tool that exits before reading its input closes the pipe: its exit status says why, not EPIPE.
    tool.stdin.on("error", () => undefined);
    tool.stdin.end(options.input);
  }
  const exit = await tool.exit;
  if (size > limit) throw new Error(`${options.command}: output larger than ${limit} bytes`);
  if (!exit.ok) throw toError(exit);
  return Buffer.concat(chunks).toString("utf8");
}

/** A classification of a tool failure by its stderr; adapters supply one per tool family. */
export type FailureClassifier = (stderr: string) => { code: ErrorCode; hint: string } | undefined;

/**
 * The HavenError for a failed tool: CANCELLED when the run was aborted, the classifier's verdict
 * (CREDENTIALS, ...) when it recognises the stderr, SOURCE_FAILED otherwise. The message carries the
 * tool's (scrubbed) stderr, which is where the reason is.
 */
export function toolError(
  tool: string,
  exit: ToolExit,
  classify?: FailureClassifier,
  fallbackHint = `read ${tool}'s error above; run \`haven doctor\` to check the target`,
): HavenError {
  if (exit.aborted) return new HavenError("CANCELLED", `${tool} was stopped: the run was cancelled`);
  const how = exit.spawnError
    ? "could not start"
    : exit.timedOut
      ? "timed out"
      : exit.signal
        ? `was killed by ${exit.signal}`
        : `failed with exit code ${exit.code}`;
  const stderr = withholdRowData(exit.stderr.trim());
  const message = stderr ? `${tool} ${how}: ${stderr}` : `${tool} ${how}`;
  if (exit.spawnError) {
    return new HavenError("PERMANENT", message, {
      hint: `install ${tool} (or put it on PATH) on this machine`,
    });
  }
  const verdict = classify?.(stderr);
  return new HavenError(verdict?.code ?? "SOURCE_FAILED", message, { hint: verdict?.hint ?? fallbackHint });
}

/**
 * An environment for a tool: the parent's environment without the variables that start with any of
 * `dropPrefixes` (so an operator's PGPASSWORD or PGDATABASE cannot redirect a dump), plus `extra`.
 */
export function toolEnv(
  dropPrefixes: readonly string[],
  extra: Record<string, string | undefined>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!dropPrefixes.some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

const STDBUF_OUTPUT_BUFFER = "1M";
let stdbufFound: string | null | undefined;

/** coreutils' stdbuf on PATH (looked up once), or null (not Linux, not installed). */
function stdbufPath(): string | null {
  stdbufFound ??= whichSync("stdbuf");
  return stdbufFound;
}

/**
 * The absolute path of `command` on PATH (`pathVariable`, default this process's), or null. A local
 * access() per PATH entry: microseconds, so spawnTool can ask it synchronously.
 */
export function whichSync(command: string, pathVariable = process.env.PATH): string | null {
  const candidates = command.includes("/")
    ? [command]
    : (pathVariable ?? "")
        .split(delimiter)
        .filter((dir) => dir !== "")
        .map((dir) => join(dir, command));
  return candidates.find(isExecutable) ?? null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** How long a tool's version is reused: a run's probe and its backup ask within a second. */
const TOOL_VERSION_TTL_MS = 60_000;
const toolVersions = new Map<string, { text: string; at: number }>();

/**
 * The first line of `command --version`. Reused for a minute: Debian's pg_dump is a Perl wrapper that
 * takes ~0.1 s to answer, and a backup asked twice before its first byte. An upgraded tool is seen
 * within the minute.
 */
export async function toolVersion(command: string, signal?: AbortSignal): Promise<string> {
  const key = `${command}\0${process.env.PATH ?? ""}`;
  const known = toolVersions.get(key);
  if (known && Date.now() - known.at < TOOL_VERSION_TTL_MS) return known.text;
  const out = await runTool({ command, args: ["--version"], signal, timeoutMs: 15_000 });
  const text = out.split("\n")[0]?.trim() ?? "";
  toolVersions.set(key, { text, at: Date.now() });
  return text;
}

/**
 * A private temporary directory (mode 0700) for files handed to a tool: credentials (0600) and, for
 * SQLite, the consistent copy. `remove()` deletes it and is idempotent; call it in a `finally`.
 */
export class PrivateDir {
  private removed = false;

  private constructor(readonly path: string) {}

  static async create(prefix: string, parent: string = tmpdir()): Promise<PrivateDir> {
    // mkdtemp creates the directory with mode 0700.
    return new PrivateDir(await mkdtemp(join(parent, `${prefix}-`)));
  }

  /** Writes a file readable by this user only and returns its path. */
  async writeSecretFile(name: string, content: string): Promise<string> {
    const path = join(this.path, name);
    await writeFile(path, content, { mode: 0o600, flag: "wx" });
    return path;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await rm(this.path, { recursive: true, force: true });
  }
}

/**
 * Pipes `input` (a stream and the transforms it passes through) into a tool's stdin and waits for
 * both. When the input fails (integrity, decryption, a cancelled run) the tool is killed, so it never
 * finishes on a truncated stream, and the input's error is thrown, however the tool then ended: killed, or exiting on its own on the statement cut
 * off when its stdin closed first. Only a broken pipe means the tool failed first; then, and when
 * the input was fine, the tool's exit is returned for the caller to judge.
 */
export async function feedTool(tool: ToolProcess, ...input: [Readable, ...Transform[]]): Promise<ToolExit> {
  if (!tool.stdin) throw new Error(`${tool.command} was started without a stdin pipe`);
  // Killed before the pipeline closes its stdin: to the tool a closed stdin is the end of a complete
  // input, and pg_restore would commit its transaction (mysql its last statements) on it, even when
  // the input failed only at its very end (the plain stream's sha256). These listeners come first.
  for (const stream of input) stream.once("error", () => tool.kill());
  const fed = pipeline([...input, tool.stdin]).then(
    () => undefined,
    (error: unknown) => {
      tool.kill();
      return error;
    },
  );
  const [feedError, exit] = await Promise.all([fed, tool.exit]);
  if (feedError && (exit.ok || exit.signal || !isBrokenPipe(feedError))) throw feedError as Error;
  return exit;
}

/** The pipe into a tool broke because the tool went away (its exit status then says why). */
function isBrokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_PREMATURE_CLOSE";
}

/** Counts the bytes that pass through (restores report how much they consumed). */
export class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
