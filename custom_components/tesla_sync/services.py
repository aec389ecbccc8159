"""Actions that the engine carries out: sync now and preview the tariff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    DOMAIN,
    FORECAST_BANDS,
    OPT_FORECAST_BAND,
    SERVICE_PREVIEW_TARIFF,
    SERVICE_SYNC_NOW,
    SYNC_OUTCOMES,
)

if TYPE_CHECKING:
    from .bridge import EntryBridge

SYNC_NOW_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): str})
PREVIEW_TARIFF_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): str,
        vol.Optional(OPT_FORECAST_BAND): vol.In(FORECAST_BANDS),
    }
)


def _bridge_for_call(hass: HomeAssistant, call: ServiceCall) -> EntryBridge:
    """Return the bridge of the entry the call names, or of the only entry."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    entries = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
        and (entry_id is None or entry.entry_id == entry_id)
    ]
    if len(entries) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id or "(not given)"},
        )
    bridge: EntryBridge = entries[0].runtime_data
    return bridge


def _check_sync_response(response: Mapping[str, Any]) -> str | None:
    """Return what is wrong with a sync_now response, or None."""
    outcome = response.get("outcome")
    if outcome not in SYNC_OUTCOMES:
        return f"sync_now response has outcome {outcome!r}; expected one of {list(SYNC_OUTCOMES)}"
    if not isinstance(response.get("reason"), str):
        return "sync_now response has no reason text"
    return None


async def _async_sync_now(call: ServiceCall) -> ServiceResponse:
    """Ask the engine to sync now and return what it did."""
    bridge = _bridge_for_call(call.hass, call)
    response = await bridge.async_call_engine(
        SERVICE_SYNC_NOW, {}, response_check=_check_sync_response
    )
    return response if call.return_response else None


async def _async_preview_tariff(call: ServiceCall) -> ServiceResponse:
    """Ask the engine for the tariff it would upload, without uploading it."""
    bridge = _bridge_for_call(call.hass, call)
    data = {
        key: value for key, value in call.data.items() if key != ATTR_CONFIG_ENTRY_ID
    }
    return await bridge.async_call_engine(SERVICE_PREVIEW_TARIFF, data)


@callback
def async_register_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SYNC_NOW,
        _async_sync_now,
        schema=SYNC_NOW_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_PREVIEW_TARIFF,
        _async_preview_tariff,
        schema=PREVIEW_TARIFF_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
