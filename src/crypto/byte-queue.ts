/**
 * A FIFO of bytes kept as the buffers that arrived, so that splitting a stream into fixed-size chunks
 * copies nothing: `take` hands out slices of the original buffers.
 */
export class ByteQueue {
  #pieces: Buffer[] = [];
  /** Index of the first live piece: taking advances it instead of shifting the array (O(1), not O(n)). */
  #head = 0;
  #length = 0;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#pieces.push(bytes);
    this.#length += bytes.length;
  }

  /** Removes the first `count` bytes (at most `length`) and returns them as one or more slices. */
  take(count: number): Buffer[] {
    if (count > this.#length) throw new RangeError(`take(${count}) from a queue of ${this.#length} bytes`);
    const out: Buffer[] = [];
    let needed = count;
    while (needed > 0) {
      const head = this.#pieces[this.#head] as Buffer;
      if (head.length <= needed) {
        out.push(head);
        this.#head += 1;
        needed -= head.length;
      } else {
        out.push(head.subarray(0, needed));
        this.#pieces[this.#head] = head.subarray(needed);
        needed = 0;
      }
    }
    this.#length -= count;
    if (this.#head > 0 && this.#head * 2 >= this.#pieces.length) {
      this.#pieces = this.#pieces.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Like `take`, as one buffer (copies only when the bytes span several pieces). */
  takeContiguous(count: number): Buffer {
    const pieces = this.take(count);
    return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, count);
  }
}
