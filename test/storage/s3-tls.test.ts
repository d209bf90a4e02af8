/**
 * Data requests over TLS are signed with UNSIGNED-PAYLOAD (no second sha256 pass over every part);
 * over plain HTTP the body hash stays in the signature. Against s3rver over HTTPS and over HTTP.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createS3Backend } from "../../src/storage/s3";
import { s3ClientConfig, skipPayloadSigningOverTls, type S3Destination } from "../../src/storage/s3-client";
import { s3rverDestination, uniqueName } from "../helpers/s3-config";
import { generatedBody } from "./streams";

const MiB = 1024 * 1024;
const bucket = uniqueName("haven-tls");
let certDir: string;
let ca: Buffer;
let https: S3rverHandle;
let http: S3rverHandle;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), "haven-tls-"));
  const key = join(certDir, "key.pem");
  const cert = join(certDir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert],
      ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "ignore" },
  );
  ca = await readFile(cert);
  [https, http] = await Promise.all([
    startS3rver({ buckets: [bucket], tls: { key, cert } }),
    startS3rver({ buckets: [bucket] }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([https?.stop(), http?.stop()]);
  await rm(certDir, { recursive: true, force: true });
});

/** The client the backend would build, trusting the test CA, recording each signed request's payload hash. */
function signedClient(dest: S3Destination) {
  const client = new S3Client({
    ...s3ClientConfig(dest),
    requestHandler: { httpsAgent: new Agent({ ca }), connectionTimeout: 10_000 },
  });
  skipPayloadSigningOverTls(client);
  const payloadHashes: Array<{ command: string; hash: string }> = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { headers: Record<string, string> };
      payloadHashes.push({
        command: String(context.commandName),
        hash: request.headers["x-amz-content-sha256"] ?? "",
      });
      return next(args);
    },
    // Deserialize runs after finalizeRequest, where the request was signed.
    { step: "deserialize", name: "recordPayloadHash" },
  );
  return { client, payloadHashes };
}

async function roundTrip(server: S3rverHandle) {
  const dest = s3rverDestination(server, bucket);
  const { client, payloadHashes } = signedClient(dest);
  const backend = createS3Backend(dest, { client });
  const body = generatedBody(12 * MiB + 123);
  const put = await backend.put("data.bin", body.stream);
  const stored = createHash("sha256");
  for await (const chunk of await backend.get("data.bin")) stored.update(chunk as Buffer);
  await backend.close();
  client.destroy();
  return { put, expected: body, storedSha256: stored.digest("hex"), payloadHashes };
}

test("over HTTPS, upload parts are signed with UNSIGNED-PAYLOAD and arrive intact", async () => {
  const { put, expected, storedSha256, payloadHashes } = await roundTrip(https);
  expect(put.size).toBe(12 * MiB + 123);
  expect(put.sha256).toBe(expected.sha256());
  expect(storedSha256).toBe(expected.sha256());
  const parts = payloadHashes.filter((p) => p.command === "UploadPartCommand");
  expect(parts).toHaveLength(3);
  expect(parts.every((p) => p.hash === "UNSIGNED-PAYLOAD")).toBe(true);
  // Requests without backup data keep their (cheap) signed payload hash.
  const complete = payloadHashes.find((p) => p.command === "CompleteMultipartUploadCommand");
  expect(complete?.hash).toMatch(/^[0-9a-f]{64}$/);
});

test("over plain HTTP, every part's sha256 stays in its signature", async () => {
  const { put, expected, storedSha256, payloadHashes } = await roundTrip(http);
  expect(put.sha256).toBe(expected.sha256());
  expect(storedSha256).toBe(expected.sha256());
  const parts = payloadHashes.filter((p) => p.command === "UploadPartCommand");
  expect(parts).toHaveLength(3);
  for (const part of parts) expect(part.hash).toMatch(/^[0-9a-f]{64}$/);
});
