/** The pure parts of the S3 backend: error classification, client settings, upload plans, ranges. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { s3ClientConfig, s3Location, type S3Destination } from "../../src/storage/s3-client";
import { classifyS3Error } from "../../src/storage/s3-errors";
import { rangeLimit } from "../../src/storage/s3-read";
import { MAX_PARTS, planUpload } from "../../src/storage/upload-plan";

const MiB = 1024 * 1024;
const ctx = { destination: "primary", location: "s3://bucket/prod", operation: "put", key: "a/b" };

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

/** The shape the SDK gives its service errors. */
function sdkError(name: string, status?: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $metadata: status === undefined ? {} : { httpStatusCode: status },
    ...extra,
  });
}

describe("classifyS3Error", () => {
  test.each([
    ["NoSuchKey", 404, "NOT_FOUND"],
    ["NotFound", 404, "NOT_FOUND"],
    ["NoSuchBucket", 404, "PERMANENT"],
    ["AccessDenied", 403, "CREDENTIALS"],
    ["InvalidAccessKeyId", 403, "CREDENTIALS"],
    ["SignatureDoesNotMatch", 403, "CREDENTIALS"],
    ["ExpiredToken", 400, "CREDENTIALS"],
    ["Forbidden", 403, "CREDENTIALS"],
    ["RequestTimeTooSkewed", 403, "CREDENTIALS"],
    ["PreconditionFailed", 412, "ALREADY_EXISTS"],
    ["SlowDown", 503, "TRANSIENT"],
    ["InternalError", 500, "TRANSIENT"],
    ["BadGateway", 502, "TRANSIENT"],
    ["ThrottlingException", 400, "TRANSIENT"],
    ["TooManyRequests", 429, "TRANSIENT"],
    ["RequestTimeout", 400, "TRANSIENT"],
    ["TimeoutError", undefined, "TRANSIENT"],
    ["NoSuchUpload", 404, "TRANSIENT"],
    ["BadDigest", 400, "TRANSIENT"],
    ["IncompleteBody", 400, "TRANSIENT"],
    ["XAmzContentSHA256Mismatch", 400, "TRANSIENT"],
    ["NotImplemented", 501, "PERMANENT"],
    ["MethodNotAllowed", 405, "PERMANENT"],
    ["InvalidRange", 416, "PERMANENT"],
    ["EntityTooLarge", 400, "PERMANENT"],
    ["PermanentRedirect", 301, "PERMANENT"],
    ["AbortError", undefined, "CANCELLED"],
  ])("%s (HTTP %s) is %s", (name, status, code) => {
    const error = classifyS3Error(sdkError(name, status), ctx);
    expect(error).toBeInstanceOf(HavenError);
    expect(error.code).toBe(code);
  });

  test("a listing of a destination without prefix names the operation without an empty key", () => {
    const listing = { destination: "primary", location: "s3://bucket", operation: "list", key: "" };
    expect(classifyS3Error(sdkError("NoSuchBucket", 404), listing).message).toMatch(
      /^list on destination primary \(s3:\/\/bucket\) failed/,
    );
  });

  test.each(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"])(
    "network error %s is TRANSIENT",
    (code) => {
      expect(classifyS3Error(Object.assign(new Error(`connect ${code}`), { code }), ctx).code).toBe(
        "TRANSIENT",
      );
    },
  );

  test("a socket error the SDK re-wrapped, and a refused connection to several addresses, are TRANSIENT", () => {
    const wrapped = new Error("AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9");
    expect(classifyS3Error(wrapped, ctx).code).toBe("TRANSIENT");
    // A server that went away mid-request (seen when s3rver stopped during an upload).
    const hangUp = new Error("AWS SDK error wrapper for TimeoutError: socket hang up");
    expect(classifyS3Error(hangUp, ctx).code).toBe("TRANSIENT");
    const aggregate = Object.assign(
      new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]),
      {
        code: undefined,
      },
    );
    expect(classifyS3Error(aggregate, ctx).code).toBe("TRANSIENT");
  });

  test("messages name the operation, key and destination; hints name the config keys to check", () => {
    const credentials = classifyS3Error(sdkError("SignatureDoesNotMatch", 403), ctx);
    expect(credentials.message).toContain("put a/b on destination primary (s3://bucket/prod)");
    expect(credentials.hint).toContain("destinations.primary.secretAccessKey");
    expect(credentials.exitCode).toBe(12);
    expect(credentials.cause).toBeInstanceOf(Error);
    expect(classifyS3Error(sdkError("SlowDown", 503), ctx).hint).toContain("destinations.primary.endpoint");
    expect(classifyS3Error(sdkError("NoSuchBucket", 404), ctx).hint).toContain("destinations.primary.bucket");
    expect(classifyS3Error(sdkError("PermanentRedirect", 301), ctx).hint).toContain(
      "destinations.primary.region",
    );
  });

  test("HavenErrors pass through unchanged", () => {
    const original = new HavenError("INTEGRITY", "bad");
    expect(classifyS3Error(original, ctx)).toBe(original);
  });
});

