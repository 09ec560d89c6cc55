"""Resumable photo uploads (backend/routes/uploads.py): a dropped connection keeps what
arrived, HEAD tells the offset, PATCH sends the rest; the digest check and the
idempotency of photos do not change."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid

import pytest

from backend.cli import gc_report
from backend.models import Photo
from backend.routes.uploads import area_of
from backend.storage import content_digest
from tests import factories as f
from tests.images import jpeg

PHOTO = jpeg((800, 600))


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def creation_headers(data: bytes, complete: bool = True) -> dict[str, str]:
    return {"Content-Type": "image/jpeg", "Upload-Draft-Interop-Version": "7",
            "Upload-Complete": "?1" if complete else "?0", "Repr-Digest": repr_digest(data),
            "Upload-Length": str(len(data))}


async def raw_request(app, client, method: str, path: str, headers: dict[str, str],
                      chunks: list[bytes], *, disconnect: bool) -> dict:
    """Drive the app at the ASGI level: send `chunks`, then drop the connection (the
    phone losing its network mid-photo) or end the body. Returns the response start."""
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in
                         {**headers, "host": "testserver", "cookie": cookie}.items()],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 443)}
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    if disconnect:
        queue.append({"type": "http.disconnect"})
    else:
        queue.append({"type": "http.request", "body": b"", "more_body": False})
    sent: dict = {}

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}

    await app(scope, receive, send)
    return sent


@pytest.fixture
async def tutor_world(client):
    w = await f.world()
    await f.login(client, w.tutor)
    return w


def area_of_app(app):
    class _Request:  # area_of reads request.app
        pass

    request = _Request()
    request.app = app
    return area_of(request)


def photo_url(w, photo_id: str) -> str:
    return f"/api/v1/photos/{photo_id}?enrolment={w.enrolment.id}"


async def head(client, photo_id: str):
    return await client.head(f"/api/v1/photos/{photo_id}/upload",
                             headers={"Upload-Draft-Interop-Version": "7"})


async def patch(client, photo_id: str, offset: int, body: bytes, complete: bool = True):
    return await client.patch(f"/api/v1/photos/{photo_id}/upload", content=body, headers={
        "Upload-Draft-Interop-Version": "7", "Upload-Offset": str(offset),
        "Upload-Complete": "?1" if complete else "?0",
        "Content-Type": "application/partial-upload"})


async def test_one_complete_creation_stores_the_photo_like_a_plain_put(client, tutor_world):
    photo_id = str(uuid.uuid4())
    answer = await client.put(photo_url(tutor_world, photo_id), content=PHOTO,
                              headers=creation_headers(PHOTO))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["received_sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert answer.headers["upload-complete"] == "?1"
    assert answer.headers["upload-offset"] == str(len(PHOTO))
    assert answer.headers["location"] == f"/api/v1/photos/{photo_id}/upload"
    # Its answer lost, the client asks: complete; appending nothing gives the answer again.
    probe = await head(client, photo_id)
    assert probe.status_code == 204
    assert (probe.headers["upload-offset"], probe.headers["upload-complete"]) == (
        str(len(PHOTO)), "?1")
    again = await patch(client, photo_id, len(PHOTO), b"")
    assert again.status_code == 200 and again.json() == body
    # A plain PUT of the same bytes still answers the same stored photo.
    plain = await client.put(photo_url(tutor_world, photo_id), content=PHOTO,
                             headers={"Content-Digest": content_digest(PHOTO)})
    assert plain.status_code == 200 and plain.json() == body
    assert await Photo.filter(id=photo_id).count() == 1


async def test_a_dropped_upload_resumes_from_the_bytes_that_arrived(app, client, tutor_world):
    photo_id = str(uuid.uuid4())
    cut = len(PHOTO) * 9 // 10
    sent = await raw_request(app, client, "PUT", photo_url(tutor_world, photo_id),
                             creation_headers(PHOTO), [PHOTO[:cut // 2], PHOTO[cut // 2:cut]],
                             disconnect=True)
    assert sent.get("status") in (None, 400)  # nobody reads it
    assert await Photo.filter(id=photo_id).count() == 0
    probe = await head(client, photo_id)
    assert probe.status_code == 204
    assert (probe.headers["upload-offset"], probe.headers["upload-complete"]) == (str(cut), "?0")
    assert probe.headers["cache-control"] == "no-store"
    done = await patch(client, photo_id, cut, PHOTO[cut:])
    assert done.status_code == 201, done.text
    assert done.json()["received_sha256"] == hashlib.sha256(PHOTO).hexdigest()
    stored = await Photo.get(id=photo_id)
    assert stored.received_sha256 == hashlib.sha256(PHOTO).hexdigest()
    area = area_of_app(app)
    assert not list(area.root.glob("*.part"))  # the bytes went once stored


async def test_a_patch_at_the_wrong_offset_is_told_the_right_one(app, client, tutor_world):
    photo_id = str(uuid.uuid4())
    first = await client.put(photo_url(tutor_world, photo_id), content=PHOTO[:1000],
                             headers=creation_headers(PHOTO, complete=False))
    assert first.status_code == 201
    assert first.headers["upload-offset"] == "1000"
    wrong = await patch(client, photo_id, 500, PHOTO[500:])
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "upload_offset_mismatch"
    assert wrong.headers["upload-offset"] == "1000"
    middle = await patch(client, photo_id, 1000, PHOTO[1000:5000], complete=False)
    assert middle.status_code == 204 and middle.headers["upload-offset"] == "5000"
    done = await patch(client, photo_id, 5000, PHOTO[5000:])
    assert done.status_code == 201, done.text


async def test_bytes_that_do_not_match_the_digest_are_refused_and_forgotten(client,
                                                                             tutor_world):
    photo_id = str(uuid.uuid4())
    other = PHOTO[:-10] + b"\0" * 10
    first = await client.put(photo_url(tutor_world, photo_id), content=other[:2000],
                             headers=creation_headers(PHOTO, complete=False))
    assert first.status_code == 201
    done = await patch(client, photo_id, 2000, other[2000:])
    assert done.status_code == 422 and done.json()["code"] == "digest_mismatch"
    assert (await head(client, photo_id)).status_code == 404  # the next try starts over
    assert await Photo.filter(id=photo_id).count() == 0


async def test_an_upload_is_its_senders_only(app, client, tutor_world):
    photo_id = str(uuid.uuid4())
    await client.put(photo_url(tutor_world, photo_id), content=PHOTO[:1000],
                     headers=creation_headers(PHOTO, complete=False))
    await client.delete("/api/v1/session")
    assert (await head(client, photo_id)).status_code == 401
    await f.login(client, tutor_world.candidate)  # may add photos to this very enrolment
    assert (await head(client, photo_id)).status_code == 404
    assert (await patch(client, photo_id, 1000, PHOTO[1000:])).status_code == 404


async def test_a_tutor_whose_tie_ended_cannot_resume(app, client, tutor_world):
    photo_id = str(uuid.uuid4())
    await client.put(photo_url(tutor_world, photo_id), content=PHOTO[:1000],
                     headers=creation_headers(PHOTO, complete=False))
    from backend.models import Tutorship

    await Tutorship.filter(enrolment_id=tutor_world.enrolment.id).delete()
    assert (await head(client, photo_id)).status_code == 404
    assert (await patch(client, photo_id, 1000, PHOTO[1000:])).status_code == 404


async def test_creation_needs_upload_complete_and_a_digest(client, tutor_world):
    url = photo_url(tutor_world, str(uuid.uuid4()))
    no_complete = await client.put(url, content=PHOTO, headers={
        "Upload-Draft-Interop-Version": "7", "Repr-Digest": repr_digest(PHOTO)})
    assert no_complete.status_code == 400
    no_digest = await client.put(url, content=PHOTO, headers={
        "Upload-Draft-Interop-Version": "7", "Upload-Complete": "?1"})
    assert no_digest.status_code == 422 and no_digest.json()["code"] == "digest_required"


async def test_a_stored_photo_is_not_received_again(client, tutor_world):
    photo_id = str(uuid.uuid4())
    first = await client.put(photo_url(tutor_world, photo_id), content=PHOTO,
                             headers={"Content-Digest": content_digest(PHOTO)})
    assert first.status_code == 201
    again = await client.put(photo_url(tutor_world, photo_id), content=b"",
                             headers={**creation_headers(PHOTO), "Content-Length": "0"})
    assert again.status_code == 200 and again.json() == first.json()
    other = await client.put(photo_url(tutor_world, photo_id), content=b"",
                             headers=creation_headers(b"other"))
    assert other.status_code == 409 and other.json()["code"] == "photo_conflict"


async def test_gc_removes_uploads_untouched_for_days_only(app, client, tutor_world):
    old_id, new_id = str(uuid.uuid4()), str(uuid.uuid4())
    for photo_id in (old_id, new_id):
        await client.put(photo_url(tutor_world, photo_id), content=PHOTO[:1000],
                         headers=creation_headers(PHOTO, complete=False))
    area = area_of_app(app)
    week_ago = time.time() - 7 * 24 * 3600
    for path in area.root.glob(f"{old_id}.*"):
        os.utime(path, (week_ago, week_ago))
    code, lines = await gc_report(app.state.photo_store, dry_run=True, uploads=area)
    assert any(old_id in line for line in lines)
    assert any(p.name.startswith(old_id) for p in area.root.iterdir())
    code, lines = await gc_report(app.state.photo_store, dry_run=False, uploads=area)
    assert code == 0
    names = {p.name.split(".")[0] for p in area.root.iterdir()}
    assert old_id not in names and new_id in names
    assert (await head(client, new_id)).status_code == 204
