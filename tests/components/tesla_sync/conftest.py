"""Fixtures for the Tesla Sync tests: vendor stand-ins, entries and the engine side."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.tesla_sync.const import (
    ACCESS_TESLEMETRY,
    CONF_ACCESS_KIND,
    CONF_AMBER_TOKEN,
    CONF_ENERGY_SITE_ID,
    CONF_NMI,
    CONF_SITE_ID,
    CONF_TESLA_TOKEN,
    DEFAULT_OPTIONS,
    DOMAIN,
)

from .engine import EngineClient
from .standins import (
    AMBER_TOKEN,
    ENERGY_SITE,
    FLEET_ACCESS_TOKEN,
    FLEET_REFRESH_TOKEN,
    SITE_ACTIVE,
    TESLEMETRY_TOKEN,
    VendorStandIn,
)

ENTRY_DATA = {
    CONF_AMBER_TOKEN: AMBER_TOKEN,
    CONF_SITE_ID: SITE_ACTIVE["id"],
    CONF_NMI: SITE_ACTIVE["nmi"],
    CONF_ACCESS_KIND: ACCESS_TESLEMETRY,
    CONF_TESLA_TOKEN: TESLEMETRY_TOKEN,
    CONF_ENERGY_SITE_ID: ENERGY_SITE["energy_site_id"],
}


@pytest.fixture
async def vendors(socket_enabled: None) -> AsyncGenerator[VendorStandIn]:
    """Start the vendor stand-in and point the integration's API URLs at it."""
    standin = VendorStandIn()
    await standin.start()
    with (
        patch(
            "custom_components.tesla_sync.const.AMBER_API_URL",
            f"{standin.url}/amber/v1",
        ),
        patch(
            "custom_components.tesla_sync.const.TESLEMETRY_API_URL",
            f"{standin.url}/teslemetry",
        ),
        patch(
            "custom_components.tesla_sync.const.TESLA_FLEET_API_URL",
            f"{standin.url}/fleet",
        ),
    ):
        yield standin
    await standin.stop()


@pytest.fixture
def tesla_fleet_entry(hass: HomeAssistant) -> Generator[MockConfigEntry]:
    """Add a loaded tesla_fleet entry with an OAuth token, as HA's integration stores it."""
    entry = MockConfigEntry(
        domain="tesla_fleet",
        title="Tesla Fleet",
        unique_id="fleet-user",
        data={
            "auth_implementation": "tesla_fleet",
            "token": {
                "access_token": FLEET_ACCESS_TOKEN,
                "refresh_token": FLEET_REFRESH_TOKEN,
                "expires_at": 4_102_444_800,
                "token_type": "Bearer",
            },
        },
        state=ConfigEntryState.LOADED,
    )
    entry.add_to_hass(hass)
    yield entry
    # The tesla_fleet integration itself is never set up here (its client
    # library is not installed), so HA must not try to unload it.
    entry.mock_state(hass, ConfigEntryState.NOT_LOADED)


@pytest.fixture
def config_entry(hass: HomeAssistant) -> MockConfigEntry:
    """Add a Teslemetry-based entry for the active test site."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tesla Sync (Jemena)",
        unique_id=SITE_ACTIVE["id"],
        data=dict(ENTRY_DATA),
        options=dict(DEFAULT_OPTIONS),
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set up the entry."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
def engine_factory(
    hass: HomeAssistant, hass_ws_client: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[EngineClient]]:
    """Return a factory of engine-side websocket clients (admin by default)."""

    async def create(access_token: str | None = None) -> EngineClient:
        if access_token is None:
            client = await hass_ws_client(hass)
        else:
            client = await hass_ws_client(hass, access_token)
        return EngineClient(client)

    return create


@pytest.fixture
async def engine(
    loaded_entry: MockConfigEntry,
    engine_factory: Callable[..., Awaitable[EngineClient]],
) -> EngineClient:
    """Return an engine client that has sent hello and subscribed to commands."""
    client = await engine_factory()
    await client.connect(loaded_entry.entry_id)
    return client
