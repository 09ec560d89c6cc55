"""The jury: submitting a ready block, sessions and their dossiers, the review page, decisions,
closing, appeals, outcomes, and the PDF documents (dossier, procès-verbal, certificate).

Handlers translate HTTP to one call of `backend.domain.dossiers` and back; who may do what on
which object is decided there. Pages post plain HTML forms answered by a 303 (PRG); a refused
form shows the page again with the message and the error's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend import documents
from backend.access import AUTHENTICATED, allow
from backend.auth import Identity, current_identity, now
from backend.domain import dossiers, jury, standing
from backend.domain.evidence import today_in_france
from backend.errors import CarnetError, Conflict
from backend.http import json_body, json_response, read_form, referential_of
from backend.models import JurySession, Organisation, Person
from backend.pages import render
from backend.permissions import Relation, admin_branch_ids, jury_cutoff, path_relation

PARIS = ZoneInfo("Europe/Paris")


def _iso_day(value: str | None) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


def _when(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else ""


FMT = SimpleNamespace(
    day=lambda value: value.strftime("%d/%m/%Y") if value else "", iso_day=_iso_day, when=_when,
    iso_when=lambda value: _when(datetime.fromisoformat(value)) if value else "")
WORDS = {
    "ratings": {"met": "acquis", "progressing": "en cours", "not_met": "non acquis"},
    "criteria": {"not_observed": "non observé", "regressed": "non acquis à la dernière "
                 "observation", "progressing": "en cours", "acquired": "acquis"},
    "outcomes": jury.OUTCOME_LABELS,
    "roles": {"tutor": "tuteur", "candidate": "candidat", "admin": "administrateur"},
    "colleges": jury.COLLEGE_LABELS,
    "blocks": {"validated": "Validé par le jury", "held": "Capitalisé", "expired": "Expiré",
               "not_validated": "Non validé", "pending": "Présenté au jury",
               "not_presented": "Pas encore présenté"},
    "kinds": {"certificate": "Certificat délivré", "partial": "Validation partielle",
              "not_delivered": "Certificat non délivré", "in_progress": "En cours"},
}


def today(request: Request) -> date:
    return today_in_france(now(request))


def clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


def path_id(request: Request) -> int:
    return request.path_params["id"]


async def page(request: Request, template: str, context: dict[str, Any],
               status: int = 200) -> Response:
    return await render(request, f"jury/{template}", {"fmt": FMT, "words": WORDS, **context},
                        status)


async def form_action(request: Request, action: Callable[[Any], Awaitable[Any]],
                      again: Callable[[str, int], Awaitable[Response]]) -> Response:
    """PRG: run the write, redirect to the URL it returns, or show the page again."""
    form = await read_form(request)
    try:
        target = await action(form)
    except CarnetError as exc:
        return await again(exc.message, exc.status)
    return RedirectResponse(str(target), status_code=303)


# Submitting ---------------------------------------------------------------------------------


@allow("tutor", "admin")
async def api_submit(request: Request) -> Response:
    identity, rel = await path_relation(request)
    body = await json_body(request)
    dossier = await dossiers.submit(identity, rel, body.get("block"),
                                    registry=request.app.state.registry, today=today(request),
                                    clock=clock(request))
    return json_response(dossiers.dossier_json(dossier, manifest=True), 201,
                         {"Location": str(request.url_for("api_dossier", id=dossier.id))})


@allow("tutor", "admin")
async def submit_form(request: Request) -> Response:
    identity, rel = await path_relation(request)

    async def action(form) -> Any:
        if form.get("attest") != "1":
            raise Conflict("Cochez l'attestation avant de présenter le bloc.",
                           code="attestation_required")
        await dossiers.submit(identity, rel, form.get("block"),
                              registry=request.app.state.registry, today=today(request),
                              clock=clock(request))
        return f"{request.url_for('jury_outcome', id=rel.enrolment.id)}?submitted=1"

    return await form_action(request, action, lambda error, status: outcome_page_view(
        request, identity, rel, error, status))


# Outcomes -----------------------------------------------------------------------------------


@allow(AUTHENTICATED)
async def api_outcome(request: Request) -> Response:
    _, rel = await path_relation(request)
    ref = referential_of(request, rel.enrolment)
    found = await dossiers.enrolment_outcome(rel.enrolment, ref, today(request))
    return json_response(dossiers.outcome_json(rel.enrolment, found))


async def outcome_page_view(request: Request, identity: Identity, rel: Relation,
                            error: str = "", status: int = 200) -> Response:
    enrolment, day = rel.enrolment, today(request)
    ref = referential_of(request, enrolment)
    found = await dossiers.enrolment_outcome(enrolment, ref, day)
    records = await standing.load_records(enrolment.id, ref)
    candidate = await Person.get(id=enrolment.candidate_id)
    notice = {"submitted": "Bloc présenté au jury : ses preuves sont figées dans le dossier.",
              "appealed": "Recours enregistré : il sera examiné par un jury."}
    return await page(request, "outcome.html", {
        "enrolment": enrolment, "ref": ref, "candidate": candidate, "found": found,
        "progress": {b.code: b for b in records.progress(ref, day).blocks},
        "can_submit": rel.tutor or rel.admin, "can_appeal": rel.candidate or rel.admin,
        "appealed": {d["review_of_id"] for d in found.dossiers if d["review_of_id"]},
        "error": error, "notice": next((text for key, text in notice.items()
                                        if request.query_params.get(key)), "")}, status)


@allow(AUTHENTICATED)
async def outcome_page(request: Request) -> Response:
    identity, rel = await path_relation(request)
    return await outcome_page_view(request, identity, rel)


# Sessions -----------------------------------------------------------------------------------


def registry(request: Request):
    return request.app.state.registry


@allow("jury", "admin")
async def api_sessions(request: Request) -> Response:
    identity = await current_identity(request)
    views = await dossiers.sessions_overview(identity, registry(request), jury_cutoff(request))
    return json_response({"items": [dossiers.session_json(v, identity) for v in views]})


@allow("jury", "admin")
async def jury_home(request: Request) -> Response:
    identity = await current_identity(request)
    views = await dossiers.sessions_overview(identity, registry(request), jury_cutoff(request))
    return await page(request, "home.html", {"views": views})


async def session_page_view(request: Request, error: str = "", status: int = 200) -> Response:
    identity = await current_identity(request)
    session = await dossiers.session_for(identity, path_id(request), jury_cutoff(request))
    members = (await dossiers.session_members([session.id]))[session.id]
    view = await dossiers.session_view(identity, session, members, registry(request))
    branches = await admin_branch_ids(identity.id)
    return await page(request, "session.html", {
        **view, "is_admin": session.organisation_id in branches, "error": error,
        "today": today(request), "closed_notice": request.query_params.get("closed")}, status)


@allow("jury", "admin")
async def session_page(request: Request) -> Response:
    return await session_page_view(request)


@allow("jury")
async def api_close(request: Request) -> Response:
    identity = await current_identity(request)
    session = await dossiers.close_session(identity, path_id(request), clock=clock(request),
                                           cutoff=jury_cutoff(request),
                                           registry=registry(request))
    members = (await dossiers.session_members([session.id]))[session.id]
    view = await dossiers.session_view(identity, session, members, registry(request))
    return json_response(dossiers.session_json(view, identity))


@allow("jury")
async def close_form(request: Request) -> Response:
    identity = await current_identity(request)

    async def action(form) -> Any:
        await dossiers.close_session(identity, path_id(request), clock=clock(request),
                                     cutoff=jury_cutoff(request), early=form.get("early") == "1",
                                     registry=registry(request))
        return f"{request.url_for('jury_session', id=path_id(request))}?closed=1"

    return await form_action(request, action, lambda error, status: session_page_view(
        request, error, status))


@allow("admin")
async def assign_page(request: Request) -> Response:
    identity = await current_identity(request)

    async def view(error: str = "", status: int = 200) -> Response:
        context = await dossiers.assignment_view(identity, path_id(request), registry(request))
        return await page(request, "assign.html", {**context, "error": error}, status)

    if request.method == "GET":
        return await view()

    async def action(form) -> Any:
        await dossiers.assign(identity, path_id(request), form.get("dossier"),
                              assigned=form.get("action") != "unassign")
        return request.url_for("jury_assign", id=path_id(request))

    return await form_action(request, action, view)


# Reviewing and deciding ---------------------------------------------------------------------


async def read_access(request: Request) -> dossiers.Access:
    """The caller's access to the dossier the path names (404 when they may not read it)."""
    return await dossiers.dossier_access(await current_identity(request), path_id(request),
                                         cutoff=jury_cutoff(request))


