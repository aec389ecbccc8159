"""Point the Tesla Sync config flow at the end-to-end test's stand-in servers.

The integration reads the Amber and Teslemetry base URLs from module
attributes of ``custom_components.tesla_sync.const``, so that tests can
replace them. This helper, set up from configuration.yaml, replaces them in
a real Home Assistant with the loopback addresses the test passes in. It
exists only in the test's temporary config directory.
"""

from __future__ import annotations

import importlib
import logging

from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

DOMAIN = "tesla_sync_e2e"
_LOGGER = logging.getLogger(__name__)


def _loopback_url(value: str) -> str:
    """Accept only http URLs on 127.0.0.1, so the helper cannot aim elsewhere."""
    if not value.startswith("http://127.0.0.1:"):
        raise vol.Invalid(f"{value} is not an http://127.0.0.1 URL")
    return value.rstrip("/")


CONFIG_SCHEMA = vol.Schema(
    {
        DOMAIN: vol.Schema(
            {
                vol.Required("amber_api_url"): _loopback_url,
                vol.Required("teslemetry_api_url"): _loopback_url,
            }
        )
    },
    extra=vol.ALLOW_EXTRA,
)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Replace the vendor base URLs of the Tesla Sync integration."""
    conf = config[DOMAIN]
    const = await hass.async_add_import_executor_job(
        importlib.import_module, "custom_components.tesla_sync.const"
    )
    const.AMBER_API_URL = conf["amber_api_url"]
    const.TESLEMETRY_API_URL = conf["teslemetry_api_url"]
    _LOGGER.info(
        "Tesla Sync vendor URLs point at the stand-ins: %s, %s",
        const.AMBER_API_URL,
        const.TESLEMETRY_API_URL,
    )
    return True
