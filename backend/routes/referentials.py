"""The referentials loaded at start (public: a branch publishes them)."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import PUBLIC, allow
from backend.domain.referentials import Referential
from backend.errors import NotFound
from backend.http import json_response


def summary(ref: Referential) -> dict:
    return {"code": ref.code, "version": ref.version, "title": ref.title, "branch": ref.branch,
            "register": asdict(ref.register), "block_validity_years": ref.block_validity_years,
            "blocks": [{"code": b.code, "title": b.title} for b in ref.blocks],
            "digest": ref.digest}


def detail(ref: Referential) -> dict:
    data = summary(ref)
    data["rules"] = asdict(ref.rules)
    data["blocks"] = [asdict(b) for b in ref.blocks]
    return data


@allow(PUBLIC)
async def list_referentials(request: Request) -> Response:
    registry = request.app.state.registry
    return json_response({"items": [summary(r) for r in registry.all()]})


@allow(PUBLIC)
async def get_referential(request: Request) -> Response:
    ref = request.app.state.registry.find(request.path_params["code"],
                                          request.path_params["version"])
    if ref is None:
        raise NotFound("Référentiel introuvable.", code="referential_not_found")
    return json_response(detail(ref))


routes = [
    Route("/api/v1/referentials", list_referentials, name="api_referentials"),
    Route("/api/v1/referentials/{code}/{version}", get_referential, name="api_referential"),
]
