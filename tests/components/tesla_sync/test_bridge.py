"""Tests of the bridge commands through HA's real websocket API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.tesla_sync.const import (
    ACCESS_TESLA_FLEET,
    CONF_ACCESS_KIND,
    CONF_TESLA_FLEET_ENTRY_ID,
    CONF_TESLA_TOKEN,
    DEFAULT_OPTIONS,
    DOMAIN,
)

from .engine import DECLARATIONS, ENGINE_VERSION, ENTITY_IDS, EngineClient
from .standins import (
    AMBER_TOKEN,
    ENERGY_SITE,
    FLEET_ACCESS_TOKEN,
    SITE_ACTIVE,
    TESLEMETRY_TOKEN,
)

type EngineFactory = Callable[..., Awaitable[EngineClient]]


def _error(frame: dict[str, Any]) -> str:
    """Return the error code of a failed result frame."""
    assert frame["success"] is False, frame
    return frame["error"]["code"]


# -- handshake ---------------------------------------------------------------


async def test_hello_handshake(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test hello returns the protocol, versions, entry id and features."""
    client = await engine_factory()
    frame = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert frame["success"] is True
    assert frame["result"] == {
        "protocol": 1,
        "integration_version": "0.1.0",
        "entry_id": loaded_entry.entry_id,
        "features": [
            "config",
            "register",
            "update",
            "subscribe_commands",
            "command_result",
            "fire_event",
            "auth_failed",
            "set_options",
            "engine_features",
            "command_error_code",
            "force",
            "custom_schedule",
            "spike_test",
        ],
    }


async def test_hello_rejects_other_protocol(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test hello with protocol 2 fails cleanly and opens no session."""
    client = await engine_factory()
    frame = await client.call("tesla_sync/hello", protocol=2, engine_version="9.0.0")
    assert _error(frame) == "protocol_unsupported"
    assert "protocol 1" in frame["error"]["message"]
    assert loaded_entry.runtime_data.session is None


async def test_hello_unknown_key_rejected(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test a field the schema does not know is rejected with invalid_format."""
    client = await engine_factory()
    frame = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION, colour="blue"
    )
    assert _error(frame) == "invalid_format"


async def test_commands_require_admin(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
    hass_read_only_access_token: str,
) -> None:
    """Test a non-admin user is refused."""
    client = await engine_factory(hass_read_only_access_token)
    frame = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert _error(frame) == "unauthorized"
    frame = await client.call("tesla_sync/config", entry_id=loaded_entry.entry_id)
    assert _error(frame) == "unauthorized"


