/**
 * The HTTP endpoint of `haven serve`: `/metrics` (Prometheus text format) and `/healthz` (liveness,
 * with the state of each dependency). node:http alone: two read-only routes need no framework.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Redis } from "ioredis";
import { silentLogger, type Logger } from "../lib/logger";

export type CheckState = "up" | "down";

/** Dependency checks for /healthz, e.g. `async () => ({ redis: await redisCheck(redis)() })`. */
export type HealthChecks = () => Promise<Record<string, CheckState>>;

export interface HttpServerOptions {
  /** Default 127.0.0.1 (config `http.host`). */
  host?: string;
  /** 0 picks a free port (config `http.port`, default 9465). */
  port: number;
  registry: Registry;
  health?: HealthChecks;
  /** Time allowed to the health checks before each missing answer counts as down. Default 2 s. */
  healthTimeoutMs?: number;
  logger?: Logger;
}

export interface HttpServerHandle {
  /** The port bound (useful with port 0). */
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Serves until closed. `/healthz` always answers 200 while the process runs (a restart does not bring
 * Redis back): `{"status":"ok"}` plus each check's state, `"status":"degraded"` when a check is down.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const logger = options.logger ?? silentLogger;
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      logger.error({ err: (error as Error).message, path: request.url }, "HTTP request failed");
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("internal error\n");
    });
  });
  server.listen(options.port, options.host ?? "127.0.0.1");
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([error]) => Promise.reject(error as Error)),
  ]);
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    close: async () => {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: HttpServerOptions,
): Promise<void> {
  const path = (request.url ?? "/").split("?")[0];
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
    return;
  }
  if (path === "/metrics") {
    const body = await options.registry.metrics();
    response.writeHead(200, { "content-type": options.registry.contentType }).end(body);
    return;
  }
  if (path === "/healthz") {
    const checks = options.health ? await withTimeout(options.health, options.healthTimeoutMs ?? 2000) : {};
    const status = Object.values(checks).every((s) => s === "up") ? "ok" : "degraded";
    response
      .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify({ status, ...checks }));
    return;
  }
  response.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
}

async function withTimeout(checks: HealthChecks, timeoutMs: number): Promise<Record<string, CheckState>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  try {
    const result = await Promise.race([checks().catch(() => null), timeout]);
    return result ?? { checks: "down" };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A Redis check: up when the connection is ready and answers PING in time. Checks the connection state
 * first, since a worker connection queues commands while disconnected instead of failing them.
 */
export function redisCheck(redis: Redis, timeoutMs = 1000): () => Promise<CheckState> {
  return async () => {
    if (redis.status !== "ready") return "down";
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckState>(
      (resolve) => (timer = setTimeout(() => resolve("down"), timeoutMs)),
    );
    try {
      return await Promise.race([
        redis.ping().then(
          (answer): CheckState => (answer === "PONG" ? "up" : "down"),
          (): CheckState => "down",
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
