/**
 * lazyBackend: pure delegation logic, so a recording stand-in backend is enough here; the real S3
 * backend behind it is covered by the contract suite and the end-to-end tests.
 */
import { Readable } from "node:stream";
import { lazyBackend } from "../../src/storage/lazy";
import type { ObjectInfo, StorageBackend } from "../../src/storage/types";

const identity = {
  name: "primary",
  location: "s3://bucket/prefix",
  capabilities: { createOnly: false, objectLock: false },
};

function recordingBackend(calls: string[]): StorageBackend {
  const objects: ObjectInfo[] = [
    { key: "a", size: 1, lastModified: new Date(0) },
    { key: "b", size: 2, lastModified: new Date(0) },
  ];
  return {
    ...identity,
    put: (key) => {
      calls.push(`put ${key}`);
      return Promise.resolve({ key, size: 0, lastModified: new Date(0), sha256: "" });
    },
    get: (key) => {
      calls.push(`get ${key}`);
      return Promise.resolve(Readable.from([Buffer.from(key)]));
    },
    stat: (key) => {
      calls.push(`stat ${key}`);
      return Promise.resolve(null);
    },
    list: (prefix) => {
      calls.push(`list ${prefix}`);
      return Readable.from(objects);
    },
    remove: (keys) => {
      calls.push(`remove ${keys.join(",")}`);
      return Promise.resolve();
    },
    listIncomplete: () => Readable.from([]),
    abortIncomplete: () => Promise.resolve(),
    probe: () => {
      calls.push("probe");
      return Promise.resolve();
    },
    close: () => {
      calls.push("close");
      return Promise.resolve();
    },
  };
}

describe("lazyBackend", () => {
  test("loads on first use, once, and delegates every call", async () => {
    const calls: string[] = [];
    let loads = 0;
    const backend = lazyBackend(identity, () => {
      loads++;
      return Promise.resolve(recordingBackend(calls));
    });
    expect(loads).toBe(0);
    expect([backend.name, backend.location, backend.capabilities]).toEqual([
      identity.name,
      identity.location,
      identity.capabilities,
    ]);
    await backend.stat("k");
    const listed: string[] = [];
    for await (const object of backend.list("p/")) listed.push(object.key);
    await backend.remove(["x", "y"]);
    await backend.close();
    expect(loads).toBe(1);
    expect(listed).toEqual(["a", "b"]);
    expect(calls).toEqual(["stat k", "list p/", "remove x,y", "close"]);
  });

  test("closing a backend never used loads nothing", async () => {
    let loads = 0;
    const backend = lazyBackend(identity, () => {
      loads++;
      return Promise.resolve(recordingBackend([]));
    });
    await backend.close();
    expect(loads).toBe(0);
  });

  test("a failed load is reported and tried again on the next call", async () => {
    const calls: string[] = [];
    let loads = 0;
    const backend = lazyBackend(identity, () =>
      ++loads === 1
        ? Promise.reject(new Error("cannot read secretAccessKeyFile"))
        : Promise.resolve(recordingBackend(calls)),
    );
    await expect(backend.probe()).rejects.toThrow(/secretAccessKeyFile/);
    await backend.probe();
    expect(loads).toBe(2);
    expect(calls).toEqual(["probe"]);
  });
});
