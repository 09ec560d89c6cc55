"""`carnet gc`: unreferenced photo files and stale `.tmp-*` files go, referenced ones never,
not even when an upload races the collector."""

from __future__ import annotations

import os
import time
import uuid

from backend.cli import gc_report
from backend.domain import garbage
from backend.models import Photo
from tests import factories as f
from tests.images import jpeg

HOUR = 3600


def age(store, sha: str, seconds: float) -> None:
    """Make a stored file look `seconds` old (the collector's grace is an hour)."""
    path = store.path(sha)
    then = time.time() - seconds
    os.utime(path, (then, then))


async def photo_for(store, enrolment, author, data: bytes) -> Photo:
    sha = store.put(data)
    return await Photo.create(id=uuid.uuid4(), enrolment=enrolment, uploaded_by=author,
                              author_role="tutor", received_sha256=sha, sha256=sha,
                              content_type="image/jpeg", size=len(data), width=40, height=30,
                              thumb_sha256=sha, thumb_size=len(data))


async def test_gc_removes_old_orphans_and_stale_temps_and_keeps_the_rest(app):
    store = app.state.photo_store
    w = await f.world()
    kept = await photo_for(store, w.enrolment, w.tutor, jpeg((40, 30)))
    orphan, young = store.put(jpeg((41, 30))), store.put(jpeg((42, 30)))
    for sha in (kept.sha256, orphan):
        age(store, sha, 2 * HOUR)
    shard = store.path(orphan).parent
    stale, fresh = shard / ".tmp-stale", shard / ".tmp-fresh"
    stale.write_bytes(b"half"), fresh.write_bytes(b"in flight")
    os.utime(stale, (time.time() - 2 * HOUR,) * 2)

    code, lines = await gc_report(store, dry_run=True)
    assert code == 0
    assert any(orphan in line for line in lines) and any(".tmp-stale" in line for line in lines)
    assert store.exists(orphan) and stale.exists()  # a dry run removes nothing

    found = await garbage.collect(store, dry_run=False)
    assert [sha for sha, _ in found.orphans] == [orphan]
    assert [p.name for p, _ in found.temps] == [".tmp-stale"]
    assert not store.exists(orphan) and not stale.exists()
    assert store.exists(kept.sha256) and store.exists(young) and fresh.exists()


async def test_a_file_named_only_by_a_dossier_manifest_is_kept(app):
    from backend.auth import utcnow
    from backend.models import Dossier

    store = app.state.photo_store
    w = await f.world()
    sha = store.put(jpeg((40, 30)))
    age(store, sha, 2 * HOUR)
    await Dossier.create(enrolment=w.enrolment, block_code="BC04", manifest={"photos": [
        {"id": str(uuid.uuid4()), "sha256": sha, "thumb_sha256": sha}]},
        manifest_sha256="d" * 64, submitted_by=w.tutor, submitted_at=utcnow())
    assert (await garbage.collect(store, dry_run=False)).orphans == []
    assert store.exists(sha)


async def test_an_upload_racing_the_collector_keeps_its_file(app, monkeypatch):
    """The collector lists an old orphan and reads the rows; before it deletes, an upload
    of the same bytes reuses the file and commits its row. The file must stay."""
    store = app.state.photo_store
    w = await f.world()
    data = jpeg((40, 30))
    orphan = store.put(data)  # written by an upload that crashed before its commit
    age(store, orphan, 2 * HOUR)
    real = garbage.referenced_hashes
    uploaded: list[Photo] = []

    async def rows_then_upload() -> set[str]:
        seen = await real()  # the orphan is not referenced yet
        uploaded.append(await photo_for(store, w.enrolment, w.tutor, data))
        return seen

    monkeypatch.setattr(garbage, "referenced_hashes", rows_then_upload)
    found = await garbage.collect(store, dry_run=False)
    assert found.orphans == []
    assert uploaded and store.verify(uploaded[0].sha256)


async def test_gc_under_concurrent_uploads_never_loses_a_referenced_file(app):
    """Real concurrency: uploads (ingest and files in worker threads) of photos whose files
    are old orphans, while the collector runs again and again; every row's file survives."""
    import asyncio

    from backend.domain.evidence import put_photo
    from backend.storage import ingest_image
    from tests.images import encode, noisy

    store = app.state.photo_store
    w = await f.world()
    bodies = [encode(noisy((60 + i, 40)), "JPEG", quality=90) for i in range(6)]
    for body in bodies:  # leftovers of crashed uploads of the very same photos
        ingested = ingest_image(body)
        for sha in (store.put(ingested.content), store.put(ingested.thumb)):
            age(store, sha, 2 * HOUR)

    async def upload(body: bytes) -> None:
        await put_photo(photo_id=str(uuid.uuid4()), enrolment=w.enrolment, data=body,
                        declared=None, author_id=w.tutor.id, author_role="tutor", store=store,
                        max_pixels=40_000_000)

    async def collector() -> None:
        for _ in range(8):
            await garbage.collect(store, dry_run=False)
            await asyncio.sleep(0)

    await asyncio.gather(collector(), *(upload(b) for b in bodies))
    await garbage.collect(store, dry_run=False)
    photos = await Photo.all()
    assert len(photos) == len(bodies)
    for photo in photos:
        assert store.verify(photo.sha256) and store.verify(photo.thumb_sha256)
