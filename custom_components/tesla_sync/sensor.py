"""Sensors declared by the engine: prices, power, energy, times and status."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import RestoreSensor, SensorExtraStoredData
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity
from .models import EntityDeclaration

# The engine pushes states; nothing here polls or calls out.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the sensors stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.SENSOR, TeslaSyncSensor, async_add_entities
    )


class TeslaSyncSensor(TeslaSyncEntity, RestoreSensor):
    """A sensor whose value the engine sends."""

    @callback
    def _apply_declaration(self, declaration: EntityDeclaration) -> None:
        """Copy the declared description, sensor fields included."""
        super()._apply_declaration(declaration)
        self._attr_state_class = declaration.state_class
        self._attr_native_unit_of_measurement = declaration.unit
        self._attr_suggested_display_precision = declaration.suggested_display_precision
        self._attr_options = list(declaration.options) if declaration.options else None

    def _restore_data(self) -> dict[str, Any]:
        """Return the native value and unit, as RestoreSensor stores them."""
        return SensorExtraStoredData(
            self.native_value, self.native_unit_of_measurement
        ).as_dict()

    @callback
    def _restore_from(self, data: dict[str, Any]) -> None:
        """Restore the native value."""
        stored = SensorExtraStoredData.from_dict(data)
        if stored is not None:
            self._attr_native_value = stored.native_value

    @callback
    def _set_value(self, value: Any) -> None:
        """Store the native value."""
        self._attr_native_value = value
