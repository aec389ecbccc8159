#!/usr/bin/env bash
# Runs every test suite: type check and lint, then the engine's tests.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
npm run build --silent
npx tsc -p tsconfig.test.json
npx eslint .
npx vitest run
