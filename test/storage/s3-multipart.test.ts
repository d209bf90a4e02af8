/**
 * The S3 put path (src/storage/multipart.ts): parts cut through a fixed pool of buffers, against
 * s3rver over HTTP. Faults are injected into the SDK client (middleware, a request handler that
 * hangs); the service is always the real s3rver.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { createLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { PartPool, putStream } from "../../src/storage/multipart";
import { createS3Backend } from "../../src/storage/s3";
import type { S3Destination } from "../../src/storage/s3-client";
import { MIN_PART_SIZE } from "../../src/storage/upload-plan";
import { s3rverDestination, uniqueName } from "../helpers/s3-config";
import { recordingClient } from "./recording-client";
import { LogSink, collect, drain, generatedBody } from "./streams";

const MiB = 1024 * 1024;
const bucket = uniqueName("haven-multipart");
let s3: S3rverHandle;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
});

afterAll(async () => {
  await s3?.stop();
});

/** Counts the part buffers the backend allocates, and logs at debug level. */
function backendWith(dest: S3Destination, client: S3Client) {
  const logs = new LogSink();
  const allocations: number[] = [];
  const backend = createS3Backend(dest, {
    client,
    logger: createLogger({ level: "debug", destination: logs }),
    allocatePart: (bytes) => {
      allocations.push(bytes);
      return Buffer.allocUnsafeSlow(bytes);
    },
  });
  return { backend, logs, allocations };
}

/** `size` random bytes in chunks of uneven sizes, so part boundaries fall inside chunks. */
function unevenChunks(size: number): { chunks: Buffer[]; bytes: Buffer; sha256: string } {
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; at += MiB)
    bytes.fill(Math.floor(Math.random() * 256), at, Math.min(size, at + MiB));
  for (let at = 0; at < size; at += 4099) bytes[at] = at % 251; // no two parts alike
  const chunks: Buffer[] = [];
  const sizes = [1, 65_536, 1_000_003, 333_333, 7];
  for (let at = 0, i = 0; at < size; i++) {
    const length = Math.min(sizes[i % sizes.length]!, size - at);
    chunks.push(bytes.subarray(at, at + length));
    at += length;
  }
  return { chunks, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

test("the minimum part size is S3's 5 MiB, which the tests below use", () => {
  expect(MIN_PART_SIZE).toBe(5 * MiB);
  expect(s3rverDestination(s3, bucket).partSizeMiB).toBe(5);
});

test("a put of several parts round-trips byte for byte, through queueSize + 1 reused buffers", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 2 });
  const recorder = recordingClient(dest);
  const { backend, logs, allocations } = backendWith(dest, recorder.client);
  const size = 4 * 5 * MiB + 777;
  const data = unevenChunks(size);

  const result = await backend.put("mp/data.bin", Readable.from(data.chunks), {
    contentType: "application/octet-stream",
  });
  expect(result).toMatchObject({ size, sha256: data.sha256 });
  const read = await drain(await backend.get("mp/data.bin"));
  expect(read.bytes.equals(data.bytes)).toBe(true);

  const parts = recorder.sentOf("UploadPartCommand");
  expect(parts.map((p) => p.input.PartNumber)).toEqual([1, 2, 3, 4, 5]);
  expect(parts.map((p) => Number(p.headers["content-length"]))).toEqual([
    ...Array<number>(4).fill(5 * MiB),
    777,
  ]);
  expect(recorder.maxInFlightParts()).toBeLessThanOrEqual(2);
  // Three buffers (queueSize + 1) for five parts: the pool reuses them.
  expect(allocations).toEqual([5 * MiB, 5 * MiB, 5 * MiB]);
  expect(logs.lines.find((l) => l.msg === "put done")).toMatchObject({ parts: 5, buffers: 3 });

  const [create] = recorder.sentOf("CreateMultipartUploadCommand");
  expect(create?.headers["content-type"]).toBe("application/octet-stream");
  const [complete] = recorder.sentOf("CompleteMultipartUploadCommand");
  const listed = (complete?.input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts;
  expect(listed.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4, 5]);
  expect(recorder.sentOf("PutObjectCommand")).toHaveLength(0);
  recorder.client.destroy();
});

