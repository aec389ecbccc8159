"""The repair issue shown while the engine stays disconnected from a loaded entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later

from .const import CONF_ADDON_NAME, CONF_ADDON_SLUG, DOMAIN, ENGINE_ABSENT_DELAY, LOGGER


class EngineAbsenceIssue:
    """Raises a repair issue once the engine has been away for ENGINE_ABSENT_DELAY.

    The clock starts when the entry loads and whenever the engine disconnects,
    and stops when the engine subscribes to commands. The issue is removed on
    reconnect and on unload. It is not persistent, because the clock starts
    again after an HA restart.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Prepare the issue of one entry; nothing runs until async_start_clock."""
        self._hass = hass
        self._entry = entry
        self._cancel_timer: Callable[[], None] | None = None
        self.issue_id = f"engine_not_connected_{entry.entry_id}"

    @callback
    def async_start_clock(self) -> None:
        """Start counting the engine's absence unless the clock already runs."""
        if self._cancel_timer is None:
            self._cancel_timer = async_call_later(
                self._hass, ENGINE_ABSENT_DELAY, self._async_raise
            )

    @callback
    def async_engine_connected(self) -> None:
        """Stop the clock and remove the issue."""
        self._async_stop_clock()
        ir.async_delete_issue(self._hass, DOMAIN, self.issue_id)

    @callback
    def async_unload(self) -> None:
        """Stop the clock and remove the issue, because the entry unloads."""
        self.async_engine_connected()

    @callback
    def _async_stop_clock(self) -> None:
        """Cancel the pending timer, if any."""
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    @callback
    def _async_raise(self, _now: datetime) -> None:
        """Create the issue, naming the add-on when discovery found one."""
        self._cancel_timer = None
        minutes = str(int(ENGINE_ABSENT_DELAY.total_seconds() // 60))
        placeholders = {"title": self._entry.title, "minutes": minutes}
        addon_slug = self._entry.data.get(CONF_ADDON_SLUG)
        if addon_slug:
            placeholders["addon"] = self._entry.data.get(CONF_ADDON_NAME) or addon_slug
            translation_key = "engine_not_connected_addon"
            # The add-on's page, as HA's own Supervisor repairs link it.
            learn_more_url: str | None = (
                f"homeassistant://hassio/addon/{addon_slug}/info"
            )
        else:
            translation_key = "engine_not_connected"
            learn_more_url = None
        LOGGER.debug(
            "The Tesla Sync engine has not connected for %s minutes; "
            "raising repair issue %s",
            minutes,
            self.issue_id,
        )
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            is_persistent=False,
            learn_more_url=learn_more_url,
            severity=ir.IssueSeverity.ERROR,
            translation_key=translation_key,
            translation_placeholders=placeholders,
        )
