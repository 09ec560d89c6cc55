"""Logging in and out (pages and API), the current person, invitations' landing page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend import audit
from backend.access import AUTHENTICATED, PUBLIC, allow
from backend.auth import (
    clear_session_cookie,
    current_identity,
    now,
    open_session,
    set_session_cookie,
)
from backend.domain import accounts, passwords
from backend.domain.admin import ROLE_LABELS
from backend.errors import BadRequest, CarnetError, Forbidden
from backend.http import json_body, json_response, read_form
from backend.i18n import _
from backend.models import AdminGrant, Enrolment, JuryMember, Person, Tutorship
from backend.pages import render
from backend.routes import account


async def log_in(request: Request, email: str, password: str,
                 connection=None) -> tuple[Person, tuple]:
    async def locked(person: Person) -> None:
        await account.mail_link(request, person, "unlock")

    person = await accounts.authenticate(email, password, account.client_address(request),
                                         now(request), account.login_limits(request), locked)
    token, session = await open_session(request, person)
    await audit.record("login", actor_id=person.id, subject=f"person:{person.id}")
    return person, (token, session)


async def me_payload(person: Person) -> dict:
    pid = person.id
    seats = await JuryMember.filter(person_id=pid).values("session_id", "college", "is_president")
    return {
        "id": pid, "email": person.email, "full_name": person.full_name,
        "company_id": person.company_id,
        "roles": {
            "admin": await AdminGrant.filter(person_id=pid).values_list("organisation_id",
                                                                        flat=True),
            "tutor": await Tutorship.filter(tutor_id=pid, ended_on=None).values_list(
                "enrolment_id", flat=True),
            "candidate": await Enrolment.filter(candidate_id=pid).values_list("id", flat=True),
            "jury": seats,
        },
    }


@allow(PUBLIC)
async def api_login(request: Request) -> Response:
    body = await json_body(request)
    person, (token, session) = await log_in(request, str(body.get("email", "")),
                                            str(body.get("password", "")))
    response = json_response(await me_payload(person))
    set_session_cookie(request, response, token, session)
    return response


@allow(PUBLIC)
async def api_logout(request: Request) -> Response:
    await end_current_session(request)
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response


async def end_current_session(request: Request) -> None:
    identity = await current_identity(request)
    if identity is None:
        return
    session = identity.session
    session.revoked_at = now(request)
    await session.save(update_fields=["revoked_at"])
    await audit.record("logout", actor_id=identity.id, subject=f"person:{identity.id}")


@allow(AUTHENTICATED)
async def api_me(request: Request) -> Response:
    identity = await current_identity(request)
    return json_response(await me_payload(identity.person))


@allow(PUBLIC)
async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "session/login.html", {"next": safe_next(request)})
    form = await read_form(request)
    try:
        _, (token, session) = await log_in(request, str(form.get("email", "")),
                                           str(form.get("password", "")))
    except CarnetError as exc:
        return await render(request, "session/login.html",
                      {"error": exc.message, "email": form.get("email", ""),
                       "next": safe_next(request, form.get("next"))}, exc.status)
    response = RedirectResponse(safe_next(request, form.get("next")), status_code=303)
    set_session_cookie(request, response, token, session)
    return response


def safe_next(request: Request, value=None) -> str:
    """Only same-site paths: never an open redirect."""
    target = str(value or request.query_params.get("next") or "/")
    return target if target.startswith("/") and not target.startswith("//") else "/"


@allow(PUBLIC)
async def logout_page(request: Request) -> Response:
    await end_current_session(request)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response


@allow(PUBLIC)
async def invitation_page(request: Request) -> Response:
    """A new address chooses its password here. An address that already has an
    account never does: its owner logs in (here, as themself), sees what the
    invitation grants and confirms it."""
    settings = request.app.state.settings
    token = request.path_params["token"]
    try:
        invitation = await accounts.find_invitation(token, settings.secret_key, now(request))
    except CarnetError as exc:
        return await render(request, "session/invitation.html", {"error": exc.message}, exc.status)
    await invitation.fetch_related("organisation")
    existing = await accounts.account_for(invitation)
    identity = await current_identity(request)
    context = {"invitation": invitation, "existing": existing, "role_labels": ROLE_LABELS,
               "as_owner": bool(existing and identity and identity.id == existing.id),
               "as_other": identity if identity and (not existing or identity.id != existing.id)
               else None}
    if request.method == "GET":
        return await no_store(await render(request, "session/invitation.html", context))
    form = await read_form(request)
    try:
        return await _invitation_action(request, token, str(form.get("action", "")), form,
                                        existing, identity)
    except CarnetError as exc:
        return await no_store(await render(request, "session/invitation.html",
                                           {**context, "error": exc.message}, exc.status))


async def _invitation_action(request: Request, token: str, action: str, form, existing,
                             identity) -> Response:
    settings = request.app.state.settings
    at = now(request)
    here = request.url.path
    if action == "login" and existing is not None:
        _person, (session_token, session) = await log_in(request, existing.email,
                                                         str(form.get("password", "")))
        response = RedirectResponse(here, status_code=303)
        set_session_cookie(request, response, session_token, session)
        return response
    if action == "confirm" and existing is not None:
        if identity is None or identity.id != existing.id:
            raise Forbidden(_("Connectez-vous avec le compte invité pour accepter."),
                            code="invitation_for_someone_else")
        await accounts.accept_as_existing(token, identity.person, settings.secret_key, at)
        return RedirectResponse("/?invitation=accepted", status_code=303)
    if action == "create" and existing is None:
        passwords.check_repeated(form.get("password"), form.get("password_again"))
        person = await accounts.accept_as_new_account(token, str(form.get("password", "")),
                                                      settings.secret_key, at)
        # The newcomer carries on logged in, on their home page.
        session_token, session = await open_session(request, person)
        await audit.record("login", actor_id=person.id, subject=f"person:{person.id}")
        response = RedirectResponse("/?welcome=1", status_code=303)
        set_session_cookie(request, response, session_token, session)
        return response
    raise BadRequest(_("Action inconnue."), code="invalid_action")


async def no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


routes = [
    Route("/api/v1/session", api_login, methods=["POST"], name="api_login"),
    Route("/api/v1/session", api_logout, methods=["DELETE"], name="api_logout"),
    Route("/api/v1/me", api_me, name="api_me"),
    Route("/login", login_page, methods=["GET", "POST"], name="login"),
    Route("/logout", logout_page, methods=["POST"], name="logout"),
    Route("/invitation/{token}", invitation_page, methods=["GET", "POST"], name="invitation"),
]
