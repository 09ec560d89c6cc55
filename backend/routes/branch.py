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
from backend.domain import admin, certifications, cqps, projects
from backend.domain.register import fiche_url
from backend.errors import CarnetError, ValidationFailed
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
    """Before a version opens to candidates: a CQP born as a project needs its opportunity
    report approved by the CPNE."""
    await projects.may_open(certificate)


routes += [
    Route("/admin/catalogue", catalogue_admin, name="branch_catalogue"),
    Route("/admin/catalogue/{code}/figures", catalogue_figures, methods=["POST"],
          name="branch_catalogue_figures"),
    Route("/admin/catalogue/{code}/{version}/status", catalogue_status, methods=["POST"],
          name="branch_catalogue_status"),
]


# --- CQP projects and their opportunity reports --------------------------------------------


async def scope_of(request: Request):
    return await admin.scope_of((await current_identity(request)).person)


async def project_page(request: Request, report, *, error: str | None = None,
                       missing: list[str] | None = None, status: int = 200) -> Response:
    q = admin.search_text(request.query_params.get("q"))
    found = await certifications.search(q, limit=20) if q else []
    states = await cqps.version_states(request.app.state.registry)
    versions = [s for key, s in states.items() if key[0] == report.certificate.code]
    return await render(request, "branch/project.html", {
        "report": report, "q": q, "found": found, "error": error, "missing": missing or [],
        "versions": versions}, status)


@allow("admin")
async def projects_list(request: Request) -> Response:
    scope = await scope_of(request)
    return await render(request, "branch/projects.html", {
        "reports": await projects.of_scope(scope), "scope": scope, "form": {}})


@allow("admin")
async def project_new(request: Request) -> Response:
    scope = await scope_of(request)
    form = await read_form(request)
    try:
        report = await projects.create(scope, str(form.get("code", "")),
                                       str(form.get("title", "")), form.get("branch"))
    except CarnetError as exc:
        return await render(request, "branch/projects.html", {
            "reports": await projects.of_scope(scope), "scope": scope, "form": form,
            "error": exc.message}, exc.status)
    return RedirectResponse(f"/admin/projects/{report.id}", status_code=303)


@allow("admin")
async def project(request: Request) -> Response:
    report = await projects.get(await scope_of(request), request.path_params["id"])
    return await project_page(request, report)


async def project_action(request: Request, action) -> Response:
    report = await projects.get(await scope_of(request), request.path_params["id"])
    form = await read_form(request)
    try:
        await action(report, form)
    except CarnetError as exc:
        if exc.status == 404 and exc.code == "project_not_found":
            raise
        missing = (exc.details or {}).get("missing") if isinstance(exc.details, dict) else None
        return await project_page(request, report, error=exc.message, missing=missing,
                                  status=exc.status)
    return RedirectResponse(f"/admin/projects/{report.id}", status_code=303)


@allow("admin")
async def project_save(request: Request) -> Response:
    return await project_action(request, lambda report, form: projects.update(report, form))


@allow("admin")
async def project_add_existing(request: Request) -> Response:
    return await project_action(request, lambda report, form: projects.add_existing(
        report, str(form.get("number", ""))))


@allow("admin")
async def project_submit(request: Request) -> Response:
    return await project_action(request, lambda report, form: projects.submit(
        report, now(request)))


@allow("admin")
async def project_decision(request: Request) -> Response:
    return await project_action(request, lambda report, form: projects.decide(
        report, str(form.get("outcome", "")), form.get("cpne_date"),
        str(form.get("cpne_minutes", "")), now(request)))


@allow("admin")
async def project_pdf(request: Request) -> Response:
    from backend import documents

    report = await projects.get(await scope_of(request), request.path_params["id"])
    data = await documents.pdf(request, "documents/opportunity.html", {
        "report": report, "branch": report.certificate.branch, "today": now(request).date()})
    return documents.pdf_response(data, f"rapport-opportunite-{report.certificate.code}.pdf")


