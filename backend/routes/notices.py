"""Notices: what happened for the logged-in person, and how they want it mailed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, allow
from backend.auth import current_identity, now
from backend.domain import messages, notices
from backend.errors import CarnetError
from backend.http import read_form
from backend.models import Notice
from backend.pages import render

PAGE_SIZE = 50


@allow(AUTHENTICATED)
async def notices_page(request: Request) -> Response:
    identity = await current_identity(request)
    if request.method == "POST":
        form = await read_form(request)
        try:
            if "mode" in form:
                await notices.set_preference(identity.id, str(form.get("mode", "")))
            else:
                await notices.mark_all_read(identity.id, now(request))
        except CarnetError as exc:
            return await _page(request, identity, exc.message, exc.status)
        return RedirectResponse("/notices", status_code=303)
    return await _page(request, identity)


async def _page(request: Request, identity, error: str = "", status: int = 200) -> Response:
    rows = await Notice.filter(person_id=identity.id).order_by("-id").limit(PAGE_SIZE)
    items = [{"line": messages.text(n.event, n.params).line, "link": n.link,
              "at": n.created_at, "unread": n.read_at is None} for n in rows]
    return await render(request, "notices.html", {
        "items": items, "mode": await notices.preference(identity.id), "error": error,
        "modes": messages.MODES}, status)


routes = [Route("/notices", notices_page, methods=["GET", "POST"], name="notices")]
