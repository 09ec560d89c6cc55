"""Small HTTP helpers shared by the route modules: JSON bodies, answers, errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.errors import BadRequest, UnsupportedMediaType

MAX_JSON_BYTES = 1_000_000


async def json_body(request: Request) -> dict[str, Any]:
    """Parse a JSON object body. `text/plain` is refused: it is the content type
    a cross-site form can send without a CORS preflight (SECURITY.md)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMediaType("Le corps doit être du JSON (application/json).",
                                   code="json_required")
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise BadRequest("Corps JSON trop volumineux.", code="body_too_large")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("JSON mal formé.", code="malformed_json", details=str(exc)) from None
    if not isinstance(value, dict):
        raise BadRequest("Un objet JSON est attendu.", code="malformed_json")
    return value


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    return JSONResponse(data, status_code=status, headers=headers)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/health"
