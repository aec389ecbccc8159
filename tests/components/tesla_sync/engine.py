"""The engine's side of the bridge, driven over HA's real websocket API."""

from __future__ import annotations

from typing import Any

ENGINE_VERSION = "0.1.0"

# Declarations as the engine sends them, one per kind of entity in the product.
DECLARATIONS: list[dict[str, Any]] = [
    {
        "key": "general_price",
        "platform": "sensor",
        "device": "amber_site",
        "translation_key": "general_price",
        "state_class": "measurement",
        "unit": "$/kWh",
        "suggested_display_precision": 2,
    },
    {
        "key": "general_forecast",
        "platform": "sensor",
        "device": "amber_site",
        "translation_key": "general_forecast",
        "state_class": "measurement",
        "unit": "$/kWh",
    },
    {
        "key": "battery_power",
        "platform": "sensor",
        "device": "powerwall",
        "translation_key": "battery_power",
        "device_class": "power",
        "state_class": "measurement",
        "unit": "W",
    },
    {
        "key": "grid_import_energy",
        "platform": "sensor",
        "device": "powerwall",
        "translation_key": "grid_import_energy",
        "device_class": "energy",
        "state_class": "total_increasing",
        "unit": "kWh",
    },
    {
        "key": "last_sync",
        "platform": "sensor",
        "device": "engine",
        "translation_key": "last_sync",
        "device_class": "timestamp",
    },
    {
        "key": "sync_status",
        "platform": "sensor",
        "device": "engine",
        "translation_key": "sync_status",
        "device_class": "enum",
        "options": ["uploaded", "unchanged", "refused", "failed"],
    },
    {
        "key": "tesla_api_calls",
        "platform": "sensor",
        "device": "engine",
        "translation_key": "tesla_api_calls",
        "state_class": "total_increasing",
        "entity_category": "diagnostic",
    },
    {
        "key": "price_spike",
        "platform": "binary_sensor",
        "device": "amber_site",
        "translation_key": "price_spike",
    },
    {
        "key": "auto_sync",
        "platform": "switch",
        "device": "engine",
        "translation_key": "auto_sync",
        "entity_category": "config",
    },
    {
        "key": "sync_now",
        "platform": "button",
        "device": "engine",
        "translation_key": "sync_now",
    },
    {
        "key": "forecast_band",
        "platform": "select",
        "device": "engine",
        "translation_key": "forecast_band",
        "entity_category": "config",
        "options": ["predicted", "low", "high"],
    },
    {
        "key": "curtailment_threshold",
        "platform": "number",
        "device": "engine",
        "translation_key": "curtailment_threshold",
        "entity_category": "config",
        "unit": "c/kWh",
        "min": -100,
        "max": 100,
        "step": 0.1,
    },
]

# Entity ids HA derives from the device names and translated entity names.
ENTITY_IDS = {
    "general_price": "sensor.amber_site_general_price",
    "general_forecast": "sensor.amber_site_general_forecast",
    "battery_power": "sensor.powerwall_battery_power",
    "grid_import_energy": "sensor.powerwall_grid_import_energy",
    "last_sync": "sensor.tesla_sync_engine_last_sync",
    "sync_status": "sensor.tesla_sync_engine_sync_status",
    "tesla_api_calls": "sensor.tesla_sync_engine_tesla_api_calls",
    "price_spike": "binary_sensor.amber_site_price_spike",
    "auto_sync": "switch.tesla_sync_engine_auto_sync",
    "sync_now": "button.tesla_sync_engine_sync_now",
    "forecast_band": "select.tesla_sync_engine_forecast_band",
    "curtailment_threshold": "number.tesla_sync_engine_curtailment_threshold",
}


class EngineClient:
    """Sends bridge commands through HA's test websocket client.

    Event frames that arrive while a result is awaited are kept in `events`.
    """

    def __init__(self, client: Any) -> None:
        """Wrap a client from the hass_ws_client fixture."""
        self.client = client
        self.entry_id: str | None = None
        self.subscription_id: int | None = None
        self.events: list[dict[str, Any]] = []
        self._next_id = 100

    async def send(self, command: str, **fields: Any) -> int:
        """Send a command and return its message id."""
        self._next_id += 1
        await self.client.send_json({"id": self._next_id, "type": command, **fields})
        return self._next_id

    async def result_frame(self, message_id: int) -> dict[str, Any]:
        """Read frames until the result of `message_id` arrives, and return it."""
        while True:
            frame = await self.client.receive_json()
            if frame.get("type") == "event":
                self.events.append(frame)
                continue
            if frame.get("id") == message_id:
                return frame

    async def call(self, command: str, **fields: Any) -> dict[str, Any]:
        """Send a command and return its result frame."""
        return await self.result_frame(await self.send(command, **fields))

    async def call_entry(self, command: str, **fields: Any) -> dict[str, Any]:
        """Send a command for this client's entry and return its result frame."""
        return await self.call(command, entry_id=self.entry_id, **fields)

    async def connect(
        self, entry_id: str | None = None, features: list[str] | None = None
    ) -> None:
        """Say hello and subscribe to commands, as the engine does on start.

        `features` goes into subscribe_commands; None leaves the field out, as
        an engine written for the first version of the protocol does.
        """
        fields = {"entry_id": entry_id} if entry_id else {}
        hello = await self.call(
            "tesla_sync/hello", protocol=1, engine_version=ENGINE_VERSION, **fields
        )
        assert hello["success"], hello
        self.entry_id = hello["result"]["entry_id"]
        subscribe = {} if features is None else {"features": features}
        self.subscription_id = await self.send(
            "tesla_sync/subscribe_commands", entry_id=self.entry_id, **subscribe
        )
        subscribed = await self.result_frame(self.subscription_id)
        assert subscribed["success"], subscribed

    async def register(
        self, declarations: list[dict[str, Any]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Declare entities (all of DECLARATIONS by default)."""
        return await self.call_entry(
            "tesla_sync/register",
            entities=DECLARATIONS if declarations is None else declarations,
            **fields,
        )

    async def update(self, *updates: dict[str, Any]) -> dict[str, Any]:
        """Send a batch of state updates."""
        return await self.call_entry("tesla_sync/update", updates=list(updates))

    async def next_event(self) -> dict[str, Any]:
        """Return the next command event of the subscription."""
        if self.events:
            return self.events.pop(0)["event"]
        frame = await self.client.receive_json()
        assert frame["type"] == "event", frame
        assert frame["id"] == self.subscription_id, frame
        return frame["event"]

    async def close(self) -> None:
        """Close the socket, as a stopped engine does."""
        await self.client.close()
