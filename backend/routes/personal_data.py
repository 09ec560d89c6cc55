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
from backend.domain import personal_data
from backend.models import Person
from backend.pages import render
from backend.routes.admin import admin_scope


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


routes = [
    Route("/privacy", privacy, name="privacy"),
    Route("/me/data", my_data, name="my_data"),
    Route("/me/data.zip", my_data_zip, name="my_data_zip"),
    Route("/admin/people/{id:int}/export.zip", person_export, name="admin_person_export"),
]
