/**
 * Target hooks and the child-process helper every database adapter is built on: exit statuses,
 * timeouts that kill a whole process group, cancellation, scrubbed stderr, output streams that never
 * end cleanly for a failed tool, private credential files; and the adapter registry.
 */
import { once } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import type { TargetConfig } from "../../src/config/types";
import { HavenError, isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { runHook } from "../../src/targets/hooks";
import { createAdapter } from "../../src/targets";
import {
  PrivateDir,
  feedTool,
  runTool,
  settledOutput,
  spawnTool,
  toolEnv,
  toolError,
} from "../../src/targets/process";
import { collect, commonTargetFields, testRun } from "../helpers/db";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-hooks-test-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const never = () => new AbortController().signal;

/** True while `pid` is a live (not zombie) process. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits (polling /proc: a foreign process's death has no event) until `pid` is gone. */
async function gone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe("runHook", () => {
  test("runs a shell command with the given environment and returns its output", async () => {
    const result = await runHook('echo "quiescing $HAVEN_TARGET"; echo to-stderr >&2', {
      timeoutMs: 10_000,
      signal: never(),
      env: { HAVEN_TARGET: "orders-db" },
      logger: testRun().logger,
      name: "before",
    });
    expect(result.output).toBe("quiescing orders-db\nto-stderr");
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  test("a failing hook is SOURCE_FAILED with its exit code, output and a hint", async () => {
    const error: unknown = await runHook("echo cannot flush caches; exit 3", {
      timeoutMs: 10_000,
      signal: never(),
      logger: testRun().logger,
      name: "before",
    }).catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toBe("before hook failed with exit code 3: cannot flush caches");
    expect(isHavenError(error) && error.hint).toMatch(/hooks\.before/);
  });

  test("a hook that times out is killed with everything it started", async () => {
    const pidFile = join(dir, "sleep.pid");
    const started = Date.now();
    const error: unknown = await runHook(`sleep 60 & echo $! > ${pidFile}; wait`, {
      timeoutMs: 300,
      signal: never(),
      logger: testRun().logger,
      name: "before",
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/^before hook timed out after 300ms/);
    expect(isHavenError(error) && error.hint).toMatch(/hooks\.timeout/);
    const sleeper = Number(await readFile(pidFile, "utf8"));
    expect(await gone(sleeper)).toBe(true);
  });

  test("a hook process that ignores SIGTERM is killed at the end of the grace period, after its shell died", async () => {
    const pidFile = join(dir, "stubborn.pid");
    const error: unknown = await runHook(
      `(sh -c 'trap "" TERM; echo $$ > ${pidFile}; exec sleep 60') >/dev/null 2>&1`,
      { timeoutMs: 300, signal: never(), logger: testRun().logger, name: "before" },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^before hook timed out after 300ms/);
    const stubborn = Number(await readFile(pidFile, "utf8"));
    expect(await gone(stubborn)).toBe(true);
  });

  test("a hook that leaves a process in the background holding its output ends when the shell ends; the process lives on", async () => {
    const doneFile = join(dir, "resumed");
    const started = Date.now();
    // The background job inherits stderr, outlives the shell and writes to it later (an after-hook
    // that restarts an app once it settled): it must not be killed by a closed pipe.
    const result = await runHook(`echo starting; (sleep 3; echo resuming >&2; echo ok > ${doneFile}) &`, {
      timeoutMs: 20_000,
      signal: never(),
      logger: testRun().logger,
      name: "after",
    });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.output).toContain("starting");
    for (let i = 0; i < 100 && !(await readFile(doneFile, "utf8").catch(() => "")); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await readFile(doneFile, "utf8")).toBe("ok\n");
  });

  test("cancelling the run stops the hook: CANCELLED", async () => {
    const controller = new AbortController();
    const hook = runHook("echo started; sleep 60", {
      timeoutMs: 60_000,
      signal: controller.signal,
      logger: testRun().logger,
    });
    controller.abort();
    await expect(hook).rejects.toMatchObject({ code: "CANCELLED" });
  });
});

describe("child-process helper", () => {
  test("stderr is kept as a bounded tail with secrets scrubbed", async () => {
    const secret = new Secret("hunter2-very-secret");
    const tool = spawnTool({
      command: "/bin/sh",
      args: ["-c", 'head -c 100000 /dev/zero | tr "\\0" x >&2; echo " login failed for $PW" >&2; exit 2'],
      env: { ...process.env, PW: secret.reveal() },
      secrets: [secret],
      stderrTailBytes: 1024,
    });
    tool.stdout?.resume();
    const exit = await tool.exit;
    expect(exit).toMatchObject({ ok: false, code: 2, aborted: false, timedOut: false });
    expect(exit.stderr.length).toBeLessThanOrEqual(1025);
    expect(exit.stderr).toMatch(/login failed for \[redacted\]\n$/);
    const error = toolError("sh", exit);
    expect(error.code).toBe("SOURCE_FAILED");
    expect(error.message).not.toContain("hunter2");
  });

  test("a tool that exits non-zero after writing everything still fails its output stream", async () => {
    const tool = spawnTool({ command: "/bin/sh", args: ["-c", "echo all the data; exit 1"] });
    const body = settledOutput(tool, (exit) => toolError("sh", exit));
    await expect(collect(body)).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: "sh failed with exit code 1",
    });
  });

  test("a tool that exits 0 ends its output stream with every byte", async () => {
    const tool = spawnTool({ command: "/bin/sh", args: ["-c", "head -c 3000000 /dev/zero"] });
    const body = settledOutput(tool, (exit) => toolError("sh", exit));
    expect((await collect(body)).length).toBe(3_000_000);
  });

  test("a consumer that gives up kills the producer", async () => {
    const tool = spawnTool({ command: "/bin/sh", args: ["-c", "exec cat /dev/zero"] });
    const body = settledOutput(tool, (exit) => toolError("cat", exit));
    await once(body, "readable");
    body.destroy();
    const exit = await tool.exit;
    expect(exit.ok).toBe(false);
    expect(exit.signal ?? exit.code).toBeTruthy();
  });

  test("a missing command is PERMANENT with an install hint", async () => {
    const error: unknown = await runTool({ command: "haven-no-such-tool", args: [] }).catch(
      (e: unknown) => e,
    );
    expect(isHavenError(error, "PERMANENT")).toBe(true);
    expect(isHavenError(error) && error.hint).toMatch(/install haven-no-such-tool/);
  });

  test("a large-output tool runs under stdbuf with 1 MiB stdio writes, in its own pid", async () => {
    const tool = spawnTool({
      command: "/bin/sh",
      args: ["-c", 'echo "$$ $_STDBUF_O"'],
      largeOutput: true,
    });
    const output = (await collect(settledOutput(tool, (exit) => toolError("sh", exit)))).toString();
    // stdbuf hands the size to its preload library in bytes.
    expect(output.trim()).toBe(`${tool.pid} ${1 << 20}`);
  });

  test("a missing large-output tool is still PERMANENT with an install hint", async () => {
    const tool = spawnTool({ command: "haven-no-such-dumper", args: [], largeOutput: true });
    const exit = await tool.exit;
    expect(exit.spawnError).toBe("haven-no-such-dumper: command not found on PATH");
    const error = toolError("haven-no-such-dumper", exit);
    expect(isHavenError(error, "PERMANENT")).toBe(true);
    expect(error.hint).toMatch(/install haven-no-such-dumper/);
  });

  describe("feeding a restore tool (feedTool)", () => {
    const failedInput = new HavenError("INTEGRITY", "sha256 of the plain stream differs");

    test("an input that fails is the error even when the tool then exits on its own, not killed", async () => {
      // Its stdin closes with the failed input; the tool ignores the kill and exits 3 by itself at
      // EOF, as a client does on the statement the closed pipe cut off.
      const tool = spawnTool({
        command: "sh",
        args: ["-c", "trap '' TERM; echo ready; cat >/dev/null; exit 3"],
        stdin: "pipe",
      });
      const input = new Readable({ read() {} });
      input.push("partial");
      // Only once it ignores SIGTERM: the kill comes the moment the input fails.
      tool.stdout?.once("data", () => input.destroy(failedInput));
      tool.stdout?.resume();
      await expect(feedTool(tool, input, new PassThrough())).rejects.toBe(failedInput);
      expect(await tool.exit).toMatchObject({ code: 3, signal: null });
    });

    test("a tool that goes away first breaks the pipe: its exit is returned to explain it", async () => {
      const tool = spawnTool({ command: "sh", args: ["-c", "exit 4"], stdin: "pipe", stdout: "ignore" });
      const endless = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024));
        },
      });
      const exit = await feedTool(tool, endless);
      expect(exit).toMatchObject({ ok: false, code: 4 });
    });

    test("an input that fails while the tool still reads kills the tool and is the error", async () => {
      // It reads to the end, then lingers: only the kill ends it.
      const tool = spawnTool({
        command: "sh",
        args: ["-c", "cat >/dev/null; exec sleep 5"],
        stdin: "pipe",
        stdout: "ignore",
      });
      const input = new Readable({ read() {} });
      input.push("partial");
      setImmediate(() => input.destroy(failedInput));
      await expect(feedTool(tool, input)).rejects.toBe(failedInput);
      expect((await tool.exit).signal).toBe("SIGTERM");
    });

    test("a failed input kills the tool before its stdin closes, so the tool never takes it as complete", async () => {
      const marker = join(dir, `committed-${Date.now()}`);
      // At EOF this tool "commits" (writes the marker): a complete input would end this way.
      const tool = spawnTool({
        command: "sh",
        args: ["-c", `cat >/dev/null; echo done > ${marker}`],
        stdin: "pipe",
        stdout: "ignore",
      });
      const input = new Readable({ read() {} });
      input.push("all of the input, found damaged at its end");
      setImmediate(() => input.destroy(failedInput));
      await expect(feedTool(tool, input, new PassThrough())).rejects.toBe(failedInput);
      expect((await tool.exit).signal).toBe("SIGTERM");
      await expect(stat(marker)).rejects.toMatchObject({ code: "ENOENT" });
    });

    test("a clean input returns the tool's exit", async () => {
      const tool = spawnTool({ command: "wc", args: ["-c"], stdin: "pipe", stdout: "ignore" });
      await expect(feedTool(tool, Readable.from([Buffer.from("all of it")]))).resolves.toMatchObject({
        ok: true,
      });
    });
  });

  test("credential files are private and removed", async () => {
    const dirHandle = await PrivateDir.create("haven-test", dir);
    const file = await dirHandle.writeSecretFile("pass", "s3cret");
    expect((await stat(dirHandle.path)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await dirHandle.remove();
    await dirHandle.remove();
    await expect(stat(dirHandle.path)).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("tool environments drop inherited variables that could redirect a tool", () => {
    process.env.PGPASSWORD_TEST_ONLY = "x";
    try {
      const env = toolEnv(["PGPASSWORD_TEST"], { PGHOST: "db1", UNSET: undefined });
      expect(env.PGPASSWORD_TEST_ONLY).toBeUndefined();
      expect(env.PGHOST).toBe("db1");
      expect("UNSET" in env).toBe(false);
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      delete process.env.PGPASSWORD_TEST_ONLY;
    }
  });
});

describe("adapter registry", () => {
  test("creates the adapter of each target type without connecting to anything", () => {
    const common = commonTargetFields("t");
    const configs: TargetConfig[] = [
      { ...common, type: "files", path: dir, exclude: [], mountpoint: false, allowEmpty: false },
      { ...common, type: "postgres", database: "x", globals: false, rowCounts: "exact" },
      { ...common, type: "mysql", database: "x" },
      { ...common, type: "redis" },
      { ...common, type: "sqlite", path: join(dir, "x.db") },
    ];
    for (const config of configs) {
      const adapter = createAdapter(config, testRun().logger);
      expect(adapter.type).toBe(config.type);
      expect(adapter.name).toBe("t");
    }
  });
});
