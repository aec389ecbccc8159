#!/usr/bin/env bash
# Runs every test suite: type check and lint, the engine's tests (vitest),
# the dashboard in Chromium, then the Home Assistant integration's tests on each supported HA version
# (pytest inside a cached Debian root; needs root for chroot and mounts).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
npm run build --silent
npx tsc -p tsconfig.test.json
npx eslint .
npx vitest run
TESLA_SYNC_SKIP_BUILD=1 bash scripts/test-browser.sh
bash scripts/test-python.sh
