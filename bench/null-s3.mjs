// A do-nothing S3 endpoint: accepts uploads and throws the bytes away, so a backup to it measures
// the client's own cost (archive, hash, compress, sign, send) with no server storage in the way.
//
// It speaks just enough S3 for Haven's backup path: CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload, PutObject, HeadObject (404, or the size of an object
// it has "stored", so Haven's stored-size check still runs), ListObjectsV2 and ListMultipartUploads
// (empty), DeleteObjects, HeadBucket. No authentication is checked.
//
// As a program (`node bench/null-s3.mjs`) it prints {"port": N} on its first line and serves until
// SIGTERM; startNullS3() runs it in a child process so its CPU is not mixed into the harness.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

const XML = '<?xml version="1.0" encoding="UTF-8"?>\n';

function serve() {
  /** key -> size of objects whose upload completed (a few entries per run). */
  const stored = new Map();
  /** uploadId -> bytes received so far. */
  const uploads = new Map();
  let nextUpload = 1;

  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    const [, bucket = "", ...rest] = url.pathname.split("/");
    const key = decodeURIComponent(rest.join("/"));
    const q = url.searchParams;
    let received = 0;
    req.on("data", (chunk) => (received += chunk.length));
    req.on("end", () => {
      const xml = (status, body) => {
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(XML + body);
      };
      const etag = `"${received.toString(16).padStart(32, "0")}"`;
      if (req.method === "HEAD" && key === "") return res.writeHead(200).end();
      if (req.method === "HEAD") {
        const size = stored.get(`${bucket}/${key}`);
        if (size === undefined) return res.writeHead(404).end();
        return res
          .writeHead(200, {
            "content-length": size,
            "last-modified": new Date().toUTCString(),
            etag: '"0"',
          })
          .end();
      }
      if (req.method === "POST" && q.has("uploads")) {
        const id = `u${nextUpload++}`;
        uploads.set(id, 0);
        return xml(
          200,
          `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
        );
      }
      if (req.method === "PUT" && q.has("uploadId")) {
        uploads.set(q.get("uploadId"), (uploads.get(q.get("uploadId")) ?? 0) + received);
        return res.writeHead(200, { etag }).end();
      }
      if (req.method === "POST" && q.has("uploadId")) {
        stored.set(`${bucket}/${key}`, uploads.get(q.get("uploadId")) ?? 0);
        uploads.delete(q.get("uploadId"));
        return xml(
          200,
          `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"0-1"</ETag></CompleteMultipartUploadResult>`,
        );
      }
      if (req.method === "DELETE" && q.has("uploadId")) {
        uploads.delete(q.get("uploadId"));
        return res.writeHead(204).end();
      }
      if (req.method === "PUT") {
        stored.set(`${bucket}/${key}`, received);
        return res.writeHead(200, { etag }).end();
      }
      if (req.method === "GET" && key === "" && q.has("uploads")) {
        return xml(
          200,
          `<ListMultipartUploadsResult><Bucket>${bucket}</Bucket></ListMultipartUploadsResult>`,
        );
      }
      if (req.method === "GET" && key === "") {
        return xml(
          200,
          `<ListBucketResult><Name>${bucket}</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`,
        );
      }
      if (req.method === "POST" && q.has("delete")) {
        return xml(200, "<DeleteResult></DeleteResult>");
      }
      if (req.method === "DELETE") return res.writeHead(204).end();
      return xml(
        404,
        "<Error><Code>NoSuchKey</Code><Message>the null endpoint stores nothing</Message></Error>",
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
  process.on("SIGTERM", () => process.exit(0));
}

/** Starts the endpoint in a child process: { endpoint, stop() }. */
export async function startNullS3() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]).port);
    });
    child.once("exit", (code) => reject(new Error(`null S3 endpoint exited with ${code}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve();
