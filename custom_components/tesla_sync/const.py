"""Constants of the Tesla Sync integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "tesla_sync"
LOGGER = logging.getLogger(__package__)

# Bridge protocol (docs/bridge-protocol.md).
PROTOCOL_VERSION: Final = 1
FEATURES: Final = (
    "config",
    "register",
    "update",
    "subscribe_commands",
    "command_result",
    "fire_event",
    "auth_failed",
    "set_options",
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
SERVICE_TIMEOUTS: Final = {
    SERVICE_SYNC_NOW: timedelta(seconds=60),
    SERVICE_PREVIEW_TARIFF: timedelta(seconds=30),
}
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
SYNC_OUTCOMES: Final = ("uploaded", "unchanged", "refused", "failed")

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
