/**
 * `haven serve` binds its HTTP port before it starts taking jobs: a start that fails there (the port
 * is taken) leaves no worker running that the exiting process would then drop mid-job.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import type { Redis } from "ioredis";
import { PublishedEstate } from "../../src/app/published-estate";
import { startRuntime } from "../../src/app/runtime";
import { parseConfigText } from "../../src/config/load";
import { openQueues } from "../../src/jobs/queues";
import { silentLogger } from "../../src/lib/logger";
import { uniquePrefix } from "./helpers/config";
import { connectTestRedis, deleteKeys } from "./helpers/redis";

const prefix = uniquePrefix("runtime-start");
let redis: Redis;
let taken: Server;
let port: number;

beforeAll(async () => {
  redis = await connectTestRedis();
  taken = createServer().listen(0, "127.0.0.1");
  await once(taken, "listening");
  port = (taken.address() as { port: number }).port;
});

afterAll(async () => {
  taken.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

test("a serve whose HTTP port is taken fails to start and leaves no worker taking jobs", async () => {
  const config = parseConfigText(
    [
      `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
      `queuePrefix: ${prefix}`,
      `http: { host: 127.0.0.1, port: ${port} }`,
      `destinations: { local: { type: filesystem, path: ${tmpdir()} } }`,
      "targets:",
      `  share: { type: files, path: ${tmpdir()}/haven-runtime-share, destinations: [local] }`,
    ].join("\n"),
    "<runtime-start-test>",
  );
  await expect(
    startRuntime(config, { mode: "serve", logger: silentLogger, installSignals: false }),
  ).rejects.toMatchObject({ code: "EADDRINUSE" });
  const queues = openQueues(redis, { prefix });
  try {
    expect(await queues.backup.getWorkers()).toEqual([]);
    expect(await queues.maintenance.getWorkers()).toEqual([]);
    // It had reconciled the schedules of its config, and published that config's names with them.
    expect((await new PublishedEstate(redis, prefix).read())?.targets).toEqual(new Set(["share"]));
  } finally {
    await queues.close();
  }
});
