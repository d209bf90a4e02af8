/**
 * sha256 on a worker thread. A backup hashes every byte two or three times (each file for the
 * index, the plain stream, the stored object); on the main thread that was a quarter of its time,
 * while the main thread is what limits throughput. Here the bytes are copied into 1 MiB batches
 * (a copy costs ~1/15 of hashing them) that are transferred to one worker thread, which hashes them
 * while the main thread goes on. The batch buffers come back and are reused, so memory stays at
 * (MAX_IN_FLIGHT + 1) MiB whatever the data size.
 *
 * Bytes of one session are hashed in the order given; sessions are independent. When the worker
 * dies, every session that had bytes on it fails (digests reject, updates throw) and the next
 * sessions start on a new thread: a session is never continued elsewhere, where its digest would
 * silently cover only part of its bytes.
 */
import { Worker } from "node:worker_threads";
import { HavenError, THREAD_FAILURE_HINT } from "./errors";

const BATCH_BYTES = 1 << 20;
/** Batches sent and not yet hashed before callers are asked to wait (`room()`). */
const MAX_IN_FLIGHT = 4;
/** One-shot digests wait this long for more bytes to share their batch (fewer messages). */
const ONE_SHOT_FLUSH_MS = 1;

/**
 * The worker's whole program. It is given as source (eval) rather than as a file so that it runs the
 * same from dist/ and from the TypeScript sources under the test runner, which has no loader for
 * worker files.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const sessions = new Map();
function session(id) {
  let hash = sessions.get(id);
  if (hash === undefined) { hash = createHash("sha256"); sessions.set(id, hash); }
  return hash;
}
parentPort.on("message", ({ buffer, segments, finals, drops }) => {
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < segments.length; i += 3) session(segments[i]).update(bytes.subarray(segments[i + 1], segments[i + 2]));
  const digests = [];
  for (const id of finals) { digests.push(id, session(id).digest("hex")); sessions.delete(id); }
  for (const id of drops) sessions.delete(id);
  parentPort.postMessage({ buffer, digests }, [buffer]);
});
`;

interface Batch {
  buffer: ArrayBuffer;
  bytes: Uint8Array;
  used: number;
  /** Flat triples: session id, start, end. */
  segments: number[];
  finals: number[];
  drops: number[];
}

interface Reply {
  buffer: ArrayBuffer;
  /** Flat pairs: session id, hex digest. */
  digests: Array<number | string>;
}

interface Pending {
  resolve: (hex: string) => void;
  reject: (error: Error) => void;
}

export class HashThread {
  readonly #source: string;
  #worker: Worker | undefined;
  /** Set for good when the worker died: this thread's sessions lost state and cannot go on. */
  #failure: HavenError | undefined;
  #batch: Batch | undefined;
  readonly #spare: ArrayBuffer[] = [];
  #inFlight = 0;
  readonly #digests = new Map<number, Pending>();
  #roomWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #nextId = 1;

  /** `source` is the worker's program; tests give one that fails. */
  constructor(source = WORKER_SOURCE) {
    this.#source = source;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  newSession(): number {
    return this.#nextId++;
  }

  update(id: number, data: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    let offset = 0;
    while (offset < data.length) {
      const batch = this.#current();
      const n = Math.min(BATCH_BYTES - batch.used, data.length - offset);
      batch.bytes.set(data.subarray(offset, offset + n), batch.used);
      const s = batch.segments;
      const last = s.length - 3;
      if (last >= 0 && s[last] === id && s[last + 2] === batch.used) s[last + 2] = batch.used + n;
      else s.push(id, batch.used, batch.used + n);
      batch.used += n;
      offset += n;
      if (batch.used === BATCH_BYTES) this.#send();
    }
  }

  /** The session's digest. `now` sends at once; otherwise the batch may wait ONE_SHOT_FLUSH_MS to fill. */
  finish(id: number, now: boolean): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const promise = new Promise<string>((resolve, reject) => this.#digests.set(id, { resolve, reject }));
    this.#current().finals.push(id);
    if (now) this.#send();
    else this.#flushTimer ??= setTimeout(() => this.#send(), ONE_SHOT_FLUSH_MS);
    return promise;
  }

