/**
 * Compression runs in a `zstd` child process: it uses the second core while Node archives and
 * uploads, and it is the same tool the manual recipe uses. gzip (zlib, in-process) when no zstd
 * binary is present.
 */
import { spawn, spawnSync } from "node:child_process";
import { Duplex, PassThrough } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { HavenError } from "../lib/errors";
import type { CompressionConfig } from "../config/types";

export type CompressionAlgorithm = CompressionConfig["algorithm"];

export interface CodecStream {
  stream: Duplex;
  /** Settles when the codec has finished; rejects if its process failed (even after a clean end). */
  finished: Promise<void>;
}

let zstdAvailable: boolean | undefined;

export function hasZstd(): boolean {
  zstdAvailable ??= spawnSync("zstd", ["--version"], { stdio: "ignore" }).status === 0;
  return zstdAvailable;
}

/** The algorithm a run really uses: zstd falls back to gzip where the binary is missing. */
export function effectiveAlgorithm(wanted: CompressionAlgorithm): CompressionAlgorithm {
  return wanted === "zstd" && !hasZstd() ? "gzip" : wanted;
}

export function extensionFor(algorithm: CompressionAlgorithm): string {
  return algorithm === "zstd" ? ".zst" : algorithm === "gzip" ? ".gz" : "";
}

export function createCompressor(config: CompressionConfig): CodecStream {
  const algorithm = effectiveAlgorithm(config.algorithm);
  if (algorithm === "zstd") return zstdProcess(["-q", `-${config.level}`, "-T0", "-c", "-"]);
  if (algorithm === "gzip") return inProcess(createGzip({ level: Math.min(config.level, 9) }));
  return inProcess(new PassThrough({ highWaterMark: 1 << 20 }));
}

export function createDecompressor(algorithm: CompressionAlgorithm): CodecStream {
  if (algorithm === "zstd") {
    if (!hasZstd()) {
      throw new HavenError("PERMANENT", "this snapshot is zstd-compressed and no zstd binary is on PATH", {
        hint: "install zstd (apt-get install zstd) on the machine that restores",
      });
    }
    return zstdProcess(["-q", "-d", "-c", "-"]);
  }
  if (algorithm === "gzip") return inProcess(createGunzip());
  return inProcess(new PassThrough({ highWaterMark: 1 << 20 }));
}

function inProcess(stream: Duplex): CodecStream {
  const finished = new Promise<void>((resolve, reject) => {
    stream.once("end", resolve);
    stream.once("error", reject);
    stream.once("close", () => resolve());
  });
  finished.catch(() => undefined);
  return { stream, finished };
}

function zstdProcess(args: string[]): CodecStream {
  const child = spawn("zstd", args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  const stream = Duplex.from({ writable: child.stdin, readable: child.stdout });
  const finished = new Promise<void>((resolve, reject) => {
    child.once("error", (error) =>
      reject(new HavenError("PERMANENT", `zstd could not start: ${error.message}`, { cause: error })),
    );
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new HavenError(
            "INTEGRITY",
            `zstd ${args.includes("-d") ? "decompression" : "compression"} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || "no message"}`,
          ),
        );
    });
  });
  finished.catch(() => undefined);
  // When the pipeline is torn down, make sure the child does not outlive it.
  stream.once("close", () => {
    if (child.exitCode === null && child.signalCode === null && stream.errored) child.kill("SIGKILL");
  });
  return { stream, finished };
}
