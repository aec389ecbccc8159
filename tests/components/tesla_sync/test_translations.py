"""Tests that every user-visible key has its English text."""

from __future__ import annotations

import json
from pathlib import Path
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers.service import async_get_all_descriptions
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.tesla_sync.const import DOMAIN

from .engine import DECLARATIONS

INTEGRATION = Path(__file__).parents[3] / "custom_components" / "tesla_sync"
EN = json.loads((INTEGRATION / "translations" / "en.json").read_text())
PRODUCT_KEYS = {
    "sensor": [
        "general_price",
        "feed_in_price",
        "general_forecast",
        "feed_in_forecast",
        "price_descriptor",
        "renewables",
        "aemo_price",
        "uploaded_buy_price",
        "last_sync",
        "next_sync",
        "sync_status",
        "tesla_api_calls",
        "battery_level",
        "solar_power",
        "grid_power",
        "battery_power",
        "home_power",
        "solar_energy",
        "grid_import_energy",
        "grid_export_energy",
        "battery_charge_energy",
        "battery_discharge_energy",
        "home_energy",
    ],
    "binary_sensor": ["price_spike", "aemo_spike", "curtailment_active"],
    "switch": ["auto_sync", "spike_response", "curtailment"],
    "button": ["sync_now"],
    "select": ["forecast_band", "aemo_region"],
    "number": ["spike_threshold", "curtailment_threshold"],
}

# Every action and its fields.
SERVICE_FIELDS = {
    "sync_now": {"config_entry_id"},
    "preview_tariff": {"config_entry_id", "forecast_band"},
    "force_charge": {"config_entry_id", "duration"},
    "force_discharge": {"config_entry_id", "duration"},
    "cancel_force": {"config_entry_id"},
    "set_custom_schedule": {"config_entry_id", "schedule"},
    "apply_custom_schedule": {"config_entry_id"},
    "clear_custom_schedule": {"config_entry_id"},
    "spike_test": {"config_entry_id", "price_mwh"},
    "spike_test_end": {"config_entry_id"},
}


def _source(name: str) -> str:
    """Return the text of one of the integration's modules."""
    return (INTEGRATION / name).read_text()


def test_strings_match_translations() -> None:
    """Test strings.json and translations/en.json are the same."""
    assert json.loads((INTEGRATION / "strings.json").read_text()) == EN


def test_flow_keys_translated() -> None:
    """Test every error and abort reason the flows use has a text."""
    flow = _source("config_flow.py") + _source("api.py")
    errors = set(re.findall(r'errors\["base"\] = "(\w+)"', flow))
    errors |= set(re.findall(r'reason = "(\w+)"', flow))
    aborts = set(re.findall(r'async_abort\(reason="(\w+)"\)', flow))
    aborts |= set(re.findall(r'reason="(\w+_successful)"', flow))
    assert errors
    assert aborts
    assert errors <= set(EN["config"]["error"]), errors - set(EN["config"]["error"])
    assert aborts <= set(EN["config"]["abort"]), aborts - set(EN["config"]["abort"])


def test_exception_keys_translated() -> None:
    """Test every translation_key raised in the code has an exception text."""
    code = "".join(_source(name) for name in ("bridge.py", "services.py"))
    keys = set(re.findall(r'translation_key="(\w+)"', code))
    keys |= set(re.findall(r'_async_fail_pending\("(\w+)"\)', code))
    assert keys == set(EN["exceptions"])


def test_issue_keys_translated() -> None:
    """Test every repair issue has a title and a description with its placeholders."""
    code = _source("issues.py")
    keys = set(re.findall(r'translation_key = "(\w+)"', code))
    assert keys == set(EN["issues"])
    for key in keys:
        assert EN["issues"][key]["title"]
        description = EN["issues"][key]["description"]
        assert "{title}" in description
        assert "{minutes}" in description
    assert "{addon}" in EN["issues"]["engine_not_connected_addon"]["description"]


def test_entity_names_translated() -> None:
    """Test every entity of the product, and every test declaration, has a name."""
    for platform, keys in PRODUCT_KEYS.items():
        for key in keys:
            assert "name" in EN["entity"][platform][key], f"{platform}.{key}"
    for declaration in DECLARATIONS:
        assert declaration["translation_key"] in EN["entity"][declaration["platform"]]


def test_icons_match_entities() -> None:
    """Test icons.json names only entities and actions that have translations."""
    icons = json.loads((INTEGRATION / "icons.json").read_text())
    for platform, entities in icons["entity"].items():
        for key in entities:
            assert key in EN["entity"][platform], f"{platform}.{key}"
    assert set(icons["services"]) == set(EN["services"])


async def test_service_descriptions(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test HA reads services.yaml and finds both actions with their fields."""
    descriptions = (await async_get_all_descriptions(hass))["tesla_sync"]
    assert set(descriptions) == set(SERVICE_FIELDS)
    assert set(descriptions) == set(hass.services.async_services_for_domain(DOMAIN))
    for service, fields in SERVICE_FIELDS.items():
        assert set(descriptions[service]["fields"]) == fields, service
        assert "description" in EN["services"][service], service
        for field in fields:
            assert "name" in EN["services"][service]["fields"][field], field
            assert "description" in EN["services"][service]["fields"][field], field
