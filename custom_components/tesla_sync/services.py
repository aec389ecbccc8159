"""Actions that the engine carries out: sync, preview and the price-event controls.

Every action is relayed to the engine as a `service_call` command and returns
the engine's response. The integration checks only the shape of the fields;
the engine checks the rest and reports problems through `command_result`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.json import json_bytes
import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DURATION,
    ATTR_PRICE_MWH,
    ATTR_SCHEDULE,
    DOMAIN,
    FORCE_DURATION_RANGE,
    FORECAST_BANDS,
    MAX_SCHEDULE_JSON_BYTES,
    OPT_FORECAST_BAND,
    SERVICE_APPLY_CUSTOM_SCHEDULE,
    SERVICE_CANCEL_FORCE,
    SERVICE_CLEAR_CUSTOM_SCHEDULE,
    SERVICE_FORCE_CHARGE,
    SERVICE_FORCE_DISCHARGE,
    SERVICE_PREVIEW_TARIFF,
    SERVICE_SET_CUSTOM_SCHEDULE,
    SERVICE_SPIKE_TEST,
    SERVICE_SPIKE_TEST_END,
    SERVICE_SYNC_NOW,
    SPIKE_THRESHOLD_RANGE,
    SYNC_OUTCOMES,
)

if TYPE_CHECKING:
    from .bridge import EntryBridge

type ResponseCheck = Callable[[Mapping[str, Any]], str | None]
type ServiceHandler = Callable[[ServiceCall], Awaitable[ServiceResponse]]


def _whole_minutes(value: Any) -> int:
    """Return a duration in whole minutes within FORCE_DURATION_RANGE."""
    low, high = FORCE_DURATION_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise vol.Invalid(f"duration {value!r} is not a number of minutes")
    try:
        number = float(value)
    except ValueError as err:
        raise vol.Invalid(f"duration {value!r} is not a number of minutes") from err
    if not number.is_integer():
        raise vol.Invalid(f"duration {value} is not a whole number of minutes")
    if not low <= number <= high:
        raise vol.Invalid(
            f"duration {int(number)} minutes is out of range; use {low} to {high}"
        )
    return int(number)


def _period_times_are_text(season: Mapping[str, Any], index: int) -> None:
    """Raise vol.Invalid for a period time that YAML turned into a number.

    HA's YAML loader follows YAML 1.1, which reads an unquoted 15:00 as the
    base-60 integer 900 (07:30 stays text). The engine expects "HH:MM" text.
    """
    for number, period in enumerate(season["periods"]):
        for key in ("from", "to"):
            value = period.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                raise vol.Invalid(
                    f"seasons[{index}].periods[{number}].{key} is the number "
                    f'{value}; write times as quoted text such as "15:00", '
                    "because YAML reads an unquoted 15:00 as a number"
                )


def _schedule(value: Any) -> dict[str, Any]:
    """Check the outer shape of a custom schedule: seasons, each with periods.

    The engine checks names, dates, times, rates and coverage, and returns
    its problems through command_result.
    """
    if not isinstance(value, dict):
        raise vol.Invalid("schedule must be an object with a seasons list")
    seasons = value.get("seasons")
    if not isinstance(seasons, list) or not seasons:
        raise vol.Invalid("schedule needs a non-empty seasons list")
    for index, season in enumerate(seasons):
        if not isinstance(season, dict):
            raise vol.Invalid(f"seasons[{index}] must be an object")
        periods = season.get("periods")
        if not isinstance(periods, list) or not periods:
            raise vol.Invalid(f"seasons[{index}] needs a non-empty periods list")
        if not all(isinstance(period, dict) for period in periods):
            raise vol.Invalid(f"seasons[{index}].periods must contain objects")
        _period_times_are_text(season, index)
    try:
        size = len(json_bytes(value))
    except TypeError as err:
        raise vol.Invalid(f"schedule cannot be sent as JSON: {err}") from err
    if size > MAX_SCHEDULE_JSON_BYTES:
        raise vol.Invalid(
            f"schedule is {size} bytes as JSON; the maximum is {MAX_SCHEDULE_JSON_BYTES}"
        )
    return value


ENTRY_FIELD = {vol.Optional(ATTR_CONFIG_ENTRY_ID): str}
ENTRY_ONLY_SCHEMA = vol.Schema(ENTRY_FIELD)
PREVIEW_TARIFF_SCHEMA = vol.Schema(
    {**ENTRY_FIELD, vol.Optional(OPT_FORECAST_BAND): vol.In(FORECAST_BANDS)}
)
FORCE_SCHEMA = vol.Schema({**ENTRY_FIELD, vol.Required(ATTR_DURATION): _whole_minutes})
SET_CUSTOM_SCHEDULE_SCHEMA = vol.Schema(
    {**ENTRY_FIELD, vol.Required(ATTR_SCHEDULE): _schedule}
)
SPIKE_TEST_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELD,
        vol.Required(ATTR_PRICE_MWH): vol.All(
            vol.Coerce(float), vol.Range(*SPIKE_THRESHOLD_RANGE)
        ),
    }
)


def _bridge_for_call(hass: HomeAssistant, call: ServiceCall) -> EntryBridge:
    """Return the bridge of the entry the call names, or of the only entry."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    entries = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
        and (entry_id is None or entry.entry_id == entry_id)
    ]
    if len(entries) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id or "(not given)"},
        )
    bridge: EntryBridge = entries[0].runtime_data
    return bridge


