"""Rendering pages: every template gets the current identity and its roles."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backend.auth import current_identity
from backend.domain.notices import unread_count


async def render(request: Request, name: str, context: dict[str, Any] | None = None,
                 status: int = 200, headers: dict[str, str] | None = None) -> Response:
    identity = await current_identity(request)
    roles = await identity.roles() if identity else frozenset()
    unread = await unread_count(identity.id) if identity else 0
    full = {"identity": identity, "roles": roles, "unread": unread, **(context or {})}
    return request.app.state.templates.TemplateResponse(request, name, full, status_code=status,
                                                        headers=headers)
