# syntax=docker/dockerfile:1
# The Tesla Sync Home Assistant add-on. The Supervisor builds this image on
# the user's machine from the repository root (config.yaml has no `image:`),
# for aarch64 or amd64. test/packaging/dockerfile.test.ts checks that the
# build commands match the ones scripts/env.sh and scripts/test.sh run.

# Home Assistant's Alpine 3.23 base (s6-overlay v3, bashio), a multi-arch
# manifest pinned to one release. The Supervisor no longer injects BUILD_FROM.
FROM ghcr.io/home-assistant/base:3.23-2026.05.0

# Node.js from Alpine 3.23's main repository: nodejs 24.x (LTS), which meets
# package.json's "node": ">=22".
RUN apk add --no-cache nodejs npm

WORKDIR /app

# Dependencies first, so that a source change reuses this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# The rest of the repository (.dockerignore drops tests, docs, the Python
# integration and local build output), then the same build the tests run.
COPY . ./
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# The Supervisor passes BUILD_ARCH and BUILD_VERSION as build arguments.
ARG BUILD_ARCH
ARG BUILD_VERSION=0.1.0
LABEL \
    io.hass.name="Tesla Sync" \
    io.hass.type="app" \
    io.hass.arch="${BUILD_ARCH}" \
    io.hass.version="${BUILD_VERSION}"

# s6-overlay's /init (the base image's ENTRYPOINT) runs this as PID 1's child
# and stops the container when it exits.
CMD ["/app/addon/run.sh"]
