"""Health, static files and the home page."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from tortoise import connections

from backend import resources
from backend.access import PUBLIC, allow
from backend.auth import current_identity
from backend.errors import ServiceUnavailable
from backend.http import json_response
from backend.metrics import metrics_endpoint
from backend.models import Organisation
from backend.pages import render

FOREVER = "public, max-age=31536000, immutable"


class HashedStaticFiles(StaticFiles):
    """A URL carrying the file's current hash (`?v=`) is cached forever; any
    other is revalidated, so a deploy never serves stale code under a new URL."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        version = Request(scope).query_params.get("v")
        relative = scope["path"].removeprefix(scope.get("root_path", "")).lstrip("/")
        try:
            current = resources.static_hash(relative.removeprefix("static/"))
        except FileNotFoundError:
            current = None
        immutable = version is not None and version == current
        response.headers["cache-control"] = FOREVER if immutable else "no-cache"
        return response


@allow(PUBLIC)
async def health(request: Request) -> Response:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any driver error means the database is not usable
        raise ServiceUnavailable("Base de données indisponible.", code="database_unavailable",
                                 details=type(exc).__name__) from None
    return json_response({"status": "ok", "database": "ok"})


@allow(PUBLIC)
async def ready(request: Request) -> Response:
    """Readiness: the database answers and the photo store is reachable (503 naming which
    is not). /health stays the liveness check (the process and its database)."""
    problems = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any driver error means the database is not usable
        problems["database"] = type(exc).__name__
    try:
        await run_in_threadpool(request.app.state.photo_store.check)
    except Exception as exc:  # the store's client raises its own kinds
        problems["photo_store"] = type(exc).__name__
    if problems:  # JSON always: probes read it
        return json_response({"status": "not_ready", "code": "not_ready", "details": problems},
                             503, headers={"Cache-Control": "no-store", "Retry-After": "5"})
    return json_response({"status": "ready", "database": "ok", "photo_store": "ok"},
                         headers={"Cache-Control": "no-store"})


metrics_page = allow(PUBLIC)(metrics_endpoint)  # 404 unless CARNET_METRICS=on


# Where each role starts, in order of precedence for a person holding several.
ROLE_HOMES = (("tutor", "/tutor"), ("candidate", "/candidate"), ("jury", "/jury"),
              ("admin", "/admin"))


@allow(PUBLIC)
async def home(request: Request) -> Response:
    identity = await current_identity(request)
    if identity is not None:
        roles = await identity.roles()
        # After accepting an invitation: one's home shows a first-time hint.
        welcome = "?welcome=1" if request.query_params.get("welcome") or \
            request.query_params.get("invitation") else ""
        for role, path in ROLE_HOMES:
            if role in roles:
                return RedirectResponse(path + welcome, status_code=303)
    if not await Organisation.filter(kind="branch").exists():  # before `carnet init`
        return await render(request, "setup.html")
    return await render(request, "home.html")


routes = [
    Route("/health", health, name="health"),
    Route("/ready", ready, name="ready"),
    Route("/metrics", metrics_page, name="metrics"),
    Route("/", home, name="home"),
    Mount("/static", HashedStaticFiles(directory=resources.PWA_DIR), name="static"),
]
