import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";

export const run = promisify(execFile);

/** A temp directory with a random suffix, removed by the returned cleanup. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "haven-age-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Splits `bytes` into pieces of `size` (the last one shorter), to exercise chunk reassembly. */
export function* pieces(bytes: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

export interface StreamOutcome {
  output: Buffer;
  error: unknown;
  /** Whether the transform emitted 'end', i.e. claimed a clean finish. */
  ended: boolean;
}

/** Runs `input` through `transform` in pieces of `pieceSize`, collecting what comes out and how it ended. */
export async function runThrough(
  transform: Transform,
  input: Buffer,
  pieceSize = 7001,
): Promise<StreamOutcome> {
  const chunks: Buffer[] = [];
  let ended = false;
  transform.on("end", () => {
    ended = true;
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  let error: unknown = null;
  try {
    await pipeline(Readable.from(pieces(input, pieceSize)), transform, sink);
  } catch (caught) {
    error = caught;
  }
  return { output: Buffer.concat(chunks), error, ended };
}
