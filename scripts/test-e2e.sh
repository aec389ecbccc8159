#!/usr/bin/env bash
# Runs the end-to-end test against a real Home Assistant (test/e2e). It
# builds the engine and prepares the Debian root of scripts/python-env.sh
# with an e2e virtualenv: the tested HA plus its frontend, which HA must
# load or it starts in recovery mode. It then creates a fresh HA config
# directory with the tesla_sync integration and runs the vitest driver,
# which starts hass, the stand-ins and the engine. Every process the test
# starts is stopped at the end, on failure too. Needs root, like
# scripts/python-env.sh.
#
# TESLA_SYNC_E2E_KEEP=1 keeps the temporary directory (logs, HA config).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# scripts/test.sh has built already and sets TESLA_SYNC_SKIP_BUILD=1.
if [ "${TESLA_SYNC_SKIP_BUILD:-}" != "1" ]; then
  npm run build --silent
fi
source "$(dirname "${BASH_SOURCE[0]}")/python-env.sh"

E2E_HA_VERSION="${PY_HA_VERSIONS[-1]}"
E2E_BASE_VENV="/opt/venvs/ha-$E2E_HA_VERSION"
E2E_VENV="/opt/venvs/e2e-ha-$E2E_HA_VERSION"
E2E_SITE="lib/$PY_BIN/site-packages"

# The frontend version that this HA pins, from its own manifest.
frontend_requirement="$(
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).requirements[0])' \
    "$PY_ROOT$E2E_BASE_VENV/$E2E_SITE/homeassistant/components/frontend/manifest.json"
)"

# The e2e venv reuses the test venv's packages through a .pth file and adds
# only the frontend, so the test venv itself stays as the Python tests need.
marker="$PY_ROOT$E2E_VENV/.installed-$(echo "$frontend_requirement" | tr '=' '-')"
if [ ! -f "$marker" ]; then
  echo "test-e2e: creating $E2E_VENV with $frontend_requirement" >&2
  rm -rf "${PY_ROOT:?}$E2E_VENV"
  py_chroot "$PY_BIN" -m venv "$E2E_VENV"
  echo "$E2E_BASE_VENV/$E2E_SITE" >"$PY_ROOT$E2E_VENV/$E2E_SITE/tesla-sync-e2e-base.pth"
  py_chroot "$E2E_VENV/bin/pip" install --quiet --no-deps "$frontend_requirement"
  touch "$marker"
fi

run_id="tesla-sync-e2e.$$"
E2E_DIR="$PY_ROOT/tmp/$run_id"
mkdir -p "$E2E_DIR/config/custom_components"
cp -r "$REPO_ROOT/custom_components/tesla_sync" "$E2E_DIR/config/custom_components/"
cp -r "$REPO_ROOT/test/e2e/tesla_sync_e2e" "$E2E_DIR/config/custom_components/"
: >"$E2E_DIR/pids"

e2e_cleanup() {
  local pid
  # The test stops its processes itself; this catches what a crash left.
  while read -r pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "test-e2e: stopping leftover process $pid" >&2
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$E2E_DIR/pids"
  if [ "${TESLA_SYNC_E2E_KEEP:-0}" = "1" ]; then
    echo "test-e2e: kept $E2E_DIR" >&2
  else
    rm -rf "$E2E_DIR"
  fi
  py_unmount
}
trap e2e_cleanup EXIT

cd "$REPO_ROOT"
status=0
TESLA_SYNC_E2E_DIR="$E2E_DIR" \
  TESLA_SYNC_E2E_CHROOT_DIR="/tmp/$run_id" \
  TESLA_SYNC_E2E_ROOT="$PY_ROOT" \
  TESLA_SYNC_E2E_PYTHON="$E2E_VENV/bin/python" \
  npx vitest run test/e2e "$@" || status=$?
if [ "$status" -ne 0 ]; then
  # Keep the evidence: the logs and HA's config directory.
  TESLA_SYNC_E2E_KEEP=1
  for log in "$E2E_DIR/engine.log" "$E2E_DIR/config/home-assistant.log"; do
    if [ -f "$log" ]; then
      echo "test-e2e: last lines of $log:" >&2
      tail -n 40 "$log" | cut -c1-400 >&2
    fi
  done
fi
exit "$status"
