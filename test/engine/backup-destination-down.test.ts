/**
 * The S3 service stops in the middle of a files backup. Seen in an operator drill: the run failed as
 * SOURCE_FAILED, "the tar stream of share was closed before its end: connect ECONNREFUSED", which
 * blames the share and is not retried, so the day's recovery point was lost to a blip of the bucket.
 * The upload's own error (TRANSIENT, retried by the queue) must be the one reported.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { parseConfigText } from "../../src/config/load";
import { backupTo } from "../../src/engine/backup";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createStorage } from "../../src/storage";
import type { PutOptions, StorageBackend } from "../../src/storage/types";
import { removeTree } from "../helpers/fixture-tree";
import { s3DestinationYaml, tempDir, uniqueName } from "../helpers/s3-config";
import { context } from "../verify/helpers";

const bucket = uniqueName("haven-dest-down");
let s3: S3rverHandle;
let work: string;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  work = await tempDir("haven-dest-down");
  await mkdir(join(work, "share"));
  // Random, so compression cannot shrink it below the first 5 MiB part.
  await writeFile(join(work, "share", "big.bin"), randomBytes(24 * 1024 * 1024));
});

afterAll(async () => {
  await s3?.stop();
  if (work) await removeTree(work);
});

/** Stops s3rver once `after` bytes of the payload have gone by: the next part meets a closed port. */
function stoppingAfter(inner: StorageBackend, after: number): StorageBackend {
  return new Proxy(inner, {
    get(target, property) {
      if (property !== "put") {
        // Bound to the backend itself: its private fields are not the proxy's.
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return (key: string, body: Readable, opts?: PutOptions) => {
        let seen = 0;
        let stopping: Promise<void> | undefined;
        const tap = new PassThrough({
          transform(chunk: Buffer, _encoding, done) {
            seen += chunk.length;
            if (seen > after && !stopping) {
              stopping = s3.stop();
              void stopping.then(() => done(null, chunk), done);
            } else done(null, chunk);
          },
        });
        body.pipe(tap);
        body.once("error", (error) => tap.destroy(error));
        tap.once("error", (error) => body.destroy(error));
        return target.put(key, tap, opts);
      };
    },
  });
}

test("a bucket that goes away mid-upload fails the run as the destination's TRANSIENT error, not the share's", async () => {
  const config = parseConfigText(
    [
      "redis: redis://127.0.0.1:1",
      "destinations:",
      s3DestinationYaml(s3, bucket, `${uniqueName("p")}/`).replace(
        "queueSize: 2",
        "queueSize: 1\n    maxAttempts: 1",
      ),
      "targets:",
      "  share:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "share"))}`,
      "    destinations: [primary]",
      "    compression: { algorithm: none }",
      "",
    ].join("\n"),
    "<destination-down test>",
    {},
  );
  const storage = stoppingAfter(
    createStorage(config.destinations.primary!, context().logger),
    6 * 1024 * 1024,
  );
  try {
    const result = await backupTo(
      storage,
      config,
      config.targets.share!,
      { target: "share", tier: "manual", requestedBy: "test" },
      context(),
    );
    expect(result.state).toBe("failed");
    expect(result.error).toMatchObject({
      code: "TRANSIENT",
      message: expect.stringContaining("put share/") as string,
    });
    expect(result.error?.message).not.toContain("tar stream");
  } finally {
    await storage.close();
  }
});
