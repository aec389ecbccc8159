#!/usr/bin/with-contenv bash
# Starts the Tesla Sync engine inside the Home Assistant add-on container.
#
# s6-overlay runs this script as the image's CMD (config.yaml has init: false)
# and the container stops when the engine exits, so the Supervisor's watchdog
# restarts it. with-contenv passes in the container environment, which is
# where the Supervisor puts SUPERVISOR_TOKEN.
#
# Outside the image, test/packaging/run-script.test.ts runs it with
# TESLA_SYNC_OPTIONS_FILE and TESLA_SYNC_APP_DIR pointing at temporary files.
set -euo pipefail

options_file="${TESLA_SYNC_OPTIONS_FILE:-/data/options.json}"
app_dir="${TESLA_SYNC_APP_DIR:-/app}"

# Prints the string option $1 from the Supervisor's options file, or nothing
# when the option or the file is missing. Node parses the JSON because Node
# is in the image anyway and this keeps the script free of bashio and jq.
read_option() {
  node -e '
    const fs = require("node:fs");
    const [file, key] = process.argv.slice(1);
    let options;
    try {
      options = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
      if (error.code === "ENOENT") process.exit(0);
      console.error(`tesla-sync: failed to read the add-on options ${file}: ${error.message}. Save the options again in the Configuration tab of the add-on.`);
      process.exit(1);
    }
    const value = options === null ? undefined : options[key];
    if (typeof value === "string") process.stdout.write(value);
  ' "$options_file" "$1"
}

log_level="$(read_option log_level)"
case "$log_level" in
  "") log_level="info" ;;
  warning) log_level="warn" ;;
  trace | debug | info | error | fatal) ;;
  *)
    echo "tesla-sync: log_level '$log_level' is not one of trace, debug, info, warning, error, fatal; using info" >&2
    log_level="info"
    ;;
esac
export TESLA_SYNC_LOG_LEVEL="$log_level"
export LOG_LEVEL="$log_level"
# The add-on log is read by people in Home Assistant's UI, not by a collector.
export TESLA_SYNC_LOG_FORMAT="pretty"

# State that survives restarts and updates lives in the add-on's /data.
export TESLA_SYNC_DATA_DIR="${TESLA_SYNC_DATA_DIR:-/data}"

# The ingress panel: config.yaml's ingress_port, reached only through the
# Supervisor. NOTE: the dashboard reads this variable once its ingress
# listener exists; keep the two names in step.
export TESLA_SYNC_INGRESS_PORT="8099"

# The standalone dashboard on port 5001 opens to the network only with a
# password; without one it stays on the container's loopback.
dashboard_password="$(read_option dashboard_password)"
export TESLA_SYNC_PORT="5001"
if [ -n "$dashboard_password" ]; then
  export TESLA_SYNC_HOST="0.0.0.0"
  export TESLA_SYNC_DASHBOARD_PASSWORD="$dashboard_password"
else
  export TESLA_SYNC_HOST="127.0.0.1"
fi

# The engine talks to Home Assistant through the Supervisor with this token.
# It is only checked here, never printed.
if [ -z "${SUPERVISOR_TOKEN:-}" ]; then
  echo "tesla-sync: SUPERVISOR_TOKEN is not set, so the engine cannot reach Home Assistant. Reinstall the add-on, or check that config.yaml keeps homeassistant_api: true." >&2
fi

echo "tesla-sync: starting the engine (log level $log_level)" >&2
exec node "$app_dir/dist/src/cli.js" run
