"""The branch admin's pages: companies, people and invitations, enrolments, juries.

Every route is `@allow("admin")` and works inside the admin's `Scope` (the
branches they hold an AdminGrant on): another branch's objects answer 404.
Writes are POST forms answered by a 303 (PRG); a refused form is shown again
with its message and the error's status (422 for invalid input).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend import mail
from backend.access import allow
from backend.auth import cookie_is_secure, current_identity, now, token_hash
from backend.domain import admin, dossiers, jury
from backend.domain.accounts import INVITABLE_ROLES, IssuedInvitation
from backend.domain.admin import Scope
from backend.domain.evidence import today_in_france
from backend.domain.referentials import register_warnings
from backend.errors import CarnetError
from backend.http import read_form
from backend.models import (
    ACCESS_ROUTES,
    Enrolment,
    JuryMember,
    PendingTutorship,
    Person,
    Tutorship,
)
from backend.pages import render

log = logging.getLogger("carnet.admin")

# The fresh invitation link travels from the POST to the confirmation page in a
# short-lived cookie scoped to that page, never in a URL (URLs end up in logs);
# the page shows it once and clears it.
LINK_COOKIE = "carnet-invitation-link"
LINK_COOKIE_SECONDS = 300
TUTOR_ROWS = 3  # tutor lines offered by the enrolment form (plain HTML, no script)

LABELS = {"roles": admin.ROLE_LABELS, "access_routes": admin.ACCESS_ROUTE_LABELS,
          "colleges": admin.COLLEGE_LABELS, "statuses": admin.INVITATION_STATUS_LABELS}


async def admin_scope(request: Request) -> Scope:
    identity = await current_identity(request)
    return await admin.scope_of(identity.person)


async def page(request: Request, template: str, context: dict[str, Any],
               status: int = 200) -> Response:
    return await render(request, f"admin/{template}", {"labels": LABELS, **context}, status)


def see_other(url: Any) -> RedirectResponse:
    return RedirectResponse(str(url), status_code=303)


async def submit(request: Request, template: str,
                 context: Callable[[], Awaitable[dict[str, Any]]],
                 action: Callable[[FormData], Awaitable[Any]]) -> Response:
    """PRG: run the write and redirect 303 to the URL it returns, or show the
    form again with the values sent and the error's message."""
    form = await read_form(request)
    try:
        target = await action(form)
    except CarnetError as exc:
        full = {**await context(), "form": form, "error": exc.message}
        return await page(request, template, full, exc.status)
    return see_other(target)


def listing(request: Request) -> tuple[str, int]:
    params = request.query_params
    return admin.search_text(params.get("q")), admin.page_number(params.get("page"))


# --- dashboard ---------------------------------------------------------------------


@allow("admin")
async def dashboard(request: Request) -> Response:
    scope = await admin_scope(request)
    counts = await admin.dashboard_counts(scope, now(request))
    waiting = await admin.waiting_for_admin(scope, today_in_france(now(request)))
    register = [w for ref in request.app.state.registry
                for w in register_warnings(ref, today_in_france(now(request)))]
    return await page(request, "dashboard.html", {"scope": scope, "counts": counts,
                                                  "waiting": waiting,
                                                  "register_warnings": register})


# --- companies ---------------------------------------------------------------------


@allow("admin")
async def companies(request: Request) -> Response:
    scope = await admin_scope(request)
    q, number = listing(request)
    result = await admin.paginate(admin.search_companies(scope, q), number)
    return await page(request, "companies.html", {"q": q, "page": result})


@allow("admin")
async def company_new(request: Request) -> Response:
    scope = await admin_scope(request)

    async def context() -> dict[str, Any]:
        return {"scope": scope, "form": {}}

    async def action(form: FormData) -> Any:
        company = await admin.create_company(scope, name=form.get("name"),
                                             siret=form.get("siret"), branch_id=form.get("branch"))
        return request.url_for("admin_company", id=company.id)

    if request.method == "GET":
        return await page(request, "company_new.html", await context())
    return await submit(request, "company_new.html", context, action)


