"""Base entity for everything the engine declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity

from .bridge import EntryBridge
from .models import EntityDeclaration


class EngineAttributesData(ExtraStoredData):
    """Restore data: the last value and attributes that the engine sent.

    HA stores an unavailable entity's state as `unavailable` without its
    attributes, so the engine's values are kept here to survive a restart that
    happens while the engine is disconnected.
    """

    def __init__(self, base: Mapping[str, Any], attributes: dict[str, Any]) -> None:
        """Wrap the platform's own restore data and the engine's attributes."""
        self.base = dict(base)
        self.attributes = attributes

    def as_dict(self) -> dict[str, Any]:
        """Return the data as a JSON-ready dict."""
        return {**self.base, "engine_attributes": self.attributes}


class TeslaSyncEntity(RestoreEntity):
    """An entity whose description and state come from the engine.

    It is unavailable while the engine is not connected or has not registered
    it in the current session, and keeps its last value across restarts.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, bridge: EntryBridge, declaration: EntityDeclaration) -> None:
        """Set up the entity from its declaration."""
        self.bridge = bridge
        self.declaration = declaration
        self._engine_attributes: dict[str, Any] = {}
        self._attr_unique_id = f"{bridge.entry.entry_id}_{declaration.key}"
        self._attr_device_info = bridge.device_info(declaration.device)
        self._attr_entity_registry_enabled_default = declaration.enabled_default
        self._apply_declaration(declaration)

    @callback
    def _apply_declaration(self, declaration: EntityDeclaration) -> None:
        """Copy the declared description into the entity's attributes."""
        self.declaration = declaration
        self._attr_translation_key = declaration.translation_key
        self._attr_entity_category = (
            EntityCategory(declaration.entity_category)
            if declaration.entity_category
            else None
        )
        self._attr_device_class = declaration.device_class

    @callback
    def async_set_declaration(self, declaration: EntityDeclaration) -> None:
        """Take a new declaration of the same key from a later `register`."""
        self._apply_declaration(declaration)

    @property
    def available(self) -> bool:
        """Return whether the engine is connected and has registered this entity."""
        return self.bridge.entity_available(self.declaration.key)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes the engine sent last."""
        return self._engine_attributes or None

    @property
    def extra_restore_state_data(self) -> EngineAttributesData:
        """Return the value and attributes to keep across a restart."""
        return EngineAttributesData(self._restore_data(), self._engine_attributes)

    def _restore_data(self) -> dict[str, Any]:
        """Return the platform's value as restore data; platforms override this."""
        return {}

    async def async_added_to_hass(self) -> None:
        """Restore the last state, then start receiving updates from the bridge."""
        await super().async_added_to_hass()
        extra = await self.async_get_last_extra_data()
        if extra is not None:
            data = extra.as_dict()
            attributes = data.get("engine_attributes")
            if isinstance(attributes, dict):
                self._engine_attributes = attributes
            self._restore_from(data)
        self.bridge.async_attach_entity(self)
        self.async_on_remove(lambda: self.bridge.async_detach_entity(self))

    @callback
    def _restore_from(self, data: dict[str, Any]) -> None:
        """Take the value out of restore data; platforms override this."""

    @callback
    def async_apply_update(self, value: Any, attributes: dict[str, Any] | None) -> None:
        """Show a checked state update from the engine."""
        self._set_value(value)
        if attributes is not None:
            self._engine_attributes = attributes
        self.async_write_ha_state()

    @callback
    def _set_value(self, value: Any) -> None:
        """Store the state value; platforms override this."""

    @callback
    def _send(self, command: str, value: Any = None) -> None:
        """Send a user's action on this entity to the engine."""
        payload: dict[str, Any] = {"command": command, "key": self.declaration.key}
        if command != "button_press":
            payload["value"] = value
        self.bridge.async_send_command(payload)
