"""Tests of the price-event control actions, relayed to the engine over the bridge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
import voluptuous as vol

from custom_components.tesla_sync.const import DOMAIN

from .engine import ENGINE_VERSION, EngineClient

type EngineFactory = Callable[..., Awaitable[EngineClient]]

ALL_FEATURES = ["force", "custom_schedule", "spike_test"]

SCHEDULE = {
    "name": "Two rates",
    "seasons": [
        {
            "name": "All year",
            "from": {"month": 1, "day": 1},
            "to": {"month": 12, "day": 31},
            "periods": [
                {
                    "name": "ON_PEAK",
                    "from": "15:00",
                    "to": "21:00",
                    "buy": 0.52,
                    "sell": 0.08,
                },
                {
                    "name": "OFF_PEAK",
                    "from": "21:00",
                    "to": "15:00",
                    "buy": 0.22,
                    "sell": 0.04,
                },
            ],
        }
    ],
}

# Action, its fields, and the data the engine receives.
RELAYED = [
    ("force_charge", {"duration": 30}, {"duration": 30}),
    ("force_charge", {"duration": 60.0}, {"duration": 60}),
    ("force_discharge", {"duration": 720}, {"duration": 720}),
    ("force_discharge", {"duration": "5"}, {"duration": 5}),
    ("cancel_force", {}, {}),
    ("set_custom_schedule", {"schedule": SCHEDULE}, {"schedule": SCHEDULE}),
    ("apply_custom_schedule", {}, {}),
    ("clear_custom_schedule", {}, {}),
    ("spike_test", {"price_mwh": 1500}, {"price_mwh": 1500.0}),
    ("spike_test_end", {}, {}),
]


@pytest.fixture
async def control_engine(
    loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> EngineClient:
    """Return an engine that lists every control feature."""
    client = await engine_factory()
    await client.connect(loaded_entry.entry_id, features=ALL_FEATURES)
    return client


def _pending_services(hass: HomeAssistant) -> list[str]:
    """Return the actions waiting for the engine in the only entry."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    return entry.runtime_data.diagnostics()["pending_calls"]


def _start_call(
    hass: HomeAssistant, service: str, data: dict[str, Any]
) -> asyncio.Task[Any]:
    """Call an action in the background, returning its response."""
    return asyncio.create_task(
        hass.services.async_call(
            DOMAIN, service, data, blocking=True, return_response=True
        )
    )


@pytest.mark.parametrize(("service", "fields", "data"), RELAYED)
async def test_control_relayed_to_engine(
    hass: HomeAssistant,
    control_engine: EngineClient,
    service: str,
    fields: dict[str, Any],
    data: dict[str, Any],
) -> None:
    """Test each control action reaches the engine and returns its response."""
    call = _start_call(
        hass, service, {**fields, "config_entry_id": control_engine.entry_id}
    )
    event = await control_engine.next_event()
    assert event["command"] == "service_call"
    assert event["service"] == service
    assert event["data"] == data

    response = {"state": "active", "ends_at": "2026-12-04T03:00:00+00:00"}
    frame = await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response=response,
    )
    assert frame["success"] is True
    assert await call == response


async def test_control_without_response(
    hass: HomeAssistant, control_engine: EngineClient
) -> None:
    """Test a control action called without return_response returns nothing."""
    call = asyncio.create_task(
        hass.services.async_call(DOMAIN, "cancel_force", {}, blocking=True)
    )
    event = await control_engine.next_event()
    await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"state": "idle"},
    )
    assert await call is None


@pytest.mark.parametrize(
    ("features", "action"),
    [
        (None, ("force_charge", {"duration": 30})),
        (["custom_schedule", "spike_test"], ("cancel_force", {})),
        (["force", "spike_test"], ("apply_custom_schedule", {})),
        (["force"], ("spike_test", {"price_mwh": 500})),
    ],
)
async def test_control_needs_engine_feature(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
    features: list[str] | None,
    action: tuple[str, dict[str, Any]],
) -> None:
    """Test an engine that did not list a feature never receives its actions."""
    service, fields = action
    client = await engine_factory()
    await client.connect(loaded_entry.entry_id, features=features)
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN, service, fields, blocking=True, return_response=True
        )
    assert caught.value.translation_key == "engine_feature_missing"
    assert caught.value.translation_placeholders == {
        "service": service,
        "engine_version": ENGINE_VERSION,
    }
    # Nothing was sent: the next event is the one sync_now causes.
    sync = _start_call(hass, "sync_now", {})
    event = await client.next_event()
    assert event["service"] == "sync_now"
    await client.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"outcome": "unchanged", "reason": "no change"},
    )
    await sync


async def test_control_without_engine(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test a control action with no engine connected fails with engine_not_running."""
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN, "force_charge", {"duration": 30}, blocking=True
        )
    assert caught.value.translation_key == "engine_not_running"


async def test_subscribe_ignores_unknown_features(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test feature names this integration does not know are accepted."""
    client = await engine_factory()
    await client.connect(
        loaded_entry.entry_id, features=["force", "battery_weather_mode"]
    )
    session = loaded_entry.runtime_data.session
    assert session.features == frozenset({"force", "battery_weather_mode"})


@pytest.mark.parametrize(
    "features", [["force", 7], ["x" * 65], [""], ["force"] * 101, "force"]
)
async def test_subscribe_rejects_bad_features(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
    features: Any,
) -> None:
    """Test a features field that is not a short list of names is rejected."""
    client = await engine_factory()
    hello = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    frame = await client.call(
        "tesla_sync/subscribe_commands",
        entry_id=hello["result"]["entry_id"],
        features=features,
    )
    assert frame["success"] is False
    assert frame["error"]["code"] == "invalid_format"
    assert loaded_entry.runtime_data.connected is False


async def test_control_invalid_request(
    hass: HomeAssistant, control_engine: EngineClient
) -> None:
    """Test the engine's invalid_request becomes a ServiceValidationError."""
    call = _start_call(hass, "spike_test", {"price_mwh": 100})
    event = await control_engine.next_event()
    message = "Simulated spike price 100 $/MWh is below the threshold of 300 $/MWh"
    frame = await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=False,
        error=message,
        error_code="invalid_request",
    )
    assert frame["success"] is True
    with pytest.raises(ServiceValidationError) as caught:
        await call
    assert caught.value.translation_key == "engine_invalid_request"
    assert caught.value.translation_placeholders == {
        "service": "spike_test",
        "message": message,
    }


@pytest.mark.parametrize("fields", [{"error_code": "failed"}, {}])
async def test_control_engine_failure(
    hass: HomeAssistant, control_engine: EngineClient, fields: dict[str, str]
) -> None:
    """Test a failure without invalid_request becomes engine_error."""
    call = _start_call(hass, "force_charge", {"duration": 30})
    event = await control_engine.next_event()
    await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=False,
        error="Tesla rejected the backup reserve write",
        **fields,
    )
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "engine_error"
    assert caught.value.translation_placeholders == {
        "message": "Tesla rejected the backup reserve write"
    }


async def test_command_result_unknown_error_code(
    hass: HomeAssistant, control_engine: EngineClient
) -> None:
    """Test an error_code outside the documented ones is rejected."""
    call = _start_call(hass, "cancel_force", {})
    event = await control_engine.next_event()
    frame = await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=False,
        error="busy",
        error_code="busy",
    )
    assert frame["success"] is False
    assert frame["error"]["code"] == "invalid_format"
    # The call still waits, and a valid result completes it.
    await control_engine.call_entry(
        "tesla_sync/command_result",
        request_id=event["request_id"],
        success=True,
        response={"state": "idle"},
    )
    assert await call == {"state": "idle"}


async def test_control_timeout(
    hass: HomeAssistant, control_engine: EngineClient
) -> None:
    """Test a control action without a result fails after 60 seconds."""
    call = _start_call(hass, "force_discharge", {"duration": 30})
    await control_engine.next_event()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    with pytest.raises(HomeAssistantError) as caught:
        await call
    assert caught.value.translation_key == "engine_timeout"
    assert caught.value.translation_placeholders == {
        "service": "force_discharge",
        "seconds": "60",
    }


def _schedule_with(**period: Any) -> dict[str, Any]:
    """Return SCHEDULE with fields of its first period replaced."""
    season = dict(SCHEDULE["seasons"][0])
    season["periods"] = [{**season["periods"][0], **period}, season["periods"][1]]
    return {**SCHEDULE, "seasons": [season]}


@pytest.mark.parametrize(
    ("service", "fields", "message"),
    [
        ("force_charge", {}, "required key not provided"),
        ("force_charge", {"duration": 4}, "out of range; use 5 to 720"),
        ("force_charge", {"duration": 721}, "out of range; use 5 to 720"),
        ("force_discharge", {"duration": 30.5}, "not a whole number"),
        ("force_discharge", {"duration": "soon"}, "not a number of minutes"),
        ("force_discharge", {"duration": True}, "not a number of minutes"),
        ("set_custom_schedule", {}, "required key not provided"),
        ("set_custom_schedule", {"schedule": "flat"}, "must be an object"),
        ("set_custom_schedule", {"schedule": {"name": "x"}}, "non-empty seasons"),
        (
            "set_custom_schedule",
            {"schedule": {"name": "x", "seasons": []}},
            "non-empty seasons",
        ),
        (
            "set_custom_schedule",
            {"schedule": {"name": "x", "seasons": ["summer"]}},
            "seasons[0] must be an object",
        ),
        (
            "set_custom_schedule",
            {"schedule": {"name": "x", "seasons": [{"name": "All year"}]}},
            "seasons[0] needs a non-empty periods list",
        ),
        (
            "set_custom_schedule",
            {"schedule": {"name": "x", "seasons": [{"periods": [3]}]}},
            "must contain objects",
        ),
        (
            "set_custom_schedule",
            {"schedule": _schedule_with(to=1260)},
            "seasons[0].periods[0].to is the number 1260",
        ),
        (
            "set_custom_schedule",
            {"schedule": _schedule_with(name="P" * 70000)},
            "the maximum is 65536",
        ),
        ("spike_test", {}, "required key not provided"),
        ("spike_test", {"price_mwh": 20001}, "value must be at most 20000"),
        ("spike_test", {"price_mwh": -5}, "value must be at least 0"),
        ("cancel_force", {"duration": 30}, "duration"),
    ],
)
async def test_control_fields_checked(
    hass: HomeAssistant,
    control_engine: EngineClient,
    service: str,
    fields: dict[str, Any],
    message: str,
) -> None:
    """Test fields with a wrong shape are rejected before reaching the engine."""
    with pytest.raises(vol.Invalid) as caught:
        await hass.services.async_call(
            DOMAIN, service, fields, blocking=True, return_response=True
        )
    assert message in str(caught.value)
    assert control_engine.events == []
    assert _pending_services(hass) == []
