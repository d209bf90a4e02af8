/** Stream sources and sinks for the storage tests. */
import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";

/** A known payload: its bytes as chunks, and their sha256. */
export function payload(
  size: number,
  chunkSize = 64 * 1024,
): { chunks: Buffer[]; sha256: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  const chunks: Buffer[] = [];
  for (let at = 0; at < size; at += chunkSize)
    chunks.push(bytes.subarray(at, Math.min(size, at + chunkSize)));
  return { chunks, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

export interface GeneratedBody {
  stream: Readable;
  /** sha256 of the bytes emitted so far; final once the stream ended. */
  sha256(): string;
  emitted(): number;
}

/**
 * `size` bytes made from one random 1 MiB block (so generating allocates nothing per chunk), hashed
 * as they are emitted. With `failAt`, the stream errors with `error` once that many bytes are out;
 * `size: Infinity` never ends.
 */
export function generatedBody(size: number, options: { failAt?: number; error?: Error } = {}): GeneratedBody {
  const block = randomBytes(1 << 20);
  const hash = createHash("sha256");
  let emitted = 0;
  let digest: string | undefined;
  const stream = new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (options.failAt !== undefined && emitted >= options.failAt) {
        this.destroy(options.error ?? new Error("the source failed half way"));
        return;
      }
      if (emitted >= size) {
        digest = hash.digest("hex");
        this.push(null);
        return;
      }
      const offset = emitted % block.length;
      const chunk = block.subarray(
        offset,
        Math.min(block.length, offset + 256 * 1024, offset + (size - emitted)),
      );
      emitted += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return {
    stream,
    sha256: () => digest ?? hash.copy().digest("hex"),
    emitted: () => emitted,
  };
}

/** Reads a stream to its end: its bytes (when `keep`), count and sha256. */
export async function drain(
  stream: Readable,
  keep = true,
): Promise<{ bytes: Buffer; size: number; sha256: string }> {
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    size += buffer.length;
    if (keep) chunks.push(buffer);
  }
  return { bytes: Buffer.concat(chunks), size, sha256: hash.digest("hex") };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Log lines written by a pino logger pointed at this sink, parsed. */
export class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString().split("\n"))
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  }

  messages(): string[] {
    return this.lines.map((line) => String(line.msg));
  }
}

/**
 * Peak growth of heap + array buffers (where stream chunks and upload parts live) while `run` runs,
 * sampled every 10 ms.
 */
export async function peakMemoryGrowth<T>(run: () => Promise<T>): Promise<{ result: T; peakBytes: number }> {
  const baseline = process.memoryUsage();
  const base = baseline.heapUsed + baseline.arrayBuffers;
  let peak = 0;
  const sample = () => {
    const now = process.memoryUsage();
    peak = Math.max(peak, now.heapUsed + now.arrayBuffers - base);
  };
  const timer = setInterval(sample, 10);
  try {
    const result = await run();
    sample();
    return { result, peakBytes: peak };
  } finally {
    clearInterval(timer);
  }
}
