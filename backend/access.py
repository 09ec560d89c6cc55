"""Who may call each route: declared on the endpoint, checked before it runs.

Deny by default: `backend.app` refuses to build an app with a route that has no
rule, and a test enumerates every route. Object-level checks (which enrolment,
which dossier) are in the domain use cases, through `backend.permissions`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from backend.errors import Forbidden, NotAuthenticated

PUBLIC = "public"
AUTHENTICATED = "authenticated"
ROLES = ("admin", "tutor", "candidate", "jury")

Endpoint = Callable[[Request], Awaitable[Response]]


def allow(*who: str) -> Callable[[Endpoint], Endpoint]:
    """`@allow(PUBLIC)`, `@allow(AUTHENTICATED)` or `@allow("admin", "tutor")`."""
    unknown = set(who) - {PUBLIC, AUTHENTICATED, *ROLES}
    if not who or unknown:
        raise ValueError(f"bad access rule {who!r}")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            if PUBLIC not in who:
                await require(request, who)
            return await endpoint(request)

        guarded.access = frozenset(who)  # type: ignore[attr-defined]
        return guarded

    return decorate


async def require(request: Request, who: tuple[str, ...]) -> None:
    from backend.auth import current_identity

    identity = await current_identity(request)
    if identity is None:
        raise NotAuthenticated()
    if AUTHENTICATED in who:
        return
    roles = await identity.roles()
    if not roles.intersection(who):
        raise Forbidden()


def access_rule(endpoint: object) -> frozenset[str] | None:
    return getattr(endpoint, "access", None)
