# Sourced by scripts/test-python.sh: builds, once, a Debian root with the
# Python that Home Assistant needs, and one virtualenv per tested HA version,
# cached outside the clone in $TESLA_SYNC_CACHE/python (default
# ~/.cache/tesla-sync/python). Later runs reuse the root, the venvs and pip's
# wheel cache, so they only mount and start.
#
# Needs root (debootstrap, mount, chroot). Defines:
#   PY_ROOT              the Debian root
#   PY_HA_VERSIONS       the HA versions tested, oldest first
#   py_run VERSION CMD…  runs CMD in /repo inside the root, with VERSION's venv
#                        first on PATH
#   py_ruff CMD…         runs ruff (pinned in requirements_test.txt)
# The caller's EXIT trap unmounts what py_mount mounted.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESLA_SYNC_CACHE="${TESLA_SYNC_CACHE:-$HOME/.cache/tesla-sync}"
PY_CACHE="$TESLA_SYNC_CACHE/python"
PY_ROOT="$PY_CACHE/sid-root"
PY_SUITE="sid"
PY_BIN="python3.14"
# gcc and the headers build wheels that PyPI lacks for Python 3.14, such as
# lru-dict 1.3.0, which HA 2026.3 pins.
PY_PACKAGES="$PY_BIN,$PY_BIN-venv,$PY_BIN-dev,gcc,libc6-dev,ca-certificates"

# Each pair is "HA version:pytest-homeassistant-custom-component version"
# (each phacc release pins one exact homeassistant version). 2026.3.1 is the
# oldest HA with a phacc release on Python 3.14 (2026.3.0 has none; 2026.2 and
# older need Python 3.13). Keep the oldest in step with hacs.json.
PY_HA_PAIRS=("2026.3.1:0.13.317" "2026.10.4:0.13.375")
PY_HA_VERSIONS=()
for pair in "${PY_HA_PAIRS[@]}"; do
  PY_HA_VERSIONS+=("${pair%%:*}")
done

# Runs a command inside the root with a clean environment. The host's CA
# bundle is used because pip must trust the same certificates as the host.
py_chroot() {
  chroot "$PY_ROOT" /usr/bin/env -i \
    PATH=/usr/local/bin:/usr/bin:/bin \
    HOME=/root \
    LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=180 \
    "$@"
}

py_unmount() {
  local target
  for target in "$PY_ROOT/repo" "$PY_ROOT/dev" "$PY_ROOT/proc"; do
    if mountpoint -q "$target"; then
      umount -R "$target" || umount -l "$target" || true
    fi
  done
}

py_mount() {
  mkdir -p "$PY_ROOT/repo"
  mountpoint -q "$PY_ROOT/proc" || mount --bind /proc "$PY_ROOT/proc"
  if ! mountpoint -q "$PY_ROOT/dev"; then
    mount --rbind /dev "$PY_ROOT/dev"
    mount --make-rslave "$PY_ROOT/dev"
  fi
  if mountpoint -q "$PY_ROOT/repo"; then
    umount "$PY_ROOT/repo"
  fi
  mount --bind "$REPO_ROOT" "$PY_ROOT/repo"
  cp /etc/resolv.conf "$PY_ROOT/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$PY_ROOT/etc/ssl/certs/host-ca-bundle.crt"
}

py_build_root() {
  local marker
  marker="$PY_ROOT/.complete-$(echo "$PY_SUITE $PY_PACKAGES" | sha256sum | cut -c1-16)"
  if [ -f "$marker" ]; then
    return
  fi
  echo "python-env: building a Debian $PY_SUITE root in $PY_ROOT" >&2
  rm -rf "$PY_ROOT.partial"
  debootstrap --variant=minbase --include="$PY_PACKAGES" \
    "$PY_SUITE" "$PY_ROOT.partial" >"$PY_CACHE/debootstrap.log" 2>&1 || {
    echo "python-env: debootstrap failed; see $PY_CACHE/debootstrap.log" >&2
    return 1
  }
  rm -rf "$PY_ROOT"
  mv "$PY_ROOT.partial" "$PY_ROOT"
  touch "$marker"
}

py_build_venvs() {
  local requirements_hash pair ha phacc venv marker
  requirements_hash="$(sha256sum "$REPO_ROOT/requirements_test.txt" | cut -c1-16)"
  for pair in "${PY_HA_PAIRS[@]}"; do
    ha="${pair%%:*}"
    phacc="${pair##*:}"
    venv="/opt/venvs/ha-$ha"
    marker="$PY_ROOT$venv/.installed-$phacc-$requirements_hash"
    if [ -f "$marker" ]; then
      continue
    fi
    echo "python-env: installing HA $ha (phacc $phacc) into $venv" >&2
    rm -rf "$PY_ROOT$venv"
    py_chroot "$PY_BIN" -m venv "$venv"
    py_chroot "$venv/bin/pip" install --quiet \
      "pytest-homeassistant-custom-component==$phacc" \
      -r /repo/requirements_test.txt
    touch "$marker"
  done
}

py_run() {
  local ha="$1"
  shift
  py_chroot /bin/sh -c 'cd /repo && PATH="$0/bin:$PATH" exec "$@"' \
    "/opt/venvs/ha-$ha" "$@"
}

py_ruff() {
  py_run "${PY_HA_VERSIONS[-1]}" ruff "$@"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "python-env: must run as root (debootstrap, mount and chroot need it)" >&2
  exit 1
fi
for tool in debootstrap chroot mount; do
  if ! command -v "$tool" >/dev/null; then
    echo "python-env: $tool is missing; install it with: apt-get install -y debootstrap" >&2
    exit 1
  fi
done

mkdir -p "$PY_CACHE"
# One run at a time: two runs would share the mounts and the venvs.
exec {PY_LOCK_FD}>"$PY_CACHE/lock"
flock "$PY_LOCK_FD"
py_build_root
trap py_unmount EXIT
py_mount
py_build_venvs
