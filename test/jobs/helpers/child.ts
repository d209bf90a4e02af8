/**
 * Runs a TypeScript file of the test tree in a child Node process, transformed by SWC like Jest does,
 * so that tests can run real separate Haven processes (two `serve` instances, a killed worker).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";

/** Registers a `.ts` require hook on @swc/core, then loads the file named by the first argument. */
const BOOTSTRAP = `
const { transformSync } = require("@swc/core");
const { readFileSync } = require("node:fs");
require.extensions[".ts"] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, "utf8"), {
    filename,
    sourceMaps: "inline",
    module: { type: "commonjs" },
    jsc: { target: "es2022", parser: { syntax: "typescript" } },
  });
  module._compile(code, filename);
};
require(require("node:path").resolve(process.argv[1]));
`;

export interface TsChild {
  process: ChildProcess;
  /** Everything the child wrote to stderr so far (its logs), for failure messages. */
  stderr(): string;
  /** Resolves with the first stdout line equal to `line`; rejects if the child exits first. */
  waitForLine(line: string): Promise<void>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnTsChild(file: string, env: Record<string, string>): TsChild {
  const child = spawn(process.execPath, ["-e", BOOTSTRAP, file], {
    cwd: join(__dirname, "..", "..", ".."),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    process: child,
    stderr: () => stderr,
    waitForLine(line) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (stdout.split("\n").includes(line)) {
            child.stdout?.off("data", check);
            resolve();
          }
        };
        child.stdout?.on("data", check);
        check();
        void exited.then(([code]) =>
          reject(new Error(`child exited with ${code} before "${line}":\n${stderr}`)),
        );
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}