@allow("admin")
async def company_page(request: Request) -> Response:
    scope = await admin_scope(request)
    company = await scope.company(request.path_params["id"])
    people = await Person.filter(company_id=company.id).order_by("full_name", "id")
    enrolments = await Enrolment.filter(company_id=company.id).select_related(
        "candidate").order_by("-started_on", "-id")
    roles = await admin.roles_by_person([p.id for p in people])
    return await page(request, "company.html", {"company": company, "people": people,
                                                "roles_of": roles, "enrolments": enrolments})


# --- people and invitations --------------------------------------------------------


@allow("admin")
async def people(request: Request) -> Response:
    scope = await admin_scope(request)
    q, number = listing(request)
    result = await admin.paginate(admin.search_people(scope, q), number)
    roles = await admin.roles_by_person([p.id for p in result.items])
    return await page(request, "people.html", {"q": q, "page": result, "roles_of": roles})


async def person_context(request: Request, scope: Scope, person: Person) -> dict[str, Any]:
    await person.fetch_related("company", "represents_company")
    enrolled = scope.enrolments().filter(candidate_id=person.id)
    tutored = scope.enrolments().filter(tutorships__tutor_id=person.id)
    seats = JuryMember.filter(person_id=person.id, session__organisation_id__in=scope.branch_ids)
    return {
        "person": person,
        # Not "roles": that name is the viewer's own (base.html's menu is the admin's).
        "person_roles": (await admin.roles_by_person([person.id]))[person.id],
        "enrolled": await enrolled.select_related("company").order_by("-started_on"),
        "tutored": await tutored.select_related("candidate").order_by("-started_on"),
        "seats": await seats.select_related("session").order_by("-session__held_on"),
        "invitations": await scope.invitations().filter(email=person.email).order_by(
            "-created_at"),
        "at": now(request),
        "companies": await scope.companies().order_by("name", "id"),
    }


