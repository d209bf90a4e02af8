/**
 * Exit 12 means "decryption or credentials failed" (DESIGN.md): a backup whose bucket refuses the key
 * exited 1, like any other failure, so a script could not tell a rotated key from a broken source.
 * Real CLI (dist/) against an S3 endpoint that answers every request 403 AccessDenied.
 */
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { runCli } from "../helpers/cli";
import { tempDir, writeConfigFile } from "../helpers/s3-config";

let server: Server;
let config: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.once("end", () => {
      // A fresh connection per request: a kept-alive socket this server closes after its idle
      // timeout (5 s, reachable on a loaded machine) would fail the next request as a reset instead.
      response.writeHead(403, { "content-type": "application/xml", connection: "close" });
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
      );
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const work = await tempDir("haven-credentials-exit");
  const share = join(work, "share");
  await mkdir(share);
  await writeFile(join(share, "a.txt"), "hello");
  config = await writeConfigFile(
    work,
    [
      "destinations:",
      "  primary:",
      "    type: s3",
      "    bucket: denied",
      `    endpoint: http://127.0.0.1:${port}`,
      "    accessKeyId: rotated",
      "    secretAccessKey: rotated-secret",
      "    maxAttempts: 1",
      "defaults: { destinations: [primary] }",
      "targets:",
      `  app: { type: files, path: ${share} }`,
    ].join("\n") + "\n",
  );
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

test("a backup the bucket refuses for its credentials exits 12, saying which key to check", async () => {
  const result = await runCli(["-c", config, "backup", "app", "--direct"]);
  expect(result.stderr).toContain("backup of app failed");
  expect(result.stderr).toContain("check destinations.primary.accessKeyId");
  expect(result.code).toBe(12);
});

test("listing the refusing bucket exits 12 too", async () => {
  const result = await runCli(["-c", config, "snapshots", "app"]);
  expect(result.stderr).toContain("check destinations.primary.accessKeyId");
  expect(result.code).toBe(12);
});
