"""Plain HTTP from another machine: a page that says why logging in cannot work.

Sessions ride on a `Secure` cookie, which browsers drop over plain `http://` except to a
loopback host (README, "Cookies over plain HTTP"). A request that arrives as plain HTTP for
a non-loopback host therefore cannot keep anyone logged in; rather than a silent logout, it
gets this page (status 403), saying what to do: serve Carnet behind HTTPS, and when a TLS
proxy is in front of it on another address, tell `carnet serve` to believe that proxy's
`X-Forwarded-Proto` (`--forwarded-allow-ips` / `CARNET_FORWARDED_ALLOW_IPS`, docs/deploy.md).

The scheme is uvicorn's, after its proxy-headers middleware: only a trusted proxy turns it
into `https`. Liveness, readiness and metrics stay answerable (monitoring often probes plain
HTTP), and `CARNET_COOKIE_SECURE=never` (tests) turns the page off.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = ("/health", "/ready", "/metrics")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PlainHttpGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "http" or \
                scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = scope["app"].state.settings
        if settings.cookie_secure == "never" or is_loopback(request.url.hostname or ""):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("", 0)
        if scope["path"].startswith("/api/"):
            response = JSONResponse({
                "code": "https_required", "message": "Carnet doit être ouvert en HTTPS : "
                "en HTTP simple, le navigateur ne garde pas la session (docs/deploy.md)."},
                status_code=403, headers={"cache-control": "no-store"})
            await response(scope, receive, send)
            return
        response = scope["app"].state.templates.TemplateResponse(
            request, "plain_http.html",
            {"identity": None, "roles": frozenset(), "unread": 0, "client": client[0],
             "trusted": settings.forwarded_allow_ips, "host": request.url.hostname},
            status_code=403, headers={"cache-control": "no-store"})
        await response(scope, receive, send)
