"""Switches declared by the engine: auto-sync, spike response, curtailment."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity

# Turning a switch only sends a message to the engine.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the switches stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.SWITCH, TeslaSyncSwitch, async_add_entities
    )


class TeslaSyncSwitch(TeslaSyncEntity, SwitchEntity):
    """A switch that the engine applies.

    Turning it on or off sends `switch_set` and leaves the state alone: the
    engine confirms with an update, so HA shows only what the engine applied.
    """

    def _restore_data(self) -> dict[str, Any]:
        """Return the on/off value."""
        return {"value": self._attr_is_on}

    @callback
    def _restore_from(self, data: dict[str, Any]) -> None:
        """Restore the on/off value."""
        value = data.get("value")
        if isinstance(value, bool):
            self._attr_is_on = value

    @callback
    def _set_value(self, value: Any) -> None:
        """Store the on/off value."""
        self._attr_is_on = value

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the engine to turn the setting on."""
        self._send("switch_set", True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the engine to turn the setting off."""
        self._send("switch_set", False)