test("a body of exactly one part is one PutObject with its length; one byte more is two parts", async () => {
  const dest = s3rverDestination(s3, bucket);
  const recorder = recordingClient(dest);
  const { backend } = backendWith(dest, recorder.client);
  const exact = generatedBody(5 * MiB);
  await backend.put("one/exact", exact.stream, { contentType: "text/plain" });
  const [put] = recorder.sentOf("PutObjectCommand");
  expect(Number(put?.headers["content-length"])).toBe(5 * MiB);
  expect(put?.headers["content-type"]).toBe("text/plain");
  expect(recorder.sentOf("CreateMultipartUploadCommand")).toHaveLength(0);
  expect(await backend.stat("one/exact")).toMatchObject({ size: 5 * MiB });

  const over = generatedBody(5 * MiB + 1);
  const result = await backend.put("one/over", over.stream);
  expect(result.sha256).toBe(over.sha256());
  expect(recorder.sentOf("UploadPartCommand").map((p) => p.input.PartNumber)).toEqual([1, 2]);
  recorder.client.destroy();
});

test("the body is read only as fast as parts go out: never more than the pool holds ahead", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 1 });
  const recorder = recordingClient(dest);
  const body = generatedBody(6 * 5 * MiB);
  const readAhead: number[] = [];
  // A slow service: each part is answered 100 ms late. Meanwhile the reader may fill the one free
  // buffer and the streams' own buffers (1 MiB each: the body, both sides of the hasher, plus a
  // chunk in hand), and must then wait; an unbounded reader would be up to 25 MiB ahead.
  recorder.client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const partNumber = (args.input as { PartNumber?: number }).PartNumber;
      if (context.commandName === "UploadPartCommand" && partNumber !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        readAhead.push(body.emitted() - partNumber * 5 * MiB);
      }
      return result;
    },
    { step: "build", name: "slowParts", priority: "low" },
  );
  const { backend, allocations } = backendWith(dest, recorder.client);
  const result = await backend.put("slow/data.bin", body.stream);
  expect(result.sha256).toBe(body.sha256());
  expect(readAhead).toHaveLength(6);
  for (const ahead of readAhead) expect(ahead).toBeLessThanOrEqual(5 * MiB + 4 * MiB);
  expect(recorder.maxInFlightParts()).toBe(1);
  expect(allocations).toHaveLength(2);
  recorder.client.destroy();
});

test("a body failing in the middle aborts the upload after its parts settled, and leaves no object", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 2 });
  const recorder = recordingClient(dest);
  const { backend, logs } = backendWith(dest, recorder.client);
  const broken = new Error("pg_dump died");
  const body = generatedBody(40 * MiB, { failAt: 17 * MiB, error: broken });
  await expect(backend.put("broken/data.bin", body.stream)).rejects.toBe(broken);

  const [created] = recorder.sentOf("CreateMultipartUploadCommand");
  const uploadId = created?.output?.UploadId as string;
  expect(uploadId).toBeTruthy();
  const [abort] = recorder.sentOf("AbortMultipartUploadCommand");
  expect(abort?.input).toMatchObject({ Key: `${dest.prefix}broken/data.bin`, UploadId: uploadId });
  // Every part request had settled before the abort went out, so no part lands after it.
  const parts = recorder.sentOf("UploadPartCommand");
  expect(parts.length).toBeGreaterThanOrEqual(2);
  for (const part of parts) expect(part.settledAt).toBeLessThan(abort!.sentAt);
  expect(recorder.sentOf("CompleteMultipartUploadCommand")).toHaveLength(0);
  // s3rver refuses AbortMultipartUpload (405): logged, and its parts stay in s3rver's own directory.
  expect(logs.messages().some((m) => m.startsWith("could not abort the multipart upload"))).toBe(true);
  expect(await backend.stat("broken/data.bin")).toBeNull();
  expect(await collect(backend.list("broken/"))).toEqual([]);
  expect(await collect(backend.listIncomplete("broken/"))).toEqual([]);
  recorder.client.destroy();
});

