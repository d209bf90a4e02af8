/**
 * Seals age payload chunks on a worker thread. ChaCha20-Poly1305 costs ~0.6 CPU-s per GB here, plus
 * a cipher object per 64 KiB chunk; on the main thread, which also reads, archives and compresses,
 * that was a tenth of an encrypted backup's time. Plaintext is copied into 1 MiB batches (16 chunks)
 * that are transferred to the thread and come back for reuse; each batch's ciphertext comes back as
 * one buffer, in the order sent. Memory stays at a few MiB (MAX_IN_FLIGHT batches each way, plus what waits for the reader).
 *
 * The chunk format is payload.ts's (sealChunk): the thread runs the same construction, and tests
 * check its output against the age CLI and against our own decryptor.
 */
import { Worker } from "node:worker_threads";
import { HavenError, THREAD_FAILURE_HINT } from "../lib/errors";
import { CHUNK_SIZE, COUNTER_BYTES, MAX_CHUNKS } from "./payload";
import { NONCE_SIZE, TAG_SIZE } from "./primitives";

export const CHUNKS_PER_BATCH = 16;
export const BATCH_BYTES = CHUNKS_PER_BATCH * CHUNK_SIZE;
/** Batches sent and not yet sealed before the writer is asked to wait. */
const MAX_IN_FLIGHT = 2;

/** The thread's whole program (eval'd, so it runs the same from dist/ and under the test runner). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createCipheriv } = require("node:crypto");
const key = Buffer.from(workerData.key);
const CHUNK = ${CHUNK_SIZE}, TAG = ${TAG_SIZE}, NONCE = ${NONCE_SIZE}, COUNTER_BYTES = ${COUNTER_BYTES};
const nonce = Buffer.alloc(NONCE);
parentPort.on("message", ({ plain, length, counter, final }) => {
  const input = Buffer.from(plain, 0, length);
  const chunks = final ? Math.max(1, Math.ceil(length / CHUNK)) : length / CHUNK;
  const output = Buffer.allocUnsafeSlow(length + chunks * TAG);
  let at = 0;
  for (let i = 0; i < chunks; i++) {
    nonce.fill(0);
    nonce.writeUIntBE(counter + i, NONCE - 1 - COUNTER_BYTES, COUNTER_BYTES);
    nonce[NONCE - 1] = final && i === chunks - 1 ? 1 : 0;
    const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    at += cipher.update(input.subarray(i * CHUNK, Math.min(length, (i + 1) * CHUNK))).copy(output, at);
    cipher.final();
    at += cipher.getAuthTag().copy(output, at);
  }
  const out = output.buffer;
  parentPort.postMessage({ plain, out }, [plain, out]);
});
`;

interface Sealed {
  plain: ArrayBuffer;
  out: ArrayBuffer;
}

/**
 * One payload's sealing thread. `seal` takes plaintext slices (a whole number of chunks, or the final
 * rest) and returns at once; `onSealed` receives the ciphertext of each batch in order.
 */
export class SealThread {
  readonly #worker: Worker;
  readonly #onSealed: (ciphertext: Buffer) => void;
  readonly #onFailed: (error: Error) => void;
  readonly #spare: ArrayBuffer[] = [];
  #inFlight = 0;
  #counter = 0;
  #closed = false;
  #failure: Error | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(
    key: Uint8Array,
    handlers: { onSealed: (ciphertext: Buffer) => void; onFailed: (error: Error) => void },
    source = WORKER_SOURCE,
  ) {
    this.#onSealed = handlers.onSealed;
    this.#onFailed = handlers.onFailed;
    this.#worker = new Worker(source, { eval: true, name: "haven-age-seal", workerData: { key } });
    this.#worker.on("message", (reply: Sealed) => this.#received(reply));
    this.#worker.on("error", (error) => this.#fail(error));
    this.#worker.on("exit", (code) => this.#fail(new Error(`the encryption thread exited (code ${code})`)));
  }

  /**
   * Sends `pieces` (`length` bytes in all, at most BATCH_BYTES) to be sealed as the next chunks. Unless
   * `final`, `length` must be a whole number of chunks; with `final`, its last chunk is the payload's last.
   */
  seal(pieces: readonly Buffer[], length: number, final: boolean): void {
    const chunks = final ? Math.max(1, Math.ceil(length / CHUNK_SIZE)) : length / CHUNK_SIZE;
    if (length > BATCH_BYTES || !Number.isInteger(chunks)) throw new RangeError(`seal(${length}, ${final})`);
    if (this.#counter + chunks > MAX_CHUNKS) throw new RangeError("age payload chunk counter overflow");
    const plain = this.#spare.pop() ?? new ArrayBuffer(BATCH_BYTES);
    const bytes = new Uint8Array(plain);
    let at = 0;
    for (const piece of pieces) {
      bytes.set(piece, at);
      at += piece.length;
    }
    this.#inFlight++;
    this.#worker.postMessage({ plain, length, counter: this.#counter, final }, [plain]);
    this.#counter += chunks;
  }

  /** Null when another batch may be sent now; otherwise resolves when one may. */
  room(): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#inFlight < MAX_IN_FLIGHT) return null;
    return this.#wait();
  }

  /** Resolves once every batch sent has come back sealed. */
  async drain(): Promise<void> {
    while (this.#inFlight > 0) await this.#wait();
    if (this.#failure) throw this.#failure;
  }

  #wait(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): void {
    this.#closed = true;
    void this.#worker.terminate();
  }

  #received(reply: Sealed): void {
    this.#inFlight--;
    this.#spare.push(reply.plain);
    this.#onSealed(Buffer.from(reply.out));
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #fail(cause: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new HavenError("TRANSIENT", `encryption failed: ${cause.message}`, {
      cause,
      hint: THREAD_FAILURE_HINT,
    });
    this.#failure = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
    this.#onFailed(error);
  }
}