@allow(AUTHENTICATED)
async def api_dossier(request: Request) -> Response:
    access = await read_access(request)
    session = await JurySession.get_or_none(id=access.dossier.session_id or 0)
    decision = await dossiers.visible_decision(access, session)
    return json_response(dossiers.dossier_json(access.dossier, decision, manifest=True))


async def review_context(request: Request, access: dossiers.Access) -> dict[str, Any]:
    context = await dossiers.review_view(access, request.app.state.registry)
    enrolment = access.dossier.enrolment
    context["candidate"] = await Person.get(id=enrolment.candidate_id)
    context["company"] = await Organisation.get(id=enrolment.company_id)
    context["branch"] = await Organisation.get_or_none(id=context["company"].branch_id)
    return context


async def review_page_view(request: Request, error: str = "", status: int = 200) -> Response:
    access = await read_access(request)
    context = await review_context(request, access)
    return await page(request, "dossier.html", {
        **context, "error": error, "decided": request.query_params.get("decided")}, status)


@allow(AUTHENTICATED)
async def review_page(request: Request) -> Response:
    return await review_page_view(request)


@allow("jury")
async def api_decide(request: Request) -> Response:
    identity = await current_identity(request)
    await read_access(request)  # who may, before what
    data = jury.parse_decision(await json_body(request))
    decision = await dossiers.decide(identity, path_id(request), data, clock=clock(request),
                                     cutoff=jury_cutoff(request), registry=registry(request))
    return json_response(dossiers.decision_json(decision), 201)


