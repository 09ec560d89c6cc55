"""The installable app: the service worker at the root (scope `/`), the web app
manifest and the offline page.

The worker's cache version is derived from the static files' hashes and injected
when /sw.js is served, so any change to the shell makes the browser install a new
worker (and the page offers « Nouvelle version disponible »).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import resources
from backend.access import PUBLIC, allow
from backend.http import etag_matches
from backend.pages import render

NO_CACHE = {"Cache-Control": "no-cache"}
# What the worker serves (its release): the shell's static files, the worker, the
# manifest, and the templates of the offline page it stores at install.
SHELL_GLOBS = ("css/app.css", "js/*.js", "icons/*.png")
WORKER_FILES = ("sw.js", "manifest.webmanifest")
OFFLINE_TEMPLATES = ("base.html", "pwa/offline.html", "tutor/_status.html")


ON_FIRST_USE = frozenset({"js/candidate.js", "js/pickers.js"})


def shell_files() -> list[str]:
    """The shell's static files, relative to pwa/, sorted."""
    root = resources.PWA_DIR
    return sorted({str(p.relative_to(root)) for pattern in SHELL_GLOBS
                   for p in root.glob(pattern) if p.is_file()})


def static_url(path: str) -> str:
    return f"/static/{path}?v={resources.static_hash(path)}"


def _file_hash(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def worker_config() -> dict:
    """What /sw.js is told: its version and what it stores at install.

    JavaScript modules are cached under their plain URLs: their relative imports
    cannot carry a `?v=` hash, and taking them all from one versioned cache keeps
    the module graph of one release together."""
    files = shell_files()
    parts = [f"{f}:{resources.static_hash(f)}" for f in [*files, *WORKER_FILES]]
    parts += [f"{t}:{_file_hash(resources.TEMPLATES_DIR / t)}" for t in OFFLINE_TEMPLATES]
    version = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
    # Modules of other roles' pages (the candidate's photos, the admin's pickers) are not
    # the tutor's shell: the worker keeps them at first use (sw.js fromStatic).
    scripts = [f"/static/{f}" for f in files if f.startswith("js/") and f not in ON_FIRST_USE]
    precache = ["/offline", "/manifest.webmanifest", static_url("css/app.css"), *scripts]
    return {"version": version, "precache": precache}


@lru_cache(maxsize=1)
def worker_source() -> bytes:
    body = (resources.PWA_DIR / "sw.js").read_text(encoding="utf-8")
    header = f"const CARNET = {json.dumps(worker_config())};\n"
    return (header + body).encode()


@lru_cache(maxsize=1)
def worker_etag() -> str:
    """A strong ETag: the digest of the very bytes served."""
    return f'"{hashlib.sha256(worker_source()).hexdigest()[:32]}"'


@allow(PUBLIC)
async def service_worker(request: Request) -> Response:
    # Still no-cache: the browser asks on every navigation, and an unchanged
    # worker costs it a 304 instead of the whole script.
    headers = {**NO_CACHE, "ETag": worker_etag()}
    if etag_matches(request.headers.get("if-none-match"), worker_etag()):
        return Response(status_code=304, headers=headers)
    return Response(worker_source(), media_type="text/javascript; charset=utf-8",
                    headers=headers)


@lru_cache(maxsize=1)
def manifest_source() -> bytes:
    manifest = json.loads((resources.PWA_DIR / "manifest.webmanifest").read_text("utf-8"))
    for icon in manifest["icons"]:
        icon["src"] = static_url(icon["src"])
    return json.dumps(manifest, ensure_ascii=False).encode()


@allow(PUBLIC)
async def manifest(request: Request) -> Response:
    return Response(manifest_source(), media_type="application/manifest+json",
                    headers=NO_CACHE)


@allow(PUBLIC)
async def offline(request: Request) -> Response:
    # Cached once by the worker for everyone on the phone: no personal data.
    return await render(request, "pwa/offline.html", {"identity": None, "roles": frozenset()},
                        headers=NO_CACHE)


routes = [
    Route("/sw.js", service_worker, name="service_worker"),
    Route("/manifest.webmanifest", manifest, name="manifest"),
    Route("/offline", offline, name="offline"),
]
