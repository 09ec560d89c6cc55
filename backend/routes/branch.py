"""The branch's own work on its certificates: the imported national register (search a
certification, draft a referential from it). Admin only; the register is public data
shared by every branch."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import allow
from backend.domain import admin, certifications
from backend.domain.register import fiche_url
from backend.pages import render


@allow("admin")
async def register_search(request: Request) -> Response:
    q = admin.search_text(request.query_params.get("q"))
    active_only = request.query_params.get("active") == "1"
    found = await certifications.search(q, active_only=active_only) if q else []
    return await render(request, "branch/register.html", {
        "q": q, "active_only": active_only, "found": found,
        "total": await certifications.count(), "limit": certifications.SEARCH_LIMIT})


@allow("admin")
async def register_certification(request: Request) -> Response:
    found = await certifications.certification(request.path_params["number"])
    return await render(request, "branch/certification.html", {
        "c": found, "blocks": await certifications.blocks_of(found),
        "url": fiche_url(found.number)})


@allow("admin")
async def register_draft(request: Request) -> Response:
    draft = await certifications.draft(request.path_params["number"], date.today())
    name = f"{draft.code}-{draft.version}.yaml"
    return Response(draft.text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


routes = [
    Route("/admin/register", register_search, name="branch_register"),
    Route("/admin/register/{number}", register_certification, name="branch_certification"),
    Route("/admin/register/{number}/draft.yaml", register_draft, name="branch_register_draft"),
]
