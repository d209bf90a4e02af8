/**
 * The runtime image must hold every program Haven runs, in a version that works. No Docker engine
 * runs here, so the Dockerfile is read: the image lacked redis-server (every restore test of a redis
 * target failed) and took Debian 12's pg_dump 15, which cannot dump a PostgreSQL 16 or newer server.
 * docker-compose.yml's worker serves no /healthz, so the image's health check is off there.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sourceFiles } from "../helpers/source-files";

const ROOT = join(__dirname, "..", "..");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const runtime = dockerfile.slice(dockerfile.indexOf("\nFROM node:", dockerfile.indexOf("AS build")));
const compose = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");

/** How the runtime stage provides each program Haven starts. */
const PROVIDED: Record<string, RegExp> = {
  "/bin/sh": /^FROM node:\S+-bookworm-slim AS runtime/m, // hooks; the base image's dash
  stdbuf: /^FROM node:\S+-bookworm-slim AS runtime/m, // coreutils, in the base image
  pg_dump: /postgresql-client-\$\{PG_CLIENT_MAJOR\}/,
  pg_dumpall: /postgresql-client-\$\{PG_CLIENT_MAJOR\}/,
  pg_restore: /postgresql-client-\$\{PG_CLIENT_MAJOR\}/,
  "mariadb-dump": /\bmariadb-client\b/,
  mariadb: /\bmariadb-client\b/,
  "redis-cli": /^COPY --from=redis .*\/redis-cli\b/m,
  "redis-server": /^COPY --from=redis .*\/redis-server\b/m,
  sqlite3: /\bsqlite3\b/,
  zstd: /\bzstd\b/,
  age: /\bage\b/, // the manifests' manual recipe
};

test("every program the code starts by name is one the runtime image provides", () => {
  const started = new Set<string>();
  for (const file of sourceFiles(join(ROOT, "src"))) {
    if (file.includes(`${join("src", "demo")}`) || file.endsWith("s3rver-process.ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/(?:command: |spawn\(|toolVersion\()"([^"]+)"/g)) {
      started.add(match[1] as string);
    }
  }
  expect(started.size).toBeGreaterThan(5);
  expect([...started].filter((program) => !(program in PROVIDED))).toEqual([]);
});

test.each(Object.entries(PROVIDED))("the runtime image provides %s", (_program, provided) => {
  expect(runtime).toMatch(provided);
});

test("pg_dump comes from the PostgreSQL repository, in a version newer than Debian 12's 15", () => {
  expect(runtime).toContain("/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y");
  const major = Number(/^ARG PG_CLIENT_MAJOR=(\d+)$/m.exec(dockerfile)?.[1]);
  expect(major).toBeGreaterThan(15);
  expect(runtime).toMatch(/^ARG PG_CLIENT_MAJOR$/m);
});

test("redis-server and redis-cli come from a Redis that reads the RDB of Redis 7.2 and later", () => {
  const version = /^ARG REDIS_VERSION=(\d+)\.(\d+)$/m.exec(dockerfile);
  expect(version).not.toBeNull();
  expect(Number(version?.[1]) * 100 + Number(version?.[2])).toBeGreaterThanOrEqual(702);
  expect(dockerfile).toMatch(/^FROM redis:\$\{REDIS_VERSION\}-bookworm AS redis$/m);
});

test("the compose worker, which serves no /healthz, turns the image's health check off", () => {
  const worker = compose.slice(compose.indexOf("\n  worker:"));
  expect(worker).toMatch(/healthcheck: \{ disable: true \}/);
  expect(compose.slice(compose.indexOf("\n  haven:"), compose.indexOf("\n  worker:"))).not.toContain(
    "healthcheck",
  );
});

test("the compose haven service listens where its published port reaches", () => {
  const haven = compose.slice(compose.indexOf("\n  haven:"), compose.indexOf("\n  worker:"));
  expect(haven).toContain('ports: ["127.0.0.1:9465:9465"]');
  expect(haven).toContain("HAVEN_HTTP_HOST: 0.0.0.0");
  const example = readFileSync(join(ROOT, "config", "haven.example.yaml"), "utf8");
  expect(example).toContain("host: ${HAVEN_HTTP_HOST:-127.0.0.1}");
});
