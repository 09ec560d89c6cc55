"""The branch's own work on its certificates: the imported national register (search a
certification, draft a referential from it; public data shared by every branch), and the
catalogue's side (status of each version, figures published, messages received). Admin
only; a CQP another branch manages answers 404."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.access import allow
from backend.auth import current_identity, now
from backend.domain import admin, certifications, cqps
from backend.domain.register import fiche_url
from backend.errors import CarnetError
from backend.http import read_form
from backend.models import CERTIFICATE_STATUSES, Certificate
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


# --- the catalogue's side: statuses, published figures, messages received -------------------


@allow("admin")
async def catalogue_admin(request: Request) -> Response:
    scope = await admin.scope_of((await current_identity(request)).person)
    registry = request.app.state.registry
    states = await cqps.version_states(registry)
    claimed = {c.code: c for c in await Certificate.all()}
    rows = []
    for code in sorted({ref.code for ref in registry.all()}):
        owner = claimed.get(code)
        if owner is not None and owner.branch_id is not None and \
                owner.branch_id not in scope.branch_ids:
            continue  # another branch manages it
        rows.append({"code": code, "certificate": owner,
                     "versions": [states[r.key] for r in registry.versions(code)]})
    return await render(request, "branch/catalogue.html", {
        "rows": rows, "contacts": await cqps.contacts(scope), "statuses": CERTIFICATE_STATUSES,
    })


@allow("admin")
async def catalogue_figures(request: Request) -> Response:
    scope = await admin.scope_of((await current_identity(request)).person)
    form = await read_form(request)
    await cqps.set_publish_figures(scope, request.app.state.registry,
                                   request.path_params["code"], form.get("publish") == "yes")
    return RedirectResponse("/admin/catalogue", status_code=303)


@allow("admin")
async def catalogue_status(request: Request) -> Response:
    scope = await admin.scope_of((await current_identity(request)).person)
    form = await read_form(request)
    try:
        await cqps.set_status(scope, request.app.state.registry, request.path_params["code"],
                              request.path_params["version"], str(form.get("status", "")),
                              now(request).date(), may_open=opening_rule)
    except CarnetError as exc:
        if exc.status == 404:
            raise
        return await render(request, "branch/refused.html", {"error": exc.message}, exc.status)
    return RedirectResponse("/admin/catalogue", status_code=303)


async def opening_rule(certificate) -> None:
    """Before a version opens to candidates (the opportunity report's rule joins here)."""


routes += [
    Route("/admin/catalogue", catalogue_admin, name="branch_catalogue"),
    Route("/admin/catalogue/{code}/figures", catalogue_figures, methods=["POST"],
          name="branch_catalogue_figures"),
    Route("/admin/catalogue/{code}/{version}/status", catalogue_status, methods=["POST"],
          name="branch_catalogue_status"),
]
