"""Logging in and out (pages and API), the current person, invitations' landing page."""

from __future__ import annotations

from datetime import timedelta

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
from backend.domain import accounts
from backend.errors import CarnetError
from backend.http import json_body, json_response
from backend.models import AdminGrant, Enrolment, JuryMember, Person, Tutorship
from backend.pages import render


def limits(request: Request) -> accounts.LoginLimits:
    s = request.app.state.settings
    return accounts.LoginLimits(s.login_max_failures, timedelta(minutes=s.login_window_minutes))


async def log_in(request: Request, email: str, password: str) -> tuple[Person, Response]:
    person = await accounts.authenticate(email, password, now(request), limits(request))
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
    form = await request.form()
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
    settings = request.app.state.settings
    token = request.path_params["token"]
    try:
        invitation = await accounts.find_invitation(token, settings.secret_key, now(request))
    except CarnetError as exc:
        return await render(request, "session/invitation.html", {"error": exc.message}, exc.status)
    if request.method == "GET":
        return await render(request, "session/invitation.html", {"invitation": invitation})
    form = await request.form()
    if form.get("password") != form.get("password_again"):
        return await render(request, "session/invitation.html",
                      {"invitation": invitation,
                       "error": "Les deux mots de passe ne sont pas identiques."}, 422)
    try:
        await accounts.accept_invitation(token, str(form.get("password", "")),
                                         settings.secret_key, now(request))
    except CarnetError as exc:
        return await render(request, "session/invitation.html",
                      {"invitation": invitation, "error": exc.message}, exc.status)
    return RedirectResponse("/login?welcome=1", status_code=303)


routes = [
    Route("/api/v1/session", api_login, methods=["POST"], name="api_login"),
    Route("/api/v1/session", api_logout, methods=["DELETE"], name="api_logout"),
    Route("/api/v1/me", api_me, name="api_me"),
    Route("/login", login_page, methods=["GET", "POST"], name="login"),
    Route("/logout", logout_page, methods=["POST"], name="logout"),
    Route("/invitation/{token}", invitation_page, methods=["GET", "POST"], name="invitation"),
]
