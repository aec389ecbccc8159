"""The Tesla Sync integration: a thin bridge between HA and the Tesla Sync engine.

The engine (a separate program) does all the work. This integration owns the
config flow, options and reauthentication, hosts the entities the engine
declares, and relays user actions back to it over HA's websocket API.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .bridge import EntryBridge
from .const import DOMAIN
from .models import PLATFORMS
from .services import async_register_services
from .websocket import async_register_commands

type TeslaSyncRuntimeData = EntryBridge
type TeslaSyncConfigEntry = ConfigEntry[TeslaSyncRuntimeData]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the websocket commands and actions once per HA run.

    Registering here rather than per entry keeps the actions valid in
    automations and lets the commands return a clear error while no entry
    is loaded.
    """
    async_register_commands(hass)
    async_register_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: TeslaSyncConfigEntry) -> bool:
    """Load stored entity declarations, then set up the platforms."""
    bridge = EntryBridge(hass, entry)
    await bridge.async_load()
    entry.runtime_data = bridge
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    entry.async_on_unload(bridge.async_shutdown)
    bridge.absence_issue.async_start_clock()
    return True


async def async_unload_entry(hass: HomeAssistant, entry: TeslaSyncConfigEntry) -> bool:
    """Unload the platforms; the bridge ends the engine session on unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_entry_updated(
    hass: HomeAssistant, entry: TeslaSyncConfigEntry
) -> None:
    """Tell the engine to read its configuration again after a change."""
    entry.runtime_data.async_notify_config_changed()
