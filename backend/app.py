"""`create_app(settings)`: routes, middleware, error handlers and one lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route
from starlette.templating import Jinja2Templates
from tortoise.contrib.starlette import RegisterTortoise

from backend import access, audit, documents, mailer, resources
from backend.auth import utcnow
from backend.db import tortoise_config
from backend.domain import notices
from backend.domain.referentials import Registry
from backend.errors import CarnetError, MethodNotAllowed, NotFound
from backend.http import json_response, wants_json
from backend.i18n import translations
from backend.metrics import MetricsMiddleware
from backend.middleware import CrossSiteGuard, SecurityHeaders
from backend.pages import render
from backend.proxy import PlainHttpGuard
from backend.routes import ROUTES
from backend.settings import Settings
from backend.storage import open_store

log = logging.getLogger("carnet")


def load_registry(settings: Settings) -> Registry:
    return Registry.load([resources.ASSESSMENTS_DIR, *settings.assessments_dirs])


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(resources.TEMPLATES_DIR),
                      autoescape=select_autoescape(), extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(), newstyle=True)
    env.globals["static_url"] = lambda path: f"/static/{path}?v={resources.static_hash(path)}"
    env.filters["logo_uri"] = documents.logo_uri  # a branch's logo on its PDFs
    return Jinja2Templates(env=env)


def check_access_rules(routes: list[BaseRoute]) -> None:
    """Deny by default: an app with a route lacking an access rule does not start."""
    for route in routes:
        if isinstance(route, Mount):
            continue
        if isinstance(route, Route) and access.access_rule(route.endpoint) is None:
            raise RuntimeError(f"route {route.path} has no access rule")


def create_app(settings: Settings, *, manage_orm: bool = True) -> Starlette:
    """`manage_orm=False` lets a test fixture own the database connection."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.photo_store = open_store(settings)
        documents.load()  # before any request: WeasyPrint flips a Pillow flag at import
        if not manage_orm:
            yield
            return
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            await audit.ensure_head()
            sender = None
            if settings.smtp_url:
                sender = asyncio.create_task(mailer.run_forever(
                    settings, lambda: app.state.clock(), settings.mail_interval_seconds))
            # What is loaded by now (ORM, referentials, templates, WeasyPrint) lives as long
            # as the process: frozen, full collections stop walking it. They took 60-90 ms
            # in the middle of requests, the tail of bench/scale_pg.py.
            gc.collect()
            gc.freeze()
            yield
            if sender is not None:
                sender.cancel()

    routes = ROUTES
    check_access_rules(routes)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # gzip: the app shell must stay small on a phone (images are left alone).
        middleware=[Middleware(MetricsMiddleware),
                    Middleware(GZipMiddleware, minimum_size=1000), Middleware(SecurityHeaders),
                    Middleware(CrossSiteGuard), Middleware(PlainHttpGuard)],
        exception_handlers={CarnetError: handle_error, HTTPException: handle_http_exception,
                            Exception: handle_unexpected},
    )
    app.state.settings = settings
    notices.configure(settings.public_url)
    audit.use_key(settings.secret_key)  # the chain is keyed with this server's secret
    app.state.registry = load_registry(settings)
    app.state.templates = make_templates()
    app.state.clock = utcnow
    return app


async def handle_error(request: Request, exc: CarnetError):
    headers = {}
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)
    if wants_json(request):
        return json_response(exc.as_dict(), exc.status, headers)
    try:
        return await render(request, "error.html", {"error": exc}, exc.status, headers)
    except Exception:  # the page must not fail because the session lookup did
        return request.app.state.templates.TemplateResponse(
            request, "error.html", {"error": exc}, status_code=exc.status, headers=headers)


async def handle_http_exception(request: Request, exc: HTTPException):
    mapped = {404: NotFound, 405: MethodNotAllowed}.get(exc.status_code)
    error = mapped() if mapped else CarnetError(str(exc.detail))
    if not mapped:
        error.status = exc.status_code
    return await handle_error(request, error)


async def handle_unexpected(request: Request, exc: Exception):
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    error = CarnetError("Erreur interne du serveur.", code="internal_error")
    error.status = 500
    return await handle_error(request, error)