routes += [
    Route("/admin/projects", projects_list, name="branch_projects"),
    Route("/admin/projects/new", project_new, methods=["POST"], name="branch_project_new"),
    Route("/admin/projects/{id:int}", project, name="branch_project"),
    Route("/admin/projects/{id:int}/save", project_save, methods=["POST"],
          name="branch_project_save"),
    Route("/admin/projects/{id:int}/existing", project_add_existing, methods=["POST"],
          name="branch_project_existing"),
    Route("/admin/projects/{id:int}/submit", project_submit, methods=["POST"],
          name="branch_project_submit"),
    Route("/admin/projects/{id:int}/decision", project_decision, methods=["POST"],
          name="branch_project_decision"),
    Route("/admin/projects/{id:int}/report.pdf", project_pdf, name="branch_project_pdf"),
]


# --- the inventory (état des lieux) ---------------------------------------------------------


async def the_inventory(request: Request):
    from backend.domain import inventories

    scope = await scope_of(request)
    return await inventories.inventory(scope.branch_ids, request.app.state.registry,
                                       now(request).date())


@allow("admin")
async def inventory_page(request: Request) -> Response:
    from backend.domain.inventory import funnel_svg, histogram_svg

    found = await the_inventory(request)
    reports = {r.certificate.code: r for r in await projects.of_scope(await scope_of(request))}
    return await render(request, "branch/inventory.html", {
        "inv": found, "reports": reports, "funnel_svg": funnel_svg,
        "histogram_svg": histogram_svg})


@allow("admin")
async def inventory_csv(request: Request) -> Response:
    from backend.domain.inventory import to_csv

    found = await the_inventory(request)
    return Response(to_csv(found), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="etat-des-lieux-{found.today}.csv"'})


@allow("admin")
async def inventory_xlsx(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from backend.domain.inventory import to_xlsx

    found = await the_inventory(request)
    data = await run_in_threadpool(to_xlsx, found)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet", headers={
                        "Content-Disposition":
                            f'attachment; filename="etat-des-lieux-{found.today}.xlsx"'})


routes += [
    Route("/admin/inventory", inventory_page, name="branch_inventory"),
    Route("/admin/inventory.csv", inventory_csv, name="branch_inventory_csv"),
    Route("/admin/inventory.xlsx", inventory_xlsx, name="branch_inventory_xlsx"),
]


# --- what the inventory counts and the admin records: candidate route, company size ---------


@allow("admin")
async def enrolment_route(request: Request) -> Response:
    """GET: the candidate's situation at enrolment; POST: record it (or clear it)."""
    from backend.models import CANDIDATE_ROUTES, CandidateRoute

    scope = await scope_of(request)
    enrolment = await scope.enrolment(request.path_params["id"])
    if request.method == "POST":
        route = str((await read_form(request)).get("route", ""))
        if route in CANDIDATE_ROUTES:
            await CandidateRoute.update_or_create(enrolment_id=enrolment.id,
                                                  defaults={"route": route})
        elif route == "":
            await CandidateRoute.filter(enrolment_id=enrolment.id).delete()
        else:
            raise ValidationFailed("Situation inconnue.", code="candidate_route_unknown")
        return RedirectResponse(f"/admin/enrolments/{enrolment.id}", status_code=303)
    found = await CandidateRoute.get_or_none(enrolment_id=enrolment.id)
    await enrolment.fetch_related("candidate")
    return await render(request, "branch/route.html", {
        "enrolment": enrolment, "candidate_route": found.route if found else ""})


@allow("admin")
async def company_size(request: Request) -> Response:
    """GET: the company's headcount band; POST: record it (or clear it)."""
    from backend.models import SIZE_BANDS, CompanySize

    scope = await scope_of(request)
    company = await scope.company(request.path_params["id"])
    if request.method == "POST":
        band = str((await read_form(request)).get("band", ""))
        if band in SIZE_BANDS:
            await CompanySize.update_or_create(company_id=company.id, defaults={"band": band})
        elif band == "":
            await CompanySize.filter(company_id=company.id).delete()
        else:
            raise ValidationFailed("Taille inconnue.", code="company_size_unknown")
        return RedirectResponse(f"/admin/companies/{company.id}", status_code=303)
    found = await CompanySize.get_or_none(company_id=company.id)
    return await render(request, "branch/size.html", {
        "company": company, "company_band": found.band if found else ""})


routes += [
    Route("/admin/enrolments/{id:int}/route", enrolment_route, methods=["GET", "POST"],
          name="branch_enrolment_route"),
    Route("/admin/companies/{id:int}/size", company_size, methods=["GET", "POST"],
          name="branch_company_size"),
]
