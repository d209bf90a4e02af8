/**
 * The manifest's put is the commit. When it reports a failure, the engine must not remove data a
 * stored manifest points to (engine/commit-manifest.ts). A real filesystem destination, wrapped so
 * that the manifest's put (or the read-back) fails in the ways a network or a disk can: after the
 * manifest was stored, before it was, or with the outcome unreadable.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listSnapshotRefs, readManifest } from "../../src/catalog/catalog";
import type { HavenConfig } from "../../src/config/types";
import { backupTo } from "../../src/engine/backup";
import { HavenError } from "../../src/lib/errors";
import { createLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { LogSink } from "../storage/streams";
import { tempDir } from "../helpers/s3-config";
import { filesystemDestination, verifyConfig } from "../verify/helpers";

const target = `commit-${randomBytes(4).toString("hex")}`;
let cfg: HavenConfig;

beforeAll(async () => {
  const work = await tempDir("haven-commit-manifest");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  const source = join(work, "source");
  await mkdir(source, { recursive: true });
  for (let i = 0; i < 5; i++) await writeFile(join(source, `file-${i}.txt`), `content ${i}\n`);
  cfg = verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: files",
    `  path: ${JSON.stringify(source)}`,
  ]);
});

type Fault = "lost-response" | "not-stored" | "refused" | "unreadable";

/** The real backend, except that the manifest's put (or its read-back) fails as `fault` says. */
function faultyStorage(fault: Fault): StorageBackend {
  const real = createStorage(cfg.destinations.primary!, createLogger({ level: "silent" }));
  const isManifest = (key: string) => key.endsWith("/manifest.json");
  let manifestPutFailed = false;
  return {
    name: real.name,
    capabilities: real.capabilities,
    location: real.location,
    async put(key, body, options) {
      if (!isManifest(key)) return real.put(key, body, options);
      manifestPutFailed = true;
      if (fault === "not-stored") {
        body.destroy();
        throw new HavenError("TRANSIENT", "connection reset before the service stored it");
      }
      if (fault === "refused") {
        body.destroy();
        throw new HavenError("PERMANENT", "AccessDenied: the credentials may not write here");
      }
      await real.put(key, body, options);
      throw new HavenError(
        "ALREADY_EXISTS",
        "the retry of a put whose response was lost found the key taken",
      );
    },
    async get(key, options) {
      if (fault === "unreadable" && manifestPutFailed && isManifest(key)) {
        throw new HavenError("TRANSIENT", "the service is down");
      }
      return real.get(key, options);
    },
    stat: (key) => real.stat(key),
    list: (prefix) => real.list(prefix),
    remove: (keys) => real.remove(keys),
    listIncomplete: (prefix) => real.listIncomplete(prefix),
    abortIncomplete: (upload) => real.abortIncomplete(upload),
    probe: (signal) => real.probe(signal),
    close: () => real.close(),
  };
}

async function run(fault: Fault) {
  const storage = faultyStorage(fault);
  const logs = new LogSink();
  try {
    const result = await backupTo(
      storage,
      cfg,
      cfg.targets[target]!,
      { target, tier: "manual", requestedBy: "test" },
      { logger: createLogger({ level: "warn", destination: logs }), signal: new AbortController().signal },
    );
    return { result, logs };
  } finally {
    await storage.close();
  }
}

/** Every object under the snapshot's folder. */
async function objectsOf(id: string): Promise<string[]> {
  const storage = createStorage(cfg.destinations.primary!, createLogger({ level: "silent" }));
  try {
    const keys: string[] = [];
    for await (const object of storage.list(`${target}/${id}/`)) keys.push(object.key.split("/").at(-1)!);
    return keys.sort();
  } finally {
    await storage.close();
  }
}

test("a manifest stored although its put reported an error is a committed snapshot, data kept", async () => {
  const { result, logs } = await run("lost-response");
  expect(result.state).toBe("committed");
  expect(await objectsOf(result.snapshotId!)).toEqual(["data.tar.zst", "index.jsonl.zst", "manifest.json"]);
  expect(logs.messages()).toContain(
    "the manifest's put reported an error, but the manifest is stored: the snapshot is committed",
  );
  const storage = createStorage(cfg.destinations.primary!, createLogger({ level: "silent" }));
  try {
    expect((await readManifest(storage, target, result.snapshotId!)).stats).toMatchObject({ files: 5 });
  } finally {
    await storage.close();
  }
});

test("a manifest put that the service refused fails the run, and the run's data is removed", async () => {
  const { result } = await run("refused");
  expect(result).toMatchObject({ state: "failed", error: { code: "PERMANENT" } });
  // Every folder left under the target is a committed snapshot's: the failed run left nothing.
  const storage = createStorage(cfg.destinations.primary!, createLogger({ level: "silent" }));
  try {
    const folders = new Map<string, string[]>();
    for await (const object of storage.list(`${target}/`)) {
      const [, id, name] = object.key.split("/");
      folders.set(id!, [...(folders.get(id!) ?? []), name!]);
    }
    expect(folders.size).toBe((await listSnapshotRefs(storage, target)).length);
    for (const names of folders.values()) expect(names).toContain("manifest.json");
  } finally {
    await storage.close();
  }
});

test("a manifest put lost to the network and not found on read-back fails the run, and its data stays for maintenance", async () => {
  // The request may still commit (or the service may not show it yet): removing the data could
  // leave a manifest without data behind.
  const { result } = await run("not-stored");
  expect(result).toMatchObject({ state: "failed", error: { code: "TRANSIENT" } });
  expect(result.error?.message).toMatch(/it is not there yet: the snapshot may or may not exist/);
  const id = result.error!.message.match(/\/(\d{8}T\d{6}Z-[0-9a-f]+)\/manifest\.json/)![1]!;
  expect(await objectsOf(id)).toEqual(["data.tar.zst", "index.jsonl.zst"]);
});

test("when the manifest cannot be read back, the run fails and its data stays for maintenance", async () => {
  const { result } = await run("unreadable");
  expect(result.state).toBe("failed");
  expect(result.error?.message).toMatch(/may or may not exist/);
  expect(result.error?.hint).toMatch(/staleUploadGrace/);
  // The put had stored it: deleting the data here would have left a manifest without data.
  const id = result.error!.message.match(/\/(\d{8}T\d{6}Z-[0-9a-f]+)\/manifest\.json/)![1]!;
  expect(await objectsOf(id)).toEqual(["data.tar.zst", "index.jsonl.zst", "manifest.json"]);
});
