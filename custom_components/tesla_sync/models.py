"""Entity declarations sent by the engine, and their validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.button import ButtonDeviceClass
from homeassistant.components.number import NumberDeviceClass
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.components.switch import SwitchDeviceClass
from homeassistant.const import EntityCategory, Platform
import voluptuous as vol

from .const import DEVICES

PLATFORMS: tuple[Platform, ...] = (
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
)

DEVICE_CLASSES: dict[str, frozenset[str]] = {
    Platform.SENSOR: frozenset(item.value for item in SensorDeviceClass),
    Platform.BINARY_SENSOR: frozenset(item.value for item in BinarySensorDeviceClass),
    Platform.SWITCH: frozenset(item.value for item in SwitchDeviceClass),
    Platform.BUTTON: frozenset(item.value for item in ButtonDeviceClass),
    Platform.NUMBER: frozenset(item.value for item in NumberDeviceClass),
    Platform.SELECT: frozenset(),
}

# Maximum length of a state string in HA (homeassistant.const.MAX_LENGTH_STATE_STATE).
MAX_STATE_LENGTH = 255

KEY_SCHEMA = vol.All(str, vol.Match(r"^[a-z0-9_]{1,64}$"))

DECLARATION_SCHEMA = vol.Schema(
    {
        vol.Required("key"): KEY_SCHEMA,
        vol.Required("platform"): vol.In([str(platform) for platform in PLATFORMS]),
        vol.Required("device"): vol.In(DEVICES),
        vol.Required("translation_key"): KEY_SCHEMA,
        vol.Optional("device_class"): str,
        vol.Optional("state_class"): vol.In([item.value for item in SensorStateClass]),
        vol.Optional("unit"): vol.All(str, vol.Length(min=1, max=32)),
        vol.Optional("suggested_display_precision"): vol.All(
            int, vol.Range(min=0, max=6)
        ),
        vol.Optional("entity_category"): vol.In(
            [EntityCategory.CONFIG.value, EntityCategory.DIAGNOSTIC.value]
        ),
        vol.Optional("options"): vol.All(
            [vol.All(str, vol.Length(min=1, max=MAX_STATE_LENGTH))], vol.Length(min=1)
        ),
        vol.Optional("min"): vol.Coerce(float),
        vol.Optional("max"): vol.Coerce(float),
        vol.Optional("step"): vol.Coerce(float),
        vol.Optional("enabled_default", default=True): bool,
    }
)

DEVICE_DETAILS_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional("model"): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional("sw_version"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("hw_version"): vol.All(str, vol.Length(min=1, max=64)),
    }
)


class InvalidDeclarationError(ValueError):
    """An entity declaration breaks a rule that the schema cannot express."""


@dataclass(frozen=True, slots=True)
class EntityDeclaration:
    """One entity as the engine declares it in `tesla_sync/register`."""

    key: str
    platform: str
    device: str
    translation_key: str
    device_class: str | None = None
    state_class: str | None = None
    unit: str | None = None
    suggested_display_precision: int | None = None
    entity_category: str | None = None
    options: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    enabled_default: bool = True

    @classmethod
    def from_message(cls, item: dict[str, Any]) -> EntityDeclaration:
        """Build a declaration from a schema-checked message item and check its rules."""
        options = item.get("options")
        declaration = cls(
            key=item["key"],
            platform=item["platform"],
            device=item["device"],
            translation_key=item["translation_key"],
            device_class=item.get("device_class"),
            state_class=item.get("state_class"),
            unit=item.get("unit"),
            suggested_display_precision=item.get("suggested_display_precision"),
            entity_category=item.get("entity_category"),
            options=tuple(options) if options is not None else None,
            min=item.get("min"),
            max=item.get("max"),
            step=item.get("step"),
            enabled_default=item.get("enabled_default", True),
        )
        declaration.check()
        return declaration

    @classmethod
    def from_storage(cls, item: dict[str, Any]) -> EntityDeclaration:
        """Rebuild a declaration stored by `as_storage`."""
        return cls.from_message(item)

    def as_storage(self) -> dict[str, Any]:
        """Return the declaration as a JSON-ready dict, without unset fields."""
        data = asdict(self)
        if self.options is not None:
            data["options"] = list(self.options)
        return {name: value for name, value in data.items() if value is not None}

    @property
    def is_enum_sensor(self) -> bool:
        """Whether this is a sensor with a fixed list of string states."""
        return (
            self.platform == Platform.SENSOR
            and self.device_class == SensorDeviceClass.ENUM
        )

    @property
    def is_numeric_sensor(self) -> bool:
        """Whether HA treats this sensor's state as a number."""
        if self.platform != Platform.SENSOR or self.is_enum_sensor:
            return False
        if self.device_class in (SensorDeviceClass.TIMESTAMP, SensorDeviceClass.DATE):
            return False
        return (
            self.state_class is not None
            or self.unit is not None
            or self.device_class is not None
        )

    def check(self) -> None:
        """Raise InvalidDeclarationError when fields do not fit together."""
        name = f"Entity '{self.key}'"
        if self.device_class is not None and (
            self.device_class not in DEVICE_CLASSES[self.platform]
        ):
            raise InvalidDeclarationError(
                f"{name}: device_class '{self.device_class}' is not a {self.platform} device class"
            )
        if self.platform != Platform.SENSOR:
            for sensor_field in ("state_class", "suggested_display_precision"):
                if getattr(self, sensor_field) is not None:
                    raise InvalidDeclarationError(
                        f"{name}: {sensor_field} is only valid on sensors"
                    )
        if self.unit is not None and self.platform not in (
            Platform.SENSOR,
            Platform.NUMBER,
        ):
            raise InvalidDeclarationError(
                f"{name}: unit is only valid on sensors and numbers"
            )
        needs_options = self.platform == Platform.SELECT or self.is_enum_sensor
        if needs_options and not self.options:
            raise InvalidDeclarationError(
                f"{name}: a {self.platform} with these settings needs a non-empty options list"
            )
        if not needs_options and self.options is not None:
            raise InvalidDeclarationError(
                f"{name}: options are only valid on selects and enum sensors"
            )
        if self.platform == Platform.NUMBER:
            if self.min is None or self.max is None or self.step is None:
                raise InvalidDeclarationError(
                    f"{name}: a number needs min, max and step"
                )
            if self.min >= self.max:
                raise InvalidDeclarationError(
                    f"{name}: min {self.min} must be less than max {self.max}"
                )
            if self.step <= 0:
                raise InvalidDeclarationError(
                    f"{name}: step {self.step} must be positive"
                )
        elif self.min is not None or self.max is not None or self.step is not None:
            raise InvalidDeclarationError(
                f"{name}: min, max and step are only valid on numbers"
            )
