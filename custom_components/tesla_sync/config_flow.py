"""Config flow: Amber token and site, Tesla access and energy site, settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_HASSIO,
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.translation import async_get_translations
import voluptuous as vol

from . import TeslaSyncConfigEntry, api, const
from .config_data import (
    TeslaFleetTokenError,
    entry_options,
    find_tesla_fleet_entry,
    tesla_fleet_token,
)
from .const import (
    ACCESS_TESLA_FLEET,
    ACCESS_TESLEMETRY,
    ADDON_KEYS,
    AEMO_REGIONS,
    CONF_ACCESS_KIND,
    CONF_ADDON_NAME,
    CONF_ADDON_SLUG,
    CONF_AMBER_TOKEN,
    CONF_ENERGY_SITE_ID,
    CONF_NMI,
    CONF_SITE_ID,
    CONF_TESLA_FLEET_ENTRY_ID,
    CONF_TESLA_TOKEN,
    CURTAILMENT_THRESHOLD_RANGE,
    DEFAULT_OPTIONS,
    DOMAIN,
    FORECAST_BANDS,
    OPT_AEMO_REGION,
    OPT_AUTO_SYNC,
    OPT_CURTAILMENT,
    OPT_CURTAILMENT_THRESHOLD,
    OPT_FORECAST_BAND,
    OPT_SPIKE_RESPONSE,
    OPT_SPIKE_THRESHOLD,
    SPIKE_THRESHOLD_RANGE,
)

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
AMBER_TOKEN_SCHEMA = vol.Schema({vol.Required(CONF_AMBER_TOKEN): PASSWORD_SELECTOR})
TESLA_TOKEN_SCHEMA = vol.Schema({vol.Required(CONF_TESLA_TOKEN): PASSWORD_SELECTOR})
FORECAST_BAND_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(FORECAST_BANDS),
        translation_key=OPT_FORECAST_BAND,
        mode=SelectSelectorMode.LIST,
    )
)


def _settings_schema(current: Mapping[str, Any]) -> vol.Schema:
    """Return the schema of the first-run settings step."""
    return vol.Schema(
        {
            vol.Required(
                OPT_FORECAST_BAND, default=current[OPT_FORECAST_BAND]
            ): FORECAST_BAND_SELECTOR,
            vol.Required(
                OPT_AUTO_SYNC, default=current[OPT_AUTO_SYNC]
            ): BooleanSelector(),
        }
    )


def _options_schema(current: Mapping[str, Any]) -> vol.Schema:
    """Return the schema of the options flow, with every setting."""
    return _settings_schema(current).extend(
        {
            vol.Required(
                OPT_SPIKE_RESPONSE, default=current[OPT_SPIKE_RESPONSE]
            ): BooleanSelector(),
            vol.Required(
                OPT_AEMO_REGION, default=current[OPT_AEMO_REGION]
            ): SelectSelector(
                SelectSelectorConfig(
                    options=list(AEMO_REGIONS),
                    translation_key=OPT_AEMO_REGION,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(
                OPT_SPIKE_THRESHOLD, default=current[OPT_SPIKE_THRESHOLD]
            ): NumberSelector(
                NumberSelectorConfig(
                    min=SPIKE_THRESHOLD_RANGE[0],
                    max=SPIKE_THRESHOLD_RANGE[1],
                    step=10,
                    unit_of_measurement="$/MWh",
                    mode=NumberSelectorMode.BOX,
                )
            ),
            vol.Required(
                OPT_CURTAILMENT, default=current[OPT_CURTAILMENT]
            ): BooleanSelector(),
            vol.Required(
                OPT_CURTAILMENT_THRESHOLD, default=current[OPT_CURTAILMENT_THRESHOLD]
            ): NumberSelector(
                NumberSelectorConfig(
                    min=CURTAILMENT_THRESHOLD_RANGE[0],
                    max=CURTAILMENT_THRESHOLD_RANGE[1],
                    step=0.1,
                    unit_of_measurement="c/kWh",
                    mode=NumberSelectorMode.BOX,
                )
            ),
        }
    )


class TeslaSyncConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Tesla Sync entry per Amber site."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._amber_token: str | None = None
        self._sites: list[api.AmberSite] = []
        self._site: api.AmberSite | None = None
        self._tesla: dict[str, Any] = {}
        self._energy_sites: list[api.EnergySite] = []
        self._reauth_vendor = "amber"
        self._addon: dict[str, str] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: TeslaSyncConfigEntry) -> OptionsFlow:
        """Return the options flow."""
        return TeslaSyncOptionsFlow()

    # -- Amber ------------------------------------------------------------

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Amber token and list its sites."""
        return await self._async_step_amber_token("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change tokens and sites: the same steps as the first setup."""
        return await self._async_step_amber_token("reconfigure", user_input)

    async def _async_step_amber_token(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Validate an Amber token, then choose its site."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_AMBER_TOKEN].strip()
            try:
                sites = await api.async_get_amber_sites(
                    async_get_clientsession(self.hass), token
                )
            except api.ApiError as err:
                errors["base"] = err.reason
            else:
                if not sites:
                    errors["base"] = "no_sites"
                else:
                    self._amber_token = token
                    self._sites = sites
                    active = [site for site in sites if site.status == "active"]
                    if len(active) == 1:
                        return await self._async_site_chosen(active[0])
                    return await self.async_step_site()
        return self.async_show_form(
            step_id=step_id, data_schema=AMBER_TOKEN_SCHEMA, errors=errors
        )

    async def async_step_site(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose one of several Amber sites."""
        if user_input is not None:
            for site in self._sites:
                if site.site_id == user_input[CONF_SITE_ID]:
                    return await self._async_site_chosen(site)
        active = [site for site in self._sites if site.status == "active"]
        # Closed and pending sites stay selectable but are never the default.
        ordered = active + [site for site in self._sites if site.status != "active"]
        field = (
            vol.Required(CONF_SITE_ID, default=active[0].site_id)
            if active
            else vol.Required(CONF_SITE_ID)
        )
        status_labels = await self._async_status_labels()
        options = [
            SelectOptionDict(value=site.site_id, label=_site_label(site, status_labels))
            for site in ordered
        ]
        return self.async_show_form(
            step_id="site",
            data_schema=vol.Schema(
                {
                    field: SelectSelector(
                        SelectSelectorConfig(
                            options=options, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
        )

    async def _async_status_labels(self) -> dict[str, str]:
        """Return the translated labels of Amber site statuses."""
        translations = await async_get_translations(
            self.hass, self.hass.config.language, "selector", {DOMAIN}
        )
        prefix = f"component.{DOMAIN}.selector.site_status.options."
        return {
            key.removeprefix(prefix): value
            for key, value in translations.items()
            if key.startswith(prefix)
        }

    async def _async_site_chosen(self, site: api.AmberSite) -> ConfigFlowResult:
        """Check the site is not configured yet, then continue with Tesla."""
        self._site = site
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            for other in self._async_current_entries(include_ignore=False):
                if other.entry_id != entry.entry_id and other.unique_id == site.site_id:
                    return self.async_abort(reason="already_configured")
        else:
            await self.async_set_unique_id(site.site_id)
            self._abort_if_unique_id_configured()
        return await self.async_step_tesla()

    # -- Supervisor add-on discovery ----------------------------------------

    async def async_step_hassio(
        self, discovery_info: HassioServiceInfo
    ) -> ConfigFlowResult:
        """Offer setup when the Tesla Sync add-on announces itself.

        The engine connects to HA, not the other way round, so the discovery
        config (host, port, engine version) is not needed. Only the add-on's
        slug and name are kept, so that the repair issue for a missing engine
        can name the add-on to start.
        """
        addon = {
            CONF_ADDON_SLUG: discovery_info.slug,
            CONF_ADDON_NAME: discovery_info.name,
        }
        entries = self._async_current_entries(include_ignore=False)
        if entries:
            # The add-on serves the entries that exist: record it in each of
            # them instead of offering a second setup.
            for entry in entries:
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, **addon}
                )
            return self.async_abort(reason="addon_entry_exists")
        if any(
            flow["context"]["source"] == SOURCE_HASSIO
            for flow in self._async_in_progress(include_uninitialized=True)
        ):
            # A restarted add-on publishes a new discovery message with a new
            # uuid. The flow that is already open covers both messages.
            return self.async_abort(reason="already_in_progress")
        # The add-on slug stays the same across restarts, so ignoring the
        # discovery sticks. The flow takes the Amber site id as its unique id
        # once a site is chosen. HA removes a hassio entry when the add-on
        # withdraws its discovery message (on every stop) only if the entry's
        # unique id equals that message's uuid, which a site id never does.
        await self.async_set_unique_id(f"addon_{discovery_info.slug}")
        self._abort_if_unique_id_configured()
        self._addon = addon
        self.context["title_placeholders"] = {"name": discovery_info.name}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the user to confirm the add-on, then ask for the Amber token."""
        if user_input is not None:
            if self._async_current_entries(include_ignore=False):
                return self.async_abort(reason="addon_entry_exists")
            return await self.async_step_user()
        return self.async_show_form(
            step_id="hassio_confirm",
            description_placeholders={"addon": self._addon[CONF_ADDON_NAME]},
        )

    # -- Tesla ------------------------------------------------------------

    async def async_step_tesla(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose how Tesla Sync reaches the Powerwall."""
        return self.async_show_menu(
            step_id="tesla", menu_options=[ACCESS_TESLEMETRY, ACCESS_TESLA_FLEET]
        )

    async def async_step_teslemetry(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a Teslemetry token and list its energy sites."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_TESLA_TOKEN].strip()
            try:
                sites = await api.async_get_energy_sites(
                    async_get_clientsession(self.hass),
                    const.TESLEMETRY_API_URL,
                    token,
                    "Teslemetry",
                )
            except api.ApiError as err:
                errors["base"] = err.reason
            else:
                if sites:
                    self._tesla = {
                        CONF_ACCESS_KIND: ACCESS_TESLEMETRY,
                        CONF_TESLA_TOKEN: token,
                    }
                    return await self._async_energy_sites_found(sites)
                errors["base"] = "no_energy_sites"
        return self.async_show_form(
            step_id="teslemetry", data_schema=TESLA_TOKEN_SCHEMA, errors=errors
        )

    async def async_step_tesla_fleet(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use the token of HA's own Tesla Fleet integration."""
        fleet_entry = find_tesla_fleet_entry(self.hass)
        if fleet_entry is None:
            return self.async_abort(reason="no_tesla_fleet")
        errors: dict[str, str] = {}
        try:
            token, _expires_at = tesla_fleet_token(fleet_entry)
            sites = await api.async_get_energy_sites(
                async_get_clientsession(self.hass),
                const.TESLA_FLEET_API_URL,
                token,
                "Tesla Fleet API",
            )
        except api.ApiError as err:
            errors["base"] = err.reason
        except TeslaFleetTokenError:
            errors["base"] = "invalid_auth"
        else:
            if sites:
                self._tesla = {
                    CONF_ACCESS_KIND: ACCESS_TESLA_FLEET,
                    CONF_TESLA_FLEET_ENTRY_ID: fleet_entry.entry_id,
                }
                return await self._async_energy_sites_found(sites)
            errors["base"] = "no_energy_sites"
        # Submitting the empty form tries again.
        return self.async_show_form(
            step_id="tesla_fleet", data_schema=vol.Schema({}), errors=errors
        )

    async def _async_energy_sites_found(
        self, sites: list[api.EnergySite]
    ) -> ConfigFlowResult:
        """Take the only energy site, or ask which one."""
        self._energy_sites = sites
        if len(sites) == 1:
            return await self._async_energy_site_chosen(sites[0])
        return await self.async_step_energy_site()

    async def async_step_energy_site(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose one of several Tesla energy sites."""
        if user_input is not None:
            for site in self._energy_sites:
                if str(site.energy_site_id) == user_input[CONF_ENERGY_SITE_ID]:
                    return await self._async_energy_site_chosen(site)
        options = [
            SelectOptionDict(
                value=str(site.energy_site_id),
                label=f"{site.site_name} ({site.energy_site_id})"
                if site.site_name
                else str(site.energy_site_id),
            )
            for site in self._energy_sites
        ]
        return self.async_show_form(
            step_id="energy_site",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_ENERGY_SITE_ID, default=options[0]["value"]
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=options, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
        )

    async def _async_energy_site_chosen(self, site: api.EnergySite) -> ConfigFlowResult:
        """Finish a reconfiguration, or go on to the settings."""
        self._tesla[CONF_ENERGY_SITE_ID] = site.energy_site_id
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            amber = self._amber_data()
            addon = {key: entry.data[key] for key in ADDON_KEYS if key in entry.data}
            return self.async_update_and_abort(
                entry,
                unique_id=amber[CONF_SITE_ID],
                title=self._title(),
                data={**amber, **self._tesla, **addon},
                reason="reconfigure_successful",
            )
        return await self.async_step_settings()

    # -- settings and entry -----------------------------------------------

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the forecast band and whether to sync automatically."""
        if user_input is not None:
            return self.async_create_entry(
                title=self._title(),
                data={**self._amber_data(), **self._tesla, **self._addon},
                options={**DEFAULT_OPTIONS, **user_input},
            )
        return self.async_show_form(
            step_id="settings", data_schema=_settings_schema(DEFAULT_OPTIONS)
        )

    def _amber_data(self) -> dict[str, Any]:
        """Return the Amber part of the entry data."""
        if self._site is None or self._amber_token is None:
            raise RuntimeError(
                "Amber site missing: the Tesla steps ran before a site was chosen"
            )
        return {
            CONF_AMBER_TOKEN: self._amber_token,
            CONF_SITE_ID: self._site.site_id,
            CONF_NMI: self._site.nmi,
        }

    def _title(self) -> str:
        """Return the entry title: the product and the site's network."""
        network = self._site.network if self._site else None
        return f"Tesla Sync ({network})" if network else "Tesla Sync"

    # -- reauthentication -------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication for the vendor that the engine reported."""
        self._reauth_vendor = (
            "tesla" if entry_data.get("vendor") == "tesla" else "amber"
        )
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new token for the vendor that rejected the old one."""
        entry = self._get_reauth_entry()
        if (
            self._reauth_vendor == "tesla"
            and entry.data[CONF_ACCESS_KIND] == ACCESS_TESLA_FLEET
        ):
            return self.async_abort(reason="reauth_tesla_fleet")
        amber = self._reauth_vendor == "amber"
        errors: dict[str, str] = {}
        if user_input is not None:
            session = async_get_clientsession(self.hass)
            try:
                if amber:
                    token = user_input[CONF_AMBER_TOKEN].strip()
                    sites = await api.async_get_amber_sites(session, token)
                    if not any(s.site_id == entry.data[CONF_SITE_ID] for s in sites):
                        errors["base"] = "site_not_found"
                    updates = {CONF_AMBER_TOKEN: token}
                else:
                    token = user_input[CONF_TESLA_TOKEN].strip()
                    energy_sites = await api.async_get_energy_sites(
                        session, const.TESLEMETRY_API_URL, token, "Teslemetry"
                    )
                    if not any(
                        s.energy_site_id == entry.data[CONF_ENERGY_SITE_ID]
                        for s in energy_sites
                    ):
                        errors["base"] = "energy_site_not_found"
                    updates = {CONF_TESLA_TOKEN: token}
            except api.ApiError as err:
                errors["base"] = err.reason
            if not errors:
                return self.async_update_and_abort(
                    entry, data_updates=updates, reason="reauth_successful"
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=AMBER_TOKEN_SCHEMA if amber else TESLA_TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"vendor": "Amber" if amber else "Teslemetry"},
        )


def _site_label(site: api.AmberSite, status_labels: Mapping[str, str]) -> str:
    """Return a site's label: NMI and network, plus the status unless active."""
    label = f"{site.nmi} ({site.network})" if site.network else site.nmi
    if site.status == "active":
        return label
    return f"{label}: {status_labels.get(site.status, site.status)}"


class TeslaSyncOptionsFlow(OptionsFlow):
    """Change every setting of an entry."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the settings."""
        if user_input is not None:
            return self.async_create_entry(
                data={**entry_options(self.config_entry), **user_input}
            )
        return self.async_show_form(
            step_id="init",
            data_schema=_options_schema(entry_options(self.config_entry)),
        )
