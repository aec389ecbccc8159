"""Tests of what survives an HA restart while the engine is away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_restore_state_shutdown_restart,
    mock_restore_cache_with_extra_data,
)

from .engine import DECLARATIONS, ENTITY_IDS, EngineClient

RESTORED = {
    "general_price": "-0.27",
    "grid_import_energy": "1234.5",
    "last_sync": "2026-12-04T02:00:12+00:00",
    "sync_status": "unchanged",
    "price_spike": "on",
    "auto_sync": "off",
    "forecast_band": "low",
    "curtailment_threshold": "2.5",
}


async def test_restart_restores_last_state(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    engine_factory: Callable[..., Awaitable[EngineClient]],
    entity_registry: er.EntityRegistry,
) -> None:
    """Test entities keep their last state and wait for the engine after a restart."""
    engine = await engine_factory()
    await engine.connect()
    await engine.register()
    await engine.update(
        {
            "key": "general_price",
            "state": -0.27,
            "attributes": {"descriptor": "negative"},
        },
        {"key": "grid_import_energy", "state": 1234.5},
        {"key": "last_sync", "state": "2026-12-04T02:00:12+00:00"},
        {"key": "sync_status", "state": "unchanged"},
        {"key": "price_spike", "state": True},
        {"key": "auto_sync", "state": False},
        {"key": "forecast_band", "state": "low"},
        {"key": "curtailment_threshold", "state": 2.5},
    )
    # The engine goes away first, so HA stores every state as unavailable.
    await engine.close()
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=5))
    await hass.async_block_till_done()

    await async_mock_restore_state_shutdown_restart(hass)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()

    # The entities exist before the engine returns, but are unavailable.
    for key, entity_id in ENTITY_IDS.items():
        state = hass.states.get(entity_id)
        assert state is not None, key
        assert state.state == STATE_UNAVAILABLE, key
        assert state.attributes.get("restored") is None, key

    engine = await engine_factory()
    await engine.connect()
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE

    await engine.register()
    await hass.async_block_till_done()
    for key, value in RESTORED.items():
        assert hass.states.get(ENTITY_IDS[key]).state == value, key
    price = hass.states.get(ENTITY_IDS["general_price"])
    assert price.attributes["descriptor"] == "negative"
    assert price.attributes["unit_of_measurement"] == "$/kWh"
    assert len(
        er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    ) == len(ENTITY_IDS)


async def test_startup_uses_stored_declarations(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    engine_factory: Callable[..., Awaitable[EngineClient]],
) -> None:
    """Test a fresh start builds entities from storage and restores their values."""
    hass_storage[f"tesla_sync.{config_entry.entry_id}.entities"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"tesla_sync.{config_entry.entry_id}.entities",
        "data": {"entities": DECLARATIONS, "devices": {}},
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(ENTITY_IDS["general_price"], STATE_UNAVAILABLE),
                {
                    "native_value": 0.19,
                    "native_unit_of_measurement": "$/kWh",
                    "engine_attributes": {"descriptor": "low"},
                },
            ),
            (
                State(ENTITY_IDS["price_spike"], STATE_UNAVAILABLE),
                {"value": False, "engine_attributes": {}},
            ),
            (
                State(ENTITY_IDS["forecast_band"], STATE_UNAVAILABLE),
                {"value": "retired-option", "engine_attributes": {}},
            ),
        ],
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE

    engine = await engine_factory()
    await engine.connect()
    await engine.register()
    await hass.async_block_till_done()
    price = hass.states.get(ENTITY_IDS["general_price"])
    assert price.state == "0.19"
    assert price.attributes["descriptor"] == "low"
    assert hass.states.get(ENTITY_IDS["price_spike"]).state == "off"
    # A restored option the select no longer offers is dropped.
    assert hass.states.get(ENTITY_IDS["forecast_band"]).state == STATE_UNKNOWN
    assert hass.states.get(ENTITY_IDS["auto_sync"]).state == STATE_UNKNOWN
