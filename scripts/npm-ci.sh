#!/usr/bin/env bash
# `npm ci`, with a fallback for a known npm 11 bug (npm/cli#4828, #8805): lock files it writes omit the
# other platforms' optional packages (@swc/core-darwin-arm64, ...), and its own `npm ci` then refuses
# them as "out of sync". The fallback installs exactly the locked versions with `npm install`, which
# tolerates those missing entries, and leaves the committed lock file untouched.
# Usage: scripts/npm-ci.sh [extra npm flags, e.g. --omit=dev]
set -euo pipefail
if ! out=$(npm ci --no-audit --no-fund "$@" 2>&1); then
  if grep -q "can only install packages when your package.json and package-lock.json" <<<"$out"; then
    echo "npm ci refused the lock file (npm/cli#4828: platform packages of other OSes missing); installing the locked versions with npm install" >&2
    cp package-lock.json package-lock.json.orig
    npm install --no-audit --no-fund "$@"
    mv package-lock.json.orig package-lock.json
  else
    printf '%s\n' "$out" >&2
    exit 1
  fi
else
  printf '%s\n' "$out" | tail -n 3
fi
