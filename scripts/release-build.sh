#!/usr/bin/env bash
# The build the Dockerfile runs, as a script so CI can prove it works without a Docker engine:
# a clean install, a build, a production-only install of the result, and a smoke run of the CLI.
# Usage: scripts/release-build.sh OUT_DIR   (OUT_DIR receives dist/, node_modules/, package.json)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: release-build.sh OUT_DIR}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/tsconfig.build.json" "$src/src" "$src/config" "$work/"
(cd "$work" && bash "$src/scripts/npm-ci.sh" --ignore-scripts >/dev/null && npm run build >/dev/null)
cp -r "$work/dist" "$work/package.json" "$work/package-lock.json" "$work/config" "$out/"
(cd "$out" && bash "$src/scripts/npm-ci.sh" --omit=dev --ignore-scripts >/dev/null)
# Install scripts stay off but for one: the zstd binding (a prebuilt binary, or built with node-gyp).
# It is optional: without it Haven compresses in a zstd child process, so a failure only warns.
if (cd "$out" && npm rebuild zstd-napi >/dev/null 2>&1) &&
  node -e 'require(process.argv[1])' "$out/node_modules/zstd-napi" 2>/dev/null; then
  echo "zstd: native binding built"
else
  echo "warning: the zstd-napi binding did not build; zstd will run as a child process" >&2
fi
node "$out/dist/cli/main.js" --version
# The example config names its secret files under $HAVEN_SECRETS_DIR; give it placeholder ones.
secrets="$work/secrets"
mkdir -p "$secrets"
grep -o 'HAVEN_SECRETS_DIR:-/run/secrets}/[A-Za-z0-9._-]*' "$out/config/haven.example.yaml" |
  sed 's#.*}/##' | while read -r name; do echo placeholder >"$secrets/$name"; done
# Its recipient is a placeholder that validation refuses on purpose; any well-formed key stands in.
HAVEN_SECRETS_DIR="$secrets" HAVEN_AGE_RECIPIENT=age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq \
  node "$out/dist/cli/main.js" config validate -c "$out/config/haven.example.yaml"
echo "release build ok: $out"
