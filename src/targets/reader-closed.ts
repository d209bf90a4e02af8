/**
 * A producer (tar walk, dump tool) whose reader closed the stream early reports it, but that is a
 * consequence, never the cause: the reader (compression, encryption, the upload) failed first and has
 * its own error. The engine reports the producer's error over the upload's only when it is not one of
 * these; before, a bucket that went away mid-upload failed the run as SOURCE_FAILED ("the tar stream
 * was closed before its end"), which blames the source and is not retried.
 */
const closedByReader = new WeakSet<Error>();

/** Marks `error` as the producer's report of a reader that closed its stream early. */
export function readerClosedError<E extends Error>(error: E): E {
  closedByReader.add(error);
  return error;
}

/** True when `error` only says that the producer's reader closed the stream early. */
export function isReaderClosedError(error: unknown): boolean {
  return error instanceof Error && closedByReader.has(error);
}
