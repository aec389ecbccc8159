"""Configuration of an entry as the engine reads it, and the option rules."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
import voluptuous as vol

from .const import (
    ACCESS_TESLA_FLEET,
    AEMO_REGIONS,
    CONF_ACCESS_KIND,
    CONF_AMBER_TOKEN,
    CONF_ENERGY_SITE_ID,
    CONF_NMI,
    CONF_SITE_ID,
    CONF_TESLA_FLEET_ENTRY_ID,
    CONF_TESLA_TOKEN,
    CURTAILMENT_THRESHOLD_RANGE,
    DEFAULT_OPTIONS,
    FORECAST_BANDS,
    OPT_AEMO_REGION,
    OPT_AUTO_SYNC,
    OPT_CURTAILMENT,
    OPT_CURTAILMENT_THRESHOLD,
    OPT_FORECAST_BAND,
    OPT_SPIKE_RESPONSE,
    OPT_SPIKE_THRESHOLD,
    SPIKE_THRESHOLD_RANGE,
    TESLA_FLEET_DOMAIN,
)

OPTION_VALIDATORS: dict[str, Any] = {
    OPT_FORECAST_BAND: vol.In(FORECAST_BANDS),
    OPT_AUTO_SYNC: bool,
    OPT_SPIKE_RESPONSE: bool,
    OPT_AEMO_REGION: vol.In(AEMO_REGIONS),
    OPT_SPIKE_THRESHOLD: vol.All(vol.Coerce(float), vol.Range(*SPIKE_THRESHOLD_RANGE)),
    OPT_CURTAILMENT: bool,
    OPT_CURTAILMENT_THRESHOLD: vol.All(
        vol.Coerce(float), vol.Range(*CURTAILMENT_THRESHOLD_RANGE)
    ),
}

# A subset of the options, as `tesla_sync/set_options` sends them.
OPTIONS_SCHEMA_PARTIAL = vol.Schema(
    {vol.Optional(name): validator for name, validator in OPTION_VALIDATORS.items()}
)


class TeslaFleetTokenError(Exception):
    """HA's tesla_fleet integration cannot provide an access token."""

    def __init__(self, code: str, message: str) -> None:
        """Store the bridge error code and the message."""
        super().__init__(message)
        self.code = code


def find_tesla_fleet_entry(
    hass: HomeAssistant, preferred_entry_id: str | None = None
) -> ConfigEntry | None:
    """Return the loaded tesla_fleet entry to take the token from.

    The entry chosen in the config flow wins while it is loaded; otherwise the
    first loaded one.
    """
    loaded = [
        entry
        for entry in hass.config_entries.async_entries(TESLA_FLEET_DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]
    for entry in loaded:
        if entry.entry_id == preferred_entry_id:
            return entry
    return loaded[0] if loaded else None


def tesla_fleet_token(entry: ConfigEntry) -> tuple[str, int | None]:
    """Return the access token and its expiry (Unix seconds) of a tesla_fleet entry.

    This reads the token HA's tesla_fleet integration stored last. It never
    refreshes the token itself: Tesla refresh tokens are single-use, and a
    refresh racing tesla_fleet's own would log tesla_fleet out. tesla_fleet
    refreshes the token before its own requests.
    """
    token = entry.data.get("token")
    access_token = token.get("access_token") if isinstance(token, dict) else None
    if not isinstance(access_token, str) or not access_token:
        raise TeslaFleetTokenError(
            "tesla_fleet_token_missing",
            f"The tesla_fleet entry '{entry.title}' has no access token; "
            "reauthenticate Tesla Fleet in Settings > Devices & services",
        )
    expires_at = token.get("expires_at") if isinstance(token, dict) else None
    return access_token, int(expires_at) if isinstance(
        expires_at, int | float
    ) else None


def entry_options(entry: ConfigEntry) -> dict[str, Any]:
    """Return the entry's options with defaults for the ones never set."""
    return {**DEFAULT_OPTIONS, **entry.options}


def engine_config(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """Build the `tesla_sync/config` result for an entry."""
    data = entry.data
    tesla: dict[str, Any] = {
        "access_kind": data[CONF_ACCESS_KIND],
        "energy_site_id": data[CONF_ENERGY_SITE_ID],
    }
    if data[CONF_ACCESS_KIND] == ACCESS_TESLA_FLEET:
        fleet_entry = find_tesla_fleet_entry(hass, data.get(CONF_TESLA_FLEET_ENTRY_ID))
        if fleet_entry is None:
            raise TeslaFleetTokenError(
                "no_tesla_fleet",
                "No Tesla Fleet (tesla_fleet) config entry is loaded; set up or "
                "reload the Tesla Fleet integration, then request the config again",
            )
        token, expires_at = tesla_fleet_token(fleet_entry)
        tesla["token"] = token
        tesla["token_expires_at"] = expires_at
    else:
        tesla["token"] = data[CONF_TESLA_TOKEN]
    return {
        "amber": {
            "token": data[CONF_AMBER_TOKEN],
            "site_id": data[CONF_SITE_ID],
            "nmi": data.get(CONF_NMI),
        },
        "tesla": tesla,
        "options": entry_options(entry),
    }
