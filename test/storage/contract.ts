/**
 * The StorageBackend contract (src/storage/types.ts) as one suite that every backend runs
 * (HOUSE_STYLE practice 12). Each test works under its own random key prefix, so tests never see
 * each other's objects and the order of tests does not matter.
 */
import { Readable } from "node:stream";
import { HavenError } from "../../src/lib/errors";
import { isUntouched } from "../../src/storage/retry";
import type { StorageBackend } from "../../src/storage/types";
import { uniqueName } from "../helpers/s3-config";
import { collect, drain, generatedBody, payload, peakMemoryGrowth } from "./streams";

export interface StorageFixture {
  backend: StorageBackend;
  /** Bytes per multipart part, so tests can send bodies of several parts (1 MiB where there are no parts). */
  partSize: number;
  /**
   * Leaves an upload of `key` behind as a crashed process would (an S3 multipart upload that was never
   * completed, a temp file). Needed when `incompleteUploads` is set.
   */
  leaveIncompleteUpload?: (key: string) => Promise<void>;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

async function expectCode(promise: Promise<unknown>, code: string): Promise<HavenError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected HavenError ${code}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HavenError);
  expect((error as HavenError).code).toBe(code);
  return error as HavenError;
}

export interface ContractOptions {
  /** The backend can list (and abort) incomplete uploads; the fixture then has leaveIncompleteUpload. */
  incompleteUploads: boolean;
}

