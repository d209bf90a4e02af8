/**
 * Starts writing a file's pages to disk while it is still being written. A put ends with an fsync,
 * and the kernel's own writeback starts only when gigabytes are dirty, so without this the whole
 * object is flushed in that final fsync, after the last byte, with nothing else to overlap it
 * (measured here: ~0.15 s for 245 MB, ~0.5 s for 900 MB). An fdatasync every few tens of MB moves
 * that work under the rest of the backup. Durability still rests on the final fsync alone: an early
 * flush that fails is ignored here, and the final one reports the error.
 */
import type { FileHandle } from "node:fs/promises";

const EVERY_BYTES = 32 << 20;

export class EarlyWriteback {
  #flushedAt = 0;
  #inFlight = false;

  constructor(private readonly handle: FileHandle) {}

  /** Called with the bytes written so far; at most one flush runs at a time. */
  wrote(total: number): void {
    if (this.#inFlight || total - this.#flushedAt < EVERY_BYTES) return;
    this.#flushedAt = total;
    this.#inFlight = true;
    // FileHandle.close waits for this to finish, so the put's own close cannot overtake it.
    this.handle
      .datasync()
      .catch(() => undefined)
      .finally(() => (this.#inFlight = false));
  }
}
