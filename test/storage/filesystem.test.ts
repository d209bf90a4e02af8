import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { createLogger, silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir, uniqueName } from "../helpers/s3-config";
import { describeStorageContract } from "./contract";
import { LogSink, collect, drain } from "./streams";

const MiB = 1024 * 1024;

/** What a put killed half way leaves on disk: a temp file next to the final name. */
async function leaveTempFile(root: string, key: string): Promise<void> {
  const path = join(root, ...key.split("/"));
  await mkdir(dirname(path), { recursive: true });
  const name = path.slice(dirname(path).length + 1);
  await writeFile(join(dirname(path), `.${name}.haven-tmp-0123456789ab`), "half a dump");
}

describeStorageContract(
  "filesystem",
  async () => {
    const root = await tempDir("haven-fs-contract");
    return {
      backend: createFilesystemBackend({ name: "nas", path: root }),
      partSize: 5 * MiB,
      leaveIncompleteUpload: (key) => leaveTempFile(root, key),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
  { incompleteUploads: true },
);

describe("filesystem backend", () => {
  let root: string;
  let storage: StorageBackend;

  beforeEach(async () => {
    root = await tempDir("haven-fs");
    await mkdir(join(root, "dest"), { mode: 0o700 }); // the operator's part: Haven never creates the root
    storage = createFilesystemBackend({ name: "nas", path: join(root, "dest") });
  });

  afterEach(async () => {
    await storage.close();
    await rm(root, { recursive: true, force: true });
  });

  test("objects are plain files under root + prefix, with no temp file left", async () => {
    const prefixed = createFilesystemBackend({ name: "nas", path: join(root, "dest"), prefix: "prod/" });
    await prefixed.put(
      "orders-db/20261122T020000Z-1a2b3c4d/manifest.json",
      Readable.from([Buffer.from("{}")]),
    );
    const dir = join(root, "dest", "prod", "orders-db", "20261122T020000Z-1a2b3c4d");
    expect(await readdir(dir)).toEqual(["manifest.json"]);
    expect(prefixed.location).toBe(`${join(root, "dest")}/prod`);
    expect((await collect(prefixed.list(""))).map((o) => o.key)).toEqual([
      "orders-db/20261122T020000Z-1a2b3c4d/manifest.json",
    ]);
    // The unprefixed view of the same root sees the prefix as part of the key.
    expect((await collect(storage.list("prod/"))).map((o) => o.key)).toEqual([
      "prod/orders-db/20261122T020000Z-1a2b3c4d/manifest.json",
    ]);
  });

  test("the folders and files a put creates are for Haven's user only, whatever the umask", async () => {
    const previous = process.umask(0o022);
    try {
      await storage.put(
        "orders-db/20261122T020000Z-1a2b3c4d/data.dump.zst",
        Readable.from([Buffer.from("dump")]),
      );
    } finally {
      process.umask(previous);
    }
    const mode = async (path: string) => (await stat(path)).mode & 0o777;
    const snapshot = join(root, "dest", "orders-db", "20261122T020000Z-1a2b3c4d");
    expect(await mode(join(snapshot, "data.dump.zst"))).toBe(0o600);
    expect(await mode(snapshot)).toBe(0o700);
    expect(await mode(dirname(snapshot))).toBe(0o700);
  });

  test("an upload in progress is a hidden temp file, listed as incomplete until it commits", async () => {
    const key = "t/snap/data.bin";
    const body = new PassThrough();
    let flowing!: () => void;
    const started = new Promise<void>((resolve) => (flowing = resolve));
    const put = storage.put(key, body, { onProgress: () => flowing() });
    put.catch(() => undefined);
    body.write(Buffer.alloc(MiB, 1));
    await started;

    const during = await collect(storage.listIncomplete(""));
    expect(during.map((u) => u.key)).toEqual([key]);
    expect(during[0]!.id).toMatch(/^t\/snap\/\.data\.bin\.haven-tmp-[0-9a-f]{12}$/);
    expect(await collect(storage.list(""))).toEqual([]);
    expect(await storage.stat(key)).toBeNull();

    body.end(Buffer.alloc(10, 2));
    expect((await put).size).toBe(MiB + 10);
    expect(await collect(storage.listIncomplete(""))).toEqual([]);
    expect(await readdir(join(root, "dest", "t", "snap"))).toEqual(["data.bin"]);
  });

  test("concurrent create-only puts of one key: exactly one wins, atomically", async () => {
    const key = "t/snap/manifest.json";
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        storage.put(key, Readable.from([Buffer.from(`writer ${i}`)]), { createOnly: true }),
      ),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((o) => (o.reason as { code: string }).code)).toEqual(Array(7).fill("ALREADY_EXISTS"));
    const content = (await drain(await storage.get(key))).bytes.toString();
    expect(content).toMatch(/^writer \d$/);
    expect(await readdir(join(root, "dest", "t", "snap"))).toEqual(["manifest.json"]);
  });

  test("remove prunes the directories it empties, up to but not including the root", async () => {
    await storage.put("a/b/c/one", Readable.from([Buffer.from("1")]));
    await storage.put("a/keep", Readable.from([Buffer.from("2")]));
    await storage.remove(["a/b/c/one"]);
    expect(await readdir(join(root, "dest"))).toEqual(["a"]);
    expect(await readdir(join(root, "dest", "a"))).toEqual(["keep"]);
    await storage.remove(["a/keep"]);
    expect(await readdir(join(root, "dest"))).toEqual([]);
  });

  test("a failed put removes its temp file and the directories it created", async () => {
    const body = new PassThrough();
    const put = storage.put("t/new/dir/data.bin", body);
    body.write("some bytes");
    body.destroy(new Error("tar failed"));
    await expect(put).rejects.toThrow("tar failed");
    expect(await readdir(join(root, "dest"))).toEqual([]);
  });

  test("temp file names are reserved, and directories are not objects", async () => {
    await expect(
      storage.put("t/.data.bin.haven-tmp-0123456789ab", Readable.from([Buffer.from("x")])),
    ).rejects.toMatchObject({ code: "PERMANENT" });
    await storage.put("t/dir/inner", Readable.from([Buffer.from("x")]));
    expect(await storage.stat("t/dir")).toBeNull();
    await expect(storage.get("t/dir")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  test("abortIncomplete refuses an id that is not a temp file", async () => {
    await storage.put("t/real", Readable.from([Buffer.from("x")]));
    await expect(
      storage.abortIncomplete({ key: "t/real", id: "t/real", startedAt: new Date() }),
    ).rejects.toMatchObject({
      code: "PERMANENT",
    });
    await expect(
      storage.abortIncomplete({ key: "x", id: "../.x.haven-tmp-0123456789ab", startedAt: new Date() }),
    ).rejects.toMatchObject({ code: "PERMANENT" });
    expect(await storage.stat("t/real")).not.toBeNull();
  });

  test("a destination whose root is a file fails with a hint naming the config key", async () => {
    const file = join(root, "not-a-dir");
    await writeFile(file, "x");
    const broken = createFilesystemBackend({ name: "nas", path: file });
    const error = await broken.put("a/b", Readable.from([Buffer.from("x")])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PERMANENT" });
    expect((error as { hint: string }).hint).toContain("destinations.nas.path");
    await expect(broken.probe()).rejects.toMatchObject({ code: "PERMANENT" });
  });

  test("a missing root is never created (an unmounted share): put, list and probe fail with the fix", async () => {
    const share = join(root, "mnt", "nas");
    await mkdir(join(root, "mnt"));
    const unmounted = createFilesystemBackend({ name: "nas", path: share, prefix: "prod/" });
    const expected = {
      code: "PERMANENT",
      message: `destination nas: ${share} does not exist or is not a directory`,
      hint: expect.stringContaining("mount the share") as string,
    };
    const body = Readable.from([Buffer.from("x")]);
    await expect(unmounted.put("t/20261122T020000Z-1a2b3c4d/data", body)).rejects.toMatchObject(expected);
    await expect(collect(unmounted.list(""))).rejects.toMatchObject(expected);
    await expect(unmounted.probe()).rejects.toMatchObject(expected);
    expect(await readdir(join(root, "mnt"))).toEqual([]);
    expect(body.destroyed).toBe(false); // left to the caller, untouched

    await mkdir(share);
    await unmounted.put("t/20261122T020000Z-1a2b3c4d/data", body);
    expect((await collect(unmounted.list(""))).map((o) => o.key)).toEqual([
      "t/20261122T020000Z-1a2b3c4d/data",
    ]);
  });

  test("createStorage builds a filesystem backend with retries", async () => {
    const sink = new LogSink();
    const logger = createLogger({ level: "debug", destination: sink });
    await mkdir(join(root, "made"));
    const backend = createStorage(
      { name: "nas", type: "filesystem", path: join(root, "made"), prefix: "" },
      logger,
    );
    expect(backend.name).toBe("nas");
    expect(backend.location).toBe(join(root, "made"));
    expect(backend.capabilities).toEqual({ createOnly: true, objectLock: false });
    await backend.put(`${uniqueName("k")}/x`, Readable.from([Buffer.from("x")]));
    expect((await collect(backend.list(""))).length).toBe(1);
    await backend.close();
    expect(
      createStorage({ name: "nas", type: "filesystem", path: root, prefix: "" }, silentLogger, {
        retry: false,
      }).name,
    ).toBe("nas");
  });
});