@allow("admin")
async def person_represents(request: Request) -> Response:
    """Record the company a person represents (conflicts of interest, docs/domain.md)."""
    scope = await admin_scope(request)
    person = await scope.person(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.set_represents(scope, person.id, form.get("company"))
        return request.url_for("admin_person", id=person.id)

    return await submit(request, "person.html",
                        lambda: person_context(request, scope, person), action)


@allow("admin")
async def person_page(request: Request) -> Response:
    scope = await admin_scope(request)
    person = await scope.person(request.path_params["id"])
    return await page(request, "person.html", await person_context(request, scope, person))


@allow("admin")
async def person_disable(request: Request) -> Response:
    scope = await admin_scope(request)
    person = await scope.person(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.disable(scope, person.id, now(request))
        return request.url_for("admin_person", id=person.id)

    return await submit(request, "person.html",
                        lambda: person_context(request, scope, person), action)


def invitation_link(request: Request, token: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + request.app.url_path_for("invitation", token=token)


async def mail_invitation(request: Request, issued: IssuedInvitation) -> str:
    """"" without an SMTP server; else "sent" or "failed" (the link stays shown)."""
    settings = request.app.state.settings
    invitation = issued.invitation
    if not settings.smtp_url:
        return ""
    message = mail.invitation_message(
        sender=settings.mail_from, to=invitation.email, full_name=invitation.full_name,
        link=invitation_link(request, issued.token),
        expires_on=f"{invitation.expires_at:%d/%m/%Y}")
    try:
        await mail.send(settings.smtp_url, message)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        log.warning("invitation %s: mail not sent (%s)", invitation.id, type(exc).__name__)
        return "failed"
    log.info("invitation %s: mail sent", invitation.id)
    return "sent"


@allow("admin")
async def invite(request: Request) -> Response:
    scope = await admin_scope(request)
    settings = request.app.state.settings

    async def context() -> dict[str, Any]:
        companies = await scope.companies().order_by("name", "id")
        return {"scope": scope, "companies": companies, "invitable": INVITABLE_ROLES,
                "form": dict(request.query_params)}

    if request.method == "GET":
        return await page(request, "invite.html", await context())
    issued: list[IssuedInvitation] = []

    async def action(form: FormData) -> Any:
        issued.append(await admin.invite_person(
            scope, email=form.get("email"), full_name=form.get("full_name"),
            role=form.get("role"), company_id=form.get("company"), branch_id=form.get("branch"),
            represents_id=form.get("represents"),
            at=now(request), days=settings.invitation_days, secret_key=settings.secret_key))
        invitation = issued[0].invitation
        log.info("invitation %s created by person %s for the role %s", invitation.id,
                 invitation.invited_by_id, invitation.role)
        state = await mail_invitation(request, issued[0])
        target = request.url_for("admin_invitation", id=invitation.id)
        return f"{target}?mail={state}" if state else target

    response = await submit(request, "invite.html", context, action)
    if issued:
        target = request.url_for("admin_invitation", id=issued[0].invitation.id)
        response.set_cookie(LINK_COOKIE, issued[0].token, max_age=LINK_COOKIE_SECONDS,
                            path=target.path, secure=cookie_is_secure(request), httponly=True,
                            samesite="strict")
    return response


@allow("admin")
async def invitations(request: Request) -> Response:
    scope = await admin_scope(request)
    status = request.query_params.get("status", "")
    status = status if status in admin.INVITATION_STATUS_LABELS else ""
    at = now(request)
    result = await admin.paginate(admin.filter_invitations(scope, status, at),
                                  admin.page_number(request.query_params.get("page")))
    states = {i.id: admin.invitation_status(i, at) for i in result.items}
    return await page(request, "invitations.html", {"page": result, "status": status,
                                                    "states": states})


@allow("admin")
async def invitation_page(request: Request) -> Response:
    """Shows the link once: only right after the invitation was created."""
    scope = await admin_scope(request)
    invitation = await scope.invitation(request.path_params["id"])
    await invitation.fetch_related("organisation", "person")
    state = admin.invitation_status(invitation, now(request))
    token = request.cookies.get(LINK_COOKIE)
    secret = request.app.state.settings.secret_key
    fresh = bool(token) and hmac.compare_digest(token_hash(secret, token), invitation.token_hash)
    link = invitation_link(request, token) if fresh and state == "pending" else None
    response = await page(request, "invitation.html", {
        "invitation": invitation, "state": state, "link": link,
        "mail": request.query_params.get("mail", "")})
    response.headers["cache-control"] = "no-store"
    if token:
        response.delete_cookie(LINK_COOKIE, path=request.url.path,
                               secure=cookie_is_secure(request), httponly=True, samesite="strict")
    return response


# --- enrolments --------------------------------------------------------------------


@allow("admin")
async def enrolments(request: Request) -> Response:
    scope = await admin_scope(request)
    q, number = listing(request)
    result = await admin.paginate(admin.search_enrolments(scope, q), number)
    return await page(request, "enrolments.html", {"q": q, "page": result})


def tutor_rows(form: Any) -> list[tuple[str, str]]:
    getlist = getattr(form, "getlist", lambda name: [])
    rows = list(zip(getlist("tutor"), getlist("designated_on"), strict=False))
    return rows + [("", "")] * (TUTOR_ROWS - len(rows))


@allow("admin")
async def enrolment_new(request: Request) -> Response:
    scope = await admin_scope(request)
    registry = request.app.state.registry

    async def context() -> dict[str, Any]:
        return {"people": await admin.active_people(scope), "registry": registry,
                "invited_tutors": await admin.pending_tutor_invitations(scope, now(request)),
                "companies": await scope.companies().order_by("name", "id"),
                "access_route_choices": ACCESS_ROUTES, "form": dict(request.query_params),
                "tutor_rows": tutor_rows(None)}

    async def action(form: FormData) -> Any:
        enrolment = await admin.enrol_candidate(
            scope, registry, candidate_id=form.get("candidate"), company_id=form.get("company"),
            referential=form.get("referential"), access_route=form.get("access_route"),
            started_on=form.get("started_on"), tutor_rows=tutor_rows(form),
            today=today_in_france(now(request)))
        return request.url_for("admin_enrolment", id=enrolment.id)

    if request.method == "GET":
        return await page(request, "enrolment_new.html", await context())
    form = await read_form(request)

    async def refused_context() -> dict[str, Any]:
        return {**await context(), "tutor_rows": tutor_rows(form)}

    return await submit(request, "enrolment_new.html", refused_context, action)


async def enrolment_context(request: Request, scope: Scope,
                            enrolment: Enrolment) -> dict[str, Any]:
    registry = request.app.state.registry
    await enrolment.fetch_related("candidate", "company", "held_blocks")
    tutorships = await Tutorship.filter(enrolment_id=enrolment.id).select_related(
        "tutor").order_by("designated_on", "id")
    referential = registry.find(enrolment.referential_code, enrolment.referential_version)
    validity = {r.version: r.validity_months
                for r in registry.versions(enrolment.referential_code)}
    held = [(h, admin.held_until(h.decided_on, validity.get(h.referential_version)))
            for h in sorted(enrolment.held_blocks, key=lambda h: h.block_code)]
    pending = await PendingTutorship.filter(enrolment_id=enrolment.id).select_related(
        "invitation").order_by("designated_on", "id")
    return {"enrolment": enrolment, "tutorships": tutorships, "referential": referential,
            "pending_tutors": pending,
            "versions": registry.versions(enrolment.referential_code), "held": held,
            "people": await admin.active_people(scope), "form": {}}


@allow("admin")
async def enrolment_page(request: Request) -> Response:
    scope = await admin_scope(request)
    enrolment = await scope.enrolment(request.path_params["id"])
    return await page(request, "enrolment.html",
                      await enrolment_context(request, scope, enrolment))


@allow("admin")
async def enrolment_add_tutor(request: Request) -> Response:
    scope = await admin_scope(request)
    enrolment = await scope.enrolment(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.add_tutor(scope, enrolment, tutor_id=form.get("tutor"),
                              designated_on=form.get("designated_on"),
                              today=today_in_france(now(request)))
        return request.url_for("admin_enrolment", id=enrolment.id)

    return await submit(request, "enrolment.html",
                        lambda: enrolment_context(request, scope, enrolment), action)


@allow("admin")
async def enrolment_add_held_block(request: Request) -> Response:
    scope = await admin_scope(request)
    enrolment = await scope.enrolment(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.record_held_block(
            scope, enrolment, request.app.state.registry, block_code=form.get("block"),
            decided_on=form.get("decided_on"), version=form.get("version"),
            today=now(request).date())
        return request.url_for("admin_enrolment", id=enrolment.id)

    return await submit(request, "enrolment.html",
                        lambda: enrolment_context(request, scope, enrolment), action)


# --- jury sessions -----------------------------------------------------------------


async def members_of(session_ids: list[int]) -> dict[int, list[JuryMember]]:
    members: dict[int, list[JuryMember]] = {sid: [] for sid in session_ids}
    rows = await JuryMember.filter(session_id__in=session_ids or [-1]).select_related(
        "person").order_by("-is_president", "college", "person__full_name")
    for member in rows:
        members[member.session_id].append(member)
    return members


async def problems(session, members: list[JuryMember]) -> list[str]:
    """The jury's one composition check (`dossiers.composition_of`)."""
    return await dossiers.composition_of(session, members)


@allow("admin")
async def sessions(request: Request) -> Response:
    scope = await admin_scope(request)
    result = await admin.paginate(scope.sessions().order_by("-held_on", "-id"),
                                  admin.page_number(request.query_params.get("page")))
    members = await members_of([s.id for s in result.items])
    warnings = {s.id: await problems(s, members[s.id]) for s in result.items}
    return await page(request, "sessions.html", {"page": result, "members": members,
                                                 "warnings": warnings})


@allow("admin")
async def session_new(request: Request) -> Response:
    scope = await admin_scope(request)

    async def context() -> dict[str, Any]:
        return {"scope": scope, "form": {}}

    async def action(form: FormData) -> Any:
        session = await admin.convene(scope, branch_id=form.get("branch"),
                                      held_on=form.get("held_on"), place=form.get("place"))
        return request.url_for("admin_session", id=session.id)

    if request.method == "GET":
        return await page(request, "session_new.html", await context())
    return await submit(request, "session_new.html", context, action)


async def session_context(request: Request, scope: Scope, session) -> dict[str, Any]:
    members = (await members_of([session.id]))[session.id]
    seated = {m.person_id for m in members}
    candidates = [p for p in await admin.active_people(scope) if p.id not in seated]
    return {"session": session, "members": members,
            "warnings": await problems(session, members), "people": candidates,
            "mandate_choices": jury.MANDATE_LABELS,
            "has_president": any(m.is_president for m in members), "form": {}}


@allow("admin")
async def session_page(request: Request) -> Response:
    scope = await admin_scope(request)
    session = await scope.session(request.path_params["id"])
    return await page(request, "session.html", await session_context(request, scope, session))


@allow("admin")
async def session_add_member(request: Request) -> Response:
    scope = await admin_scope(request)
    session = await scope.session(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.add_member(scope, session, person_id=form.get("person"),
                               mandate=form.get("mandate"), represents=form.get("represents"),
                               president=bool(form.get("president")))
        return request.url_for("admin_session", id=session.id)

    return await submit(request, "session.html",
                        lambda: session_context(request, scope, session), action)


@allow("admin")
async def session_remove_member(request: Request) -> Response:
    scope = await admin_scope(request)
    session = await scope.session(request.path_params["id"])

    async def action(form: FormData) -> Any:
        await admin.remove_member(scope, session, request.path_params["member_id"])
        return request.url_for("admin_session", id=session.id)

    return await submit(request, "session.html",
                        lambda: session_context(request, scope, session), action)


GET_POST = ["GET", "POST"]
routes = [
    Route("/admin", dashboard, name="admin"),
    Route("/admin/companies", companies, name="admin_companies"),
    Route("/admin/companies/new", company_new, methods=GET_POST, name="admin_company_new"),
    Route("/admin/companies/{id:int}", company_page, name="admin_company"),
    Route("/admin/people", people, name="admin_people"),
    Route("/admin/people/invite", invite, methods=GET_POST, name="admin_invite"),
    Route("/admin/people/{id:int}", person_page, name="admin_person"),
    Route("/admin/people/{id:int}/represents", person_represents, methods=["POST"],
          name="admin_person_represents"),
    Route("/admin/people/{id:int}/disable", person_disable, methods=["POST"],
          name="admin_person_disable"),
    Route("/admin/invitations", invitations, name="admin_invitations"),
    Route("/admin/invitations/{id:int}", invitation_page, name="admin_invitation"),
    Route("/admin/enrolments", enrolments, name="admin_enrolments"),
    Route("/admin/enrolments/new", enrolment_new, methods=GET_POST, name="admin_enrolment_new"),
    Route("/admin/enrolments/{id:int}", enrolment_page, name="admin_enrolment"),
    Route("/admin/enrolments/{id:int}/tutors", enrolment_add_tutor, methods=["POST"],
          name="admin_enrolment_tutors"),
    Route("/admin/enrolments/{id:int}/held-blocks", enrolment_add_held_block, methods=["POST"],
          name="admin_enrolment_held_blocks"),
    Route("/admin/jury-sessions", sessions, name="admin_sessions"),
    Route("/admin/jury-sessions/new", session_new, methods=GET_POST, name="admin_session_new"),
    Route("/admin/jury-sessions/{id:int}", session_page, name="admin_session"),
    Route("/admin/jury-sessions/{id:int}/members", session_add_member, methods=["POST"],
          name="admin_session_members"),
    Route("/admin/jury-sessions/{id:int}/members/{member_id:int}/remove", session_remove_member,
          methods=["POST"], name="admin_session_member_remove"),
]