test("cancel while a part hangs in flight aborts that request at once and rejects with CANCELLED", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 2 });
  const recorder = recordingClient(dest);
  // Part 2 reaches a socket that never answers; only its abort signal ends it.
  const handler = recorder.client.config.requestHandler as unknown as {
    handle: (
      request: { query: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) => Promise<unknown>;
  };
  const realHandle = handler.handle.bind(handler);
  let hanging: () => void = () => undefined;
  const partTwoHangs = new Promise<void>((resolve) => (hanging = resolve));
  let abortedInFlight = false;
  handler.handle = (request, options) => {
    if (request.query.partNumber !== "2") return realHandle(request, options);
    hanging();
    return new Promise((_resolve, reject) => {
      options?.abortSignal?.addEventListener("abort", () => {
        abortedInFlight = true;
        reject(Object.assign(new Error("Request aborted"), { name: "AbortError" }));
      });
    });
  };
  const { backend } = backendWith(dest, recorder.client);
  const body = generatedBody(Infinity);
  const controller = new AbortController();
  const put = backend.put("cancel/data.bin", body.stream, { signal: controller.signal });
  await partTwoHangs;
  controller.abort(new Error("operator pressed ^C"));
  await expect(put).rejects.toMatchObject({ code: "CANCELLED" });
  expect(abortedInFlight).toBe(true);
  expect(body.stream.destroyed).toBe(true);
  expect(recorder.sentOf("AbortMultipartUploadCommand")).toHaveLength(1);
  expect(recorder.sentOf("CompleteMultipartUploadCommand")).toHaveLength(0);
  expect(await backend.stat("cancel/data.bin")).toBeNull();
  recorder.client.destroy();
});

test("a part the client retries is sent again from the same buffer, and the object is intact", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 1, maxAttempts: 3 });
  const recorder = recordingClient(dest);
  const attempts: number[] = [];
  let failed = false;
  // Inside the SDK's retry loop (deserialize runs per attempt): part 2's first attempt reaches
  // s3rver, then its response is lost, as with a connection reset. While it waits, the reader fills
  // the pool's other buffer and must not touch this one.
  recorder.client.middlewareStack.add(
    (next, context) => async (args) => {
      const partNumber = (args.input as { PartNumber?: number }).PartNumber;
      if (context.commandName === "UploadPartCommand" && partNumber !== undefined) attempts.push(partNumber);
      const result = await next(args);
      if (context.commandName === "UploadPartCommand" && partNumber === 2 && !failed) {
        failed = true;
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET", $metadata: {} });
      }
      return result;
    },
    { step: "deserialize", name: "losePartTwoOnce" },
  );
  const { backend } = backendWith(dest, recorder.client);
  const body = generatedBody(3 * 5 * MiB + 99);
  const result = await backend.put("retry/data.bin", body.stream);
  expect(attempts).toEqual([1, 2, 2, 3, 4]);
  expect(result.sha256).toBe(body.sha256());
  expect(await drain(await backend.get("retry/data.bin"), false)).toMatchObject({
    size: 3 * 5 * MiB + 99,
    sha256: body.sha256(),
  });
  recorder.client.destroy();
});

test("an upload aborted under the put (NoSuchUpload) fails it TRANSIENT, not as a missing snapshot", async () => {
  const dest = s3rverDestination(s3, bucket, { queueSize: 1 });
  const recorder = recordingClient(dest);
  // What AWS answers once a lifecycle rule or another process aborted the upload: part 2 finds it gone.
  recorder.client.middlewareStack.add(
    (next, context) => async (args) => {
      const partNumber = (args.input as { PartNumber?: number }).PartNumber;
      if (context.commandName === "UploadPartCommand" && partNumber === 2) {
        throw Object.assign(new Error("The specified upload does not exist."), {
          name: "NoSuchUpload",
          $fault: "client",
          $metadata: { httpStatusCode: 404 },
        });
      }
      return next(args);
    },
    { step: "deserialize", name: "uploadGone" },
  );
  const { backend } = backendWith(dest, recorder.client);
  const body = generatedBody(3 * 5 * MiB);
  const failure = await backend.put("gone/data.bin", body.stream).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toMatchObject({
    code: "TRANSIENT",
    message: expect.stringMatching(/upload no longer exists/),
  });
  expect(body.stream.destroyed).toBe(true);
  expect(recorder.sentOf("AbortMultipartUploadCommand")).toHaveLength(1);
  expect(await backend.stat("gone/data.bin")).toBeNull();
  recorder.client.destroy();
});