  drop(id: number): void {
    if (this.#failure) return;
    this.#current().drops.push(id);
  }

  /** Null when the worker can take more now; otherwise resolves once it can. */
  room(): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#inFlight < MAX_IN_FLIGHT) return null;
    return new Promise((resolve, reject) => this.#roomWaiters.push({ resolve, reject }));
  }

  #current(): Batch {
    if (this.#batch === undefined) {
      const buffer = this.#spare.pop() ?? new ArrayBuffer(BATCH_BYTES);
      this.#batch = { buffer, bytes: new Uint8Array(buffer), used: 0, segments: [], finals: [], drops: [] };
    }
    return this.#batch;
  }

  #send(): void {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    const worker = this.#ensureWorker();
    this.#inFlight++;
    worker.ref();
    worker.postMessage(
      { buffer: batch.buffer, segments: batch.segments, finals: batch.finals, drops: batch.drops },
      [batch.buffer],
    );
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(this.#source, { eval: true, name: "haven-sha256" });
    worker.on("message", (reply: Reply) => this.#received(reply));
    worker.on("error", (error) => this.#failed(worker, error));
    worker.on("exit", (code) => this.#failed(worker, new Error(`the hashing thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #received(reply: Reply): void {
    this.#inFlight--;
    this.#spare.push(reply.buffer);
    for (let i = 0; i < reply.digests.length; i += 2) {
      const id = reply.digests[i] as number;
      const pending = this.#digests.get(id);
      this.#digests.delete(id);
      pending?.resolve(reply.digests[i + 1] as string);
    }
    if (this.#inFlight < MAX_IN_FLIGHT) {
      const waiters = this.#roomWaiters;
      this.#roomWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
    // An idle worker must not keep the process alive; a busy one must (someone awaits its answer).
    if (this.#inFlight === 0) this.#worker?.unref();
  }

  /** Ends the worker thread; call when idle. A later send starts a new one. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #failed(worker: Worker, cause: Error): void {
    if (this.#worker !== worker || this.#failure) return;
    const error = new HavenError("TRANSIENT", `sha256 could not be computed: ${cause.message}`, {
      cause,
      hint: THREAD_FAILURE_HINT,
    });
    this.#failure = error;
    this.#batch = undefined;
    this.#spare.length = 0;
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    for (const pending of this.#digests.values()) pending.reject(error);
    this.#digests.clear();
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}

let shared: HashThread | undefined;
function thread(): HashThread {
  if (shared === undefined || shared.failed) shared = new HashThread();
  return shared;
}

/**
 * Ends the shared hashing thread (the next digest starts a new one). For the test runner, which loads
 * this module afresh for each test file: every idle thread left behind is unref'd but still joined at
 * exit, and keeps its file's whole module graph in memory.
 */
export async function closeHashThread(): Promise<void> {
  const current = shared;
  shared = undefined;
  await current?.close();
}

/** An incremental sha256 computed off the main thread. `update` copies, so callers may reuse buffers. */
export class Sha256 {
  readonly #thread: HashThread;
  readonly #id: number;
  #state: "open" | "finished" | "dropped" = "open";

  constructor(hashThread: HashThread = thread()) {
    this.#thread = hashThread;
    this.#id = hashThread.newSession();
  }

  update(data: Uint8Array): void {
    if (this.#state !== "open") throw new Error("Sha256.update after digest() or discard()");
    this.#thread.update(this.#id, data);
  }

  /** Null when more bytes may be given now; otherwise resolves when they may (backpressure). */
  room(): Promise<void> | null {
    return this.#thread.room();
  }

  /**
   * Hex digest of everything given; call once. With `batched`, the bytes may wait a millisecond to
   * share a batch with others (many small one-shot digests) instead of being sent at once.
   */
  digest(options: { batched?: boolean } = {}): Promise<string> {
    if (this.#state !== "open") throw new Error("Sha256.digest called twice or after discard()");
    this.#state = "finished";
    return this.#thread.finish(this.#id, options.batched !== true);
  }

  /** Abandons the session (a stream torn down mid-way), freeing its state in the worker. */
  discard(): void {
    if (this.#state !== "open") return;
    this.#state = "dropped";
    this.#thread.drop(this.#id);
  }
}

/**
 * Hex sha256 of one buffer, batched with other small ones; the promise settles within a few
 * milliseconds. Check `sha256Room()` between calls so a fast producer cannot queue without bound.
 */
export function sha256Of(data: Uint8Array): Promise<string> {
  const hash = new Sha256();
  hash.update(data);
  return hash.digest({ batched: true });
}

/** Null when the hashing thread can take more now; otherwise resolves when it can. */
export function sha256Room(): Promise<void> | null {
  return thread().room();
}
