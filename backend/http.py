"""Small HTTP helpers shared by the route modules: JSON bodies, answers, errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.domain.referentials import Referential
from backend.errors import BadRequest, NotFound, UnsupportedMediaType

MAX_JSON_BYTES = 1_000_000
# Integer primary keys are 32-bit columns on PostgreSQL: no row has a larger id, and a
# larger number makes the database driver fail (a 500) instead of finding nothing.
MAX_ROW_ID = 2**31 - 1


def row_id(text: str) -> int | None:
    """The id spelt by `text` (ASCII digits), or None if no row can have it. Never reads
    a long digit string as an int: Python refuses beyond 4300 digits (a ValueError)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_ROW_ID)) or int(digits) > MAX_ROW_ID:
        return None
    return int(digits)


class RowIdConvertor(IntegerConvertor):
    """`{id:int}` in a route names a row: a number no row can have becomes 0, an id no row
    has, so the route answers its own 404 rather than the driver failing on the number."""

    def convert(self, value: str) -> int:
        return row_id(value) or 0


# Every `{…:int}` of the app's routes: registered when this module is first imported, which
# `backend.routes` does before any route module builds its paths.
register_url_convertor("int", RowIdConvertor())


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
        value = json.loads(raw, parse_constant=_not_a_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("JSON mal formé.", code="malformed_json", details=str(exc)) from None
    except RecursionError:
        raise BadRequest("JSON trop profondément imbriqué.", code="malformed_json") from None
    if not isinstance(value, dict):
        raise BadRequest("Un objet JSON est attendu.", code="malformed_json")
    if not _storable_text(value):
        raise BadRequest("Le JSON contient un caractère invalide (NUL, ou moitié de paire de "
                         "substitution).", code="malformed_json")
    return value


def _not_a_number(name: str):
    """`NaN` and `Infinity` are JavaScript, not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not JSON")


def _storable_text(value: Any) -> bool:
    """No string (key or value) holds NUL or a lone UTF-16 surrogate: `json.loads` lets
    `"\\u0000"` and `"\\ud800"` through, but neither can be encoded in UTF-8 (surrogates)
    nor stored in PostgreSQL text (NUL). Iterative: the depth is the parser's only."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    return JSONResponse(data, status_code=status, headers=headers)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110, 13.1.2)."""
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/health"


def referential_of(request: Request, enrolment) -> Referential:
    """The referential version an enrolment is pinned to, as loaded at start."""
    ref = request.app.state.registry.find(enrolment.referential_code,
                                          enrolment.referential_version)
    if ref is None:
        raise NotFound("Le référentiel de ce parcours n'est pas chargé.",
                       code="referential_not_found")
    return ref