export function describeStorageContract(
  name: string,
  factory: () => Promise<StorageFixture>,
  options: ContractOptions,
): void {
  describe(`${name} storage contract`, () => {
    let fixture: StorageFixture;
    let storage: StorageBackend;

    beforeAll(async () => {
      fixture = await factory();
      storage = fixture.backend;
    });

    afterAll(async () => {
      await fixture?.cleanup();
    });

    test("put then get returns the same bytes; the result has size and sha256", async () => {
      const key = `${uniqueName("rt")}/data.bin`;
      const data = payload(100_000);
      const result = await storage.put(key, Readable.from(data.chunks), {
        contentType: "application/octet-stream",
      });
      expect(result).toMatchObject({ key, size: 100_000, sha256: data.sha256 });
      expect(result.lastModified).toBeInstanceOf(Date);
      const read = await drain(await storage.get(key));
      expect(read.bytes.equals(data.bytes)).toBe(true);
      expect(await storage.stat(key)).toMatchObject({ key, size: 100_000 });
    });

    test("a body of several parts is stored whole, with its sha256 and progress", async () => {
      const key = `${uniqueName("multi")}/data.bin`;
      const size = 2 * fixture.partSize + 12_345;
      const body = generatedBody(size);
      const progress: number[] = [];
      const result = await storage.put(key, body.stream, { onProgress: (bytes) => progress.push(bytes) });
      expect(result.size).toBe(size);
      expect(result.sha256).toBe(body.sha256());
      expect(progress.at(-1)).toBe(size);
      const read = await drain(await storage.get(key), false);
      expect(read).toMatchObject({ size, sha256: body.sha256() });
    });

    test("an empty body is stored as an empty object", async () => {
      const key = `${uniqueName("empty")}/nothing`;
      const result = await storage.put(key, Readable.from([]));
      expect(result.size).toBe(0);
      expect(result.sha256).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
      expect((await drain(await storage.get(key))).size).toBe(0);
    });

    test("a body that fails half way leaves nothing under the key and rejects with the body's error", async () => {
      const prefix = `${uniqueName("broken")}/`;
      const key = `${prefix}data.bin`;
      const sourceError = new Error("pg_dump died");
      const body = generatedBody(4 * fixture.partSize, {
        failAt: fixture.partSize + MiB,
        error: sourceError,
      });
      await expect(storage.put(key, body.stream)).rejects.toBe(sourceError);
      expect(body.emitted()).toBeGreaterThan(fixture.partSize);
      expect(await storage.stat(key)).toBeNull();
      expect(await collect(storage.list(prefix))).toEqual([]);
      expect(await collect(storage.listIncomplete(prefix))).toEqual([]);
    });

    test("a put cancelled through its signal leaves nothing and rejects with CANCELLED", async () => {
      const prefix = `${uniqueName("cancel")}/`;
      const key = `${prefix}data.bin`;
      const body = generatedBody(Infinity);
      const controller = new AbortController();
      const put = storage.put(key, body.stream, {
        signal: controller.signal,
        onProgress: (bytes) => {
          if (bytes > fixture.partSize + MiB) controller.abort(new Error("operator pressed ^C"));
        },
      });
      await expectCode(put, "CANCELLED");
      expect(body.stream.destroyed).toBe(true);
      expect(await storage.stat(key)).toBeNull();
      expect(await collect(storage.list(prefix))).toEqual([]);
      expect(await collect(storage.listIncomplete(prefix))).toEqual([]);
    });

    test("createOnly stores a new key and refuses an existing one, keeping its content and the body untouched", async () => {
      const key = `${uniqueName("manifest")}/manifest.json`;
      await storage.put(key, Readable.from([Buffer.from('{"v":1}')]), { createOnly: true });
      const second = Readable.from([Buffer.from('{"v":2}')]);
      await expectCode(storage.put(key, second, { createOnly: true }), "ALREADY_EXISTS");
      expect(isUntouched(second)).toBe(true);
      expect((await drain(await storage.get(key))).bytes.toString()).toBe('{"v":1}');
    });

    test("a put without createOnly replaces an existing object", async () => {
      const key = `${uniqueName("replace")}/object`;
      await storage.put(key, Readable.from([Buffer.from("old")]));
      await storage.put(key, Readable.from([Buffer.from("new content")]));
      expect((await drain(await storage.get(key))).bytes.toString()).toBe("new content");
      expect((await storage.stat(key))?.size).toBe(11);
    });

    test("stat is null and get is NOT_FOUND for a missing key", async () => {
      const key = `${uniqueName("missing")}/nothing-here`;
      expect(await storage.stat(key)).toBeNull();
      await expectCode(storage.get(key), "NOT_FOUND");
    });

    test("remove deletes objects and ignores missing keys", async () => {
      const prefix = `${uniqueName("remove")}/`;
      await storage.put(`${prefix}a`, Readable.from([Buffer.from("a")]));
      await storage.put(`${prefix}sub/b`, Readable.from([Buffer.from("b")]));
      await storage.remove([`${prefix}a`, `${prefix}sub/b`, `${prefix}never-existed`]);
      await storage.remove([`${prefix}a`]);
      await storage.remove([]);
      expect(await storage.stat(`${prefix}a`)).toBeNull();
      expect(await collect(storage.list(prefix))).toEqual([]);
    });

    test("list yields every key under a prefix in lexicographic (byte) order", async () => {
      const root = uniqueName("list");
      // "-" < "." < "/" < "b" < "é" in UTF-8: a directory-walking backend must still interleave these.
      const names = ["é", "b", "ab", "a/y/z", "a/x", "a.txt", "a-b"];
      for (const name of names) await storage.put(`${root}/${name}`, Readable.from([Buffer.from(name)]));
      await storage.put(`${root}x/outside`, Readable.from([Buffer.from("not under root/")]));

      const all = await collect(storage.list(`${root}/`));
      expect(all.map((o) => o.key)).toEqual(
        ["a-b", "a.txt", "a/x", "a/y/z", "ab", "b", "é"].map((n) => `${root}/${n}`),
      );
      expect(all.find((o) => o.key === `${root}/a/x`)).toMatchObject({ size: 3 });
      expect(all.every((o) => o.lastModified instanceof Date)).toBe(true);

      const partial = await collect(storage.list(`${root}/a`));
      expect(partial.map((o) => o.key)).toEqual(
        ["a-b", "a.txt", "a/x", "a/y/z", "ab"].map((n) => `${root}/${n}`),
      );
      const folder = await collect(storage.list(`${root}/a/`));
      expect(folder.map((o) => o.key)).toEqual([`${root}/a/x`, `${root}/a/y/z`]);
      expect(await collect(storage.list(`${root}/nothing/`))).toEqual([]);
      const both = await collect(storage.list(root));
      expect(both.map((o) => o.key)).toContain(`${root}x/outside`);
      expect(both).toHaveLength(names.length + 1);
    });

    test("get with a range returns exactly the inclusive byte range", async () => {
      const key = `${uniqueName("range")}/data.bin`;
      const data = payload(300_000);
      await storage.put(key, Readable.from(data.chunks));
      const middle = await drain(await storage.get(key, { range: [1000, 250_999] }));
      expect(middle.bytes.equals(data.bytes.subarray(1000, 251_000))).toBe(true);
      const first = await drain(await storage.get(key, { range: [0, 0] }));
      expect(first.bytes.equals(data.bytes.subarray(0, 1))).toBe(true);
      const last = await drain(await storage.get(key, { range: [299_990, 299_999] }));
      expect(last.bytes.equals(data.bytes.subarray(299_990))).toBe(true);
    });

    test("keys that could escape the destination are refused by every operation", async () => {
      const bad = [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a//b",
        "a\\b",
        "",
        "a/./b",
        "a/",
        ".",
        "a/\0b",
      ];
      for (const key of bad) {
        const body = Readable.from([Buffer.from("x")]);
        await expectCode(storage.put(key, body), "PERMANENT");
        expect(isUntouched(body)).toBe(true);
        await expectCode(storage.get(key), "PERMANENT");
        await expectCode(storage.stat(key), "PERMANENT");
        await expectCode(storage.remove([key]), "PERMANENT");
      }
      await expect(collect(storage.list("../"))).rejects.toMatchObject({ code: "PERMANENT" });
    });

    test("probe succeeds on a working destination; name, location and capabilities are set", async () => {
      await storage.probe();
      expect(storage.name).toBeTruthy();
      expect(storage.location).toBeTruthy();
      expect(typeof storage.capabilities.createOnly).toBe("boolean");
    });

    test("a 200 MB stream is stored with bounded memory", async () => {
      const key = `${uniqueName("large")}/data.bin`;
      const size = 200 * MiB;
      const body = generatedBody(size);
      const { result, peakBytes } = await peakMemoryGrowth(() => storage.put(key, body.stream));
      expect(result).toMatchObject({ size, sha256: body.sha256() });
      // Unbounded buffering would hold all 200 MB; parts in flight plus not yet collected garbage stay far below.
      expect(peakBytes).toBeLessThan(128 * MiB);
      await storage.remove([key]);
    });

    if (options.incompleteUploads) {
      test("listIncomplete reports an upload left by a crash, and abortIncomplete removes it", async () => {
        const prefix = `${uniqueName("crashed")}/`;
        const key = `${prefix}data.bin`;
        await fixture.leaveIncompleteUpload!(key);
        const found = await collect(storage.listIncomplete(prefix));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({ key });
        expect(found[0]!.startedAt).toBeInstanceOf(Date);
        expect(await collect(storage.list(prefix))).toEqual([]);
        expect(await storage.stat(key)).toBeNull();
        await storage.abortIncomplete(found[0]!);
        await storage.abortIncomplete(found[0]!); // idempotent
        expect(await collect(storage.listIncomplete(prefix))).toEqual([]);
      });
    }
  });
}
