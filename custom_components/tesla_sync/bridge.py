"""The engine connection of one config entry: session, entities and pending calls.

The websocket commands in websocket.py find an entry's EntryBridge and call it.
The protocol is described in docs/bridge-protocol.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from homeassistant.components.websocket_api import ActiveConnection, event_message
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    DEVICE_AMBER_SITE,
    DEVICE_ENGINE,
    DEVICE_POWERWALL,
    DOMAIN,
    ERROR_CODE_INVALID_REQUEST,
    LOGGER,
    SERVICE_FEATURES,
    SERVICE_TIMEOUTS,
    STORAGE_VERSION,
)
from .issues import EngineAbsenceIssue
from .models import MAX_STATE_LENGTH, EntityDeclaration

if TYPE_CHECKING:
    from .entity import TeslaSyncEntity

DEVICE_MANUFACTURERS = {
    DEVICE_AMBER_SITE: "Amber Electric",
    DEVICE_POWERWALL: "Tesla",
    DEVICE_ENGINE: "Tesla Sync",
}

type EntityFactory = Callable[[EntryBridge, EntityDeclaration], TeslaSyncEntity]


class BridgeCommandError(Exception):
    """A bridge command failed; `code` goes into the websocket error frame."""

    def __init__(self, code: str, message: str) -> None:
        """Store the error code and message."""
        super().__init__(message)
        self.code = code


@dataclass(eq=False, slots=True)
class EngineSession:
    """One engine connection that sent `tesla_sync/hello` for an entry."""

    connection: ActiveConnection
    engine_version: str
    hello_id: int
    subscription_id: int | None = None
    # What the engine handles, from its subscribe_commands `features`.
    features: frozenset[str] = frozenset()
    ended: bool = False


@dataclass(slots=True)
class _PlatformHook:
    """A platform's entity factory and its add-entities callback."""

    factory: EntityFactory
    add_entities: AddConfigEntryEntitiesCallback


@dataclass(slots=True)
class _PendingCall:
    """An action call that waits for the engine's `command_result`."""

    service: str
    future: asyncio.Future[dict[str, Any]]
    response_check: Callable[[Mapping[str, Any]], str | None] | None = None