async def test_command_before_hello(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test commands from a connection without hello fail with no_session."""
    client = await engine_factory()
    frame = await client.call("tesla_sync/config", entry_id=loaded_entry.entry_id)
    assert _error(frame) == "no_session"


async def test_hello_without_entry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test hello while no entry is loaded fails with entry_not_loaded."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    client = await engine_factory()
    frame = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert _error(frame) == "entry_not_loaded"
    frame = await client.call("tesla_sync/config", entry_id=loaded_entry.entry_id)
    assert _error(frame) == "entry_not_loaded"


async def test_hello_with_two_entries(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test two loaded entries need entry_id in hello."""
    second = MockConfigEntry(
        domain=DOMAIN,
        data=dict(loaded_entry.data),
        options=dict(DEFAULT_OPTIONS),
        unique_id="2",
    )
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    client = await engine_factory()
    frame = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert _error(frame) == "entry_ambiguous"
    assert second.entry_id in frame["error"]["message"]

    frame = await client.call(
        "tesla_sync/hello",
        protocol=1,
        engine_version=ENGINE_VERSION,
        entry_id=second.entry_id,
    )
    assert frame["result"]["entry_id"] == second.entry_id


async def test_second_hello_replaces_session(
    hass: HomeAssistant, engine: EngineClient, engine_factory: EngineFactory
) -> None:
    """Test a hello from another connection ends the first connection's session."""
    newer = await engine_factory()
    await newer.connect(engine.entry_id)
    frame = await engine.call_entry("tesla_sync/config")
    assert _error(frame) == "session_replaced"
    frame = await newer.call_entry("tesla_sync/config")
    assert frame["success"] is True


# -- config ------------------------------------------------------------------


async def test_config_teslemetry(hass: HomeAssistant, engine: EngineClient) -> None:
    """Test config returns the secrets and options of a Teslemetry entry."""
    frame = await engine.call_entry("tesla_sync/config")
    assert frame["result"] == {
        "amber": {
            "token": AMBER_TOKEN,
            "site_id": SITE_ACTIVE["id"],
            "nmi": SITE_ACTIVE["nmi"],
        },
        "tesla": {
            "access_kind": "teslemetry",
            "token": TESLEMETRY_TOKEN,
            "energy_site_id": ENERGY_SITE["energy_site_id"],
        },
        "options": DEFAULT_OPTIONS,
    }


async def test_config_tesla_fleet_token(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    tesla_fleet_entry: MockConfigEntry,
    engine_factory: EngineFactory,
) -> None:
    """Test config returns the tesla_fleet entry's current token, re-read each time."""
    data = {
        key: value
        for key, value in config_entry.data.items()
        if key != CONF_TESLA_TOKEN
    }
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **data,
            CONF_ACCESS_KIND: ACCESS_TESLA_FLEET,
            CONF_TESLA_FLEET_ENTRY_ID: tesla_fleet_entry.entry_id,
        },
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    client = await engine_factory()
    await client.connect()

    frame = await client.call_entry("tesla_sync/config")
    assert frame["result"]["tesla"] == {
        "access_kind": "tesla_fleet",
        "token": FLEET_ACCESS_TOKEN,
        "token_expires_at": 4_102_444_800,
        "energy_site_id": ENERGY_SITE["energy_site_id"],
    }

    # tesla_fleet refreshed its token: the next request returns the new one.
    hass.config_entries.async_update_entry(
        tesla_fleet_entry,
        data={
            **tesla_fleet_entry.data,
            "token": {"access_token": "fleet-rotated", "expires_at": 4_102_448_400},
        },
    )
    frame = await client.call_entry("tesla_sync/config")
    assert frame["result"]["tesla"]["token"] == "fleet-rotated"

    tesla_fleet_entry.mock_state(hass, tesla_fleet_entry.state.NOT_LOADED)
    frame = await client.call_entry("tesla_sync/config")
    assert _error(frame) == "no_tesla_fleet"


# -- register and update -----------------------------------------------------


