# syntax=docker/dockerfile:1
# Haven: multi-stage build, non-root runtime with the database client tools and zstd/age.
# The build stage runs scripts/release-build.sh, the same script CI runs on every change.
ARG NODE_VERSION=22
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
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-client mariadb-client redis-tools sqlite3 zstd age ca-certificates tini fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/haven --create-home haven
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production HAVEN_CONFIG=/etc/haven/haven.yaml
USER haven
EXPOSE 9465
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:9465/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["serve"]
