"""The OpenAPI document of the JSON API (public: it describes, it reveals no data)."""

from __future__ import annotations

import functools
import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import openapi
from backend.access import PUBLIC, allow
from backend.http import etag_matches


@functools.cache
def encoded() -> tuple[bytes, str]:
    """The document's bytes and their ETag, computed once per process."""
    body = json.dumps(openapi.DOCUMENT, ensure_ascii=False, separators=(",", ":")).encode()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


@allow(PUBLIC)
async def openapi_document(request: Request) -> Response:
    body, etag = encoded()
    # Revalidated on each use: a deploy that changes the API changes the ETag.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


routes = [
    Route("/api/v1/openapi.json", openapi_document, name="api_openapi"),
]
