"""Stand-ins for Amber's and Tesla's APIs: one real HTTP server on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass, field
import socket
from typing import Any

from aiohttp import web

AMBER_TOKEN = "psk_0123456789abcdef0123456789abcdef"
TESLEMETRY_TOKEN = "teslemetry-token-5f3a9c"
FLEET_ACCESS_TOKEN = "fleet-access-token-7d1e2b"
FLEET_REFRESH_TOKEN = "fleet-refresh-token-9a8b7c"

SITE_ACTIVE = {
    "id": "01F5A5CRKMZ5BCX9P1S4V990AM",
    "nmi": "61021234567",
    "channels": [{"identifier": "E1", "type": "general", "tariff": "A100"}],
    "network": "Jemena",
    "status": "active",
    "activeFrom": "2024-01-01",
    "intervalLength": 5,
}
SITE_ACTIVE_2 = {
    **SITE_ACTIVE,
    "id": "01H0000000000000000000SITE2",
    "nmi": "61029999999",
    "network": "Ausgrid",
}
SITE_CLOSED = {
    **SITE_ACTIVE,
    "id": "01H0000000000000000000CLOSD",
    "nmi": "61020000001",
    "status": "closed",
    "closedOn": "2025-06-30",
}
SITE_PENDING = {
    **SITE_ACTIVE,
    "id": "01H0000000000000000000PNDNG",
    "nmi": "61020000002",
    "status": "pending",
    "activeFrom": "2027-01-01",
}

ENERGY_SITE = {
    "energy_site_id": 1689999999999999,
    "resource_type": "battery",
    "site_name": "Home",
    "id": "STE20240101-00001",
    "gateway_id": "1152100-13-J--CN000000000000",
    "components": {"battery": True, "solar": True, "grid": True},
}
ENERGY_SITE_2 = {
    **ENERGY_SITE,
    "energy_site_id": 1688888888888888,
    "site_name": "Shack",
}
VEHICLE = {
    "id": 100021,
    "vehicle_id": 99999,
    "vin": "LRW00000000000000",
    "state": "online",
}


@dataclass
class Route:
    """What one endpoint returns: the accepted token, a status and a body."""

    token: str
    body: Any
    status: int = 200
    requests: int = 0


@dataclass
class VendorStandIn:
    """Amber `/v1/sites` and Tesla `/api/1/products` on 127.0.0.1, port 0."""

    amber: Route = field(default_factory=lambda: Route(AMBER_TOKEN, [SITE_ACTIVE]))
    teslemetry: Route = field(
        default_factory=lambda: Route(
            TESLEMETRY_TOKEN, {"response": [VEHICLE, ENERGY_SITE]}
        )
    )
    fleet: Route = field(
        default_factory=lambda: Route(FLEET_ACCESS_TOKEN, {"response": [ENERGY_SITE]})
    )
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start the server and note its URL."""
        app = web.Application()
        app.router.add_get("/amber/v1/sites", self._handler(lambda: self.amber))
        app.router.add_get(
            "/teslemetry/api/1/products", self._handler(lambda: self.teslemetry)
        )
        app.router.add_get("/fleet/api/1/products", self._handler(lambda: self.fleet))
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _handler(route_of: Any) -> Any:
        """Return a handler that checks the bearer token, then serves the route."""

        async def handle(request: web.Request) -> web.StreamResponse:
            route: Route = route_of()
            route.requests += 1
            if request.headers.get("Authorization") != f"Bearer {route.token}":
                return web.json_response({"message": "Unauthorized"}, status=401)
            if isinstance(route.body, str):
                return web.Response(text=route.body, status=route.status)
            return web.json_response(route.body, status=route.status)

        return handle


def closed_port_url() -> str:
    """Return a URL on 127.0.0.1 where nothing listens, so connecting fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
