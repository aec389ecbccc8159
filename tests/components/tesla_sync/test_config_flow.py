"""Tests of the config, options, reauthentication and reconfiguration flows."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_IGNORE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.tesla_sync.const import (
    ACCESS_TESLA_FLEET,
    ACCESS_TESLEMETRY,
    CONF_ACCESS_KIND,
    CONF_ADDON_NAME,
    CONF_ADDON_SLUG,
    CONF_AMBER_TOKEN,
    CONF_ENERGY_SITE_ID,
    CONF_NMI,
    CONF_SITE_ID,
    CONF_TESLA_FLEET_ENTRY_ID,
    CONF_TESLA_TOKEN,
    DEFAULT_OPTIONS,
    DOMAIN,
)

from .conftest import ENTRY_DATA
from .standins import (
    AMBER_TOKEN,
    ENERGY_SITE,
    ENERGY_SITE_2,
    FLEET_ACCESS_TOKEN,
    SITE_ACTIVE,
    SITE_ACTIVE_2,
    SITE_CLOSED,
    SITE_PENDING,
    TESLEMETRY_TOKEN,
    VendorStandIn,
    closed_port_url,
)


async def _start(hass: HomeAssistant) -> dict[str, Any]:
    """Start a user flow."""
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )


async def _submit(
    hass: HomeAssistant, flow_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Submit a step of a config flow."""
    return await hass.config_entries.flow.async_configure(flow_id, data)


