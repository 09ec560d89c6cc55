"""Personal data: the 'Vos données' notice, 'Mes données' with the ZIP export, and the branch
admin's export and erasure of a person of their branch."""

from __future__ import annotations

import os

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, PUBLIC, allow
from backend.auth import current_identity, now
from backend.domain import erasure, personal_data, retention
from backend.errors import CarnetError
from backend.http import read_form
from backend.models import Person
from backend.pages import render
from backend.routes.admin import admin_scope, see_other


def retention_terms(request: Request) -> dict[str, int]:
    """The retention settings in force, for the notice (it is generated from them)."""
    s = request.app.state.settings
    return {"appeal_days": s.appeal_days, "after_decision": s.keep_after_decision_months,
            "after_end": s.keep_after_end_months, "abandoned": s.keep_abandoned_months,
            "session_days": s.session_max_days, "tutor_session_days": s.tutor_session_days,
            "invitation_days": s.invitation_days}


@allow(PUBLIC)
async def privacy(request: Request) -> Response:
    return await render(request, "personal_data/privacy.html",
                        {"terms": retention_terms(request)})


@allow(AUTHENTICATED)
async def my_data(request: Request) -> Response:
    return await render(request, "personal_data/mine.html", {})


async def zip_response(request: Request, person: Person, actor_id: int) -> Response:
    at = now(request)
    path = await personal_data.export(person, actor_id=actor_id,
                                      store=request.app.state.photo_store,
                                      day=at.date().isoformat())
    # Sent in chunks from the temporary file, deleted once sent (or the client gone).
    return FileResponse(path, media_type="application/zip",
                        filename=f"carnet-donnees-{person.id}-{at:%Y%m%d}.zip",
                        headers={"Cache-Control": "no-store"},
                        background=BackgroundTask(os.unlink, path))


@allow(AUTHENTICATED)
async def my_data_zip(request: Request) -> Response:
    identity = await current_identity(request)
    return await zip_response(request, identity.person, identity.id)


@allow("admin")
async def person_export(request: Request) -> Response:
    scope = await admin_scope(request)
    person = await scope.person(request.path_params["id"])
    return await zip_response(request, person, scope.admin.id)


async def erase_page(request: Request, person: Person, status: int = 200,
                     error: str | None = None) -> Response:
    s = request.app.state.settings
    found = await erasure.plan(person, secret_key=s.secret_key, terms=retention.Terms.of(s),
                               now=now(request))
    return await render(request, "admin/person_erase.html",
                        {"person": person, "plan": found, "error": error,
                         "confirmation": erasure.CONFIRMATION}, status)


@allow("admin")
async def person_erase_form(request: Request) -> Response:
    scope = await admin_scope(request)
    return await erase_page(request, await scope.person(request.path_params["id"]))


@allow("admin")
async def person_erase(request: Request) -> Response:
    scope = await admin_scope(request)
    person = await scope.person(request.path_params["id"])
    form = await read_form(request, max_fields=10)  # one field expected
    s = request.app.state.settings
    try:
        erasure.check_confirmation(form.get("confirm"))
        await erasure.erase(person, actor_id=scope.admin.id, store=request.app.state.photo_store,
                            secret_key=s.secret_key, terms=retention.Terms.of(s),
                            now=now(request))
    except CarnetError as exc:
        return await erase_page(request, person, exc.status, exc.message)
    return see_other(request.url_for("admin_person", id=person.id))


routes = [
    Route("/privacy", privacy, name="privacy"),
    Route("/me/data", my_data, name="my_data"),
    Route("/me/data.zip", my_data_zip, name="my_data_zip"),
    Route("/admin/people/{id:int}/export.zip", person_export, name="admin_person_export"),
    Route("/admin/people/{id:int}/erase", person_erase_form, name="admin_person_erase"),
    Route("/admin/people/{id:int}/erase", person_erase, methods=["POST"],
          name="admin_person_erase_post"),
]
