"""A branch's settings (name, address, contact, time zone, logo for its PDFs) and new
branches, from the admin pages; and the page a fresh server shows before `carnet init`."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import allow
from backend.auth import current_identity
from backend.domain import branches
from backend.errors import NotFound
from backend.http import read_form
from backend.routes.admin import admin_scope, page, submit
from backend.storage import LOGO_MAX_BYTES

GET_POST = ["GET", "POST"]


@allow("admin")
async def branch_new(request: Request) -> Response:
    identity = await current_identity(request)

    async def context() -> dict[str, Any]:
        return {"scope": await admin_scope(request), "form": {}}

    async def action(form: FormData) -> Any:
        branch = await branches.create_branch(form.get("name"), actor_id=identity.id)
        return request.url_for("admin_branch", id=branch.id)

    if request.method == "GET":
        return await page(request, "branch_new.html", await context())
    return await submit(request, "branch_new.html", context, action)


@allow("admin")
async def branch_settings(request: Request) -> Response:
    scope = await admin_scope(request)
    branch = next((b for b in scope.branches if b.id == request.path_params["id"]), None)
    if branch is None:  # another branch's settings: as if it did not exist
        raise NotFound("Branche introuvable.", code="branch_not_found")

    async def context() -> dict[str, Any]:
        return {"scope": scope, "branch": branch, "form": {}, "zones": ZONES}

    if request.method == "GET":
        return await page(request, "branch.html", await context())
    # One file (the logo) at most, bounded: the form's limit is the logo's plus the fields.
    form = await read_form(request, max_files=1, max_bytes=LOGO_MAX_BYTES + 20_000,
                           max_part_size=LOGO_MAX_BYTES + 1)
    try:
        upload = form.get("logo")
        logo = await upload.read() if isinstance(upload, UploadFile) else None

        async def action(form: FormData) -> Any:
            await branches.update_settings(
                scope, branch.id, name=form.get("name"), address=form.get("address"),
                contact=form.get("contact"), time_zone=form.get("time_zone"), logo=logo,
                remove_logo=form.get("remove_logo") == "1")
            return f"{request.url_for('admin_branch', id=branch.id)}?saved=1"

        return await submit(request, "branch.html", context, action)
    finally:
        await form.close()


# The zones a French branch may need first (metropolitan, overseas), then the rest.
ZONES = ("Europe/Paris", "America/Guadeloupe", "America/Martinique", "America/Cayenne",
         "Indian/Reunion", "Indian/Mayotte", "America/Miquelon", "Pacific/Noumea",
         "Pacific/Tahiti", "Pacific/Wallis")

routes = [
    Route("/admin/branches/new", branch_new, methods=GET_POST, name="admin_branch_new"),
    Route("/admin/branches/{id:int}", branch_settings, methods=GET_POST, name="admin_branch"),
]