async def test_register_creates_entities(
    hass: HomeAssistant,
    engine: EngineClient,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Test register creates every entity with unique id, device, unit and category."""
    frame = await engine.register(
        devices={"powerwall": {"model": "Powerwall 3", "sw_version": "25.10.1"}}
    )
    assert frame["result"] == {"registered": len(DECLARATIONS)}
    await hass.async_block_till_done()

    for key, entity_id in ENTITY_IDS.items():
        entry = entity_registry.async_get(entity_id)
        assert entry is not None, key
        assert entry.unique_id == f"{engine.entry_id}_{key}"
        assert entry.translation_key == key

    price = entity_registry.async_get(ENTITY_IDS["general_price"])
    assert price.unit_of_measurement == "$/kWh"
    assert price.original_device_class is None
    assert price.capabilities == {"state_class": "measurement"}
    energy = entity_registry.async_get(ENTITY_IDS["grid_import_energy"])
    assert energy.original_device_class == "energy"
    assert energy.capabilities == {"state_class": "total_increasing"}
    assert energy.unit_of_measurement == "kWh"
    calls = entity_registry.async_get(ENTITY_IDS["tesla_api_calls"])
    assert calls.entity_category is EntityCategory.DIAGNOSTIC
    auto_sync = entity_registry.async_get(ENTITY_IDS["auto_sync"])
    assert auto_sync.entity_category is EntityCategory.CONFIG

    devices = {
        identifier: device
        for device in dr.async_entries_for_config_entry(
            device_registry, engine.entry_id
        )
        for _domain, identifier in device.identifiers
    }
    assert set(devices) == {
        f"{engine.entry_id}_amber_site",
        f"{engine.entry_id}_powerwall",
        f"{engine.entry_id}_engine",
    }
    amber = devices[f"{engine.entry_id}_amber_site"]
    powerwall = devices[f"{engine.entry_id}_powerwall"]
    assert amber is not None
    assert amber.manufacturer == "Amber Electric"
    assert powerwall is not None
    assert amber.name == "Amber site"
    assert powerwall.name == "Powerwall"
    assert powerwall.model == "Powerwall 3"
    assert powerwall.sw_version == "25.10.1"
    assert price.device_id == amber.id
    assert energy.device_id == powerwall.id

    state = hass.states.get(ENTITY_IDS["forecast_band"])
    assert state.attributes["options"] == ["predicted", "low", "high"]
    number = hass.states.get(ENTITY_IDS["curtailment_threshold"])
    assert number.attributes["min"] == -100
    assert number.attributes["max"] == 100
    assert number.attributes["step"] == 0.1
    assert number.attributes["unit_of_measurement"] == "c/kWh"
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNKNOWN


async def test_register_renames_device(
    hass: HomeAssistant, engine: EngineClient, device_registry: dr.DeviceRegistry
) -> None:
    """Test a device name from a later register replaces the translated name."""
    await engine.register()
    await engine.register(devices={"powerwall": {"name": "Home Powerwall"}})
    devices = {
        identifier: device
        for device in dr.async_entries_for_config_entry(
            device_registry, engine.entry_id
        )
        for _domain, identifier in device.identifiers
    }
    assert devices[f"{engine.entry_id}_powerwall"].name == "Home Powerwall"
    assert devices[f"{engine.entry_id}_engine"].name == "Tesla Sync engine"
    assert hass.states.get(ENTITY_IDS["battery_power"]) is not None


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        (
            {
                "key": "band",
                "platform": "select",
                "device": "engine",
                "translation_key": "x",
            },
            "non-empty options",
        ),
        (
            {
                "key": "threshold",
                "platform": "number",
                "device": "engine",
                "translation_key": "x",
                "min": 5,
                "max": 1,
                "step": 1,
            },
            "must be less than max",
        ),
        (
            {
                "key": "spike",
                "platform": "binary_sensor",
                "device": "engine",
                "translation_key": "x",
                "state_class": "measurement",
            },
            "only valid on sensors",
        ),
        (
            {
                "key": "power",
                "platform": "sensor",
                "device": "engine",
                "translation_key": "x",
                "device_class": "wattage",
            },
            "not a sensor device class",
        ),
    ],
)
async def test_register_invalid_entity(
    hass: HomeAssistant, engine: EngineClient, declaration: dict[str, Any], message: str
) -> None:
    """Test a declaration that breaks a rule fails the whole batch."""
    frame = await engine.register([DECLARATIONS[0], declaration])
    assert _error(frame) == "invalid_entity"
    assert message in frame["error"]["message"]
    assert hass.states.get(ENTITY_IDS["general_price"]) is None


async def test_register_rejects_platform_change(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test a key cannot change its platform."""
    await engine.register()
    switch_as_sensor = {
        "key": "auto_sync",
        "platform": "sensor",
        "device": "engine",
        "translation_key": "auto_sync",
    }
    frame = await engine.register([switch_as_sensor])
    assert _error(frame) == "invalid_entity"


async def test_register_unknown_device_rejected(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test a declaration naming an unknown device fails schema validation."""
    frame = await engine.register([{**DECLARATIONS[0], "device": "car"}])
    assert _error(frame) == "invalid_format"


async def test_update_batch_sets_states(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test an update batch sets states and attributes, negative prices included."""
    await engine.register()
    forecasts = [
        {
            "start_time": "2026-12-04T02:05:01+00:00",
            "end_time": "2026-12-04T02:10:00+00:00",
            "per_kwh": 0.118,
        }
    ]
    frame = await engine.update(
        {
            "key": "general_price",
            "state": -0.042,
            "attributes": {"descriptor": "extremely_low"},
        },
        {
            "key": "general_forecast",
            "state": 0.118,
            "attributes": {"forecasts": forecasts},
        },
        {"key": "battery_power", "state": -3120},
        {"key": "grid_import_energy", "state": 1234.56},
        {"key": "last_sync", "state": "2026-12-04T02:00:12+00:00"},
        {"key": "sync_status", "state": "uploaded"},
        {"key": "price_spike", "state": True, "attributes": {"spike_status": "spike"}},
        {"key": "auto_sync", "state": False},
        {"key": "forecast_band", "state": "high"},
        {"key": "curtailment_threshold", "state": 0.5},
    )
    assert frame["result"] == {"updated": 10}
    await hass.async_block_till_done()

    price = hass.states.get(ENTITY_IDS["general_price"])
    assert price.state == "-0.042"
    assert price.attributes["descriptor"] == "extremely_low"
    assert price.attributes["unit_of_measurement"] == "$/kWh"
    forecast = hass.states.get(ENTITY_IDS["general_forecast"])
    assert forecast.attributes["forecasts"] == forecasts
    assert hass.states.get(ENTITY_IDS["battery_power"]).state == "-3120"
    assert hass.states.get(ENTITY_IDS["grid_import_energy"]).state == "1234.56"
    assert hass.states.get(ENTITY_IDS["last_sync"]).state == "2026-12-04T02:00:12+00:00"
    assert hass.states.get(ENTITY_IDS["sync_status"]).state == "uploaded"
    assert hass.states.get(ENTITY_IDS["price_spike"]).state == "on"
    assert hass.states.get(ENTITY_IDS["auto_sync"]).state == "off"
    assert hass.states.get(ENTITY_IDS["forecast_band"]).state == "high"
    assert hass.states.get(ENTITY_IDS["curtailment_threshold"]).state == "0.5"

    # Leaving out attributes keeps the previous ones; null shows unknown.
    await engine.update({"key": "general_price", "state": None})
    price = hass.states.get(ENTITY_IDS["general_price"])
    assert price.state == STATE_UNKNOWN
    assert price.attributes["descriptor"] == "extremely_low"


@pytest.mark.parametrize(
    ("update", "code", "message"),
    [
        (
            {"key": "solar_pwr", "state": 1},
            "unknown_entity",
            "'solar_pwr' is not registered",
        ),
        ({"key": "battery_power", "state": "high"}, "invalid_state", "not a number"),
        ({"key": "battery_power", "state": True}, "invalid_state", "not a number"),
        ({"key": "price_spike", "state": "on"}, "invalid_state", "not true or false"),
        ({"key": "forecast_band", "state": "medium"}, "invalid_state", "not one of"),
        ({"key": "sync_status", "state": "done"}, "invalid_state", "not one of"),
        (
            {"key": "last_sync", "state": "2026-12-04T02:00:12"},
            "invalid_state",
            "offset",
        ),
        ({"key": "sync_now", "state": "pressed"}, "invalid_state", "takes no state"),
    ],
)
async def test_update_rejects_batch(
    hass: HomeAssistant,
    engine: EngineClient,
    update: dict[str, Any],
    code: str,
    message: str,
) -> None:
    """Test one bad item rejects the whole batch and nothing changes."""
    await engine.register()
    frame = await engine.update({"key": "general_price", "state": 0.25}, update)
    assert _error(frame) == code
    assert message in frame["error"]["message"]
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNKNOWN


# -- availability --------------------------------------------------------------


async def test_available_only_while_engine_connected(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test entities are unavailable until subscribed and again after a disconnect."""
    client = await engine_factory()
    hello = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    client.entry_id = hello["result"]["entry_id"]
    await client.register()
    await client.update({"key": "general_price", "state": 0.31})
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE

    client.subscription_id = await client.send(
        "tesla_sync/subscribe_commands", entry_id=client.entry_id
    )
    await client.result_frame(client.subscription_id)
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == "0.31"

    await client.close()
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE
    assert loaded_entry.runtime_data.connected is False

    # A reconnect must register again before the entities come back.
    again = await engine_factory()
    await again.connect()
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE
    await again.register()
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == "0.31"


async def test_unsubscribe_ends_session(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test unsubscribing from commands counts as a disconnect."""
    await engine.register()
    await engine.update({"key": "general_price", "state": 0.31})
    frame = await engine.call("unsubscribe_events", subscription=engine.subscription_id)
    assert frame["success"] is True
    await hass.async_block_till_done()
    assert hass.states.get(ENTITY_IDS["general_price"]).state == STATE_UNAVAILABLE
    frame = await engine.call_entry("tesla_sync/config")
    assert _error(frame) == "no_session"


async def test_unload_tells_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine: EngineClient
) -> None:
    """Test unloading the entry sends entry_unloaded and later commands fail."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await engine.next_event() == {"command": "entry_unloaded"}
    frame = await engine.call_entry("tesla_sync/config")
    assert _error(frame) == "entry_not_loaded"


# -- commands to the engine ----------------------------------------------------


async def test_entity_actions_reach_engine(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test switch, button, select and number actions arrive as command events."""
    await engine.register()
    await engine.update({"key": "auto_sync", "state": True})

    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": ENTITY_IDS["auto_sync"]}, blocking=True
    )
    assert await engine.next_event() == {
        "command": "switch_set",
        "key": "auto_sync",
        "value": False,
    }
    # The switch waits for the engine to confirm.
    assert hass.states.get(ENTITY_IDS["auto_sync"]).state == "on"

    await hass.services.async_call(
        "button", "press", {"entity_id": ENTITY_IDS["sync_now"]}, blocking=True
    )
    assert await engine.next_event() == {"command": "button_press", "key": "sync_now"}

    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": ENTITY_IDS["forecast_band"], "option": "low"},
        blocking=True,
    )
    assert await engine.next_event() == {
        "command": "select_set",
        "key": "forecast_band",
        "value": "low",
    }

    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": ENTITY_IDS["curtailment_threshold"], "value": -1.5},
        blocking=True,
    )
    assert await engine.next_event() == {
        "command": "number_set",
        "key": "curtailment_threshold",
        "value": -1.5,
    }