describe("s3ClientConfig", () => {
  const base: S3Destination = {
    name: "primary",
    type: "s3",
    bucket: "bucket",
    prefix: "prod/",
    region: "eu-west-1",
    partSizeMiB: 16,
    queueSize: 4,
    maxAttempts: 7,
  };

  test("a custom endpoint gets path style and checksums only where required", () => {
    const config = s3ClientConfig({ ...base, endpoint: "http://127.0.0.1:9000" });
    expect(config).toMatchObject({
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 7,
      region: "eu-west-1",
    });
    expect(
      s3ClientConfig({ ...base, endpoint: "http://minio:9000", forcePathStyle: false }).forcePathStyle,
    ).toBe(false);
  });

  test("AWS keeps the SDK's defaults and its default credential chain", () => {
    const config = s3ClientConfig(base);
    expect(config.endpoint).toBeUndefined();
    expect(config.forcePathStyle).toBe(false);
    expect(config.requestChecksumCalculation).toBeUndefined();
    expect(config.credentials).toBeUndefined();
  });

  test("credentials come from the Secret or, lazily, from the secret file", async () => {
    const fromSecret = s3ClientConfig({
      ...base,
      accessKeyId: "AKIA1",
      secretAccessKey: new Secret("s3cr3t"),
    });
    await expect((fromSecret.credentials as () => Promise<unknown>)()).resolves.toEqual({
      accessKeyId: "AKIA1",
      secretAccessKey: "s3cr3t",
    });
    const dir = await mkdtemp(join(tmpdir(), "haven-s3-secret-"));
    try {
      await writeFile(join(dir, "secret"), "from-file\n");
      await writeFile(join(dir, "token"), "tok\n");
      const fromFile = s3ClientConfig({
        ...base,
        accessKeyId: "AKIA2",
        secretAccessKeyFile: join(dir, "secret"),
        sessionTokenFile: join(dir, "token"),
      });
      await expect((fromFile.credentials as () => Promise<unknown>)()).resolves.toEqual({
        accessKeyId: "AKIA2",
        secretAccessKey: "from-file",
        sessionToken: "tok",
      });
      const missing = s3ClientConfig({
        ...base,
        accessKeyId: "AKIA3",
        secretAccessKeyFile: join(dir, "nope"),
      });
      await expect((missing.credentials as () => Promise<unknown>)()).rejects.toMatchObject({
        code: "CREDENTIALS",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a key id without a secret is a config error naming both keys", () => {
    const error = thrownBy(() => s3ClientConfig({ ...base, accessKeyId: "AKIA1" }));
    expect(error).toMatchObject({ code: "CONFIG" });
    expect((error as HavenError).hint).toContain("destinations.primary.secretAccessKey");
  });

  test("location shows bucket and prefix, nothing else", () => {
    expect(s3Location({ bucket: "b", prefix: "prod/" })).toBe("s3://b/prod");
    expect(s3Location({ bucket: "b", prefix: "" })).toBe("s3://b");
  });
});

describe("planUpload", () => {
  test("without a hint the configured part size and queue are used, capping the object at 10,000 parts", () => {
    expect(planUpload({ destination: "p", partSizeMiB: 16, queueSize: 4 })).toEqual({
      partSize: 16 * MiB,
      queueSize: 4,
      maxBytes: 16 * MiB * MAX_PARTS,
    });
  });

  test("an expected size grows the part size so 1.25 × the size fits in 10,000 parts", () => {
    for (const expectedSize of [200 * 1024 * MiB, 1024 * 1024 * MiB, 3 * 1024 * 1024 * MiB + 17]) {
      const plan = planUpload({ destination: "p", partSizeMiB: 16, queueSize: 4, expectedSize });
      expect(plan.partSize % MiB).toBe(0);
      expect(plan.maxBytes).toBeGreaterThanOrEqual(expectedSize * 1.25);
      expect(plan.partSize - MiB).toBeLessThan((expectedSize * 1.25) / MAX_PARTS); // the smallest such size
    }
    // A small hint never shrinks the configured size.
    expect(planUpload({ destination: "p", partSizeMiB: 16, queueSize: 4, expectedSize: 1000 }).partSize).toBe(
      16 * MiB,
    );
  });

  test("an object too large for S3 is refused before any byte is sent", () => {
    const error = thrownBy(() =>
      planUpload({ destination: "p", partSizeMiB: 16, queueSize: 4, expectedSize: 50 * 1024 * 1024 * MiB }),
    );
    expect(error).toMatchObject({ code: "PERMANENT" });
  });
});

describe("rangeLimit", () => {
  test("a range served exactly needs no limit", () => {
    expect(
      rangeLimit([10, 19], { contentRange: "bytes 10-19/100", contentLength: 10 }, "get"),
    ).toBeUndefined();
  });

  test("a range served longer than asked, or a whole object, is cut to the asked length", () => {
    expect(rangeLimit([0, 0], { contentRange: "bytes 0-99/100", contentLength: 100 }, "get")).toBe(1);
    expect(rangeLimit([0, 9], { contentRange: undefined, contentLength: 100 }, "get")).toBe(10);
  });

  test("a range served from elsewhere is refused", () => {
    const error = thrownBy(() =>
      rangeLimit([10, 19], { contentRange: undefined, contentLength: 100 }, "get x"),
    );
    expect(error).toMatchObject({ code: "PERMANENT" });
  });
});