@allow("jury")
async def decide_form(request: Request) -> Response:
    identity = await current_identity(request)

    async def action(form) -> Any:
        # The chair ticks the members present and gives each one's vote: vote-<person id>.
        votes = {key.removeprefix("vote-"): form.get(key) for key in form.keys()
                 if key.startswith("vote-") and form.get(key)}
        data = jury.parse_decision({**{key: form.get(key) for key in
                                       ("outcome", "reasons", "recommendations")},
                                    "votes": votes})
        await dossiers.decide(identity, path_id(request), data, clock=clock(request),
                              cutoff=jury_cutoff(request), registry=registry(request))
        return f"{request.url_for('jury_dossier', id=path_id(request))}?decided=1"

    return await form_action(request, action, lambda error, status: review_page_view(
        request, error, status))


# Appeals -------------------------------------------------------------------------------------


def appeal_days(request: Request) -> int:
    """CARNET_APPEAL_DAYS: the appeal window after the session's closing (which stands for
    the notification of the decision), also what retention waits for."""
    return request.app.state.settings.appeal_days


@allow("candidate", "admin")
async def api_appeal(request: Request) -> Response:
    identity = await current_identity(request)
    await read_access(request)  # who may, before what
    grounds = jury.parse_grounds(await json_body(request))
    dossier = await dossiers.appeal(identity, path_id(request), grounds, clock=clock(request),
                                    cutoff=jury_cutoff(request), appeal_days=appeal_days(request))
    return json_response(dossiers.dossier_json(dossier, manifest=True), 201,
                         {"Location": str(request.url_for("api_dossier", id=dossier.id))})


@allow("candidate", "admin")
async def appeal_form(request: Request) -> Response:
    identity = await current_identity(request)
    access = await read_access(request)
    # Before anything else: a refused form shows the enrolment's outcome page again, which
    # only the appellants may see (a jury member who is also a candidate elsewhere may not).
    dossiers.require_appellant(access)
    enrolment_id = access.dossier.enrolment_id

    async def action(form) -> Any:
        grounds = jury.parse_grounds({"grounds": form.get("grounds")})
        await dossiers.appeal(identity, path_id(request), grounds, clock=clock(request),
                              cutoff=jury_cutoff(request), appeal_days=appeal_days(request))
        return f"{request.url_for('jury_outcome', id=enrolment_id)}?appealed=1"

    return await form_action(request, action, lambda error, status: outcome_page_view(
        request, identity, access.relation, error, status))


# Documents ----------------------------------------------------------------------------------


def document_context(context: dict[str, Any]) -> dict[str, Any]:
    return {"fmt": FMT, "words": WORDS, **context}


@allow(AUTHENTICATED)
async def dossier_pdf(request: Request) -> Response:
    access = await read_access(request)
    context = await review_context(request, access)
    data = await documents.pdf(request, "documents/dossier.html", document_context(context))
    return documents.pdf_response(data, f"dossier-{access.dossier.id}.pdf")


