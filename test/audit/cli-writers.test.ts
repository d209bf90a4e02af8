/**
 * Two CLI commands writing audit records at once, as built processes against s3rver (behind a proxy)
 * and the real Redis. The proxy holds each audit record PUT until the other command's arrives (or a
 * few seconds pass): two writers that both read the head before either wrote would both chain to it
 * and fork the trail, and `haven audit verify` would report tampering that never happened. Under the
 * Redis lock the second command reads the head only after the first moved it.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { generateIdentity } from "../../src/crypto/age";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { runCli } from "../helpers/cli";
import { s3DestinationYaml, tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";
import { connectTestRedis, deleteKeys, redisUrl } from "../jobs/helpers/redis";
import { startS3Proxy, type RecordedRequest, type S3Proxy } from "../objectlock/s3-proxy";

const bucket = uniqueName("audit-writers");
const queuePrefix = uniqueName("haven-test-audit-cli");
let s3: S3rverHandle;
let proxy: S3Proxy;
let redis: Redis;
let work: string;
/** `keys check`, the audited command these tests run, needs an identity (no snapshot needs it). */
let keysCheck: string[];

beforeAll(async () => {
  [s3, redis] = await Promise.all([startS3rver({ buckets: [bucket] }), connectTestRedis()]);
  proxy = await startS3Proxy(s3.endpoint);
  work = await tempDir("haven-audit-writers");
  await mkdir(join(work, "share"));
  const identityFile = join(work, "identity.txt");
  await writeFile(identityFile, `${generateIdentity().identity}\n`, { mode: 0o600 });
  keysCheck = ["keys", "check", "--identity", identityFile];
});

afterEach(() => {
  proxy.rules.length = 0;
});

afterAll(async () => {
  await deleteKeys(redis, queuePrefix);
  await redis?.quit();
  await proxy?.stop();
  await s3?.stop();
});

/** A config of its own (a fresh trail) whose Redis is `redisAt`. */
async function configWithRedis(redisAt: string): Promise<string> {
  const dir = await mkdtemp(join(work, "config-"));
  return writeConfigFile(
    dir,
    [
      `redis: ${JSON.stringify(redisAt)}`,
      `queuePrefix: ${queuePrefix}`,
      "destinations:",
      s3DestinationYaml({ ...s3, endpoint: proxy.endpoint }, bucket, `${uniqueName("p")}/`),
      "targets:",
      "  share:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "share"))}`,
      "    destinations: [primary]",
    ].join("\n"),
  );
}

const isRecordPut = (r: RecordedRequest) =>
  r.method === "PUT" && r.path.includes("/_audit/") && !r.path.endsWith("/HEAD.json");

/** Holds each audit record PUT until `count` of them wait together, or `maxWaitMs` passed. */
function meetAtRecordWrites(count: number, maxWaitMs: number): void {
  let waiting: Array<() => void> = [];
  proxy.rules.push((request) => {
    if (!isRecordPut(request)) return undefined;
    const met = new Promise<void>((resolve) => {
      waiting.push(resolve);
      setTimeout(resolve, maxWaitMs).unref();
    });
    if (waiting.length >= count) {
      for (const release of waiting) release();
      waiting = [];
    }
    return { holdUntil: met };
  });
}

test("two CLI commands appending at once keep one linear audit trail (the Redis lock)", async () => {
  const configPath = await configWithRedis(redisUrl.reveal());
  const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);
  meetAtRecordWrites(2, 3000);

  const runs = await Promise.all([cli(...keysCheck), cli(...keysCheck)]);
  for (const run of runs) expect(run).toMatchObject({ code: 0, stderr: "" });

  const verified = await cli("audit", "verify");
  expect(verified.stdout + verified.stderr).not.toMatch(/forked/);
  expect(verified.code).toBe(0);
  const trail = JSON.parse((await cli("audit", "-o", "json")).stdout) as { seq: number; action: string }[];
  expect(trail.map((r) => [r.seq, r.action])).toEqual([
    [1, "keys-check"],
    [2, "keys-check"],
  ]);
});

test("without Redis a command still writes its record, and says it appended without the lock", async () => {
  // Port 1: nothing listens there, the connection is refused at once.
  const configPath = await configWithRedis("redis://127.0.0.1:1");
  const run = await runCli(["-c", configPath, ...keysCheck]);
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/Redis does not answer: audit records are appended without the lock/);

  const verified = await runCli(["-c", configPath, "audit", "verify"]);
  expect(verified.code).toBe(0);
});
