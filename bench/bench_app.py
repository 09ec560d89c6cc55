"""The real app plus two comparison routes, for bench/http_overhead.py only.

`create_app(settings)` exactly as `carnet serve` builds it (same middleware, same
error handlers, same lifespan), with two extra routes appended to its router:

- `/bench/one-query`: one primary-key ORM query (`Enrolment.get(id=...)`) → JSON;
- `/bench/bare`: a constant JSON body.

Both go through the same middleware stack as every product route. They carry
no session check: they are the floor a product endpoint is compared with.

Environment (besides the CARNET_* settings):
- CARNET_BENCH_ENROLMENT: the id the one-query route reads (default 1);
- CARNET_BENCH_TIMING=<file>: per-request server-side time, written to <file>;
- CARNET_BENCH_NO_BODY_CACHE=1: progress bodies are recomputed on every request
  (the shipped app keeps an LRU of bodies by ETag; wrk repeating one URL would
  otherwise measure cache hits only).

    uvicorn bench.bench_app:app --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import os
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.access import PUBLIC, allow
from backend.app import create_app
from backend.models import Enrolment
from backend.settings import from_env

ENROLMENT_ID = int(os.environ.get("CARNET_BENCH_ENROLMENT", "1"))
BARE = {"ok": True, "service": "carnet", "bench": "bare"}


@allow(PUBLIC)
async def one_query(request: Request) -> JSONResponse:
    e = await Enrolment.get(id=ENROLMENT_ID)
    return JSONResponse({"id": e.id, "revision": e.revision,
                         "referential": f"{e.referential_code}/{e.referential_version}",
                         "started_on": e.started_on.isoformat()})


@allow(PUBLIC)
async def bare(request: Request) -> JSONResponse:
    return JSONResponse(BARE)


def build_with(settings, no_body_cache: bool = False):
    application = create_app(settings)
    names = {getattr(r, "name", None) for r in application.router.routes}
    if "api_progress" not in names:
        # The progress routes were written but not yet wired into backend.routes.ROUTES
        # when this bench was written; mount them so the endpoint can be measured.
        from backend.routes import progress

        application.router.routes.extend(progress.routes)
        application.state.bench_note = "progress routes mounted by bench_app (not in ROUTES)"
    application.router.routes.extend([Route("/bench/one-query", one_query),
                                      Route("/bench/bare", bare)])
    if no_body_cache:
        try:
            from backend.routes.progress import BodyCache
        except ImportError:
            pass
        else:
            application.state.progress_bodies = BodyCache(0)  # every get() misses
    return application


class ServerTiming:
    """Outermost ASGI wrapper (outside the app's own middleware): appends
    "<path> <status> <microseconds>" per HTTP request to a file, from the first byte
    the app sees to the last it sends. Only with CARNET_BENCH_TIMING=<file>."""

    def __init__(self, app, path: str):
        self.app, self.out = app, open(path, "a", buffering=1 << 16)
        self.router = app.router  # uvicorn's lifespan goes through __call__ anyway

    def __getattr__(self, name):
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                try:
                    await self.app(scope, receive, send)
                finally:
                    self.out.flush()
                return
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [0]

        async def timed_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                elapsed = int((time.perf_counter() - started) * 1e6)
                self.out.write(f"{scope['path']} {status[0]} {elapsed}\n")

        await self.app(scope, receive, timed_send)


def build():
    application = build_with(from_env(), os.environ.get("CARNET_BENCH_NO_BODY_CACHE") == "1")
    timing = os.environ.get("CARNET_BENCH_TIMING")
    return ServerTiming(application, timing) if timing else application


def __getattr__(name: str):
    """`bench.bench_app:app` is built on first access (uvicorn's import), not on import."""
    if name == "app":
        globals()["app"] = built = build()
        return built
    raise AttributeError(name)
