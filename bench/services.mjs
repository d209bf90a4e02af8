// The servers a benchmark run talks to: s3rver over HTTP and over HTTPS (restic needs HTTPS), the
// do-nothing S3 endpoint, and a self-signed certificate for 127.0.0.1. Buckets are made per run and
// removed after it, straight from s3rver's directory (s3rver keeps one directory per bucket), which
// is much faster than deleting thousands of restic pack files through the API.
import { execFileSync } from "node:child_process";
import { Agent } from "node:https";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { startNullS3 } from "./null-s3.mjs";

const require = createRequire(import.meta.url);

/** key.pem and cert.pem for 127.0.0.1 (with the IP SAN Go's TLS insists on), valid two days. */
export async function selfSignedCert(dir) {
  await mkdir(dir, { recursive: true });
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"],
      ...["-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "ignore" },
  );
  return { key, cert };
}

/** s3rver (HTTP and HTTPS, from dist/) and the null endpoint; `stop()` ends all three. */
export async function startServices(workDir, tls) {
  const { startS3rver } = require("../dist/lib/s3rver-process.js");
  const http = await startS3rver({ directory: join(workDir, "s3rver-http") });
  const https = await startS3rver({ directory: join(workDir, "s3rver-https"), tls });
  const nullS3 = await startNullS3();
  const ca = readFileSync(tls.cert);
  const clients = new Map();
  const clientFor = (server) => {
    if (!clients.has(server)) {
      clients.set(
        server,
        new S3Client({
          region: "us-east-1",
          endpoint: server.endpoint,
          forcePathStyle: true,
          credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
          requestHandler: { httpsAgent: new Agent({ ca }) },
        }),
      );
    }
    return clients.get(server);
  };
  return {
    http,
    https,
    nullS3,
    async createBucket(server, bucket) {
      await clientFor(server).send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async removeBucket(server, bucket) {
      await rm(join(server.directory, bucket), { recursive: true, force: true });
    },
    async stop() {
      for (const client of clients.values()) client.destroy();
      await Promise.allSettled([http.stop(), https.stop(), nullS3.stop()]);
    },
  };
}
