/** withRetry is pure control flow around a backend, so a scripted fake backend is enough here. */
import { PassThrough, Readable } from "node:stream";
import { HavenError } from "../../src/lib/errors";
import { createLogger } from "../../src/lib/logger";
import { backoffDelay, isUntouched, withRetry } from "../../src/storage/retry";
import type { IncompleteUpload, ObjectInfo, PutResult, StorageBackend } from "../../src/storage/types";
import { LogSink, collect } from "./streams";

const transient = () => new HavenError("TRANSIENT", "connection reset");
const permanent = () => new HavenError("PERMANENT", "no such bucket");
const info = (key: string): ObjectInfo => ({ key, size: 1, lastModified: new Date(0) });

/** Fails each operation with the queued errors first, then behaves. */
class ScriptedBackend implements StorageBackend {
  readonly name = "fake";
  readonly location = "fake://";
  readonly capabilities = { createOnly: true, objectLock: false };
  readonly calls: string[] = [];
  failures: Record<string, Error[]> = {};
  /** list: keys yielded before the next queued failure strikes, per attempt. */
  listBreaks: number[] = [];
  keys = ["a", "b", "c", "d", "e"];

  #fail(op: string): void {
    this.calls.push(op);
    const next = this.failures[op]?.shift();
    if (next) throw next;
  }

  async put(key: string, body: Readable): Promise<PutResult> {
    this.#fail("put-before-read");
    for await (const _ of body) this.#fail("put-after-read");
    return { ...info(key), sha256: "x" };
  }
  /** Like an async method: a failure is a rejection, never a synchronous throw. */
  #run<T>(op: string, value: () => T): Promise<T> {
    return Promise.resolve().then(() => {
      this.#fail(op);
      return value();
    });
  }

  get(key: string): Promise<Readable> {
    return this.#run("get", () => Readable.from([Buffer.from(key)]));
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.#run("stat", () => info(key));
  }
  async *list(): AsyncIterable<ObjectInfo> {
    this.calls.push("list");
    const breakAfter = this.listBreaks.shift();
    for (const [index, key] of this.keys.entries()) {
      if (index === breakAfter) throw transient();
      yield await Promise.resolve(info(key));
    }
  }
  remove(): Promise<void> {
    return this.#run("remove", () => undefined);
  }
  async *listIncomplete(): AsyncIterable<IncompleteUpload> {
    this.#fail("listIncomplete");
    yield await Promise.resolve({ key: "k", id: "1", startedAt: new Date(0) });
  }
  abortIncomplete(): Promise<void> {
    return this.#run("abortIncomplete", () => undefined);
  }
  probe(): Promise<void> {
    return this.#run("probe", () => undefined);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const fast = { baseDelayMs: 1, maxDelayMs: 2 };

test("TRANSIENT errors are retried up to the number of attempts, with a warning each time", async () => {
  const inner = new ScriptedBackend();
  inner.failures.stat = [transient(), transient()];
  const logs = new LogSink();
  const storage = withRetry(inner, { attempts: 3, ...fast, logger: createLogger({ destination: logs }) });
  expect(await storage.stat("k")).toMatchObject({ key: "k" });
  expect(inner.calls).toEqual(["stat", "stat", "stat"]);
  expect(logs.lines).toHaveLength(2);
  expect(logs.lines[0]).toMatchObject({
    destination: "fake",
    operation: "stat",
    key: "k",
    attempt: 1,
    of: 3,
  });

  inner.failures.stat = [transient(), transient(), transient()];
  await expect(storage.stat("k")).rejects.toMatchObject({ code: "TRANSIENT" });
});

test("other errors are not retried", async () => {
  const inner = new ScriptedBackend();
  inner.failures.remove = [permanent()];
  inner.failures.get = [new Error("a bug")];
  const storage = withRetry(inner, fast);
  await expect(storage.remove(["k"])).rejects.toMatchObject({ code: "PERMANENT" });
  await expect(storage.get("k")).rejects.toThrow("a bug");
  expect(inner.calls).toEqual(["remove", "get"]);
});

test("get, abortIncomplete and listIncomplete (before its first result) are retried; probe is not", async () => {
  const inner = new ScriptedBackend();
  inner.failures = {
    get: [transient()],
    abortIncomplete: [transient()],
    listIncomplete: [transient()],
    probe: [transient()],
  };
  const storage = withRetry(inner, fast);
  expect(await storage.get("k")).toBeInstanceOf(Readable);
  await storage.abortIncomplete({ key: "k", id: "1", startedAt: new Date(0) });
  expect(await collect(storage.listIncomplete(""))).toHaveLength(1);
  await expect(storage.probe()).rejects.toMatchObject({ code: "TRANSIENT" });
  expect(inner.calls).toEqual([
    "get",
    "get",
    "abortIncomplete",
    "abortIncomplete",
    "listIncomplete",
    "listIncomplete",
    "probe",
  ]);
});

test("a put is retried while its body is untouched, never once the body was read", async () => {
  const inner = new ScriptedBackend();
  const storage = withRetry(inner, fast);

  inner.failures["put-before-read"] = [transient()];
  const fresh = Readable.from([Buffer.from("manifest")]);
  expect(isUntouched(fresh)).toBe(true);
  await storage.put("k", fresh);
  expect(inner.calls).toEqual(["put-before-read", "put-before-read", "put-after-read"]);

  inner.calls.length = 0;
  inner.failures["put-after-read"] = [transient()];
  const consumed = new PassThrough();
  consumed.end("data");
  await expect(storage.put("k", consumed)).rejects.toMatchObject({ code: "TRANSIENT" });
  expect(inner.calls).toEqual(["put-before-read", "put-after-read"]);
  expect(isUntouched(consumed)).toBe(false);
});

test("a listing that fails part way resumes after the last key it yielded, without repeats", async () => {
  const inner = new ScriptedBackend();
  inner.listBreaks = [2, 4];
  const storage = withRetry(inner, { attempts: 2, ...fast });
  // Two failures with only two attempts: progress between them earns a fresh budget.
  expect((await collect(storage.list(""))).map((o) => o.key)).toEqual(["a", "b", "c", "d", "e"]);
  expect(inner.calls).toEqual(["list", "list", "list"]);

  inner.listBreaks = [0, 0];
  await expect(collect(storage.list(""))).rejects.toMatchObject({ code: "TRANSIENT" });
});

test("a resumed listing of a service that does not list in key order loses no key", async () => {
  const inner = new ScriptedBackend();
  inner.keys = ["u/1", "t/9/data", "t/9/manifest.json", "a"]; // pages in the service's own order
  inner.listBreaks = [2];
  const keys = (await collect(withRetry(inner, fast).list(""))).map((o) => o.key);
  expect(keys).toEqual(["u/1", "t/9/data", "t/9/manifest.json", "a"]);
});

test("a first listing pass yields every key the backend gives, whatever their order", async () => {
  const inner = new ScriptedBackend();
  inner.keys = ["b", "a", "c"];
  expect((await collect(withRetry(inner, fast).list(""))).map((o) => o.key)).toEqual(["b", "a", "c"]);
});

test("a cancelled wait between attempts rejects with CANCELLED", async () => {
  const inner = new ScriptedBackend();
  inner.failures.get = [transient()];
  const controller = new AbortController();
  const storage = withRetry(inner, { baseDelayMs: 60_000, maxDelayMs: 60_000 });
  const pending = storage.get("k", { signal: controller.signal });
  controller.abort();
  await expect(pending).rejects.toMatchObject({ code: "CANCELLED" });
});

test("backoff doubles per retry up to the cap, half fixed and half jitter", () => {
  expect(backoffDelay(1, 1000, 30_000, () => 0)).toBe(500);
  expect(backoffDelay(1, 1000, 30_000, () => 0.999999)).toBe(1000);
  expect(backoffDelay(3, 1000, 30_000, () => 0)).toBe(2000);
  expect(backoffDelay(10, 1000, 30_000, () => 0.5)).toBe(22_500);
});

test("the wrapper shows the inner backend's name, location and capabilities", () => {
  const inner = new ScriptedBackend();
  const storage = withRetry(inner);
  expect([storage.name, storage.location, storage.capabilities]).toEqual([
    inner.name,
    inner.location,
    inner.capabilities,
  ]);
});
