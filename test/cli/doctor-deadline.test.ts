/**
 * `runDoctor` gives each probe its own deadline: a server that accepts connections and never
 * answers (a hung server, a firewall) fails its own row, and the targets after it are still probed.
 */
import { once } from "node:events";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { runDoctor } from "../../src/cli/commands/doctor";
import { loadConfig } from "../../src/config/load";
import { testRun } from "../helpers/db";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

let work: string;
let silent: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  work = await tempDir("haven-doctor-deadline");
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "ledger.txt"), "data");
  // Accepts connections and says nothing: the MariaDB client waits for its greeting.
  silent = createServer((socket) => void sockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  silent.close();
  await rm(work, { recursive: true, force: true });
});

test("a server that never answers fails its own row at the probe's deadline; the next target is still probed", async () => {
  const port = (silent.address() as { port: number }).port;
  const path = await writeNasConfigFile(
    work,
    `targets:
  hung-db: { type: mysql, host: 127.0.0.1, port: ${port}, user: backup, database: shop }
  share: { type: files, path: ${join(work, "share")} }
`,
  );
  const config = await loadConfig(path);
  // The whole run may take 8 s; each probe 1 s.
  const rows = await runDoctor(config, testRun().logger, AbortSignal.timeout(8_000), {
    probeTimeoutMs: 1_000,
  });
  expect(rows.filter((row) => row.name === "hung-db" && !row.ok)).toEqual([
    expect.objectContaining({
      check: "probe",
      detail: "no answer within 1s",
      fix: expect.stringMatching(/reachable/),
    }),
  ]);
  expect(rows.filter((row) => row.name === "share").every((row) => row.ok)).toBe(true);
  expect(rows.some((row) => row.name === "share")).toBe(true);
});
