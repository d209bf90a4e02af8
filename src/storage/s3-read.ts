/**
 * The read side of the S3 backend: the response stream handed to callers, with network errors turned
 * into HavenErrors and the byte range checked against what was asked for. Some S3-compatible services
 * answer a range loosely (s3rver 3.7 serves "bytes=0-0" as the whole object); a reader must get
 * exactly the bytes it asked for or an error, never silently more.
 */
import { PassThrough, Transform, type Readable, type TransformCallback } from "node:stream";
import { HavenError } from "../lib/errors";

/** Read-side buffer between the HTTP response and the consumer. */
const READ_BUFFER = 1 << 20;

export interface ServedRange {
  /** The Content-Range header of the response, if any. */
  contentRange: string | undefined;
  contentLength: number | undefined;
}

/**
 * How many bytes of the response to pass on for `requested` (undefined: all of them). Throws when
 * the service served a range that does not start where asked.
 */
export function rangeLimit(
  requested: readonly [number, number],
  served: ServedRange,
  what: string,
): number | undefined {
  const [start, end] = requested;
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(served.contentRange ?? "");
  // No Content-Range: the service ignored the Range header and sent the object from byte 0.
  const servedStart = match ? Number(match[1]) : 0;
  const servedEnd = match
    ? Number(match[2])
    : served.contentLength === undefined
      ? undefined
      : served.contentLength - 1;
  if (servedStart !== start) {
    throw new HavenError(
      "PERMANENT",
      `${what}: asked for bytes ${start}-${end}, the S3 service sent ${served.contentRange ?? "the whole object"}`,
      { hint: "the S3 service does not implement byte ranges correctly; read whole objects from it" },
    );
  }
  return servedEnd === undefined || servedEnd > end ? end - start + 1 : undefined;
}

/**
 * Passes `source` on with backpressure; its errors become `mapError(error)`. With `limit`, exactly
 * that many bytes are passed on and the rest of the response is dropped. When the consumer destroys
 * the returned stream, the response is destroyed too, releasing the connection.
 */
export function relayResponse(
  source: Readable,
  mapError: (error: unknown) => Error,
  limit?: number,
): Readable {
  const out =
    limit === undefined ? new PassThrough({ highWaterMark: READ_BUFFER }) : new Limit(limit, source);
  const onError = (error: unknown) => out.destroy(mapError(error));
  source.on("error", onError);
  out.on("close", () => {
    if (!source.destroyed) {
      source.off("error", onError);
      source.on("error", () => undefined); // an aborted response may still report the abort
      source.destroy();
    }
  });
  source.pipe(out);
  return out;
}

/** Ends after `remaining` bytes and lets go of the source. */
class Limit extends Transform {
  #remaining: number;
  readonly #source: Readable;

  constructor(limit: number, source: Readable) {
    super({ highWaterMark: READ_BUFFER });
    this.#remaining = limit;
    this.#source = source;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#remaining <= 0) return callback();
    const part = chunk.length > this.#remaining ? chunk.subarray(0, this.#remaining) : chunk;
    this.#remaining -= part.length;
    callback(null, part);
    if (this.#remaining === 0) {
      this.#source.unpipe(this);
      this.end();
    }
  }
}
