"""The sync API: photos and observations, idempotent, validated, never half written."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import httpx
import pytest

from backend.models import AuditEvent, Observation, Photo
from backend.storage import content_digest
from tests import factories as f
from tests.images import jpeg, phone_jpeg_bytes, png_declaring, reopen

SMALL = jpeg((320, 240))


async def put_photo(client, enrolment_id: int, data: bytes, photo_id: str | None = None,
                    digest: str | None = None, **headers):
    photo_id = photo_id or str(uuid.uuid4())
    headers = {"Content-Type": "image/jpeg",
               "Content-Digest": digest if digest is not None else content_digest(data),
               **headers}
    return await client.put(f"/api/v1/photos/{photo_id}?enrolment={enrolment_id}",
                            content=data, headers=headers)


def observation(enrolment_id: int, **changes) -> dict:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    body = {"enrolment": enrolment_id, "observed_on": yesterday,
            "situation": "Garde-corps acier, soudure des montants", "place": "Chantier Dupont",
            "kind": "observation", "ratings": {"C2.2.a": "met", "C2.2.b": "progressing"},
            "comment": "Bon geste.", "photos": []}
    body.update(changes)
    return body


async def put_observation(client, body: dict, observation_id: str | None = None):
    return await client.put(f"/api/v1/observations/{observation_id or uuid.uuid4()}", json=body)


@pytest.fixture
async def tutor_world(client):
    w = await f.world()
    await f.login(client, w.tutor)
    return w


async def test_a_photo_sent_three_times_is_stored_once_with_identical_answers(client, tutor_world,
                                                                              app):
    photo_id = str(uuid.uuid4())
    answers = [await put_photo(client, tutor_world.enrolment.id, SMALL, photo_id)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert await Photo.filter(id=photo_id).count() == 1
    body = answers[0].json()
    assert body["received_sha256"] == content_digest_hex(SMALL)
    assert app.state.photo_store.verify(body["sha256"])
    assert app.state.photo_store.verify(body["thumb_sha256"])


def content_digest_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


async def test_another_photo_under_a_known_uuid_is_a_409_and_the_original_is_kept(client,
                                                                                  tutor_world):
    photo_id = str(uuid.uuid4())
    first = await put_photo(client, tutor_world.enrolment.id, SMALL, photo_id)
    other = await put_photo(client, tutor_world.enrolment.id, jpeg((300, 200)), photo_id)
    assert other.status_code == 409
    assert other.json()["code"] == "photo_conflict"
    assert other.json()["details"]["stored"] == first.json()
    assert (await Photo.get(id=photo_id)).received_sha256 == first.json()["received_sha256"]


async def test_concurrent_sends_of_one_photo_give_one_row(client, tutor_world):
    photo_id = str(uuid.uuid4())
    answers = await asyncio.gather(*[put_photo(client, tutor_world.enrolment.id, SMALL, photo_id)
                                     for _ in range(4)])
    assert sorted(a.status_code for a in answers) in ([200, 200, 200, 201], [201] * 1 + [200] * 3)
    assert len({a.text for a in answers}) == 1
    assert await Photo.filter(id=photo_id).count() == 1


async def test_concurrent_sends_of_one_observation_give_one_row(client, tutor_world):
    body, oid = observation(tutor_world.enrolment.id), str(uuid.uuid4())
    answers = await asyncio.gather(*[put_observation(client, body, oid) for _ in range(4)])
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert await Observation.filter(id=oid).count() == 1


async def test_stored_photo_has_no_metadata_and_its_orientation_applied(client, tutor_world):
    response = await put_photo(client, tutor_world.enrolment.id, phone_jpeg_bytes())
    body = response.json()
    assert (body["width"], body["height"]) == (300, 400)  # stored sideways, now upright
    assert body["captured_at"] == "2025-03-14T09:26:53+00:00"
    served = await client.get(f"/api/v1/photos/{body['id']}")
    image = reopen(served.content)
    assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
    assert "icc_profile" not in image.info
    thumb = reopen((await client.get(f"/api/v1/photos/{body['id']}?size=thumb")).content)
    assert max(thumb.size) == 320


async def test_photos_are_served_with_exact_type_nosniff_private_caching_and_etag(client,
                                                                                tutor_world):
    body = (await put_photo(client, tutor_world.enrolment.id, SMALL)).json()
    served = await client.get(f"/api/v1/photos/{body['id']}",
                              headers={"Accept-Encoding": "gzip"})
    assert served.headers["content-type"] == "image/jpeg"
    assert "content-encoding" not in served.headers  # JPEG is not compressed twice
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"].startswith("private")
    again = await client.get(f"/api/v1/photos/{body['id']}",
                             headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304


async def test_an_observation_sent_three_times_is_stored_once_and_lists_missing_photos(
        client, tutor_world):
    pending = str(uuid.uuid4())
    body = observation(tutor_world.enrolment.id,
                       photos=[{"id": pending, "competency": "C2.2", "evidence": "détail soudure"}])
    oid = str(uuid.uuid4())
    answers = [await put_observation(client, body, oid) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert answers[0].json()["missing_photos"] == [pending]
    assert answers[0].json()["complete"] is False
    await put_photo(client, tutor_world.enrolment.id, SMALL, pending)
    after = (await client.get(f"/api/v1/observations/{oid}")).json()
    assert after["missing_photos"] == [] and after["complete"] is True
    assert await AuditEvent.filter(action="observation.stored").count() == 1
    assert await AuditEvent.filter(action="photo.stored").count() == 1


async def test_changed_content_under_a_known_uuid_is_a_409_with_the_stored_version(
        client, tutor_world):
    oid = str(uuid.uuid4())
    first = await put_observation(client, observation(tutor_world.enrolment.id), oid)
    changed = await put_observation(client, observation(tutor_world.enrolment.id,
                                                        comment="Autre chose"), oid)
    assert changed.status_code == 409
    assert changed.json()["code"] == "observation_conflict"
    stored = changed.json()["details"]["stored"]
    assert stored["comment"] == "Bon geste."
    assert stored["content_sha256"] == first.json()["content_sha256"]
    assert (await Observation.get(id=oid)).comment == "Bon geste."


async def test_a_correction_supersedes_the_old_observation_which_is_kept(client, tutor_world):
    old = str(uuid.uuid4())
    await put_observation(client, observation(tutor_world.enrolment.id), old)
    fix = await put_observation(client, observation(
        tutor_world.enrolment.id, ratings={"C2.2.a": "progressing"}, supersedes=old))
    assert fix.status_code == 201 and fix.json()["supersedes"] == old
    assert await Observation.filter(enrolment_id=tutor_world.enrolment.id).count() == 2
    twice = await put_observation(client, observation(
        tutor_world.enrolment.id, ratings={"C2.2.a": "not_met"}, supersedes=old))
    assert twice.status_code == 409 and twice.json()["code"] == "already_superseded"


async def test_a_candidate_may_add_reflections_and_photos_but_not_observations(client):
    w = await f.world()
    await f.login(client, w.candidate)
    reflection = observation(w.enrolment.id, kind="reflection", ratings={}, block="BC02",
                             situation="Ce que j'ai appris sur la soudure")
    stored = await put_observation(client, reflection)
    assert stored.status_code == 201 and stored.json()["author_role"] == "candidate"
    photo = await put_photo(client, w.enrolment.id, SMALL)
    assert photo.status_code == 201 and photo.json()["author_role"] == "candidate"
    refused = await put_observation(client, observation(w.enrolment.id))
    assert refused.status_code == 403 and refused.json()["code"] == "not_designated_tutor"


async def test_a_tutor_writing_for_a_candidate_of_another_company_gets_404(client, tutor_world):
    response = await put_observation(client, observation(tutor_world.other_enrolment.id))
    assert response.status_code == 404
    photo = await put_photo(client, tutor_world.other_enrolment.id, SMALL)
    assert photo.status_code == 404


async def test_another_enrolments_photo_cannot_be_seen_or_cited(client, app, tutor_world):
    mine = (await put_photo(client, tutor_world.enrolment.id, SMALL)).json()["id"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        await f.login(other, tutor_world.other_tutor)
        assert (await other.get(f"/api/v1/photos/{mine}")).status_code == 404
        cited = await put_observation(other, observation(
            tutor_world.other_enrolment.id, photos=[{"id": mine}]))
        assert cited.status_code == 422 and cited.json()["code"] == "photo_wrong_enrolment"


async def test_a_photo_body_over_the_limit_is_refused_before_reading_it(app, client, tutor_world):
    app.state.settings = app.state.settings.with_(max_upload_bytes=1000)
    streamed = 0

    async def body():
        nonlocal streamed
        for _ in range(100):
            streamed += 1
            yield b"\xff" * 500

    response = await client.put(f"/api/v1/photos/{uuid.uuid4()}?enrolment="
                                f"{tutor_world.enrolment.id}", content=body(),
                                headers={"Content-Digest": content_digest(b"x")})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert streamed < 10  # stopped early, not read whole
    assert await Photo.all().count() == 0
    assert not any(app.state.photo_store.iter_hashes())


# --- the bad-input corpus: each gets its 4xx and code, nothing is stored, and the
# --- server answers the next good request.

HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
POLYGLOT = b"\xff\xd8\xff\xe0" + HTML


def photo_cases():
    good = jpeg((200, 150))
    return [
        ("truncated jpeg", good[: len(good) // 2], None, 422, "corrupt_image"),
        ("png bomb", png_declaring(60000, 60000), None, 422, "image_too_large"),
        ("html named jpg", HTML, None, 415, "unsupported_image_type"),
        ("svg", SVG, None, 415, "unsupported_image_type"),
        # PDF documents are accepted (tests/routes/test_documents.py): not a broken one.
        ("broken pdf", PDF, None, 422, "corrupt_document"),
        ("gif", GIF, None, 415, "unsupported_image_type"),
        ("jpeg magic then html", POLYGLOT, None, 422, "corrupt_image"),
        ("html then jpeg", HTML + good, None, 415, "unsupported_image_type"),
        ("empty body", b"", None, 422, "empty_body"),
        ("wrong digest", good, content_digest(b"other bytes"), 422, "digest_mismatch"),
        ("no digest", good, "", 422, "digest_required"),
        ("malformed digest", good, "sha-256=:not base64!:", 422, "bad_digest_header"),
    ]


@pytest.mark.parametrize("name,data,digest,status,code", photo_cases(),
                         ids=[c[0] for c in photo_cases()])
async def test_bad_photos_get_a_clear_error_and_nothing_is_kept(client, app, tutor_world, name,
                                                                data, digest, status, code):
    response = await put_photo(client, tutor_world.enrolment.id, data, digest=digest)
    assert (response.status_code, response.json()["code"]) == (status, code), name
    assert response.json()["message"]
    assert await Photo.all().count() == 0
    assert not any(app.state.photo_store.iter_hashes())
    assert (await put_photo(client, tutor_world.enrolment.id, SMALL)).status_code == 201


def observation_cases(enrolment_id: int):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    return [
        ("unknown criterion", observation(enrolment_id, ratings={"C9.9.z": "met"}), 422,
         "invalid_observation"),
        ("rating outside the three", observation(enrolment_id, ratings={"C2.2.a": "good"}), 422,
         "invalid_observation"),
        ("future date", observation(enrolment_id, observed_on=tomorrow), 422,
         "invalid_observation"),
        ("before the enrolment", observation(enrolment_id, observed_on="2000-01-01"), 422,
         "invalid_observation"),
        ("not a date", observation(enrolment_id, observed_on="hier"), 422, "invalid_observation"),
        ("huge situation", observation(enrolment_id, situation="x" * 100_000), 422,
         "invalid_observation"),
        # Optional for an observation (the tutor's minute), required for a reflection.
        ("empty situation of a reflection", {**observation(enrolment_id, situation="   "),
                                             "kind": "reflection", "block": "BC01",
                                             "ratings": {}}, 422, "invalid_observation"),
        ("situation not text", observation(enrolment_id, situation=["a"]), 422,
         "invalid_observation"),
        ("ratings not an object", observation(enrolment_id, ratings=["C2.2.a"]), 422,
         "invalid_observation"),
        ("unknown kind", observation(enrolment_id, kind="opinion"), 422, "invalid_observation"),
        ("reflection with ratings", observation(enrolment_id, kind="reflection", block="BC02"),
         422, "invalid_observation"),
        ("photo id not a uuid", observation(enrolment_id, photos=[{"id": "../../etc/passwd"}]),
         422, "invalid_observation"),
        ("unknown competency", observation(enrolment_id, photos=[
            {"id": str(uuid.uuid4()), "competency": "C9.9"}]), 422, "invalid_observation"),
        ("unknown evidence", observation(enrolment_id, photos=[
            {"id": str(uuid.uuid4()), "competency": "C2.2", "evidence": "selfie"}]), 422,
         "invalid_observation"),
        ("enrolment not a number", observation("1"), 422, "invalid_observation"),
        ("unknown enrolment", observation(999_999), 404, "enrolment_not_found"),
        ("nothing observed", observation(enrolment_id, ratings={}), 422, "invalid_observation"),
    ]


async def test_bad_observations_get_a_clear_error_and_nothing_is_kept(client, tutor_world):
    for name, body, status, code in observation_cases(tutor_world.enrolment.id):
        response = await put_observation(client, body)
        assert (response.status_code, response.json()["code"]) == (status, code), name
    for name, raw, ctype, status, code in [
        ("malformed json", b'{"enrolment": 1,', "application/json", 400, "malformed_json"),
        ("json array", b"[1, 2]", "application/json", 400, "malformed_json"),
        ("text/plain", b"{}", "text/plain", 415, "json_required"),
    ]:
        response = await client.put(f"/api/v1/observations/{uuid.uuid4()}", content=raw,
                                    headers={"Content-Type": ctype})
        assert (response.status_code, response.json()["code"]) == (status, code), name
    bad_id = await client.put("/api/v1/observations/not-a-uuid",
                              json=observation(tutor_world.enrolment.id))
    assert bad_id.status_code == 404
    assert await Observation.all().count() == 0
    good = await put_observation(client, observation(tutor_world.enrolment.id))
    assert good.status_code == 201


async def test_a_jpeg_carrying_html_after_its_end_is_stored_clean(client, tutor_world):
    response = await put_photo(client, tutor_world.enrolment.id, SMALL + HTML)
    assert response.status_code == 201
    served = await client.get(f"/api/v1/photos/{response.json()['id']}")
    assert b"<script" not in served.content and served.content.startswith(b"\xff\xd8")


async def test_every_accepted_write_bumps_the_enrolment_revision(client, tutor_world):
    before = tutor_world.enrolment.revision
    await put_observation(client, observation(tutor_world.enrolment.id))
    await put_photo(client, tutor_world.enrolment.id, SMALL)
    await tutor_world.enrolment.refresh_from_db()
    assert tutor_world.enrolment.revision == before + 2
