#!/usr/bin/env bash
# Runs the dashboard's browser tests: builds the engine and the dashboard
# bundle, makes sure Debian's Chromium is installed, then drives it with
# playwright-core (which never downloads a browser of its own).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# scripts/test.sh has built already and sets TESLA_SYNC_SKIP_BUILD=1.
if [ "${TESLA_SYNC_SKIP_BUILD:-}" != "1" ]; then
  npm run build --silent
fi
npx vitest run --config test/browser/vitest.config.ts "$@"
