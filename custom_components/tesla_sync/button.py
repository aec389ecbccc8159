"""Buttons declared by the engine: sync now."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import TeslaSyncConfigEntry
from .entity import TeslaSyncEntity

# Pressing a button only sends a message to the engine.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaSyncConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the buttons stored from earlier runs and accept new ones."""
    entry.runtime_data.async_add_platform(
        Platform.BUTTON, TeslaSyncButton, async_add_entities
    )


class TeslaSyncButton(TeslaSyncEntity, ButtonEntity):
    """A button whose press the engine handles."""

    async def async_press(self) -> None:
        """Send the press to the engine."""
        self._send("button_press")