async def test_sync_now_returns_engine_result(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test sync_now waits for command_result and returns its response."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    )
    event = await engine.next_event()
    assert event["command"] == "service_call"
    assert event["service"] == "sync_now"
    assert event["data"] == {}
    response = {"outcome": "uploaded", "reason": "buy price changed in 3 periods"}
    frame = await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response=response,
    )
    assert frame["success"] is True
    assert await call == response

    frame = await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={},
    )
    assert _error(frame) == "unknown_request"


async def test_preview_tariff_passes_data(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test preview_tariff sends its fields and returns the engine's object."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN,
            "preview_tariff",
            {"forecast_band": "low", "config_entry_id": engine.entry_id},
            blocking=True,
            return_response=True,
        )
    )
    event = await engine.next_event()
    assert event["service"] == "preview_tariff"
    assert event["data"] == {"forecast_band": "low"}
    await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"periods": 48, "changed": []},
    )
    assert await call == {"periods": 48, "changed": []}


async def test_sync_now_engine_error(hass: HomeAssistant, engine: EngineClient) -> None:
    """Test an engine failure becomes a translated HomeAssistantError."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    )
    event = await engine.next_event()
    await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=False,
        error="Amber returned no forecast",
    )
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert caught.value.translation_key == "engine_error"
    assert caught.value.translation_placeholders == {
        "message": "Amber returned no forecast"
    }


async def test_sync_now_invalid_response(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test a sync_now response without a known outcome fails both sides."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    )
    event = await engine.next_event()
    frame = await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"outcome": "done"},
    )
    assert _error(frame) == "invalid_result"
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert caught.value.translation_key == "engine_error"


async def test_sync_now_without_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test sync_now with no engine connected fails with engine_not_running."""
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    assert caught.value.translation_key == "engine_not_running"


