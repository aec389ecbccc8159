"""Diagnostics for a Tesla Sync entry, with every secret redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import TeslaSyncConfigEntry
from .const import CONF_AMBER_TOKEN, CONF_NMI, CONF_TESLA_TOKEN

# Keys redacted at any depth. Besides the entry's own tokens and NMI, this
# covers OAuth fields and attributes the engine might send.
TO_REDACT = {
    CONF_AMBER_TOKEN,
    CONF_TESLA_TOKEN,
    CONF_NMI,
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "password",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: TeslaSyncConfigEntry
) -> dict[str, Any]:
    """Return the entry's data, options and bridge state."""
    bridge = entry.runtime_data
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "bridge": bridge.diagnostics(),
        },
        TO_REDACT,
    )
