"""Resumable photo uploads, after the IETF HTTP working group's draft "Resumable
Uploads for HTTP" (draft-ietf-httpbis-resumable-upload, interop version 7).

- Creation: the usual `PUT /api/v1/photos/{uuid}?enrolment=N` with
  `Upload-Draft-Interop-Version` and `Upload-Complete`. The body is written to the
  upload area as it arrives (`backend/uploads.py`); a dropped connection keeps it.
- Offset retrieval: `HEAD /api/v1/photos/{uuid}/upload` → 204 with `Upload-Offset`
  and `Upload-Complete`.
- Append: `PATCH` on the same address with `Upload-Offset` (must equal the server's,
  else 409 with the right one) and `Upload-Complete`.

The upload's address is derived from the photo's UUID, which the client chose: it
knows it before any answer, so the draft's `104 (Upload Resumption Supported)`
interim response, which uvicorn cannot send, is not needed. The creation's final
answer still names it in `Location`.

The complete file then goes through `evidence.put_photo` like a photo sent in one
request: same digest check (the whole photo's `Repr-Digest`, or `Content-Digest`
declared at creation), same idempotency, same re-encode. An upload is one person's:
another person (or one whose tie to the enrolment ended) gets 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, allow
from backend.auth import Identity, current_identity
from backend.domain import evidence
from backend.errors import (
    BadRequest,
    CarnetError,
    ClientDisconnected,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from backend.http import bounded_int, json_response
from backend.models import Enrolment, Photo
from backend.permissions import Relation, relation_to, require_photo_writer
from backend.routes.evidence import PHOTO_NOT_FOUND, conflicts_shown_to, path_uuid, photo_store
from backend.storage import parse_content_digest
from backend.uploads import Busy, UploadArea, UploadState, upload_area

INTEROP_HEADER = "upload-draft-interop-version"
INTEROP_VERSION = "7"
PARTIAL_UPLOAD = "application/partial-upload"
LOCK_WAIT_SECONDS = 10.0


def requested(request: Request) -> bool:
    """The client speaks the resumable-upload protocol."""
    return INTEROP_HEADER in request.headers


def area_of(request: Request) -> UploadArea:
    state = request.app.state
    if getattr(state, "upload_area", None) is None:
        state.upload_area = upload_area(state.photo_store, state.settings)
    return state.upload_area


def ingest_slots(request: Request) -> asyncio.Semaphore:
    """Photos checked and re-encoded at a time in this process (CARNET_INGEST_CONCURRENCY):
    each holds its bytes and a decoded image. Taken before the thread pool, so uploads
    beyond it wait on the event loop (their bytes on disk when resumable), not in memory
    in a thread, as documents.py does for PDFs."""
    state = request.app.state
    if getattr(state, "ingest_slots", None) is None:
        state.ingest_slots = asyncio.Semaphore(state.settings.ingest_concurrency)
    return state.ingest_slots


def location(photo_id: str) -> str:
    return f"/api/v1/photos/{photo_id}/upload"


def upload_headers(state: UploadState) -> dict[str, str]:
    headers = {"Upload-Offset": str(state.offset),
               "Upload-Complete": "?1" if state.complete else "?0",
               "Upload-Draft-Interop-Version": INTEROP_VERSION,
               "Cache-Control": "no-store"}
    if state.length is not None:
        headers["Upload-Length"] = str(state.length)
    return headers


def _sf_boolean(request: Request) -> bool:
    value = request.headers.get("upload-complete", "").strip()
    if value not in ("?0", "?1"):
        raise BadRequest("En-tête Upload-Complete (?0 ou ?1) requis.",
                         code="upload_complete_required")
    return value == "?1"


def _declared_digest(request: Request) -> bytes:
    """The whole photo's sha-256: `Repr-Digest` (RFC 9530), else `Content-Digest`."""
    for name in ("repr-digest", "content-digest"):
        values = request.headers.getlist(name)
        if values and (digest := parse_content_digest(", ".join(values))) is not None:
            return digest
    raise ValidationFailed("En-tête Repr-Digest ou Content-Digest (sha-256) requis.",
                           code="digest_required")


