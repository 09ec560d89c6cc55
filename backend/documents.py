"""PDF documents (dossier, minutes, certificate): Jinja2 templates rendered by WeasyPrint.

Rendering is CPU-bound (about a second a page set) and runs in a worker thread, at most
`CARNET_PDF_CONCURRENCY` at a time: the slot is taken on the event loop *before* a thread
is used, so a burst of downloads waits without holding the threads that photo ingest,
password hashing and file serving share. The only
resources a document may load are photo thumbnails from the photo store, named
`carnet-photo:<sha256>`, and the branch's logo as a PNG or JPEG `data:` URL (checked when the
admin uploaded it); the print stylesheet is read from its file. Any other URL is refused,
so a document never reaches the network or the file system, whatever its text contains.

WeasyPrint is imported by `load()` at start-up, not with this module: on a machine that
lacks its system libraries (Pango), the server still starts and the PDF routes answer
503 naming what is missing.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from jinja2 import Environment
from PIL import ImageFile
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from backend import metrics, resources
from backend.errors import ServiceUnavailable
from backend.storage import PhotoStore, check_sha

log = logging.getLogger("carnet")
PRINT_CSS = resources.PWA_DIR / "css" / "print.css"
PHOTO_SCHEME = "carnet-photo:"
_weasyprint: Any = None  # the module, once `load()` succeeded
_missing = "WeasyPrint n'est pas chargé."


def load() -> str | None:
    """Import WeasyPrint once; None, or why PDFs cannot be made on this machine."""
    global _weasyprint, _missing
    if _weasyprint is not None:
        return None
    try:
        import weasyprint
        import weasyprint.urls
    except (ImportError, OSError) as exc:  # OSError: a system library (Pango) is missing
        _missing = str(exc).splitlines()[0][:300]
        log.warning("PDF documents unavailable: %s", _missing)
        return _missing
    # WeasyPrint sets this process-wide flag at import; left on, Pillow would accept a
    # truncated upload as a grey-filled photo (backend.storage refuses to run then).
    # Our stored images are complete, so WeasyPrint does not need it.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    _weasyprint = weasyprint
    return None


LOGO_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")


def logo_uri(branch) -> str:
    """The branch's logo as a data: URL for its PDFs (the only data: URL they load)."""
    if not getattr(branch, "logo", None) or branch.logo_type not in ("image/png", "image/jpeg"):
        return ""
    return f"data:{branch.logo_type};base64,{base64.b64encode(branch.logo).decode()}"


def photo_url(sha: str) -> str:
    return f"{PHOTO_SCHEME}{check_sha(sha)}"


def store_fetcher(store: PhotoStore):
    """A URL fetcher that serves `carnet-photo:<sha>` from the photo store and refuses
    everything else. (URL fetchers are classes since WeasyPrint 68, hence the
    dependency's lower bound; the class is built once WeasyPrint is loaded.)"""
    urls = _weasyprint.urls

    class StoreFetcher(urls.URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=(), fail_on_errors=False)

        def fetch(self, url: str, headers: dict[str, str] | None = None):
            if url.startswith(LOGO_PREFIXES):  # the branch's logo, checked when uploaded
                kind, _, data = url.removeprefix("data:").partition(";base64,")
                return urls.URLFetcherResponse(url, base64.b64decode(data), {"Content-Type": kind})
            if not url.startswith(PHOTO_SCHEME):
                raise ValueError(f"documents load photos from the store only, not {url[:80]!r}")
            data = store.open(check_sha(url.removeprefix(PHOTO_SCHEME)))
            return urls.URLFetcherResponse(url, data, {"Content-Type": "image/jpeg"})

    return StoreFetcher()


def render_pdf(env: Environment, template: str, context: dict[str, Any],
               store: PhotoStore) -> bytes:
    """Blocking: call it in a worker thread (`pdf` does), after `load()`."""
    html = env.get_template(template).render({"photo_url": photo_url, **context})
    fetcher = store_fetcher(store)
    document = _weasyprint.HTML(string=html, base_url=PHOTO_SCHEME, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[_weasyprint.CSS(filename=str(PRINT_CSS),
                                                           url_fetcher=fetcher)])


def _slots(request: Request) -> asyncio.Semaphore:
    state = request.app.state
    if getattr(state, "pdf_slots", None) is None:
        state.pdf_slots = asyncio.Semaphore(state.settings.pdf_concurrency)
    return state.pdf_slots


async def pdf(request: Request, template: str, context: dict[str, Any]) -> bytes:
    if load() is not None:
        raise ServiceUnavailable(
            f"Les documents PDF ne peuvent pas être produits sur ce serveur : {_missing}",
            code="pdf_unavailable")
    with metrics.pdf_waiting(request):
        await _slots(request).acquire()
    try:
        with metrics.pdf_running(request):
            return await run_in_threadpool(render_pdf, request.app.state.templates.env,
                                           template, context, request.app.state.photo_store)
    finally:
        _slots(request).release()


def pdf_response(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