test("the put reports how long the service took to commit the parts; a single PutObject reports 0", async () => {
  const dest = s3rverDestination(s3, bucket);
  const recorder = recordingClient(dest);
  const COMMIT_DELAY_MS = 300;
  // The service holding the commit back, as s3rver does while it copies every part into one file.
  recorder.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "CompleteMultipartUploadCommand") {
        await new Promise((resolve) => setTimeout(resolve, COMMIT_DELAY_MS));
      }
      return next(args);
    },
    { step: "build", name: "slowCommit" },
  );
  const { backend, logs } = backendWith(dest, recorder.client);
  await backend.put("commit/two-parts.bin", generatedBody(5 * MiB + 1).stream);
  await backend.put("commit/one-part.bin", generatedBody(1000).stream);
  const done = logs.lines.filter((l) => l.msg === "put done");
  expect(done.map((l) => [l.parts, Number(l.commitMs) >= COMMIT_DELAY_MS])).toEqual([
    [2, true],
    [1, false],
  ]);
  expect(done[1]).toMatchObject({ commitMs: 0 });
  recorder.client.destroy();
});

test("a body that needs more parts than the object may have fails with the caller's error, and leaves nothing", async () => {
  const dest = s3rverDestination(s3, bucket);
  const recorder = recordingClient(dest);
  const body = generatedBody(2 * 5 * MiB + 1);
  const tooLarge = new Error("too large: raise partSizeMiB");
  const storageErrors: unknown[] = [];
  const key = `${dest.prefix}limit/data.bin`;
  await expect(
    putStream(
      recorder.client,
      body.stream,
      { bucket, key },
      {
        partSize: 5 * MiB,
        queueSize: 2,
        maxParts: 2,
        tooLarge: () => tooLarge,
        onStorageError: (error) => storageErrors.push(error),
        logger: createLogger({ level: "silent" }),
      },
    ),
  ).rejects.toBe(tooLarge);
  // Reported as the storage's failure, before the body was torn down; the upload is aborted.
  expect(storageErrors).toEqual([tooLarge]);
  expect(recorder.sentOf("CompleteMultipartUploadCommand")).toHaveLength(0);
  expect(recorder.sentOf("AbortMultipartUploadCommand")).toHaveLength(1);
  expect(recorder.sentOf("UploadPartCommand").length).toBeLessThanOrEqual(2);
  const backend = createS3Backend(dest, { client: recorder.client });
  expect(await backend.stat("limit/data.bin")).toBeNull();
  recorder.client.destroy();
});

describe("PartPool", () => {
  test("allocates on demand up to its count, then hands out only released buffers", async () => {
    let allocated = 0;
    const pool = new PartPool(16, 2, (bytes) => {
      allocated++;
      return Buffer.alloc(bytes);
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(allocated).toBe(2);
    let third: Buffer | undefined;
    const waiting = pool.acquire().then((buffer) => (third = buffer));
    await Promise.resolve();
    expect(third).toBeUndefined();
    pool.release(a);
    await waiting;
    expect(third).toBe(a);
    pool.release(b);
    expect(await pool.acquire()).toBe(b);
    expect(allocated).toBe(2);
    expect(pool.allocated).toBe(2);
  });

  test("close rejects the waiters and every later acquire", async () => {
    const pool = new PartPool(16, 1);
    await pool.acquire();
    const waiting = pool.acquire();
    const error = new Error("part 3 failed");
    pool.close(error);
    await expect(waiting).rejects.toBe(error);
    await expect(pool.acquire()).rejects.toBe(error);
  });
});
