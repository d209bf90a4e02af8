# syntax=docker/dockerfile:1
# Haven: multi-stage build, non-root runtime with the database client tools and zstd/age.
# The build stage runs scripts/release-build.sh, the same script CI runs on every change.
ARG NODE_VERSION=22
# pg_dump dumps servers of its own major version and older, never newer ones (Haven refuses with a
# hint): Debian 12's own client is 15, so the client comes from the PostgreSQL project's apt
# repository. Set it to the newest major version among your PostgreSQL servers, or newer.
ARG PG_CLIENT_MAJOR=18
# Restore tests of a redis target load its RDB into a private redis-server, which refuses an RDB
# newer than itself (Debian 12's 7.0 cannot read what 7.2 and later write): at least the newest
# Redis among your redis targets. redis-cli, which takes the backups, comes from the same image.
ARG REDIS_VERSION=7.4
FROM redis:${REDIS_VERSION}-bookworm AS redis

FROM node:${NODE_VERSION}-bookworm-slim AS build
# A compiler for the zstd binding when no prebuilt binary can be fetched (the runtime needs none).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY config ./config
RUN bash scripts/release-build.sh /app

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG PG_CLIENT_MAJOR
# postgresql-common ships the PostgreSQL apt repository's key and the script that adds it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates postgresql-common \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-client-${PG_CLIENT_MAJOR} mariadb-client sqlite3 zstd age tini fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/haven --create-home haven
COPY --from=redis /usr/local/bin/redis-server /usr/local/bin/redis-cli /usr/local/bin/
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production HAVEN_CONFIG=/etc/haven/haven.yaml
USER haven
EXPOSE 9465
# /healthz is served by `serve` only (on http.port, 9465 by default): a `worker` container disables it
# (docker-compose.yml does), or an orchestrator that replaces unhealthy containers kills its backups.
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:9465/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["serve"]
