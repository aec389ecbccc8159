"""Tests of the repair issue for an engine that stays disconnected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.tesla_sync.const import (
    CONF_ADDON_NAME,
    CONF_ADDON_SLUG,
    DEFAULT_OPTIONS,
    DOMAIN,
)

from .conftest import ENTRY_DATA
from .engine import ENGINE_VERSION, EngineClient

type EngineFactory = Callable[..., Awaitable[EngineClient]]


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float
) -> None:
    """Move the clock forward and run the timers that became due."""
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    """Return the entry's engine issue, or None."""
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"engine_not_connected_{entry.entry_id}"
    )


async def test_issue_after_ten_minutes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, loaded_entry: MockConfigEntry
) -> None:
    """Test an engine that never connects raises the issue after 10 minutes."""
    await _advance(hass, freezer, 9)
    assert _issue(hass, loaded_entry) is None

    await _advance(hass, freezer, 1.5)
    issue = _issue(hass, loaded_entry)
    assert issue is not None
    assert issue.translation_key == "engine_not_connected"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.is_fixable is False
    assert issue.is_persistent is False
    assert issue.learn_more_url is None
    assert issue.translation_placeholders == {
        "title": "Tesla Sync (Jemena)",
        "minutes": "10",
    }


async def test_issue_removed_on_connect(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
) -> None:
    """Test the issue goes once the engine subscribes to commands."""
    await _advance(hass, freezer, 11)
    assert _issue(hass, loaded_entry) is not None

    client = await engine_factory()
    hello = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert hello["success"] is True
    # hello alone does not count as connected.
    assert _issue(hass, loaded_entry) is not None

    client.entry_id = hello["result"]["entry_id"]
    subscribed = await client.call_entry("tesla_sync/subscribe_commands")
    assert subscribed["success"] is True
    assert _issue(hass, loaded_entry) is None


async def test_issue_after_disconnect(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
) -> None:
    """Test the clock restarts at a disconnect and the issue follows 10 minutes later."""
    client = await engine_factory()
    await client.connect(loaded_entry.entry_id)
    # Small steps: the test user's access token expires after 30 minutes.
    await _advance(hass, freezer, 12)
    assert _issue(hass, loaded_entry) is None

    await client.close()
    await hass.async_block_till_done()
    await _advance(hass, freezer, 9)
    assert _issue(hass, loaded_entry) is None
    await _advance(hass, freezer, 1.5)
    assert _issue(hass, loaded_entry) is not None

    again = await engine_factory()
    await again.connect(loaded_entry.entry_id)
    assert _issue(hass, loaded_entry) is None
    await _advance(hass, freezer, 12)
    assert _issue(hass, loaded_entry) is None


async def test_issue_clock_on_unsubscribe(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    engine: EngineClient,
) -> None:
    """Test ending the command subscription on an open socket starts the clock."""
    frame = await engine.call("unsubscribe_events", subscription=engine.subscription_id)
    assert frame["success"] is True
    await _advance(hass, freezer, 11)
    assert _issue(hass, loaded_entry) is not None


async def test_issue_replaced_session(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
) -> None:
    """Test a replacing engine that subscribes keeps the issue away."""
    first = await engine_factory()
    await first.connect(loaded_entry.entry_id)
    second = await engine_factory()
    await second.connect(loaded_entry.entry_id)
    await _advance(hass, freezer, 11)
    assert _issue(hass, loaded_entry) is None


async def test_issue_replaced_without_subscribe(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    engine_factory: EngineFactory,
) -> None:
    """Test a replacing engine that never subscribes raises the issue."""
    first = await engine_factory()
    await first.connect(loaded_entry.entry_id)
    second = await engine_factory()
    hello = await second.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert hello["success"] is True
    await _advance(hass, freezer, 11)
    assert _issue(hass, loaded_entry) is not None


async def test_issue_names_addon(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Test an entry whose add-on discovery found names it and links its page."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tesla Sync (Jemena)",
        unique_id="01F5A5CRKMZ5BCX9P1S4V990AM",
        data={
            **ENTRY_DATA,
            CONF_ADDON_SLUG: "a1b2c3d4_tesla_sync",
            CONF_ADDON_NAME: "Tesla Sync",
        },
        options=dict(DEFAULT_OPTIONS),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    await _advance(hass, freezer, 11)
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "engine_not_connected_addon"
    assert issue.translation_placeholders == {
        "title": "Tesla Sync (Jemena)",
        "minutes": "10",
        "addon": "Tesla Sync",
    }
    assert issue.learn_more_url == (
        "homeassistant://hassio/addon/a1b2c3d4_tesla_sync/info"
    )


async def test_issue_removed_on_unload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, loaded_entry: MockConfigEntry
) -> None:
    """Test unloading removes the issue and stops the clock."""
    await _advance(hass, freezer, 11)
    assert _issue(hass, loaded_entry) is not None

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, loaded_entry) is None


async def test_unload_stops_clock(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, loaded_entry: MockConfigEntry
) -> None:
    """Test an entry unloaded before 10 minutes never raises the issue."""
    await _advance(hass, freezer, 5)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await _advance(hass, freezer, 30)
    assert _issue(hass, loaded_entry) is None


async def test_unload_before_subscribe(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, engine_factory: EngineFactory
) -> None:
    """Test unloading while the engine has sent only hello ends its session."""
    client = await engine_factory()
    hello = await client.call(
        "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION
    )
    assert hello["success"] is True
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    frame = await client.call("tesla_sync/config", entry_id=hello["result"]["entry_id"])
    assert frame["success"] is False
    assert frame["error"]["code"] == "entry_not_loaded"
