"""Constants of the Tesla Sync integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "tesla_sync"
LOGGER = logging.getLogger(__package__)

# Bridge protocol (docs/bridge-protocol.md).
PROTOCOL_VERSION: Final = 1
# `subscribe_commands` accepts `features`: the engine's list of what it handles.
FEATURE_ENGINE_FEATURES: Final = "engine_features"
# `command_result` accepts `error_code`.
FEATURE_COMMAND_ERROR_CODE: Final = "command_error_code"
# Groups of control actions. The integration relays a group's actions only to
# an engine that lists the same name in its `subscribe_commands` features.
FEATURE_FORCE: Final = "force"
FEATURE_CUSTOM_SCHEDULE: Final = "custom_schedule"
FEATURE_SPIKE_TEST: Final = "spike_test"
# Commands and optional fields this integration accepts, sent in the hello result.
FEATURES: Final = (
    "config",
    "register",
    "update",
    "subscribe_commands",
    "command_result",
    "fire_event",
    "auth_failed",
    "set_options",
    FEATURE_ENGINE_FEATURES,
    FEATURE_COMMAND_ERROR_CODE,
    FEATURE_FORCE,
    FEATURE_CUSTOM_SCHEDULE,
    FEATURE_SPIKE_TEST,
)

# Vendor APIs used by the config flow to validate credentials. Tests replace
# these module attributes with the address of a stand-in server on 127.0.0.1.
AMBER_API_URL = "https://api.amber.com.au/v1"
TESLEMETRY_API_URL = "https://api.teslemetry.com"
# North America and Asia-Pacific (Australia included) share this Fleet API host.
TESLA_FLEET_API_URL = "https://fleet-api.prd.na.vn.cloud.tesla.com"
API_TIMEOUT: Final = timedelta(seconds=20)

# Config entry data.
CONF_AMBER_TOKEN: Final = "amber_token"  # noqa: S105 (a field name)
CONF_SITE_ID: Final = "site_id"
CONF_NMI: Final = "nmi"
CONF_ACCESS_KIND: Final = "tesla_access_kind"
CONF_TESLA_TOKEN: Final = "tesla_token"  # noqa: S105 (a field name)
CONF_ENERGY_SITE_ID: Final = "energy_site_id"
CONF_TESLA_FLEET_ENTRY_ID: Final = "tesla_fleet_entry_id"
# The Supervisor add-on ("app") that runs the engine, when Supervisor
# discovery found it: its slug and display name.
CONF_ADDON_SLUG: Final = "addon_slug"
CONF_ADDON_NAME: Final = "addon_name"
ADDON_KEYS: Final = (CONF_ADDON_SLUG, CONF_ADDON_NAME)

ACCESS_TESLEMETRY: Final = "teslemetry"
ACCESS_TESLA_FLEET: Final = "tesla_fleet"
ACCESS_KINDS: Final = (ACCESS_TESLEMETRY, ACCESS_TESLA_FLEET)
TESLA_FLEET_DOMAIN: Final = "tesla_fleet"

# Config entry options, with their defaults.
OPT_FORECAST_BAND: Final = "forecast_band"
OPT_AUTO_SYNC: Final = "auto_sync"
OPT_SPIKE_RESPONSE: Final = "spike_response"
OPT_AEMO_REGION: Final = "aemo_region"
OPT_SPIKE_THRESHOLD: Final = "spike_threshold"
OPT_CURTAILMENT: Final = "curtailment"
OPT_CURTAILMENT_THRESHOLD: Final = "curtailment_threshold"

FORECAST_BANDS: Final = ("predicted", "low", "high")
AEMO_REGIONS: Final = ("NSW1", "QLD1", "VIC1", "SA1", "TAS1")
# $/MWh
SPIKE_THRESHOLD_RANGE: Final = (0.0, 20000.0)
# c/kWh
CURTAILMENT_THRESHOLD_RANGE: Final = (-100.0, 100.0)

DEFAULT_OPTIONS: Final = {
    OPT_FORECAST_BAND: "predicted",
    OPT_AUTO_SYNC: True,
    OPT_SPIKE_RESPONSE: False,
    OPT_AEMO_REGION: "NSW1",
    OPT_SPIKE_THRESHOLD: 300.0,
    OPT_CURTAILMENT: False,
    OPT_CURTAILMENT_THRESHOLD: 1.0,
}

# Actions relayed to the engine, and how long each waits for its command_result.
SERVICE_SYNC_NOW: Final = "sync_now"
SERVICE_PREVIEW_TARIFF: Final = "preview_tariff"
SERVICE_FORCE_CHARGE: Final = "force_charge"
SERVICE_FORCE_DISCHARGE: Final = "force_discharge"
SERVICE_CANCEL_FORCE: Final = "cancel_force"
SERVICE_SET_CUSTOM_SCHEDULE: Final = "set_custom_schedule"
SERVICE_APPLY_CUSTOM_SCHEDULE: Final = "apply_custom_schedule"
SERVICE_CLEAR_CUSTOM_SCHEDULE: Final = "clear_custom_schedule"
SERVICE_SPIKE_TEST: Final = "spike_test"
SERVICE_SPIKE_TEST_END: Final = "spike_test_end"
# The engine feature each control action needs (see FEATURES).
SERVICE_FEATURES: Final = {
    SERVICE_FORCE_CHARGE: FEATURE_FORCE,
    SERVICE_FORCE_DISCHARGE: FEATURE_FORCE,
    SERVICE_CANCEL_FORCE: FEATURE_FORCE,
    SERVICE_SET_CUSTOM_SCHEDULE: FEATURE_CUSTOM_SCHEDULE,
    SERVICE_APPLY_CUSTOM_SCHEDULE: FEATURE_CUSTOM_SCHEDULE,
    SERVICE_CLEAR_CUSTOM_SCHEDULE: FEATURE_CUSTOM_SCHEDULE,
    SERVICE_SPIKE_TEST: FEATURE_SPIKE_TEST,
    SERVICE_SPIKE_TEST_END: FEATURE_SPIKE_TEST,
}
# Each control action makes several Powerwall writes (tariff, operation mode,
# backup reserve), each retried on a transient failure.
CONTROL_TIMEOUT: Final = timedelta(seconds=60)
SERVICE_TIMEOUTS: Final = {
    SERVICE_SYNC_NOW: timedelta(seconds=60),
    SERVICE_PREVIEW_TARIFF: timedelta(seconds=30),
    **dict.fromkeys(SERVICE_FEATURES, CONTROL_TIMEOUT),
}
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
SYNC_OUTCOMES: Final = ("uploaded", "unchanged", "refused", "failed")

# Fields of the control actions.
ATTR_DURATION: Final = "duration"
ATTR_SCHEDULE: Final = "schedule"
ATTR_PRICE_MWH: Final = "price_mwh"
# Minutes
FORCE_DURATION_RANGE: Final = (5, 720)
# Bytes of the schedule as JSON. A year of seasons with a dozen periods each
# is a few kilobytes.
MAX_SCHEDULE_JSON_BYTES: Final = 65536

# `error_code` values of a failed command_result. `invalid_request` means the
# user's input was wrong and becomes a ServiceValidationError.
ERROR_CODE_INVALID_REQUEST: Final = "invalid_request"
ERROR_CODE_FAILED: Final = "failed"
ERROR_CODES: Final = (ERROR_CODE_INVALID_REQUEST, ERROR_CODE_FAILED)

# Bus events the engine may fire through the bridge.
EVENT_TYPES: Final = (
    "tesla_sync_tariff_uploaded",
    "tesla_sync_spike_started",
    "tesla_sync_spike_ended",
    "tesla_sync_curtailment_changed",
)

# Devices the engine's entities belong to.
DEVICE_AMBER_SITE: Final = "amber_site"
DEVICE_POWERWALL: Final = "powerwall"
DEVICE_ENGINE: Final = "engine"
DEVICES: Final = (DEVICE_AMBER_SITE, DEVICE_POWERWALL, DEVICE_ENGINE)

STORAGE_VERSION: Final = 1

# How long a loaded entry may go without a connected engine before a repair
# issue explains how to start it. Long enough for the add-on to start after HA.
ENGINE_ABSENT_DELAY: Final = timedelta(minutes=10)
