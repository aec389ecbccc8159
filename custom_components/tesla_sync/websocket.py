"""The `tesla_sync/*` websocket commands that the engine sends.

Every command needs an admin user and has a strict schema (HA rejects unknown
keys with `invalid_format`). The wire format is in docs/bridge-protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from homeassistant.components import websocket_api
from homeassistant.components.websocket_api import ActiveConnection
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
import voluptuous as vol

from .config_data import OPTIONS_SCHEMA_PARTIAL, TeslaFleetTokenError, engine_config
from .const import (
    DEVICES,
    DOMAIN,
    ERROR_CODES,
    EVENT_TYPES,
    FEATURES,
    LOGGER,
    PROTOCOL_VERSION,
)
from .models import (
    DECLARATION_SCHEMA,
    DEVICE_DETAILS_SCHEMA,
    KEY_SCHEMA,
    EntityDeclaration,
)

from .bridge import BridgeCommandError, EngineSession, EntryBridge  # isort: skip

type Handler = Callable[[HomeAssistant, ActiveConnection, dict[str, Any]], None]

ENTRY_ID = vol.Required("entry_id")
JSON_VALUE = vol.Any(None, bool, int, float, str, list, dict)


def _loaded_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """Return the loaded Tesla Sync config entries."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


def _bridge_for(hass: HomeAssistant, entry_id: str) -> EntryBridge:
    """Return the bridge of a loaded entry or raise entry_not_loaded."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if (
        entry is None
        or entry.domain != DOMAIN
        or entry.state is not ConfigEntryState.LOADED
    ):
        raise BridgeCommandError(
            "entry_not_loaded",
            f"No loaded Tesla Sync config entry has id '{entry_id}'; "
            "check Settings > Devices & services, then send tesla_sync/hello again",
        )
    bridge: EntryBridge = entry.runtime_data
    return bridge


def _session_for(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> tuple[EntryBridge, EngineSession]:
    """Return the bridge and this connection's session for msg['entry_id']."""
    bridge = _bridge_for(hass, msg["entry_id"])
    return bridge, bridge.session_for(connection)