@allow("jury", "admin")
async def minutes_pdf(request: Request) -> Response:
    identity = await current_identity(request)
    registry = request.app.state.registry
    view = await dossiers.minutes_view(identity, path_id(request), registry,
                                       jury_cutoff(request))
    session = view["session"]
    lines = view["lines"]
    outcomes = [line.decision.outcome for line in lines if line.decision]
    closer = await Person.get_or_none(id=session.closed_by_id) if session.closed_by_id else None
    certifications = sorted({f"{r.title} ({r.code}, version {r.version})" for line in lines
                             if (r := registry.find(line.dossier.enrolment.referential_code,
                                                    line.dossier.enrolment.referential_version))})
    context = {**view, "branch": await Organisation.get(id=session.organisation_id),
               "colleges": jury.COLLEGE_LABELS,
               "mandates": jury.MANDATE_LABELS,
               "closed_by": closer.full_name if closer else "", "certifications": certifications,
               "counts": {"validated": outcomes.count("validated"),
                          "not_validated": outcomes.count("not_validated"),
                          "pending": len(lines) - len(outcomes)}}
    data = await documents.pdf(request, "documents/minutes.html", document_context(context))
    return documents.pdf_response(data, f"proces-verbal-{session.id}.pdf")


@allow(AUTHENTICATED)
async def certificate_pdf(request: Request) -> Response:
    _, rel = await path_relation(request)
    enrolment, day = rel.enrolment, today(request)
    ref = referential_of(request, enrolment)
    found = await dossiers.enrolment_outcome(enrolment, ref, day)
    outcome = found.outcome
    if not outcome.acquired:
        raise Conflict("Aucun bloc n'est acquis : il n'y a ni certificat ni attestation à "
                       "délivrer.", code="nothing_to_certify",
                       details=jury.outcome_dict(outcome))
    company = await Organisation.get(id=enrolment.company_id)
    certificate = outcome.kind == "certificate"
    used = sorted({b.dossier for b in outcome.acquired if b.dossier})
    context = {
        "enrolment": enrolment, "ref": ref, "outcome": outcome, "company": company,
        "candidate": await Person.get(id=enrolment.candidate_id),
        "branch": await Organisation.get_or_none(id=company.branch_id),
        "heading": "Certificat" if certificate else "Attestation de blocs de compétences",
        "issued_on": day, "dossier_ids": used, "delivered": found.certificate,
        "digest": found.certificate.record_sha256 if found.certificate else
        jury.sha256_of({"enrolment": enrolment.id, **jury.outcome_dict(outcome)}),
    }
    data = await documents.pdf(request, "documents/certificate.html", document_context(context))
    name = "certificat" if certificate else "attestation-blocs"
    return documents.pdf_response(data, f"{name}-{enrolment.id}.pdf")


routes = [
    Route("/api/v1/enrolments/{id:int}/dossiers", api_submit, methods=["POST"],
          name="api_submit_dossier"),
    Route("/api/v1/enrolments/{id:int}/outcome", api_outcome, name="api_outcome"),
    Route("/api/v1/jury-sessions", api_sessions, name="api_jury_sessions"),
    Route("/api/v1/jury-sessions/{id:int}/close", api_close, methods=["POST"],
          name="api_close_session"),
    Route("/api/v1/dossiers/{id:int}", api_dossier, name="api_dossier"),
    Route("/api/v1/dossiers/{id:int}/decision", api_decide, methods=["PUT"], name="api_decide"),
    Route("/api/v1/dossiers/{id:int}/appeal", api_appeal, methods=["POST"], name="api_appeal"),
    Route("/jury", jury_home, name="jury"),
    Route("/jury-sessions/{id:int}", session_page, name="jury_session"),
    Route("/jury-sessions/{id:int}/close", close_form, methods=["POST"],
          name="jury_close_session"),
    Route("/jury-sessions/{id:int}/minutes.pdf", minutes_pdf, name="jury_minutes_pdf"),
    Route("/admin/jury-sessions/{id:int}/dossiers", assign_page, methods=["GET", "POST"],
          name="jury_assign"),
    Route("/dossiers/{id:int}", review_page, name="jury_dossier"),
    Route("/dossiers/{id:int}.pdf", dossier_pdf, name="jury_dossier_pdf"),
    Route("/dossiers/{id:int}/decision", decide_form, methods=["POST"], name="jury_decide"),
    Route("/dossiers/{id:int}/appeal", appeal_form, methods=["POST"], name="jury_appeal"),
    Route("/enrolments/{id:int}/outcome", outcome_page, name="jury_outcome"),
    Route("/enrolments/{id:int}/dossiers", submit_form, methods=["POST"],
          name="jury_submit_dossier"),
    Route("/enrolments/{id:int}/certificate.pdf", certificate_pdf, name="jury_certificate_pdf"),
]