async def test_button_without_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine: EngineClient
) -> None:
    """Test a press while the engine is away fails with engine_not_running."""
    await engine.register()
    await engine.close()
    await hass.async_block_till_done()
    # HA skips unavailable entities in service calls, so call the entity itself.
    button = loaded_entry.runtime_data._entities["sync_now"]
    with pytest.raises(HomeAssistantError) as caught:
        await button.async_press()
    assert caught.value.translation_key == "engine_not_running"


async def test_sync_now_unknown_entry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test sync_now naming an entry that is not loaded fails with entry_not_found."""
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "sync_now",
            {"config_entry_id": "nope"},
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "entry_not_found"


async def test_sync_now_disconnect_fails_call(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test a disconnect fails a waiting call with engine_disconnected."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    )
    await engine.next_event()
    await engine.close()
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert caught.value.translation_key == "engine_disconnected"


async def test_sync_now_timeout(hass: HomeAssistant, engine: EngineClient) -> None:
    """Test an engine that never sends a result fails the call with engine_timeout."""
    call = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "sync_now", {}, blocking=True, return_response=True
        )
    )
    event = await engine.next_event()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert caught.value.translation_key == "engine_timeout"
    assert caught.value.translation_placeholders == {
        "service": "sync_now",
        "seconds": "60",
    }

    frame = await engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"outcome": "uploaded", "reason": "late"},
    )
    assert _error(frame) == "unknown_request"


# -- events, reauthentication and options --------------------------------------


# Each event type with the data docs/bridge-protocol.md lists for it.
EVENTS = [
    (
        "tesla_sync_tariff_uploaded",
        {
            "reason": "buy price changed by 12.4 c/kWh in 3 periods",
            "source": "amber",
            "periods": 48,
            "buy_now": 0.31,
            "sell_now": 0.05,
        },
    ),
    (
        "tesla_sync_spike_started",
        {
            "region": "NSW1",
            "price": 1450.5,
            "threshold": 300.0,
            "simulated": False,
            "responding": True,
        },
    ),
    (
        "tesla_sync_spike_ended",
        {
            "region": "SA1",
            "price": 120.0,
            "peak_price": 9800.0,
            "duration": 1800,
            "simulated": True,
            "reason": "simulation_ended",
        },
    ),
    (
        "tesla_sync_curtailment_changed",
        {
            "active": True,
            "export_rule": "never",
            "confirmed": True,
            "feed_in_price": -0.042,
            "reason": "price",
        },
    ),
]


@pytest.mark.parametrize(("event_type", "data"), EVENTS)
async def test_fire_event_reaches_bus(
    hass: HomeAssistant, engine: EngineClient, event_type: str, data: dict
) -> None:
    """Test fire_event fires each event type with the entry id added."""
    events = async_capture_events(hass, event_type)
    frame = await engine.call_entry(
        "tesla_sync/fire_event", event_type=event_type, data=data
    )
    assert frame["success"] is True
    await hass.async_block_till_done()
    assert len(events) == 1
    assert events[0].data == {**data, "entry_id": engine.entry_id}


async def test_fire_event_sets_entry_id(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test an entry_id in the engine's data is replaced by the session's."""
    events = async_capture_events(hass, "tesla_sync_spike_ended")
    await engine.call_entry(
        "tesla_sync/fire_event",
        event_type="tesla_sync_spike_ended",
        data={"region": "NSW1", "entry_id": "other-entry"},
    )
    await hass.async_block_till_done()
    assert events[0].data["entry_id"] == engine.entry_id


