#!/usr/bin/env bash
# Runs every test suite. In order: the build, the type check of the tests,
# eslint and the engine's tests (vitest). Then the dashboard in Debian's
# Chromium (scripts/test-browser.sh), and the Home Assistant integration's
# ruff and pytest on each tested HA version inside a cached Debian root
# (scripts/test-python.sh). Last, the end-to-end test on a real Home
# Assistant (scripts/test-e2e.sh). The last two need root for chroot and
# mounts.
#
# Every suite runs even when an earlier one failed. The script then prints
# one line per suite and a last line "N passed, N failed" counting suites,
# and exits 1 when any suite failed.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

summary=()
passed=0
failed=0

# Runs one suite: $1 is its name, the rest the command.
run_suite() {
  local name="$1"
  shift
  local started="$SECONDS"
  echo "test: running $name" >&2
  local result="passed"
  if "$@"; then
    passed=$((passed + 1))
  else
    result="FAILED (exit $?)"
    failed=$((failed + 1))
  fi
  summary+=("$(printf '%-12s %s in %d s' "$name" "$result" $((SECONDS - started)))")
}

run_suite build npm run build --silent
run_suite typecheck npx tsc -p tsconfig.test.json
run_suite eslint npx eslint .
run_suite vitest npx vitest run
# The build above made the dashboard bundle the browser and e2e tests load.
run_suite browser env TESLA_SYNC_SKIP_BUILD=1 bash scripts/test-browser.sh
run_suite python bash scripts/test-python.sh
run_suite e2e env TESLA_SYNC_SKIP_BUILD=1 bash scripts/test-e2e.sh

echo
echo "Test suites:"
for line in "${summary[@]}"; do
  echo "  $line"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