class EntryBridge:
    """Runtime data of a config entry: the engine session and its entities."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Set up an empty bridge; call async_load before the platforms."""
        self.hass = hass
        self.entry = entry
        self.session: EngineSession | None = None
        self.last_engine_version: str | None = None
        self.declarations: dict[str, EntityDeclaration] = {}
        self.registered_keys: set[str] = set()
        self.device_details: dict[str, dict[str, str]] = {}
        self._entities: dict[str, TeslaSyncEntity] = {}
        self._platforms: dict[str, _PlatformHook] = {}
        self._pending: dict[str, _PendingCall] = {}
        # Connections whose session a later hello replaced, kept by id()
        # because ActiveConnection has __slots__ without __weakref__.
        self._replaced_connections: set[int] = set()
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.entities"
        )
        self._disconnect_logged = False
        self.absence_issue = EngineAbsenceIssue(hass, entry)

    # -- storage and platforms ------------------------------------------

    async def async_load(self) -> None:
        """Load the declarations stored by the last run."""
        stored = await self._store.async_load()
        if not stored:
            return
        for item in stored.get("entities", []):
            try:
                declaration = EntityDeclaration.from_storage(item)
            except (ValueError, KeyError, TypeError) as err:
                LOGGER.warning(
                    "Ignoring a stored entity declaration that is no longer valid: %s",
                    err,
                )
                continue
            self.declarations[declaration.key] = declaration
        self.device_details = {
            device: dict(details)
            for device, details in stored.get("devices", {}).items()
            if isinstance(details, dict)
        }

    @callback
    def _async_schedule_save(self) -> None:
        """Write the declarations to storage soon, batching bursts."""
        self._store.async_delay_save(
            lambda: {
                "entities": [d.as_storage() for d in self.declarations.values()],
                "devices": self.device_details,
            },
            1,
        )

    @callback
    def async_add_platform(
        self,
        platform: Platform,
        factory: EntityFactory,
        add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        """Attach a platform and create its entities from stored declarations."""
        self._platforms[platform] = _PlatformHook(factory, add_entities)
        add_entities(
            factory(self, declaration)
            for declaration in self.declarations.values()
            if declaration.platform == platform
        )

    @callback
    def async_attach_entity(self, entity: TeslaSyncEntity) -> None:
        """Track an entity once HA added it."""
        self._entities[entity.declaration.key] = entity

    @callback
    def async_detach_entity(self, entity: TeslaSyncEntity) -> None:
        """Stop tracking an entity that HA removed."""
        if self._entities.get(entity.declaration.key) is entity:
            del self._entities[entity.declaration.key]

    def device_info(self, device: str) -> DeviceInfo:
        """Return the DeviceInfo of one of the entry's three devices."""
        return DeviceInfo(
            identifiers={(DOMAIN, f"{self.entry.entry_id}_{device}")},
            manufacturer=DEVICE_MANUFACTURERS[device],
            **self._device_naming(device),  # type: ignore[typeddict-item]
        )

    def _device_naming(self, device: str) -> dict[str, str]:
        """Return the name fields of a device: the engine's details or the translation.

        HA prefers a translated name over `name`, so `translation_key` is only
        set when the engine sent no name.
        """
        details = dict(self.device_details.get(device, {}))
        if "name" not in details:
            details["translation_key"] = device
        return details

    # -- session ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether an engine session has a live command subscription."""
        return self.session is not None and self.session.subscription_id is not None

    def entity_available(self, key: str) -> bool:
        """Return whether an entity shows its state: engine connected and entity registered."""
        return self.connected and key in self.registered_keys

    @callback
    def async_start_session(
        self, connection: ActiveConnection, engine_version: str, hello_id: int
    ) -> EngineSession:
        """Open a session for `connection`, replacing any earlier one."""
        old = self.session
        if old is not None:
            if old.connection is not connection:
                self._replaced_connections.add(id(old.connection))
                LOGGER.info(
                    "A new engine connection replaced the previous one for entry %s",
                    self.entry.entry_id,
                )
            self._async_end_session(old, reason="replaced")
        self._replaced_connections.discard(id(connection))
        session = EngineSession(connection, engine_version, hello_id)
        self.session = session
        self.last_engine_version = engine_version
        # HA calls the callables in connection.subscriptions when the socket
        # closes, so this ends the session on a disconnect.
        connection.subscriptions[hello_id] = lambda: self._async_end_session(
            session, reason="disconnected"
        )
        return session

    def session_for(self, connection: ActiveConnection) -> EngineSession:
        """Return the session opened by `connection` or raise BridgeCommandError."""
        session = self.session
        if session is not None and session.connection is connection:
            return session
        if id(connection) in self._replaced_connections:
            raise BridgeCommandError(
                "session_replaced",
                "Another engine connection sent tesla_sync/hello for this entry later; "
                "this connection's session has ended",
            )
        raise BridgeCommandError(
            "no_session", "Send tesla_sync/hello for this entry before other commands"
        )

    @callback
    def async_subscribe_commands(
        self,
        session: EngineSession,
        subscription_id: int,
        features: frozenset[str] = frozenset(),
    ) -> None:
        """Make `subscription_id` the channel for commands to the engine."""
        if session.subscription_id is not None:
            session.connection.subscriptions.pop(session.subscription_id, None)
        session.subscription_id = subscription_id
        session.features = features
        session.connection.subscriptions[subscription_id] = lambda: (
            self._async_end_session(session, reason="unsubscribed")
        )
        if self._disconnect_logged:
            LOGGER.info("The Tesla Sync engine is connected again")
            self._disconnect_logged = False
        self.absence_issue.async_engine_connected()
        self._async_write_all_states()

    @callback
    def _async_end_session(self, session: EngineSession, reason: str) -> None:
        """End a session: entities become unavailable and pending calls fail."""
        if session.ended:
            return
        session.ended = True
        if reason in ("replaced", "entry unloaded"):
            # The socket stays open, so remove the close hooks by hand. The
            # hooks themselves must not do this: HA iterates over
            # connection.subscriptions while it calls them on close.
            connection = session.connection
            connection.subscriptions.pop(session.hello_id, None)
            if session.subscription_id is not None:
                connection.subscriptions.pop(session.subscription_id, None)
        if self.session is not session:
            return
        self.session = None
        self.registered_keys.clear()
        self._async_fail_pending("engine_disconnected")
        if reason != "entry unloaded":
            self.absence_issue.async_start_clock()
        if reason != "replaced" and not self._disconnect_logged:
            LOGGER.warning(
                "The Tesla Sync engine disconnected (%s); its entities are unavailable",
                reason,
            )
            self._disconnect_logged = True
        self._async_write_all_states()

    @callback
    def async_shutdown(self) -> None:
        """Tell the engine the entry is unloading and end its session."""
        self.absence_issue.async_unload()
        session = self.session
        if session is None:
            return
        if self.connected:
            self.async_send_command({"command": "entry_unloaded"})
        self._async_end_session(session, reason="entry unloaded")

    @callback
    def _async_write_all_states(self) -> None:
        """Write every entity's state, because availability changed."""
        for entity in self._entities.values():
            if entity.hass is not None:
                entity.async_write_ha_state()

    # -- register and update ----------------------------------------------

    @callback
    def async_register(
        self,
        declarations: list[EntityDeclaration],
        devices: Mapping[str, Mapping[str, str]],
    ) -> int:
        """Create or update the declared entities; return how many were declared."""
        seen: set[str] = set()
        for declaration in declarations:
            if declaration.key in seen:
                raise BridgeCommandError(
                    "invalid_entity",
                    f"Entity key '{declaration.key}' is declared twice in one batch",
                )
            seen.add(declaration.key)
            old = self.declarations.get(declaration.key)
            if old is not None and old.platform != declaration.platform:
                raise BridgeCommandError(
                    "invalid_entity",
                    f"Entity '{declaration.key}' is a {old.platform}; "
                    f"it cannot become a {declaration.platform} under the same key",
                )

        self._async_update_devices(devices)
        new_by_platform: dict[str, list[TeslaSyncEntity]] = {}
        for declaration in declarations:
            self.declarations[declaration.key] = declaration
            self.registered_keys.add(declaration.key)
            entity = self._entities.get(declaration.key)
            if entity is not None:
                entity.async_set_declaration(declaration)
                continue
            hook = self._platforms.get(declaration.platform)
            if hook is None:
                # Platforms are set up before the entry counts as loaded.
                continue
            new_by_platform.setdefault(declaration.platform, []).append(
                hook.factory(self, declaration)
            )
        for platform, entities in new_by_platform.items():
            self._platforms[platform].add_entities(entities)
        self._async_schedule_save()
        self._async_write_all_states()
        return len(declarations)

    @callback
    def _async_update_devices(self, devices: Mapping[str, Mapping[str, str]]) -> None:
        """Store device details and write them into the device registry."""
        registry = dr.async_get(self.hass)
        for device, details in devices.items():
            self.device_details[device] = dict(details)
            registry.async_get_or_create(
                config_entry_id=self.entry.entry_id,
                identifiers={(DOMAIN, f"{self.entry.entry_id}_{device}")},
                manufacturer=DEVICE_MANUFACTURERS[device],
                **self._device_naming(device),  # type: ignore[arg-type]
            )

    @callback
    def async_update(self, updates: list[dict[str, Any]]) -> int:
        """Check a batch of state updates, then apply all of them."""
        checked: list[tuple[str, Any, dict[str, Any] | None]] = []
        for update in updates:
            key = update["key"]
            if key not in self.registered_keys:
                raise BridgeCommandError(
                    "unknown_entity",
                    f"Entity key '{key}' is not registered; send tesla_sync/register first",
                )
            declaration = self.declarations[key]
            value = _check_state(declaration, update.get("state"))
            checked.append((key, value, update.get("attributes")))
        for key, value, attributes in checked:
            entity = self._entities.get(key)
            if entity is not None:
                entity.async_apply_update(value, attributes)
        return len(checked)

    # -- commands to the engine -------------------------------------------

    @callback
    def async_send_command(self, payload: dict[str, Any]) -> None:
        """Send a command event to the engine, or raise engine_not_running."""
        session = self.session
        if session is None or session.subscription_id is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="engine_not_running"
            )
        session.connection.send_message(event_message(session.subscription_id, payload))

    @callback
    def async_notify_config_changed(self) -> None:
        """Tell a connected engine to read its configuration again."""
        if self.connected:
            self.async_send_command({"command": "config_changed"})

    async def async_call_engine(
        self,
        service: str,
        data: dict[str, Any],
        response_check: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> dict[str, Any]:
        """Relay an action to the engine and wait for its command_result.

        Raises engine_feature_missing, without sending anything, when the
        action needs an engine feature that the connected engine did not list.
        """
        feature = SERVICE_FEATURES.get(service)
        session = self.session
        if (
            feature is not None
            and session is not None
            and session.subscription_id is not None
            and feature not in session.features
        ):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="engine_feature_missing",
                translation_placeholders={
                    "service": service,
                    "engine_version": session.engine_version,
                },
            )
        request_id = uuid4().hex
        future: asyncio.Future[dict[str, Any]] = self.hass.loop.create_future()
        self._pending[request_id] = _PendingCall(service, future, response_check)
        try:
            self.async_send_command(
                {
                    "command": "service_call",
                    "request_id": request_id,
                    "service": service,
                    "data": data,
                }
            )
            async with asyncio.timeout(SERVICE_TIMEOUTS[service].total_seconds()):
                return await future
        except TimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="engine_timeout",
                translation_placeholders={
                    "service": service,
                    "seconds": str(int(SERVICE_TIMEOUTS[service].total_seconds())),
                },
            ) from err
        finally:
            self._pending.pop(request_id, None)

    @callback
    def async_resolve(
        self,
        request_id: str,
        success: bool,
        response: dict[str, Any] | None,
        error: str | None,
        error_code: str | None = None,
    ) -> None:
        """Complete a pending action call with the engine's result."""
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.future.done():
            raise BridgeCommandError(
                "unknown_request",
                f"No action call is waiting for request_id '{request_id}'; "
                "it timed out or was already answered",
            )
        if not success:
            message = error or "no reason given"
            if error_code == ERROR_CODE_INVALID_REQUEST:
                pending.future.set_exception(
                    ServiceValidationError(
                        translation_domain=DOMAIN,
                        translation_key="engine_invalid_request",
                        translation_placeholders={
                            "service": pending.service,
                            "message": message,
                        },
                    )
                )
            else:
                pending.future.set_exception(
                    HomeAssistantError(
                        translation_domain=DOMAIN,
                        translation_key="engine_error",
                        translation_placeholders={"message": message},
                    )
                )
            return
        result = response if response is not None else {}
        problem = pending.response_check(result) if pending.response_check else None
        if problem is not None:
            pending.future.set_exception(
                HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="engine_error",
                    translation_placeholders={"message": problem},
                )
            )
            raise BridgeCommandError("invalid_result", problem)
        pending.future.set_result(result)

    @callback
    def _async_fail_pending(self, translation_key: str) -> None:
        """Fail every waiting action call with the given translated error."""
        for request_id, pending in list(self._pending.items()):
            if not pending.future.done():
                pending.future.set_exception(
                    HomeAssistantError(
                        translation_domain=DOMAIN, translation_key=translation_key
                    )
                )
            del self._pending[request_id]

    def diagnostics(self) -> dict[str, Any]:
        """Describe the bridge state for diagnostics (no secrets here)."""
        session = self.session
        return {
            "connected": self.connected,
            "engine_version": self.last_engine_version,
            "engine_features": sorted(session.features) if session else [],
            "registered": sorted(self.registered_keys),
            "declarations": [d.as_storage() for d in self.declarations.values()],
            "devices": self.device_details,
            "pending_calls": [p.service for p in self._pending.values()],
        }