@contextlib.asynccontextmanager
async def _hold(area: UploadArea, photo_id: str, person: int):
    """One request appends to an upload at a time (in any worker). A retry that
    arrives while the server still reads its predecessor's body waits for it."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        held = area.locked(photo_id, person)
        try:
            held.__enter__()
            break
        except Busy:
            if time.monotonic() > deadline:
                raise Conflict("Un envoi de cette photo est en cours ; réessayez.",
                               code="upload_in_progress") from None
            await asyncio.sleep(0.1)
    try:
        yield
    finally:
        held.__exit__(None, None, None)


async def create(request: Request, photo_id: str, identity: Identity, relation: Relation,
                 role: str) -> Response:
    """`PUT /api/v1/photos/{uuid}` in the resumable protocol (the caller checked access)."""
    settings = request.app.state.settings
    complete = _sf_boolean(request)
    declared = _declared_digest(request)
    length = _upload_length(request, settings.max_upload_bytes)
    existing = await Photo.get_or_none(id=photo_id)
    if existing is not None:
        # Sent before (its answer was lost): the stored photo if the declared digest is
        # the one it was received with, else the usual 409; nothing is stored again.
        async with conflicts_shown_to(identity, PHOTO_NOT_FOUND):
            stored = evidence._same_photo(existing, relation.enrolment.id, declared.hex())
        return json_response(stored.body, 200, headers={"Location": location(photo_id)})
    area = area_of(request)
    state = UploadState(enrolment=relation.enrolment.id, digest=declared.hex(), length=length,
                        content_type=request.headers.get("content-type", "image/jpeg")[:100])
    async with _hold(area, photo_id, identity.id):
        # A creation starts over: a client that asked for the offset never creates again.
        await run_in_threadpool(area.save, photo_id, identity.id, state)
        return await _receive(request, area, photo_id, identity, relation.enrolment, role,
                              state, complete, created=True)


@allow(AUTHENTICATED)
async def upload_resource(request: Request) -> Response:
    """HEAD: the offset; PATCH: append from it."""
    photo_id = path_uuid(request)
    identity = await current_identity(request)
    area = area_of(request)
    state = area.state(photo_id, identity.id)
    if state is None:
        raise NotFound("Envoi introuvable.", code="upload_not_found")
    relation = await relation_to(identity, state.enrolment)  # 404 once the tie is gone
    if request.method == "HEAD":
        return Response(status_code=204, headers=upload_headers(state))
    role = require_photo_writer(relation)
    settings = request.app.state.settings
    offset = bounded_int(request.headers.get("upload-offset"), high=settings.max_upload_bytes)
    if offset is None:
        raise BadRequest("En-tête Upload-Offset requis.", code="upload_offset_required")
    complete = _sf_boolean(request)
    async with _hold(area, photo_id, identity.id):
        state = area.state(photo_id, identity.id)
        if state is None:
            raise NotFound("Envoi introuvable.", code="upload_not_found")
        if offset != state.offset:
            return json_response(
                {"code": "upload_offset_mismatch", "message": "Décalage d'envoi différent.",
                 "details": {"offset": state.offset}}, 409, headers=upload_headers(state))
        if state.complete:  # the photo is stored: its answer again
            existing = await Photo.get_or_none(id=photo_id)
            if existing is None:
                raise NotFound("Envoi introuvable.", code="upload_not_found")
            async with conflicts_shown_to(identity, PHOTO_NOT_FOUND):
                stored = evidence._same_photo(existing, relation.enrolment.id,
                                              state.received_sha256 or "")
            return json_response(stored.body, 200, headers=upload_headers(state))
        return await _receive(request, area, photo_id, identity, relation.enrolment, role,
                              state, complete, created=False)


def _upload_length(request: Request, limit: int) -> int | None:
    raw = request.headers.get("upload-length")
    if raw is None:
        return None
    value = bounded_int(raw, high=2**53)
    if value is None:
        raise BadRequest("En-tête Upload-Length invalide.", code="bad_upload_length")
    if value > limit:
        raise PayloadTooLarge(details={"limit": limit})
    return value


async def _receive(request: Request, area: UploadArea, photo_id: str, identity: Identity,
                   enrolment: Enrolment, role: str, state: UploadState, complete: bool, *,
                   created: bool) -> Response:
    """Append the body at `state.offset`, commit what arrived, finish if complete."""
    limit = request.app.state.settings.max_upload_bytes
    declared_length = bounded_int(request.headers.get("content-length", "0"), high=2**53)
    if declared_length is not None and state.offset + declared_length > limit:
        raise PayloadTooLarge(details={"limit": limit})
    person = identity.id
    f = await run_in_threadpool(area.open_for_append, photo_id, person, state.offset)
    written, disconnected, too_large = 0, False, False
    try:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                break
            chunk = message.get("body", b"")
            if state.offset + written + len(chunk) > limit:
                too_large = True
                break
            if chunk:
                f.write(chunk)  # page cache: microseconds; fsynced once below
                written += len(chunk)
            if not message.get("more_body", False):
                break
    finally:
        state.offset += written
        await run_in_threadpool(_commit, area, f, photo_id, person, state)
    if too_large:
        await run_in_threadpool(area.discard, photo_id, person)
        raise PayloadTooLarge(details={"limit": limit})
    if disconnected:
        raise ClientDisconnected()  # nobody reads it; the prefix stays for the retry
    if state.length is not None and state.offset > state.length:
        await run_in_threadpool(area.discard, photo_id, person)
        raise BadRequest("Plus d'octets que l'Upload-Length annoncé.",
                         code="upload_length_exceeded")
    if not complete:
        headers = upload_headers(state)
        if created:
            headers["Location"] = location(photo_id)
            return Response(status_code=201, headers=headers)
        return Response(status_code=204, headers=headers)
    return await _finish(request, area, photo_id, identity, enrolment, role, state)


def _commit(area: UploadArea, f, photo_id: str, person: int, state: UploadState) -> None:
    try:
        f.flush()
        os.fsync(f.fileno())
    finally:
        f.close()
    area.save(photo_id, person, state)


async def _finish(request: Request, area: UploadArea, photo_id: str, identity: Identity,
                  enrolment: Enrolment, role: str, state: UploadState) -> Response:
    settings = request.app.state.settings
    person = identity.id
    try:
        async with ingest_slots(request):
            data = await run_in_threadpool(area.read, photo_id, person, state.offset)
            async with conflicts_shown_to(identity, PHOTO_NOT_FOUND):
                stored = await evidence.put_photo(
                    photo_id=photo_id, enrolment=enrolment, data=data,
                    declared=bytes.fromhex(state.digest), author_id=person, author_role=role,
                    store=photo_store(request), max_pixels=settings.max_image_pixels)
            del data
    except CarnetError as exc:
        if exc.status < 500:  # the bytes or the id are refused: the next try starts over
            await run_in_threadpool(area.discard, photo_id, person)
        raise
    state.complete, state.received_sha256 = True, stored.body["received_sha256"]
    await run_in_threadpool(area.save, photo_id, person, state)
    await run_in_threadpool(area.drop_bytes, photo_id, person)
    headers = {**upload_headers(state), "Location": location(photo_id)}
    return json_response(stored.body, 201 if stored.created else 200, headers=headers)


routes = [
    Route("/api/v1/photos/{uuid}/upload", upload_resource, methods=["HEAD", "PATCH"],
          name="api_photo_upload"),
]
