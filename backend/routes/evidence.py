"""Photos and observations: the sync API of the PWA (docs/api.md, "The sync protocol")."""

from __future__ import annotations

import contextlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, allow
from backend.auth import Identity, current_identity, now
from backend.domain import dossiers, evidence
from backend.errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed
from backend.http import json_body, json_response, read_body, row_id
from backend.models import Observation, Photo
from backend.permissions import (
    Relation,
    jury_cutoff,
    relation_to,
    require_photo_writer,
    require_writer,
)
from backend.photo_http import photo_response
from backend.storage import PhotoStore, parse_content_digest


def photo_store(request: Request) -> PhotoStore:
    return request.app.state.photo_store


def path_uuid(request: Request) -> str:
    value = evidence.parse_uuid(request.path_params["uuid"])
    if value is None:
        raise NotFound("Identifiant invalide.", code="invalid_uuid")
    return value


PHOTO_NOT_FOUND = ("Photo introuvable.", "photo_not_found")
OBSERVATION_NOT_FOUND = ("Observation introuvable.", "observation_not_found")


@contextlib.asynccontextmanager
async def conflicts_shown_to(identity: Identity, missing: tuple[str, str]):
    """A 409 shows the stored photo or observation; when it lies on an enrolment the
    caller cannot read, the answer is GET's own 404 instead (existence not revealed)."""
    try:
        yield
    except evidence.StoredConflict as exc:
        try:
            await relation_to(identity, exc.enrolment_id)
        except NotFound:
            message, code = missing
            raise NotFound(message, code=code) from None
        raise


def enrolment_param(request: Request) -> int:
    value = row_id(request.query_params.get("enrolment", ""))
    if value is None:
        raise BadRequest("Paramètre « enrolment » manquant ou invalide.", code="enrolment_required")
    return value


@allow(AUTHENTICATED)
async def put_photo(request: Request) -> Response:
    photo_id = path_uuid(request)
    identity = await current_identity(request)
    relation = await relation_to(identity, enrolment_param(request))
    role = require_photo_writer(relation)
    from backend.routes import uploads  # imports this module

    if uploads.requested(request):  # resumable (backend/routes/uploads.py)
        return await uploads.create(request, photo_id, identity, relation, role)
    settings = request.app.state.settings
    data = await read_body(request, settings.max_upload_bytes, PayloadTooLarge)
    # A header may legally be split over several lines: read them all.
    declared = parse_content_digest(", ".join(request.headers.getlist("content-digest")) or None)
    if declared is None:
        raise ValidationFailed("En-tête Content-Digest (sha-256) requis.", code="digest_required")
    async with uploads.ingest_slots(request), conflicts_shown_to(identity, PHOTO_NOT_FOUND):
        stored = await evidence.put_photo(
            photo_id=photo_id, enrolment=relation.enrolment, data=data, declared=declared,
            author_id=identity.id, author_role=role, store=photo_store(request),
            max_pixels=settings.max_image_pixels)
    return json_response(stored.body, 201 if stored.created else 200)


async def visible_row(request: Request, model, missing: NotFound
                      ) -> tuple[Photo | Observation, list[dict] | None]:
    """The photo or observation, if the caller may see its enrolment, with None; or, for a
    jury member, if it is frozen in a dossier they read, with its entries in those dossiers'
    manifests. Else the same 404 as for an unknown id (existence is not revealed)."""
    identity = await current_identity(request)
    row = await model.get_or_none(id=path_uuid(request))
    if row is None:
        raise missing
    try:
        await relation_to(identity, row.enrolment_id)
        return row, None
    except NotFound:
        pass
    kind = "photos" if model is Photo else "observations"
    frozen = await dossiers.jury_evidence(identity, row.enrolment_id, kind, str(row.id),
                                          cutoff=jury_cutoff(request))
    if not frozen:
        raise missing
    return row, frozen


@allow(AUTHENTICATED)
async def get_photo(request: Request) -> Response:
    photo, _ = await visible_row(request, Photo,
                                 NotFound("Photo introuvable.", code="photo_not_found"))
    thumb = request.query_params.get("size") == "thumb"
    sha = photo.thumb_sha256 if thumb else photo.sha256
    # Thumbnails are JPEG, a PDF document's too (backend.storage.ingest_document).
    content_type = "image/jpeg" if thumb else photo.content_type
    etag = f'"{sha}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400",
               "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return await photo_response(photo_store(request), sha, content_type, headers,
                                request.app.state.settings.s3_presign_seconds)


async def writable_relation(identity: Identity, enrolment_id) -> Relation:
    # A JSON number only: the string "12" is not an enrolment id here.
    if not isinstance(enrolment_id, int) or not row_id(enrolment_id):
        raise ValidationFailed("« enrolment » doit être un identifiant de parcours.",
                               code="invalid_observation", details={"enrolment": "entier"})
    return await relation_to(identity, enrolment_id)


def candidate_photos(relation: Relation, kind: object, body: dict) -> bool:
    """A candidate's record of their own photos, each tagged to an expected evidence item:
    an observation that rates nothing (the rules never count a candidate's ratings)."""
    return (relation.candidate and not relation.tutor and kind == "observation"
            and not body.get("ratings") and bool(body.get("photos")))


@allow(AUTHENTICATED)
async def put_observation(request: Request) -> Response:
    observation_id = path_uuid(request)
    identity = await current_identity(request)
    body = await json_body(request)
    relation = await writable_relation(identity, body.get("enrolment"))
    kind = body.get("kind", "observation")
    if candidate_photos(relation, kind, body):
        role = "candidate"  # their own photos for expected evidence: no ratings, ever
    else:
        role = require_writer(relation, kind)
    enrolment = relation.enrolment
    ref = request.app.state.registry.get(enrolment.referential_code,
                                         enrolment.referential_version)
    data = evidence.parse_observation(body, ref=ref, started_on=enrolment.started_on,
                                      today=evidence.today_in_france(now(request)),
                                      enrolment_id=enrolment.id)
    async with conflicts_shown_to(identity, OBSERVATION_NOT_FOUND):
        stored = await evidence.put_observation(observation_id=observation_id, data=data,
                                                ref=ref, author_id=identity.id,
                                                author_role=role)
    return json_response(stored.body, 201 if stored.created else 200)


def as_frozen(observation: Observation, entries: list[dict]) -> Observation:
    """The observation as the jury's dossiers froze it: ratings of their blocks' criteria
    and the photos cited for them, not what it says about other blocks."""
    ratings = {code: value for e in entries for code, value in e.get("ratings", {}).items()}
    photos = list({p["id"]: p for e in entries for p in e.get("photos", [])}.values())
    observation.ratings, observation.photos = ratings, photos
    return observation


@allow(AUTHENTICATED)
async def get_observation(request: Request) -> Response:
    observation, frozen = await visible_row(
        request, Observation, NotFound("Observation introuvable.", code="observation_not_found"))
    if frozen is not None:
        observation = as_frozen(observation, frozen)
    missing = await evidence.missing_photos(observation.photos, observation.enrolment_id)
    return json_response(evidence.observation_json(observation, missing))


routes = [
    Route("/api/v1/photos/{uuid}", put_photo, methods=["PUT"], name="api_put_photo"),
    Route("/api/v1/photos/{uuid}", get_photo, methods=["GET"], name="api_photo"),
    Route("/api/v1/observations/{uuid}", put_observation, methods=["PUT"],
          name="api_put_observation"),
    Route("/api/v1/observations/{uuid}", get_observation, methods=["GET"],
          name="api_observation"),
]
