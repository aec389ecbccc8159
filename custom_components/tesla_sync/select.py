"""Selects declared by the engine: forecast band and AEMO region."""

from __future__ import annotations

from typing import Any

from homeassistant.components.select import SelectEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity
from .models import EntityDeclaration

# Choosing an option only sends a message to the engine.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the selects stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.SELECT, TeslaSyncSelect, async_add_entities
    )


class TeslaSyncSelect(TeslaSyncEntity, SelectEntity):
    """A select that the engine applies; the state changes when it confirms."""

    @callback
    def _apply_declaration(self, declaration: EntityDeclaration) -> None:
        """Copy the declared description and options."""
        super()._apply_declaration(declaration)
        self._attr_options = list(declaration.options or ())

    def _restore_data(self) -> dict[str, Any]:
        """Return the current option."""
        return {"value": self._attr_current_option}

    @callback
    def _restore_from(self, data: dict[str, Any]) -> None:
        """Restore the current option if it is still offered."""
        value = data.get("value")
        if value in self._attr_options:
            self._attr_current_option = value

    @callback
    def _set_value(self, value: Any) -> None:
        """Store the current option."""
        self._attr_current_option = value

    async def async_select_option(self, option: str) -> None:
        """Ask the engine to apply the option."""
        self._send("select_set", option)
