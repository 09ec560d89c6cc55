"""One's own account: changing the password, resetting a forgotten one and lifting
a login lock by a mailed link.

Link tokens travel only in the mailed URL's path: they are never logged (the
access log redacts these paths) and the pages that hold them answer `no-store`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend import mail
from backend.access import AUTHENTICATED, PUBLIC, allow
from backend.auth import current_identity, now, open_session, set_session_cookie
from backend.domain import accounts, passwords, throttle
from backend.errors import CarnetError
from backend.http import read_form
from backend.models import EMAIL_LENGTH, Person
from backend.pages import render

log = logging.getLogger("carnet")
GET_POST = ["GET", "POST"]


def login_limits(request: Request) -> throttle.Limits:
    s = request.app.state.settings
    return throttle.Limits(per_account_address=s.login_max_failures,
                           per_account=s.login_account_max_failures,
                           per_address=s.login_address_max_failures,
                           window=timedelta(minutes=s.login_window_minutes))


def client_address(request: Request) -> str:
    """As uvicorn saw it (behind a trusted proxy: the forwarded address)."""
    return request.client.host if request.client else "unknown"


def link_to(request: Request, route: str, token: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + request.app.url_path_for(route, token=token)


async def mail_link(request: Request, person: Person, purpose: str) -> None:
    """Issue and mail a reset or unlock link. Without an SMTP server nothing is
    issued: an admin or the `carnet` command helps instead (README)."""
    settings = request.app.state.settings
    if not settings.smtp_url:
        log.warning("person %s: no SMTP server, %s link not sent", person.id, purpose)
        return
    token = await passwords.issue_token(person, purpose, now(request), settings.secret_key)
    if token is None:
        return
    lifetime = passwords.RESET_LIFETIME if purpose == "reset" else passwords.UNLOCK_LIFETIME
    message = mail.link_message(
        sender=settings.mail_from, to=person.email, full_name=person.full_name, purpose=purpose,
        link=link_to(request, "password_reset" if purpose == "reset" else "unlock", token),
        hours=int(lifetime.total_seconds() // 3600))
    try:
        await mail.send(settings.smtp_url, message)
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        log.warning("person %s: %s link not sent (%s)", person.id, purpose, type(exc).__name__)


async def form_page(request: Request, template: str, action, context: dict | None = None,
                    done: str = "/") -> Response:
    """GET shows the form; POST runs `action(form)` and redirects, or shows the
    error on the same form."""
    context = dict(context or {})
    if request.method == "GET":
        response = await render(request, template, context)
    else:
        form = await read_form(request)
        try:
            target = await action(form) or done
        except CarnetError as exc:
            response = await render(request, template, {**context, "error": exc.message},
                                    exc.status)
        else:
            return target if isinstance(target, Response) else RedirectResponse(
                target, status_code=303)
    response.headers["cache-control"] = "no-store"
    return response


@allow(AUTHENTICATED)
async def change_password(request: Request) -> Response:
    identity = await current_identity(request)

    async def action(form):
        passwords.check_repeated(form.get("password"), form.get("password_again"))
        await passwords.change_password(identity.person, str(form.get("current", "")),
                                        str(form.get("password", "")), now(request))
        # Every session ended, this one too: the person carries on in a new one.
        token, session = await open_session(request, identity.person)
        response = RedirectResponse("/account/password?changed=1", status_code=303)
        set_session_cookie(request, response, token, session)
        return response

    return await form_page(request, "session/change_password.html", action,
                           {"changed": request.query_params.get("changed")})


@allow(PUBLIC)
async def forgot_password(request: Request) -> Response:
    async def action(form):
        email = accounts.normalise_email(str(form.get("email", "")))
        person = await Person.get_or_none(email=email) if len(email) <= EMAIL_LENGTH else None
        if person is not None and person.is_active:
            await mail_link(request, person, "reset")
        # The same answer whether the account exists or not.
        return "/password/forgot?sent=1"

    return await form_page(request, "session/forgot.html", action,
                           {"sent": request.query_params.get("sent"),
                            "can_mail": bool(request.app.state.settings.smtp_url)})


async def link_page(request: Request, purpose: str, template: str, use) -> Response:
    """A mailed link's page: a dead link says so; the form's POST calls `use(token, form)`,
    which returns the person the link was for, and the account's lock is lifted."""
    settings = request.app.state.settings
    token = request.path_params["token"]
    try:
        await passwords.find_token(token, purpose, settings.secret_key, now(request))
    except CarnetError as exc:
        return await render(request, template, {"error": exc.message, "invalid": True},
                            exc.status)

    async def action(form):
        person = await use(token, form)
        await throttle.lift_account(person.email, client_address(request), login_limits(request))
        return f"/login?{purpose}=1"

    return await form_page(request, template, action)


@allow(PUBLIC)
async def reset_password(request: Request) -> Response:
    async def use(token, form):
        passwords.check_repeated(form.get("password"), form.get("password_again"))
        return await passwords.reset_password(token, str(form.get("password", "")),
                                              request.app.state.settings.secret_key,
                                              now(request))

    return await link_page(request, "reset", "session/reset.html", use)


@allow(PUBLIC)
async def unlock(request: Request) -> Response:
    """GET only shows a button: mail scanners follow links, they must not use them."""
    async def use(token, form):
        return await passwords.use_unlock(token, request.app.state.settings.secret_key,
                                          now(request))

    return await link_page(request, "unlock", "session/unlock.html", use)


routes = [
    Route("/account/password", change_password, methods=GET_POST, name="change_password"),
    Route("/password/forgot", forgot_password, methods=GET_POST, name="password_forgot"),
    Route("/password/reset/{token}", reset_password, methods=GET_POST, name="password_reset"),
    Route("/unlock/{token}", unlock, methods=GET_POST, name="unlock"),
]
