#!/usr/bin/env bash
# Sets up Node.js and the dependencies, builds the engine and runs it. With no
# accounts configured this is the demo: simulated Amber prices and a simulated
# Powerwall on 127.0.0.1, with the status page at http://127.0.0.1:5001/.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
npm run build --silent
exec node dist/src/cli.js run "$@"
