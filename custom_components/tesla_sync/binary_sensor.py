"""Binary sensors declared by the engine: spike and curtailment state."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity

# The engine pushes states; nothing here polls or calls out.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the binary sensors stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.BINARY_SENSOR, TeslaSyncBinarySensor, async_add_entities
    )


class TeslaSyncBinarySensor(TeslaSyncEntity, BinarySensorEntity):
    """A binary sensor whose state the engine sends."""

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
