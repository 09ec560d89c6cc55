"""Small HTTP helpers shared by the route modules: bounded bodies (JSON and forms),
integers from the client, answers, errors.

Every body is read through `read_body`, `json_body` or `read_form`, and every integer a
client sends (path, query, form, JSON) through `bounded_int` / `row_id`: the bounds live
here, once, rather than in each handler."""

from __future__ import annotations

import json
from typing import Any

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message

from backend.domain.referentials import Referential
from backend.errors import (
    BadRequest,
    BodyTooLarge,
    ClientDisconnected,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

MAX_JSON_BYTES = 1_000_000
# A page's form without files: the longest texts are 5,000 characters (comments, reasons),
# up to 9 bytes each once URL-encoded, a few per form. Far above, still a bound.
MAX_FORM_BYTES = 256_000
MAX_FORM_FIELDS = 200
MAX_FIELD_BYTES = 64_000
FORM_KEY = "carnet.form"  # where `read_form` keeps the parsed form in the request's scope
# Integer primary keys are 32-bit columns on PostgreSQL: no row has a larger id, and a
# larger number makes the database driver fail (a 500) instead of finding nothing.
MAX_ROW_ID = 2**31 - 1


def bounded_int(value: Any, *, low: int = 0, high: int = MAX_ROW_ID) -> int | None:
    """The integer a client sent (a JSON number, or ASCII digits from a path, query or
    form, spaces around allowed), or None if it is none or lies outside [low, high].
    Never reads a long digit string as an int: Python refuses beyond 4300 digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if low <= value <= high else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None
    number = int(digits)
    return number if low <= number <= high else None


def row_id(value: Any) -> int | None:
    """The row id a client sent, or None if no row can have it (0 is allowed: no row has
    it, so lookups simply find nothing)."""
    return bounded_int(value, low=0, high=MAX_ROW_ID)


class RowIdConvertor(IntegerConvertor):
    """`{id:int}` in a route names a row: a number no row can have becomes 0, an id no row
    has, so the route answers its own 404 rather than the driver failing on the number."""

    def convert(self, value: str) -> int:
        return row_id(value) or 0


# Every `{…:int}` of the app's routes: registered when this module is first imported, which
# `backend.routes` does before any route module builds its paths.
register_url_convertor("int", RowIdConvertor())


def bounded(request: Request, limit: int,
            too_large: type[PayloadTooLarge] = BodyTooLarge) -> Request:
    """The same request, its body refused (413) from its Content-Length or as soon as the
    stream passes `limit`, whoever reads it (our reads, the form parser): nothing is read
    whole, nor spooled to disk, before the bound is checked. A client dropping mid-body
    (a phone losing its network; it will retry) is a 400 and one access-log line, not a
    traceback."""
    declared = request.headers.get("content-length")
    if declared is not None and bounded_int(declared, high=limit) is None:
        raise too_large(details={"limit": limit})
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large(details={"limit": limit})
        return message

    return Request(request.scope, receive)


async def read_body(request: Request, limit: int,
                    too_large: type[PayloadTooLarge] = BodyTooLarge) -> bytes:
    """The whole body, at most `limit` bytes (413 beyond, before reading on)."""
    chunks = [chunk async for chunk in bounded(request, limit, too_large).stream()]
    return b"".join(chunks)


async def read_form(request: Request, *, max_files: int = 0, max_bytes: int = MAX_FORM_BYTES,
                    max_fields: int = MAX_FORM_FIELDS,
                    max_part_size: int = MAX_FIELD_BYTES) -> FormData:
    """The form, parsed from a bounded stream with limits on fields, files and each
    field's size. Pages that take no file take none (the default). A form with files
    must be closed by the caller (`await form.close()`). Kept on the request: a handler
    may ask twice, and the stream can be read only once."""
    if FORM_KEY in request.scope:
        return request.scope[FORM_KEY]
    try:
        form = await bounded(request, max_bytes).form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)
    except HTTPException as exc:
        # Starlette answers its parser's faults with a bare 400: its limits get our code.
        if exc.status_code == 400 and _is_limit(str(exc.detail)):
            raise BodyTooLarge(details={"limit": str(exc.detail)}) from None
        raise
    request.scope[FORM_KEY] = form
    return form


def _is_limit(detail: str) -> bool:
    return detail.startswith("Too many") or "exceeded maximum size" in detail


async def json_body(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """Parse a JSON object body, at most `limit` bytes (413 beyond, while streaming).
    `text/plain` is refused: it is the content type a cross-site form can send without
    a CORS preflight (docs/security.md)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMediaType("Le corps doit être du JSON (application/json).",
                                   code="json_required")
    raw = await read_body(request, limit)
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