def _reply_errors(handler: Handler) -> Handler:
    """Turn BridgeCommandError into an error frame with its code."""

    @wraps(handler)
    def wrapper(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        try:
            handler(hass, connection, msg)
        except BridgeCommandError as err:
            LOGGER.debug("%s failed with %s: %s", msg["type"], err.code, err)
            connection.send_error(msg["id"], err.code, str(err))

    return wrapper


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/hello",
        vol.Required("protocol"): int,
        vol.Required("engine_version"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("entry_id"): str,
    }
)
@callback
@_reply_errors
def ws_hello(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Open an engine session after checking the protocol version."""
    if msg["protocol"] != PROTOCOL_VERSION:
        raise BridgeCommandError(
            "protocol_unsupported",
            f"Protocol version {msg['protocol']} is not supported; this integration "
            f"speaks protocol {PROTOCOL_VERSION}. Update the Tesla Sync integration "
            "or use a matching engine",
        )
    if "entry_id" in msg:
        bridge = _bridge_for(hass, msg["entry_id"])
    else:
        entries = _loaded_entries(hass)
        if not entries:
            raise BridgeCommandError(
                "entry_not_loaded",
                "No Tesla Sync config entry is loaded; add the integration in "
                "Settings > Devices & services",
            )
        if len(entries) > 1:
            ids = ", ".join(entry.entry_id for entry in entries)
            raise BridgeCommandError(
                "entry_ambiguous",
                f"{len(entries)} Tesla Sync entries are loaded ({ids}); "
                "send entry_id with tesla_sync/hello",
            )
        bridge = entries[0].runtime_data
    bridge.async_start_session(connection, msg["engine_version"], msg["id"])
    LOGGER.debug(
        "Engine %s opened a session for entry %s",
        msg["engine_version"],
        bridge.entry.entry_id,
    )
    connection.send_result(
        msg["id"],
        {
            "protocol": PROTOCOL_VERSION,
            "integration_version": _integration_version(hass),
            "entry_id": bridge.entry.entry_id,
            "features": list(FEATURES),
        },
    )


def _integration_version(hass: HomeAssistant) -> str:
    """Return the version in manifest.json, as HA's loader read it."""
    integration = hass.data["integrations"][DOMAIN]
    return str(integration.version)


@websocket_api.require_admin
@websocket_api.websocket_command(
    {vol.Required("type"): f"{DOMAIN}/config", ENTRY_ID: str}
)
@callback
@_reply_errors
def ws_config(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Return the entry's configuration, secrets included, to the engine."""
    bridge, _session = _session_for(hass, connection, msg)
    try:
        config = engine_config(hass, bridge.entry)
    except TeslaFleetTokenError as err:
        raise BridgeCommandError(err.code, str(err)) from err
    connection.send_result(msg["id"], config)


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/subscribe_commands",
        ENTRY_ID: str,
        # Feature "engine_features". Names this integration does not know
        # are accepted and ignored, so a newer engine can list its own.
        vol.Optional("features", default=[]): vol.All(
            [vol.All(str, vol.Length(min=1, max=64))], vol.Length(max=100)
        ),
    }
)
@callback
@_reply_errors
def ws_subscribe_commands(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Make this subscription the channel for commands to the engine."""
    bridge, session = _session_for(hass, connection, msg)
    connection.send_result(msg["id"])
    bridge.async_subscribe_commands(session, msg["id"], frozenset(msg["features"]))


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/register",
        ENTRY_ID: str,
        vol.Required("entities"): [DECLARATION_SCHEMA],
        vol.Optional("devices", default={}): {vol.In(DEVICES): DEVICE_DETAILS_SCHEMA},
    }
)
@callback
@_reply_errors
def ws_register(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Create or update the entities the engine declares."""
    bridge, _session = _session_for(hass, connection, msg)
    try:
        declarations = [
            EntityDeclaration.from_message(item) for item in msg["entities"]
        ]
    except ValueError as err:
        raise BridgeCommandError("invalid_entity", str(err)) from err
    count = bridge.async_register(declarations, msg["devices"])
    connection.send_result(msg["id"], {"registered": count})


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/update",
        ENTRY_ID: str,
        vol.Required("updates"): [
            {
                vol.Required("key"): KEY_SCHEMA,
                vol.Optional("state"): JSON_VALUE,
                vol.Optional("attributes"): dict,
            }
        ],
    }
)
@callback
@_reply_errors
def ws_update(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Apply a batch of state updates."""
    bridge, _session = _session_for(hass, connection, msg)
    count = bridge.async_update(msg["updates"])
    connection.send_result(msg["id"], {"updated": count})


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/command_result",
        ENTRY_ID: str,
        vol.Required("request_id"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Required("success"): bool,
        vol.Optional("response"): dict,
        vol.Optional("error"): vol.All(str, vol.Length(max=1000)),
        # Feature "command_error_code".
        vol.Optional("error_code"): vol.In(ERROR_CODES),
    }
)
@callback
@_reply_errors
def ws_command_result(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Complete a pending action call with the engine's result."""
    bridge, _session = _session_for(hass, connection, msg)
    bridge.async_resolve(
        msg["request_id"],
        msg["success"],
        msg.get("response"),
        msg.get("error"),
        msg.get("error_code"),
    )
    connection.send_result(msg["id"])


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/fire_event",
        ENTRY_ID: str,
        vol.Required("event_type"): vol.In(EVENT_TYPES),
        vol.Optional("data", default={}): dict,
    }
)
@callback
@_reply_errors
def ws_fire_event(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Fire one of the integration's events on HA's bus."""
    bridge, _session = _session_for(hass, connection, msg)
    hass.bus.async_fire(
        msg["event_type"],
        {**msg["data"], "entry_id": bridge.entry.entry_id},
        context=connection.context(msg),
    )
    connection.send_result(msg["id"])


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/auth_failed",
        ENTRY_ID: str,
        vol.Required("vendor"): vol.In(["amber", "tesla"]),
    }
)
@callback
@_reply_errors
def ws_auth_failed(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Start reauthentication because a vendor rejects the stored token."""
    bridge, _session = _session_for(hass, connection, msg)
    LOGGER.warning(
        "The engine reports that %s rejects the stored credentials; "
        "starting reauthentication for entry %s",
        msg["vendor"],
        bridge.entry.entry_id,
    )
    bridge.entry.async_start_reauth(hass, data={"vendor": msg["vendor"]})
    connection.send_result(msg["id"])


@websocket_api.require_admin
@websocket_api.websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/set_options",
        ENTRY_ID: str,
        vol.Required("options"): dict,
    }
)
@callback
@_reply_errors
def ws_set_options(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Write changed settings into the entry's options."""
    bridge, _session = _session_for(hass, connection, msg)
    try:
        changes = OPTIONS_SCHEMA_PARTIAL(msg["options"])
    except vol.Invalid as err:
        raise BridgeCommandError("invalid_options", f"Invalid options: {err}") from err
    entry = bridge.entry
    hass.config_entries.async_update_entry(entry, options={**entry.options, **changes})
    connection.send_result(msg["id"])


@callback
def async_register_commands(hass: HomeAssistant) -> None:
    """Register every tesla_sync/* websocket command."""
    for handler in (
        ws_hello,
        ws_config,
        ws_subscribe_commands,
        ws_register,
        ws_update,
        ws_command_result,
        ws_fire_event,
        ws_auth_failed,
        ws_set_options,
    ):
        websocket_api.async_register_command(hass, handler)