async def test_fire_event_rejects_other_types(
    hass: HomeAssistant, engine: EngineClient
) -> None:
    """Test event types outside the integration's four are rejected."""
    frame = await engine.call_entry(
        "tesla_sync/fire_event", event_type="homeassistant_stop"
    )
    assert _error(frame) == "invalid_format"


async def test_auth_failed_starts_reauth(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine: EngineClient
) -> None:
    """Test an auth failure report starts the reauthentication flow."""
    frame = await engine.call_entry("tesla_sync/auth_failed", vendor="amber")
    assert frame["success"] is True
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    assert flows[0]["step_id"] == "reauth_confirm"


async def test_set_options_updates_entry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine: EngineClient
) -> None:
    """Test set_options writes the entry's options and sends config_changed."""
    frame = await engine.call_entry(
        "tesla_sync/set_options", options={"auto_sync": False}
    )
    assert frame["success"] is True
    await hass.async_block_till_done()
    assert loaded_entry.options["auto_sync"] is False
    assert loaded_entry.options["forecast_band"] == "predicted"
    assert await engine.next_event() == {"command": "config_changed"}


@pytest.mark.parametrize(
    "options",
    [{"spike_threshold": 50000}, {"forecast_band": "medium"}, {"colour": "blue"}],
)
async def test_set_options_rejects_invalid(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    engine: EngineClient,
    options: dict,
) -> None:
    """Test out-of-range values and unknown keys are rejected."""
    frame = await engine.call_entry("tesla_sync/set_options", options=options)
    assert _error(frame) == "invalid_options"
    assert loaded_entry.options == DEFAULT_OPTIONS


async def test_options_flow_notifies_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine: EngineClient
) -> None:
    """Test the options flow sends config_changed to a connected engine."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {**DEFAULT_OPTIONS, "forecast_band": "high"}
    )
    assert await engine.next_event() == {"command": "config_changed"}
