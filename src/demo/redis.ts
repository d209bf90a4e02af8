/**
 * A Redis for the demo: the one at REDIS_URL (or 127.0.0.1:6379) when it answers, otherwise a
 * private `redis-server` from PATH on a free loopback port, stopped when the demo ends.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { HavenError } from "../lib/errors";

export interface DemoRedis {
  url: string;
  private: boolean;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

export async function demoRedis(): Promise<DemoRedis> {
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  if (await answers(url)) return { url, private: false, stop: () => Promise.resolve() };
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  const failed = new Promise<never>((_, reject) =>
    child.once("error", (error) =>
      reject(
        new HavenError(
          "PERMANENT",
          `no Redis answers at ${url} and redis-server could not start: ${error.message}`,
          {
            hint: "set REDIS_URL to a running Redis, or install redis-server (apt-get install redis-server)",
          },
        ),
      ),
    ),
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await Promise.race([answers(privateUrl), failed])) {
      return {
        url: privateUrl,
        private: true,
        async stop() {
          child.kill("SIGTERM");
          if (child.exitCode === null) await once(child, "exit");
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new HavenError("PERMANENT", "a private redis-server did not answer within 5 s");
}