async def test_user_flow_teslemetry(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test the whole flow with one active site and one energy site chosen by itself."""
    vendors.amber.body = [SITE_ACTIVE, SITE_CLOSED]
    result = await _start(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await _submit(
        hass, result["flow_id"], {CONF_AMBER_TOKEN: f" {AMBER_TOKEN} "}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "tesla"
    assert result["menu_options"] == [ACCESS_TESLEMETRY, ACCESS_TESLA_FLEET]

    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    assert result["step_id"] == "teslemetry"
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"

    with patch(
        "custom_components.tesla_sync.async_setup_entry", return_value=True
    ) as setup:
        result = await _submit(
            hass, result["flow_id"], {"forecast_band": "high", "auto_sync": False}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Tesla Sync (Jemena)"
    assert result["result"].unique_id == SITE_ACTIVE["id"]
    assert result["data"] == {
        CONF_AMBER_TOKEN: AMBER_TOKEN,
        CONF_SITE_ID: SITE_ACTIVE["id"],
        CONF_NMI: SITE_ACTIVE["nmi"],
        CONF_ACCESS_KIND: ACCESS_TESLEMETRY,
        CONF_TESLA_TOKEN: TESLEMETRY_TOKEN,
        CONF_ENERGY_SITE_ID: ENERGY_SITE["energy_site_id"],
    }
    assert result["options"] == {
        **DEFAULT_OPTIONS,
        "forecast_band": "high",
        "auto_sync": False,
    }
    assert len(setup.mock_calls) == 1


async def test_site_step_labels_statuses(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test several sites: closed and pending are labelled and never the default."""
    vendors.amber.body = [SITE_CLOSED, SITE_ACTIVE, SITE_PENDING, SITE_ACTIVE_2]
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["step_id"] == "site"

    schema = result["data_schema"].schema
    field = next(iter(schema))
    assert field.default() == SITE_ACTIVE["id"]
    options = schema[field].config["options"]
    labels = {option["value"]: option["label"] for option in options}
    assert [option["value"] for option in options][:2] == [
        SITE_ACTIVE["id"],
        SITE_ACTIVE_2["id"],
    ]
    assert labels[SITE_ACTIVE["id"]] == "61021234567 (Jemena)"
    assert labels[SITE_CLOSED["id"]] == "61020000001 (Jemena): closed"
    assert labels[SITE_PENDING["id"]] == "61020000002 (Jemena): pending"

    result = await _submit(hass, result["flow_id"], {CONF_SITE_ID: SITE_ACTIVE_2["id"]})
    assert result["step_id"] == "tesla"


async def test_site_step_without_active_site(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test that with only a pending site the select has no default."""
    vendors.amber.body = [SITE_PENDING]
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["step_id"] == "site"
    field = next(iter(result["data_schema"].schema))
    assert field.default is vol.UNDEFINED


@pytest.mark.parametrize(
    ("setup_error", "error"),
    [
        ("wrong_token", "invalid_auth"),
        ("no_sites", "no_sites"),
        ("unreachable", "cannot_connect"),
        ("server_error", "cannot_connect"),
        ("not_json", "invalid_response"),
        ("not_a_list", "invalid_response"),
    ],
)
async def test_amber_errors(
    hass: HomeAssistant, vendors: VendorStandIn, setup_error: str, error: str
) -> None:
    """Test each Amber failure shows its error and the flow recovers after it."""
    token = AMBER_TOKEN
    if setup_error == "wrong_token":
        token = "psk_wrong"
    elif setup_error == "no_sites":
        vendors.amber.body = []
    elif setup_error == "server_error":
        vendors.amber.status = 503
    elif setup_error == "not_json":
        vendors.amber.body = "<html>maintenance</html>"
    elif setup_error == "not_a_list":
        vendors.amber.body = {"sites": []}
    url = (
        closed_port_url() if setup_error == "unreachable" else f"{vendors.url}/amber/v1"
    )

    result = await _start(hass)
    with patch("custom_components.tesla_sync.const.AMBER_API_URL", url):
        result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: token})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}

    vendors.amber.body = [SITE_ACTIVE]
    vendors.amber.status = 200
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["step_id"] == "tesla"


@pytest.mark.parametrize(
    ("token", "products", "error"),
    [
        ("wrong", None, "invalid_auth"),
        (TESLEMETRY_TOKEN, {"response": []}, "no_energy_sites"),
        (TESLEMETRY_TOKEN, {"response": [{"energy_site_id": "x"}]}, "invalid_response"),
        (TESLEMETRY_TOKEN, {"error": "nope"}, "invalid_response"),
    ],
)
async def test_teslemetry_errors(
    hass: HomeAssistant,
    vendors: VendorStandIn,
    token: str,
    products: Any,
    error: str,
) -> None:
    """Test each Teslemetry failure shows its error and the flow recovers after it."""
    if products is not None:
        vendors.teslemetry.body = products
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    result = await _submit(hass, result["flow_id"], {CONF_TESLA_TOKEN: token})
    assert result["step_id"] == "teslemetry"
    assert result["errors"] == {"base": error}

    vendors.teslemetry.body = {"response": [ENERGY_SITE]}
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["step_id"] == "settings"


async def test_energy_site_step(hass: HomeAssistant, vendors: VendorStandIn) -> None:
    """Test several energy sites ask which one, and the choice is stored."""
    vendors.teslemetry.body = {"response": [ENERGY_SITE, ENERGY_SITE_2]}
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["step_id"] == "energy_site"
    options = next(iter(result["data_schema"].schema.values())).config["options"]
    assert options[1] == {
        "value": "1688888888888888",
        "label": "Shack (1688888888888888)",
    }

    result = await _submit(
        hass, result["flow_id"], {CONF_ENERGY_SITE_ID: "1688888888888888"}
    )
    assert result["step_id"] == "settings"
    with patch("custom_components.tesla_sync.async_setup_entry", return_value=True):
        result = await _submit(
            hass, result["flow_id"], {"forecast_band": "low", "auto_sync": True}
        )
    assert result["data"][CONF_ENERGY_SITE_ID] == 1688888888888888


async def test_tesla_fleet_missing_aborts(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test choosing Tesla Fleet without a loaded tesla_fleet entry aborts."""
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(
        hass, result["flow_id"], {"next_step_id": ACCESS_TESLA_FLEET}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_tesla_fleet"


async def test_tesla_fleet_uses_loaded_entry(
    hass: HomeAssistant, vendors: VendorStandIn, tesla_fleet_entry: MockConfigEntry
) -> None:
    """Test Tesla Fleet access takes the token of HA's tesla_fleet entry."""
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(
        hass, result["flow_id"], {"next_step_id": ACCESS_TESLA_FLEET}
    )
    assert result["step_id"] == "settings"
    assert vendors.fleet.requests == 1

    with patch("custom_components.tesla_sync.async_setup_entry", return_value=True):
        result = await _submit(
            hass, result["flow_id"], {"forecast_band": "predicted", "auto_sync": True}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ACCESS_KIND] == ACCESS_TESLA_FLEET
    assert result["data"][CONF_TESLA_FLEET_ENTRY_ID] == tesla_fleet_entry.entry_id
    assert CONF_TESLA_TOKEN not in result["data"]


@pytest.mark.usefixtures("tesla_fleet_entry")
async def test_tesla_fleet_rejected_token(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test a rejected tesla_fleet token shows invalid_auth, and retrying works."""
    vendors.fleet.token = "something-else"
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(
        hass, result["flow_id"], {"next_step_id": ACCESS_TESLA_FLEET}
    )
    assert result["step_id"] == "tesla_fleet"
    assert result["errors"] == {"base": "invalid_auth"}

    vendors.fleet.token = FLEET_ACCESS_TOKEN
    result = await _submit(hass, result["flow_id"], {})
    assert result["step_id"] == "settings"


async def test_duplicate_site_aborts(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test a second entry for the same Amber site aborts."""
    result = await _start(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_amber(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test Amber reauthentication stores the new token."""
    vendors.amber.token = "psk_new_token"
    result = await config_entry.start_reauth_flow(hass, data={"vendor": "amber"})
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["vendor"] == "Amber"

    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: "psk_new_token"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_AMBER_TOKEN] == "psk_new_token"
    assert config_entry.data[CONF_TESLA_TOKEN] == TESLEMETRY_TOKEN


async def test_reauth_amber_other_account(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test a token of an account without the configured site is rejected."""
    vendors.amber.body = [SITE_ACTIVE_2]
    result = await config_entry.start_reauth_flow(hass, data={"vendor": "amber"})
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["errors"] == {"base": "site_not_found"}
    assert config_entry.data[CONF_AMBER_TOKEN] == AMBER_TOKEN


async def test_reauth_teslemetry(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test Teslemetry reauthentication checks the energy site and stores the token."""
    vendors.teslemetry.token = "teslemetry-new"
    result = await config_entry.start_reauth_flow(hass, data={"vendor": "tesla"})
    assert result["description_placeholders"]["vendor"] == "Teslemetry"

    vendors.teslemetry.body = {"response": [ENERGY_SITE_2]}
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: "teslemetry-new"}
    )
    assert result["errors"] == {"base": "energy_site_not_found"}

    vendors.teslemetry.body = {"response": [ENERGY_SITE]}
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: "teslemetry-new"}
    )
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_TESLA_TOKEN] == "teslemetry-new"


async def test_reauth_tesla_fleet_aborts(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test Tesla reauthentication with Tesla Fleet access points to tesla_fleet."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SITE_ACTIVE["id"],
        data={
            CONF_AMBER_TOKEN: AMBER_TOKEN,
            CONF_SITE_ID: SITE_ACTIVE["id"],
            CONF_ACCESS_KIND: ACCESS_TESLA_FLEET,
            CONF_ENERGY_SITE_ID: ENERGY_SITE["energy_site_id"],
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass, data={"vendor": "tesla"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_tesla_fleet"


async def test_reconfigure(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test reconfiguration changes tokens and sites but keeps the options."""
    vendors.amber.token = "psk_other_account"
    vendors.amber.body = [SITE_ACTIVE_2]
    vendors.teslemetry.body = {"response": [ENERGY_SITE_2]}
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"

    result = await _submit(
        hass, result["flow_id"], {CONF_AMBER_TOKEN: "psk_other_account"}
    )
    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.unique_id == SITE_ACTIVE_2["id"]
    assert config_entry.title == "Tesla Sync (Ausgrid)"
    assert config_entry.data[CONF_AMBER_TOKEN] == "psk_other_account"
    assert config_entry.data[CONF_SITE_ID] == SITE_ACTIVE_2["id"]
    assert config_entry.data[CONF_ENERGY_SITE_ID] == ENERGY_SITE_2["energy_site_id"]
    assert config_entry.options == DEFAULT_OPTIONS


async def test_reconfigure_to_configured_site_aborts(
    hass: HomeAssistant, vendors: VendorStandIn, config_entry: MockConfigEntry
) -> None:
    """Test reconfiguring onto a site that another entry has aborts."""
    other = MockConfigEntry(domain=DOMAIN, unique_id=SITE_ACTIVE_2["id"], data={})
    other.add_to_hass(hass)
    vendors.amber.body = [SITE_ACTIVE_2]
    result = await config_entry.start_reconfigure_flow(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert config_entry.unique_id == SITE_ACTIVE["id"]


async def test_options_flow(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Test the options flow shows every setting and saves them."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert {str(key) for key in result["data_schema"].schema} == set(DEFAULT_OPTIONS)

    new_options = {
        "forecast_band": "low",
        "auto_sync": False,
        "spike_response": True,
        "aemo_region": "SA1",
        "spike_threshold": 1000.0,
        "curtailment": True,
        "curtailment_threshold": -2.5,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], new_options
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == new_options


# -- Supervisor add-on discovery ----------------------------------------------

ADDON_SLUG = "a1b2c3d4_tesla_sync"
ADDON_NAME = "Tesla Sync"


def _addon_discovery(
    uuid: str = "6e4c1f0b8a2d4e3f9b7a5c1d0e2f4a6b",
) -> HassioServiceInfo:
    """Return the discovery info HA builds from the add-on's discovery message."""
    return HassioServiceInfo(
        config={
            "host": "a1b2c3d4-tesla-sync",
            "port": 8099,
            "engine_version": "0.1.0",
            "addon": ADDON_NAME,
        },
        name=ADDON_NAME,
        slug=ADDON_SLUG,
        uuid=uuid,
    )


async def _discover(
    hass: HomeAssistant, uuid: str = "6e4c1f0b8a2d4e3f9b7a5c1d0e2f4a6b"
) -> dict[str, Any]:
    """Start a discovery flow as HA's hassio integration does."""
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=_addon_discovery(uuid)
    )


async def test_hassio_discovery_flow(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test discovery, confirm, then the credential steps create an entry."""
    result = await _discover(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hassio_confirm"
    assert result["description_placeholders"] == {"addon": ADDON_NAME}
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["title_placeholders"] == {"name": ADDON_NAME}
    assert flows[0]["context"]["unique_id"] == f"addon_{ADDON_SLUG}"

    result = await _submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["step_id"] == "settings"
    with patch("custom_components.tesla_sync.async_setup_entry", return_value=True):
        result = await _submit(
            hass, result["flow_id"], {"forecast_band": "predicted", "auto_sync": True}
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.source == SOURCE_HASSIO
    # HA removes a hassio entry whose unique id equals a withdrawn discovery
    # uuid; the add-on withdraws its message on every stop.
    assert entry.unique_id == SITE_ACTIVE["id"]
    assert entry.data == {
        CONF_AMBER_TOKEN: AMBER_TOKEN,
        CONF_SITE_ID: SITE_ACTIVE["id"],
        CONF_NMI: SITE_ACTIVE["nmi"],
        CONF_ACCESS_KIND: ACCESS_TESLEMETRY,
        CONF_TESLA_TOKEN: TESLEMETRY_TOKEN,
        CONF_ENERGY_SITE_ID: ENERGY_SITE["energy_site_id"],
        CONF_ADDON_SLUG: ADDON_SLUG,
        CONF_ADDON_NAME: ADDON_NAME,
    }


async def test_hassio_second_discovery_no_duplicate(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test a restarted add-on's new message opens no second flow."""
    first = await _discover(hass)
    second = await _discover(hass, uuid="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"

    # Still one flow once the first has moved on to the Amber site's unique id.
    result = await _submit(hass, first["flow_id"], {})
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    assert result["step_id"] == "tesla"
    third = await _discover(hass, uuid="1f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert third["type"] is FlowResultType.ABORT
    assert third["reason"] == "already_in_progress"
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1


async def test_hassio_discovery_updates_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Test discovery with an entry set up records the add-on in it and aborts."""
    result = await _discover(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "addon_entry_exists"
    assert config_entry.data[CONF_ADDON_SLUG] == ADDON_SLUG
    assert config_entry.data[CONF_ADDON_NAME] == ADDON_NAME
    assert config_entry.data[CONF_AMBER_TOKEN] == AMBER_TOKEN
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []


async def test_hassio_discovery_ignored(hass: HomeAssistant) -> None:
    """Test a discovery the user ignored is not offered again."""
    result = await _discover(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_IGNORE},
        data={"unique_id": f"addon_{ADDON_SLUG}", "title": ADDON_NAME},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []

    result = await _discover(hass, uuid="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_hassio_confirm_after_manual_setup(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test confirming after the user set up an entry by hand aborts."""
    result = await _discover(hass)
    MockConfigEntry(
        domain=DOMAIN, unique_id=SITE_ACTIVE["id"], data=dict(ENTRY_DATA)
    ).add_to_hass(hass)
    result = await _submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "addon_entry_exists"


async def test_reconfigure_keeps_addon(
    hass: HomeAssistant, vendors: VendorStandIn
) -> None:
    """Test reconfiguration keeps the add-on found by discovery."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=SITE_ACTIVE["id"],
        data={
            **ENTRY_DATA,
            CONF_ADDON_SLUG: ADDON_SLUG,
            CONF_ADDON_NAME: ADDON_NAME,
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await _submit(hass, result["flow_id"], {CONF_AMBER_TOKEN: AMBER_TOKEN})
    result = await _submit(hass, result["flow_id"], {"next_step_id": ACCESS_TESLEMETRY})
    result = await _submit(
        hass, result["flow_id"], {CONF_TESLA_TOKEN: TESLEMETRY_TOKEN}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_ADDON_SLUG] == ADDON_SLUG
    assert entry.data[CONF_ADDON_NAME] == ADDON_NAME
