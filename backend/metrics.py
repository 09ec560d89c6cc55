"""Prometheus metrics, off unless CARNET_METRICS=on: requests by route and status, their
latency, uploads by outcome, sync conflicts, and the PDF renders waiting and running.

Route labels are the route's name (never the raw path: ids would make unbounded series).
With several workers, `carnet serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder of
the data directory, and /metrics sums every process (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_ROUTES = {"api_put_photo": "photo", "api_put_observation": "observation"}
_metrics = None


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("carnet_requests_total", "HTTP requests answered",
                                ["route", "method", "status"])
        self.latency = Histogram("carnet_request_seconds", "Time to answer a request",
                                 ["route"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5,
                                                     5, 10, 30))
        self.uploads = Counter("carnet_uploads_total", "Photos and observations received",
                               ["kind", "outcome"])
        self.conflicts = Counter("carnet_sync_conflicts_total",
                                 "Uploads refused as conflicting with what is stored", ["kind"])
        self.pdf_waiting = Gauge("carnet_pdf_renders_waiting", "PDF renders waiting for a slot",
                                 multiprocess_mode="livesum")
        self.pdf_running = Gauge("carnet_pdf_renders_running", "PDF renders in progress",
                                 multiprocess_mode="livesum")


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def enabled(scope_or_request) -> bool:
    app = scope_or_request["app"] if isinstance(scope_or_request, dict) else \
        scope_or_request.app
    return bool(getattr(app.state.settings, "metrics", False))


def outcome(status: int) -> str:
    return {201: "created", 200: "replayed", 409: "conflict"}.get(status, "refused")


class MetricsMiddleware:
    """Counts and times every HTTP request once routed (pure ASGI; nothing when off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not enabled(scope):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "name", None) or ("static" if scope["path"].startswith(
                "/static/") else "unmatched")
            m = metrics()
            m.requests.labels(name, scope["method"], str(status[0])).inc()
            m.latency.labels(name).observe(time.perf_counter() - started)
            if name in UPLOAD_ROUTES and scope["method"] == "PUT":
                m.uploads.labels(UPLOAD_ROUTES[name], outcome(status[0])).inc()
                if status[0] == 409:
                    m.conflicts.labels(UPLOAD_ROUTES[name]).inc()


@contextlib.contextmanager
def pdf_waiting(request: Request) -> Iterator[None]:
    if not enabled(request):
        yield
        return
    metrics().pdf_waiting.inc()
    try:
        yield
    finally:
        metrics().pdf_waiting.dec()


@contextlib.contextmanager
def pdf_running(request: Request) -> Iterator[None]:
    if not enabled(request):
        yield
        return
    metrics().pdf_running.inc()
    try:
        yield
    finally:
        metrics().pdf_running.dec()


def exposition() -> tuple[bytes, str]:
    """The text exposition of this process, or of every worker in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def metrics_endpoint(request: Request) -> Response:
    from backend.errors import NotFound

    if not enabled(request):
        raise NotFound()
    body, content_type = exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
