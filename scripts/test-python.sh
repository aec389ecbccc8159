#!/usr/bin/env bash
# Runs the Python checks of the Home Assistant integration: ruff (lint and
# format check), then pytest once per tested HA version. Exits non-zero on any
# failure, including a pytest run that collected no tests (exit 5).
source "$(dirname "${BASH_SOURCE[0]}")/python-env.sh"

status=0
py_ruff check custom_components tests || status=1
py_ruff format --check custom_components tests || status=1

for ha in "${PY_HA_VERSIONS[@]}"; do
  echo "test-python: pytest on Home Assistant $ha" >&2
  # -p no:cacheprovider keeps pytest from writing .pytest_cache into the clone.
  if ! py_run "$ha" python -m pytest -p no:cacheprovider -q tests "$@"; then
    echo "test-python: pytest failed on Home Assistant $ha" >&2
    status=1
  fi
done
exit "$status"
