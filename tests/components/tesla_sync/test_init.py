"""Tests of setting up and unloading an entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry


async def test_setup_and_unload(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Test the entry loads with its runtime data and unloads cleanly."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.runtime_data.connected is False
    for service in (
        "sync_now",
        "preview_tariff",
        "force_charge",
        "force_discharge",
        "cancel_force",
        "set_custom_schedule",
        "apply_custom_schedule",
        "clear_custom_schedule",
        "spike_test",
        "spike_test_end",
    ):
        assert hass.services.has_service("tesla_sync", service), service

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED
