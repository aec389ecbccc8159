"""Tests of the diagnostics download."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.tesla_sync.const import ACCESS_TESLA_FLEET, CONF_ACCESS_KIND

from .engine import EngineClient
from .standins import (
    AMBER_TOKEN,
    FLEET_ACCESS_TOKEN,
    FLEET_REFRESH_TOKEN,
    SITE_ACTIVE,
    TESLEMETRY_TOKEN,
)

SECRETS = (AMBER_TOKEN, TESLEMETRY_TOKEN, FLEET_ACCESS_TOKEN, FLEET_REFRESH_TOKEN)


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    engine_factory: Callable[..., Awaitable[EngineClient]],
) -> None:
    """Test no token or NMI appears anywhere in the diagnostics."""
    # Diagnostics adds HTTP routes, so it must be set up before the engine's
    # websocket client starts HA's HTTP server.
    assert await async_setup_component(hass, "diagnostics", {})
    engine = await engine_factory()
    await engine.connect(features=["force", "spike_test"])
    await engine.register()
    # Keys the engine should never send, but which must still be redacted.
    hass.config_entries.async_update_entry(
        loaded_entry,
        data={
            **loaded_entry.data,
            "oauth": {
                "access_token": FLEET_ACCESS_TOKEN,
                "refresh_token": FLEET_REFRESH_TOKEN,
                "client_secret": "client-secret-value",
            },
        },
    )
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    text = json.dumps(diagnostics)

    for secret in (*SECRETS, SITE_ACTIVE["nmi"], "client-secret-value"):
        assert secret not in text, secret
    assert diagnostics["entry"]["data"]["amber_token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["nmi"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["oauth"]["refresh_token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["site_id"] == SITE_ACTIVE["id"]
    assert diagnostics["bridge"]["connected"] is True
    assert diagnostics["bridge"]["engine_version"] == "0.1.0"
    assert diagnostics["bridge"]["engine_features"] == ["force", "spike_test"]
    assert "general_price" in diagnostics["bridge"]["registered"]


async def test_diagnostics_tesla_fleet_entry(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    tesla_fleet_entry: MockConfigEntry,
) -> None:
    """Test a Tesla Fleet entry's diagnostics hold no tesla_fleet token either."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_ACCESS_KIND: ACCESS_TESLA_FLEET}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, config_entry
    )
    text = json.dumps(diagnostics)
    for secret in SECRETS:
        assert secret not in text, secret
    assert diagnostics["bridge"]["connected"] is False
    assert diagnostics["bridge"]["engine_features"] == []
