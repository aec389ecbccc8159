"""Numbers declared by the engine: spike and curtailment thresholds."""

from __future__ import annotations

from typing import Any

from homeassistant.components.number import NumberExtraStoredData, RestoreNumber
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity
from .models import EntityDeclaration

# Setting a number only sends a message to the engine.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the numbers stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.NUMBER, TeslaSyncNumber, async_add_entities
    )


class TeslaSyncNumber(TeslaSyncEntity, RestoreNumber):
    """A number that the engine applies; the state changes when it confirms."""

    @callback
    def _apply_declaration(self, declaration: EntityDeclaration) -> None:
        """Copy the declared description, range and unit."""
        super()._apply_declaration(declaration)
        if declaration.min is not None:
            self._attr_native_min_value = declaration.min
        if declaration.max is not None:
            self._attr_native_max_value = declaration.max
        if declaration.step is not None:
            self._attr_native_step = declaration.step
        self._attr_native_unit_of_measurement = declaration.unit

    def _restore_data(self) -> dict[str, Any]:
        """Return the value, range and unit, as RestoreNumber stores them."""
        return NumberExtraStoredData(
            self.native_max_value,
            self.native_min_value,
            self.native_step,
            self.native_unit_of_measurement,
            self.native_value,
        ).as_dict()

    @callback
    def _restore_from(self, data: dict[str, Any]) -> None:
        """Restore the value."""
        stored = NumberExtraStoredData.from_dict(data)
        if stored is not None:
            self._attr_native_value = stored.native_value

    @callback
    def _set_value(self, value: Any) -> None:
        """Store the value."""
        self._attr_native_value = value

    async def async_set_native_value(self, value: float) -> None:
        """Ask the engine to apply the value."""
        self._send("number_set", value)
