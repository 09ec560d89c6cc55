"""PDF documents as evidence (issue section 3): accepted by content with pypdf, bounded,
refused when encrypted or active; stored content-addressed like photos, with a generated
thumbnail (« PDF » and the page count: no rasteriser is installed); counted as expected
evidence, frozen in dossier manifests and verifiable like photos."""

from __future__ import annotations

import uuid

from backend.auth import utcnow
from backend.domain import jury, standing
from backend.models import Observation, Photo
from tests import factories as f
from tests import pdfs
from tests.routes.test_evidence import observation, put_observation, put_photo


async def test_a_pdf_is_stored_as_received_with_a_thumbnail_and_counts(client, app):
    w = await f.world()
    await f.login(client, w.tutor)
    data = pdfs.plain(3)
    photo_id = str(uuid.uuid4())
    response = await put_photo(client, w.enrolment.id, data, photo_id,
                               **{"Content-Type": "application/pdf"})
    assert response.status_code == 201, response.text
    row = await Photo.get(id=photo_id)
    assert row.content_type == "application/pdf" and row.size == len(data)
    got = await client.get(f"/api/v1/photos/{photo_id}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"].startswith("application/pdf")
    thumb = await client.get(f"/api/v1/photos/{photo_id}?size=thumb")
    assert thumb.headers["content-type"].startswith("image/jpeg")
    assert thumb.content[:2] == b"\xff\xd8"
    assert app.state.photo_store.verify(row.sha256)  # content-addressed: verifiable
    cited = [{"id": photo_id, "competency": "C1.1", "evidence": "croquis coté"}]
    stored = await put_observation(client, observation(w.enrolment.id, photos=cited,
                                                       ratings={"C1.1.a": "met"}))
    assert stored.status_code == 201, stored.text
    ref = app.state.registry.get(*f.CQP)
    records = await standing.load_records(w.enrolment.id, ref)
    assert [(e.label, e.kind) for e in records.evidence] == [("croquis coté", "document")]
    # Frozen in a dossier's manifest with its type and hash.
    manifest = jury.build_manifest(
        ref=ref, block_code="BC01",
        enrolment={"id": w.enrolment.id, "candidate": w.candidate.id, "company": w.company.id},
        observations=await Observation.filter(enrolment=w.enrolment).values(
            *jury.OBSERVATION_FIELDS),
        photos=await Photo.filter(enrolment=w.enrolment).values(*jury.PHOTO_FIELDS),
        attestation={"person": w.tutor.id, "name": w.tutor.full_name, "role": "tutor",
                     "at": jury.instant(utcnow())})
    text = str(manifest)
    assert row.sha256 in text and "application/pdf" in text


async def test_unsafe_or_unreadable_pdfs_are_refused_and_nothing_is_kept(client):
    w = await f.world()
    await f.login(client, w.tutor)
    cases = [(pdfs.with_script(), 422, "document_active_content"),
             (pdfs.with_attachment(), 422, "document_active_content"),
             (pdfs.encrypted(), 422, "document_encrypted"),
             (pdfs.plain(51), 422, "document_too_many_pages"),
             (b"%PDF-1.7\nnot really", 422, "corrupt_document"),
             (b"plain text, not a PDF", 415, "unsupported_image_type")]
    for data, status, code in cases:
        response = await put_photo(client, w.enrolment.id, data)
        assert (response.status_code, response.json()["code"]) == (status, code), code
    assert await Photo.all().count() == 0
