"""Pure ASGI middleware: security headers on every answer, cross-site writes refused."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin",
          "x-frame-options": "DENY"}
HSTS = "max-age=63072000; includeSubDomains"
# The session cookies (backend.auth): a request bearing one, or an answer setting one, is
# about a person, so its HTML or JSON is never stored by a browser or a proxy.
SESSION_COOKIES = frozenset({"__Host-carnet", "carnet"})
PRIVATE_TYPES = ("text/html", "application/json")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        authenticated = has_session_cookie(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                content_type = headers.get("content-type", "")
                if content_type.startswith("text/html"):
                    headers.setdefault("content-security-policy", CSP)
                if scope.get("scheme") == "https":
                    headers.setdefault("strict-transport-security", HSTS)
                # Photos and static files keep their own caching (other types).
                if content_type.startswith(PRIVATE_TYPES) and (
                        authenticated or sets_session_cookie(headers)):
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def has_session_cookie(scope: Scope) -> bool:
    cookies = Headers(scope=scope).getlist("cookie")
    return any(part.split("=", 1)[0].strip() in SESSION_COOKIES
               for header in cookies for part in header.split(";"))


def sets_session_cookie(headers: MutableHeaders) -> bool:
    return any(value.split("=", 1)[0].strip() in SESSION_COOKIES
               for value in headers.getlist("set-cookie"))


def is_cross_site(scope: Scope) -> bool:
    """Browsers say where a request comes from (Sec-Fetch-Site, else Origin).
    Clients that send neither are not browsers and carry no ambient cookie risk."""
    headers = Headers(scope=scope)
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    host = headers.get("host", "")
    return origin == "null" or urlsplit(origin).netloc != host


class CrossSiteGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and is_cross_site(scope):
            body = json.dumps({"code": "cross_site_request",
                               "message": "Requête d'un autre site refusée.",
                               "details": None}).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
