/**
 * Data requests over TLS are signed with UNSIGNED-PAYLOAD (no second sha256 pass over every part) and
 * their bodies are streamed in slices; over plain HTTP the body hash stays in the signature. Against
 * s3rver over HTTPS and over HTTP.
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { FinalizeHandler, FinalizeHandlerArguments, FinalizeRequestMiddleware } from "@smithy/types";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createS3Backend } from "../../src/storage/s3";
import {
  s3ClientConfig,
  streamBodiesOverTls,
  TLS_BODY_SLICE,
  tuneDataRequestsOverTls,
  type S3Destination,
} from "../../src/storage/s3-client";
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
  tuneDataRequestsOverTls(client);
  const payloadHashes: Array<{ command: string; hash: string; streamed: boolean }> = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { headers: Record<string, string>; body?: unknown };
      payloadHashes.push({
        command: String(context.commandName),
        hash: request.headers["x-amz-content-sha256"] ?? "",
        streamed: request.body instanceof Readable,
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
  // Written to TLS in slices, not encrypted as one buffer per part.
  expect(parts.every((p) => p.streamed)).toBe(true);
  // Requests without backup data keep their (cheap) signed payload hash.
  const complete = payloadHashes.find((p) => p.command === "CompleteMultipartUploadCommand");
  expect(complete?.hash).toMatch(/^[0-9a-f]{64}$/);
});

test("over HTTPS, a body smaller than one part goes as one PutObject, also UNSIGNED-PAYLOAD", async () => {
  const dest = s3rverDestination(https, bucket);
  const { client, payloadHashes } = signedClient(dest);
  const backend = createS3Backend(dest, { client });
  const body = generatedBody(2 * MiB + 5);
  const put = await backend.put("small.bin", body.stream);
  expect(put.sha256).toBe(body.sha256());
  const stored = createHash("sha256");
  for await (const chunk of await backend.get("small.bin")) stored.update(chunk as Buffer);
  expect(stored.digest("hex")).toBe(body.sha256());
  const puts = payloadHashes.filter((p) => p.command === "PutObjectCommand");
  expect(puts).toEqual([{ command: "PutObjectCommand", hash: "UNSIGNED-PAYLOAD", streamed: true }]);
  expect(payloadHashes.some((p) => p.command === "UploadPartCommand")).toBe(false);
  await backend.close();
  client.destroy();
});

test("over plain HTTP, every part's sha256 stays in its signature", async () => {
  const { put, expected, storedSha256, payloadHashes } = await roundTrip(http);
  expect(put.sha256).toBe(expected.sha256());
  expect(storedSha256).toBe(expected.sha256());
  const parts = payloadHashes.filter((p) => p.command === "UploadPartCommand");
  expect(parts).toHaveLength(3);
  for (const part of parts) expect(part.hash).toMatch(/^[0-9a-f]{64}$/);
  expect(parts.some((p) => p.streamed)).toBe(false);
});

test("each attempt of a data request over TLS streams the whole part again", async () => {
  // The middleware alone: a retry calls it again with the same request.
  const added: Array<FinalizeRequestMiddleware<object, object>> = [];
  const stack = { add: (m: FinalizeRequestMiddleware<object, object>) => added.push(m) };
  streamBodiesOverTls({ middlewareStack: stack } as unknown as S3Client);
  const [middleware] = added;
  if (middleware === undefined) throw new Error("no middleware was added");
  const part = Buffer.alloc(3 * TLS_BODY_SLICE + 17);
  for (let i = 0; i < part.length; i++) part[i] = (i * 31) % 251;
  const sent: Buffer[] = [];
  const send: FinalizeHandler<object, object> = async (args) => {
    const chunks: Buffer[] = [];
    for await (const chunk of (args.request as { body: Readable }).body) chunks.push(chunk as Buffer);
    sent.push(Buffer.concat(chunks));
    return { output: {}, response: {} };
  };
  const handler = middleware(send, { commandName: "UploadPartCommand" });
  const request = { protocol: "https:", headers: {}, body: part };
  const args = { input: {}, request } as FinalizeHandlerArguments<object>;
  await handler(args);
  await handler(args);
  expect(sent).toHaveLength(2);
  for (const body of sent) expect(body.equals(part)).toBe(true);
  // The request itself still holds the part, ready for the next attempt.
  expect(request.body).toBe(part);
});
