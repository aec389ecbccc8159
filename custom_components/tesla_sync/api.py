"""Credential checks against Amber and Tesla, used by the config flow.

The engine does all regular traffic with these APIs. The integration only
lists sites, so that the user picks from real ones and a wrong token is caught
before an entry is created. Requests go through HA's shared aiohttp session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from . import const
from .const import API_TIMEOUT, LOGGER


class ApiError(Exception):
    """Base class of the API errors; `reason` is a config flow error key."""

    reason = "unknown"


class ApiAuthError(ApiError):
    """The vendor rejected the token (HTTP 401 or 403)."""

    reason = "invalid_auth"


class ApiConnectionError(ApiError):
    """The vendor could not be reached, timed out or returned HTTP 5xx."""

    reason = "cannot_connect"


class ApiResponseError(ApiError):
    """The vendor returned a status or body that this code does not expect."""

    reason = "invalid_response"


@dataclass(frozen=True, slots=True)
class AmberSite:
    """A site on an Amber account, as `GET /sites` lists it."""

    site_id: str
    nmi: str
    status: str
    network: str | None
    active_from: str | None
    closed_on: str | None


@dataclass(frozen=True, slots=True)
class EnergySite:
    """A Tesla energy site (a Powerwall installation) from `GET /api/1/products`."""

    energy_site_id: int
    site_name: str | None


async def _async_get_json(
    session: aiohttp.ClientSession, url: str, token: str, vendor: str
) -> Any:
    """Send an authenticated GET and return the decoded JSON body."""
    try:
        async with session.get(
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=API_TIMEOUT.total_seconds()),
        ) as response:
            if response.status in (401, 403):
                raise ApiAuthError(
                    f"{vendor} rejected the token (HTTP {response.status})"
                )
            if response.status >= 500:
                raise ApiConnectionError(f"{vendor} returned HTTP {response.status}")
            if response.status != 200:
                raise ApiResponseError(f"{vendor} returned HTTP {response.status}")
            try:
                return await response.json(content_type=None)
            except ValueError as err:
                raise ApiResponseError(
                    f"{vendor} sent a body that is not JSON"
                ) from err
    except (aiohttp.ClientError, TimeoutError) as err:
        LOGGER.debug("Request to %s failed: %s", vendor, type(err).__name__)
        raise ApiConnectionError(f"{vendor} could not be reached") from err


def _optional_str(value: object) -> str | None:
    """Return `value` if it is a string, else None."""
    return value if isinstance(value, str) else None


async def async_get_amber_sites(
    session: aiohttp.ClientSession, token: str
) -> list[AmberSite]:
    """List the sites of the Amber account that `token` belongs to."""
    body = await _async_get_json(
        session, f"{const.AMBER_API_URL}/sites", token, "Amber"
    )
    if not isinstance(body, list):
        raise ApiResponseError("Amber /sites did not return a list")
    sites: list[AmberSite] = []
    for item in body:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or not isinstance(item.get("nmi"), str)
            or not isinstance(item.get("status"), str)
        ):
            raise ApiResponseError(
                "Amber /sites returned a site without id, nmi or status"
            )
        sites.append(
            AmberSite(
                site_id=item["id"],
                nmi=item["nmi"],
                status=item["status"],
                network=_optional_str(item.get("network")),
                active_from=_optional_str(item.get("activeFrom")),
                closed_on=_optional_str(item.get("closedOn")),
            )
        )
    return sites


async def async_get_energy_sites(
    session: aiohttp.ClientSession, base_url: str, token: str, vendor: str
) -> list[EnergySite]:
    """List the energy sites (not vehicles) that a Tesla token can reach."""
    body = await _async_get_json(session, f"{base_url}/api/1/products", token, vendor)
    products = body.get("response") if isinstance(body, dict) else None
    if not isinstance(products, list):
        raise ApiResponseError(f"{vendor} /api/1/products has no response list")
    sites: list[EnergySite] = []
    for product in products:
        if not isinstance(product, dict) or "energy_site_id" not in product:
            continue  # a vehicle
        site_id = product["energy_site_id"]
        if not isinstance(site_id, int) or isinstance(site_id, bool):
            raise ApiResponseError(f"{vendor} returned a non-integer energy_site_id")
        sites.append(EnergySite(site_id, _optional_str(product.get("site_name"))))
    return sites
