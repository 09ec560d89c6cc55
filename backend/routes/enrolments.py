"""Enrolments the caller may see."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, allow
from backend.auth import current_identity
from backend.domain.enrolments import ENROLMENT_PREFETCH, ENROLMENT_RELATED, enrolment_json
from backend.http import json_response
from backend.models import Enrolment
from backend.permissions import relation_to, visible_enrolments_query


@allow(AUTHENTICATED)
async def list_enrolments(request: Request) -> Response:
    identity = await current_identity(request)
    query = await visible_enrolments_query(identity)
    enrolments = await query.order_by("id").select_related(*ENROLMENT_RELATED).prefetch_related(
        *ENROLMENT_PREFETCH)
    return json_response({"items": [enrolment_json(e) for e in enrolments]})


@allow(AUTHENTICATED)
async def get_enrolment(request: Request) -> Response:
    identity = await current_identity(request)
    relation = await relation_to(identity, request.path_params["id"])
    enrolment = await Enrolment.get(id=relation.enrolment.id).select_related(
        *ENROLMENT_RELATED).prefetch_related(*ENROLMENT_PREFETCH)
    return json_response(enrolment_json(enrolment))


routes = [
    Route("/api/v1/enrolments", list_enrolments, name="api_enrolments"),
    Route("/api/v1/enrolments/{id:int}", get_enrolment, name="api_enrolment"),
]