def _check_sync_response(response: Mapping[str, Any]) -> str | None:
    """Return what is wrong with a sync_now response, or None."""
    outcome = response.get("outcome")
    if outcome not in SYNC_OUTCOMES:
        return f"sync_now response has outcome {outcome!r}; expected one of {list(SYNC_OUTCOMES)}"
    if not isinstance(response.get("reason"), str):
        return "sync_now response has no reason text"
    return None


def _relay(service: str, response_check: ResponseCheck | None = None) -> ServiceHandler:
    """Return a handler that sends the call's fields to the engine as `service`."""

    async def handle(call: ServiceCall) -> ServiceResponse:
        bridge = _bridge_for_call(call.hass, call)
        data = {
            key: value
            for key, value in call.data.items()
            if key != ATTR_CONFIG_ENTRY_ID
        }
        response = await bridge.async_call_engine(
            service, data, response_check=response_check
        )
        return response if call.return_response else None

    return handle


# Action, schema, response check and whether it must return a response.
SERVICES: tuple[tuple[str, vol.Schema, ResponseCheck | None, SupportsResponse], ...] = (
    (
        SERVICE_SYNC_NOW,
        ENTRY_ONLY_SCHEMA,
        _check_sync_response,
        SupportsResponse.OPTIONAL,
    ),
    (SERVICE_PREVIEW_TARIFF, PREVIEW_TARIFF_SCHEMA, None, SupportsResponse.ONLY),
    (SERVICE_FORCE_CHARGE, FORCE_SCHEMA, None, SupportsResponse.OPTIONAL),
    (SERVICE_FORCE_DISCHARGE, FORCE_SCHEMA, None, SupportsResponse.OPTIONAL),
    (SERVICE_CANCEL_FORCE, ENTRY_ONLY_SCHEMA, None, SupportsResponse.OPTIONAL),
    (
        SERVICE_SET_CUSTOM_SCHEDULE,
        SET_CUSTOM_SCHEDULE_SCHEMA,
        None,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_APPLY_CUSTOM_SCHEDULE,
        ENTRY_ONLY_SCHEMA,
        None,
        SupportsResponse.OPTIONAL,
    ),
    (
        SERVICE_CLEAR_CUSTOM_SCHEDULE,
        ENTRY_ONLY_SCHEMA,
        None,
        SupportsResponse.OPTIONAL,
    ),
    (SERVICE_SPIKE_TEST, SPIKE_TEST_SCHEMA, None, SupportsResponse.OPTIONAL),
    (SERVICE_SPIKE_TEST_END, ENTRY_ONLY_SCHEMA, None, SupportsResponse.OPTIONAL),
)


@callback
def async_register_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    for service, schema, response_check, supports_response in SERVICES:
        hass.services.async_register(
            DOMAIN,
            service,
            _relay(service, response_check),
            schema=schema,
            supports_response=supports_response,
        )