def _is_number(value: Any) -> bool:
    """Whether a JSON value is a number (JSON booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_state(declaration: EntityDeclaration, value: Any) -> Any:
    """Return the value to show for `value`, or raise invalid_state."""
    name = f"Entity '{declaration.key}'"
    if value is None:
        return None
    platform = declaration.platform
    if platform == Platform.BUTTON:
        raise BridgeCommandError("invalid_state", f"{name}: a button takes no state")
    if platform in (Platform.BINARY_SENSOR, Platform.SWITCH):
        if not isinstance(value, bool):
            raise BridgeCommandError(
                "invalid_state", f"{name}: state {value!r} is not true or false"
            )
        return value
    if platform == Platform.NUMBER or declaration.is_numeric_sensor:
        if not _is_number(value):
            raise BridgeCommandError(
                "invalid_state", f"{name}: state {value!r} is not a number"
            )
        return value
    if platform == Platform.SELECT or declaration.is_enum_sensor:
        if value not in (declaration.options or ()):
            raise BridgeCommandError(
                "invalid_state",
                f"{name}: state {value!r} is not one of {list(declaration.options or ())}",
            )
        return value
    if declaration.device_class == "timestamp":
        parsed = dt_util.parse_datetime(value) if isinstance(value, str) else None
        if parsed is None or parsed.tzinfo is None:
            raise BridgeCommandError(
                "invalid_state",
                f"{name}: state {value!r} is not an ISO 8601 time with an offset",
            )
        return parsed
    if declaration.device_class == "date":
        parsed_date = dt_util.parse_date(value) if isinstance(value, str) else None
        if parsed_date is None:
            raise BridgeCommandError(
                "invalid_state", f"{name}: state {value!r} is not an ISO 8601 date"
            )
        return parsed_date
    if isinstance(value, str):
        if len(value) > MAX_STATE_LENGTH:
            raise BridgeCommandError(
                "invalid_state",
                f"{name}: state has {len(value)} characters; HA stores at most {MAX_STATE_LENGTH}",
            )
        return value
    if _is_number(value):
        return value
    raise BridgeCommandError(
        "invalid_state", f"{name}: state {value!r} is not a string or number"
    )
