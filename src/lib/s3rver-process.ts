/**
 * Runs s3rver (an S3-compatible server for tests and the demo) in a child process. A child because
 * s3rver needs NODE_OPTIONS=--openssl-legacy-provider (its continuation tokens use DES, which
 * OpenSSL 3 only has in the legacy provider), and that can only be set when a process starts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";

export interface S3rverHandle {
  endpoint: string;
  port: number;
  directory: string;
  accessKeyId: string;
  secretAccessKey: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * s3rver 3.7's putObject answers once its md5 transform has seen the last byte, not once the file is
 * written: a HEAD right after the PUT (the S3 backend checks every stored size) could find the file
 * still empty, and Haven then rightly failed the put with INTEGRITY ("stored with 0 bytes"), a
 * flaky test under load. The child replaces it with the same steps, answering after the write.
 */
const WRITE_BEFORE_ANSWER = `
const FilesystemStore = require("s3rver/lib/stores/filesystem");
const { createHash } = require("crypto");
const { createWriteStream, promises: fsp } = require("fs");
const { dirname } = require("path");
const { Readable, Transform } = require("stream");
const { pipeline } = require("stream/promises");
FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  await fsp.mkdir(dirname(objectPath), { recursive: true });
  const md5 = createHash("md5");
  let size = 0;
  const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  const count = new Transform({ transform(chunk, encoding, done) { md5.update(chunk); size += chunk.length; done(null, chunk); } });
  await pipeline(content, count, createWriteStream(objectPath));
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
`;

const CHILD_SCRIPT = `${WRITE_BEFORE_ANSWER}
const S3rver = require("s3rver");
const buckets = JSON.parse(process.env.S3RVER_BUCKETS || "[]").map((name) => ({ name }));
const opts = { port: 0, address: "127.0.0.1", silent: true, directory: process.env.S3RVER_DIR, configureBuckets: buckets, allowMismatchedSignatures: false };
if (process.env.S3RVER_KEY) { opts.key = require("fs").readFileSync(process.env.S3RVER_KEY); opts.cert = require("fs").readFileSync(process.env.S3RVER_CERT); }
new S3rver(opts).run().then((addr) => { process.stdout.write(JSON.stringify({ port: addr.port }) + "\\n"); }, (err) => { console.error(err); process.exit(1); });
process.on("SIGTERM", () => process.exit(0));
`;

export interface StartS3rverOptions {
  buckets?: string[];
  directory?: string;
  /** PEM files, to serve HTTPS (restic needs it). */
  tls?: { key: string; cert: string };
}

export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverHandle> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), "haven-s3rver-")));
  const child = spawn(process.execPath, ["-e", CHILD_SCRIPT], {
    cwd: join(__dirname, "..", ".."),
    env: {
      ...process.env,
      NODE_OPTIONS: "--openssl-legacy-provider",
      S3RVER_DIR: directory,
      S3RVER_BUCKETS: JSON.stringify(options.buckets ?? []),
      ...(options.tls ? { S3RVER_KEY: options.tls.key, S3RVER_CERT: options.tls.cert } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)));
  });
  const scheme = options.tls ? "https" : "http";
  return {
    endpoint: `${scheme}://127.0.0.1:${port}`,
    port,
    directory,
    // s3rver's fixed development credentials.
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    process: child,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
