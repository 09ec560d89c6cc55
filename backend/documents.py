"""PDF documents (dossier, minutes, certificate): Jinja2 templates rendered by WeasyPrint.

Rendering is CPU-bound (about a second a page set) and runs in a worker thread. The only
resources a document may load are photo thumbnails from the photo store, named
`carnet-photo:<sha256>`; the print stylesheet is read from its file. Any other URL is refused,
so a document never reaches the network or the file system, whatever its text contains.
"""

from __future__ import annotations

import threading
from typing import Any

from jinja2 import Environment
from PIL import ImageFile
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from backend import resources
from backend.storage import PhotoStore, check_sha

# WeasyPrint sets this process-wide flag at import; left on, Pillow would accept a
# truncated upload as a grey-filled photo (backend.storage refuses to run then).
# Our stored images are complete, so WeasyPrint does not need it.
ImageFile.LOAD_TRUNCATED_IMAGES = False

PRINT_CSS = resources.PWA_DIR / "css" / "print.css"
PHOTO_SCHEME = "carnet-photo:"
# A render holds tens of MB for about a second: two at a time keeps a burst of downloads
# from starving the server's threads and memory.
_RENDERING = threading.BoundedSemaphore(2)


def photo_url(sha: str) -> str:
    return f"{PHOTO_SCHEME}{check_sha(sha)}"


class StoreFetcher(URLFetcher):
    """Serves `carnet-photo:<sha>` from the photo store and refuses everything else.
    (URL fetchers are classes since WeasyPrint 68, hence the dependency's lower bound.)"""

    def __init__(self, store: PhotoStore):
        super().__init__(allowed_protocols=(), fail_on_errors=False)
        self.store = store

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if not url.startswith(PHOTO_SCHEME):
            raise ValueError(f"documents load photos from the store only, not {url[:80]!r}")
        data = self.store.open(check_sha(url.removeprefix(PHOTO_SCHEME)))
        return URLFetcherResponse(url, data, {"Content-Type": "image/jpeg"})


def render_pdf(env: Environment, template: str, context: dict[str, Any],
               store: PhotoStore) -> bytes:
    """Blocking: call it in a worker thread (`pdf` does)."""
    html = env.get_template(template).render({"photo_url": photo_url, **context})
    fetcher = StoreFetcher(store)
    with _RENDERING:
        document = HTML(string=html, base_url=PHOTO_SCHEME, url_fetcher=fetcher)
        return document.write_pdf(stylesheets=[CSS(filename=str(PRINT_CSS),
                                                    url_fetcher=fetcher)])


async def pdf(request: Request, template: str, context: dict[str, Any]) -> bytes:
    return await run_in_threadpool(render_pdf, request.app.state.templates.env, template,
                                   context, request.app.state.photo_store)


def pdf_response(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
