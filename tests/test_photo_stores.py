"""The photo-store contract, on both stores: the data folder (LocalPhotoStore) and an
S3-compatible bucket (S3PhotoStore) on a real S3 server, SeaweedFS, not a mock
(tests/seaweed.py). `carnet gc` and `carnet dossier verify` work on both; serving a photo
stays behind Carnet's access check on both."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from backend.cli import dossier_verify_report, gc_report
from backend.domain import garbage
from backend.errors import CarnetError, NotFound
from backend.storage import LocalPhotoStore, PhotoStore, S3PhotoStore, sha256_hex
from tests import factories as f
from tests.images import jpeg
from tests.routes.test_jury import submitted

HOUR = 3600


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> PhotoStore:
    if request.param == "local":
        return LocalPhotoStore(tmp_path / "photos")
    return request.getfixturevalue("seaweedfs").store()


def overwrite(store: PhotoStore, sha: str, data: bytes) -> None:
    """Damage a stored photo behind the store's back (a disk or a bucket admin would)."""
    if isinstance(store, LocalPhotoStore):
        store.path(sha).write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=store.key(sha), Body=data)


def test_put_reads_back_under_the_hash_and_lists(store):
    sha = store.put(b"evidence")
    assert sha == hashlib.sha256(b"evidence").hexdigest()
    assert store.open(sha) == b"evidence"
    assert store.exists(sha) and store.verify(sha)
    assert list(store.iter_hashes()) == [sha]
    assert [(x.sha, x.size) for x in store.iter_files()] == [(sha, 8)]


def test_the_same_bytes_twice_are_one_photo(store):
    hashes = {store.put(f"photo {i % 5}".encode()) for i in range(10)}
    assert sorted(store.iter_hashes()) == sorted(hashes) and len(hashes) == 5


def test_verify_detects_changed_bytes(store):
    sha = store.put(b"evidence")
    overwrite(store, sha, b"evidencf")
    assert store.exists(sha) and not store.verify(sha)


def test_delete_tolerates_absence_and_a_missing_photo_is_not_found(store):
    sha = store.put(b"evidence")
    store.delete(sha)
    store.delete(sha)
    assert not store.exists(sha) and not store.verify(sha)
    with pytest.raises(NotFound) as info:
        store.open(sha256_hex(b"never stored"))
    assert info.value.code == "photo_file_missing"


@pytest.mark.parametrize("sha", ["../../etc/passwd", "A" * 64, "a" * 63, "", None])
def test_a_name_that_is_not_a_sha256_never_reaches_the_store(store, sha):
    for call in (store.open, store.exists, store.verify, store.delete):
        with pytest.raises(CarnetError) as info:
            call(sha)
        assert info.value.code == "bad_photo_hash"


def test_only_old_unreferenced_photos_may_go(store):
    sha = store.put(b"evidence")
    assert store.delete_if_untouched(sha, before=time.time() - HOUR) == 0  # young: kept
    assert store.exists(sha)
    assert store.delete_if_untouched(sha, before=time.time() + HOUR) == 8
    assert not store.exists(sha)


# --- the S3 store's own promises, checked against the real server --------------------------


def test_s3_writes_are_conditional_and_carry_their_checksum(seaweedfs):
    store = seaweedfs.store()
    sha = store.put(b"evidence")
    key = store.key(sha)
    checksum = base64.b64encode(hashlib.sha256(b"evidence").digest()).decode()
    with pytest.raises(ClientError) as info:  # what put sends: an existing object stays
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"evidence",
                                ChecksumSHA256=checksum, IfNoneMatch="*")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    other = store.key(sha256_hex(b"other"))
    with pytest.raises(ClientError) as info:  # a body corrupted on the way is refused
        store.client.put_object(Bucket=store.bucket, Key=other, Body=b"othex",
                                ChecksumSHA256=base64.b64encode(
                                    hashlib.sha256(b"other").digest()).decode())
    assert info.value.response["Error"]["Code"] == "BadDigest"
    assert not store.exists(sha256_hex(b"other"))


def test_s3_credentials_are_checked(seaweedfs):
    wrong = S3PhotoStore(seaweedfs.url(), endpoint_url=seaweedfs.endpoint,
                         access_key_id=seaweedfs.access_key, secret_access_key="wrong")
    with pytest.raises(ClientError):
        wrong.put(b"evidence")


def test_s3_a_reused_photo_is_touched_so_the_collector_spares_it(seaweedfs):
    store = seaweedfs.store()
    sha = store.put(b"evidence")
    first = store.head(sha).mtime
    time.sleep(1.1)  # S3 times are in whole seconds
    assert store.put(b"evidence") == sha
    assert store.head(sha).mtime > first


def test_s3_streams_in_chunks(seaweedfs):
    store = seaweedfs.store()
    data = bytes(range(256)) * 4096  # 1 MiB
    sha = store.put(data)
    size, chunks = store.stream(sha)
    parts = list(chunks)
    assert size == len(data) and b"".join(parts) == data and len(parts) > 1


# --- the commands and the routes on both stores ---------------------------------------------


@pytest.fixture
def app_store(request, app, tmp_path):
    """The app's photo store: the folder, or a bucket of the real S3 server."""
    if request.param == "s3":
        app.state.photo_store = request.getfixturevalue("seaweedfs").store()
    return app.state.photo_store


@pytest.mark.parametrize("app_store", ["local", "s3"], indirect=True)
async def test_gc_on_both_stores(app_store, db):
    store = app_store
    w = await f.world()
    from tests.test_gc import photo_for

    kept = await photo_for(store, w.enrolment, w.tutor, jpeg((40, 30)))
    orphan = store.put(jpeg((41, 30)))
    later = time.time() + 2 * HOUR  # as if both were two hours old
    code, lines = await gc_report(store, dry_run=True)
    assert code == 0 and not any(orphan in line for line in lines)  # young: kept
    found = await garbage.collect(store, dry_run=False, now=later)
    assert [sha for sha, _ in found.orphans] == [orphan]
    assert not store.exists(orphan) and store.exists(kept.sha256)


@pytest.mark.parametrize("app_store", ["local", "s3"], indirect=True)
async def test_dossier_verify_and_photo_serving_on_both_stores(app_store, client, app):
    store = app_store
    w = await f.world()
    dossier = await submitted(client, app, w)
    code, lines = await dossier_verify_report(dossier["id"], app.state.registry, store)
    assert code == 0, lines
    photo = dossier["manifest"]["photos"][0]
    served = await client.get(f"/api/v1/photos/{photo['id']}")  # the tutor, logged in
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == photo["sha256"]
    outsider = await f.person("Curieux")
    await f.login(client, outsider)
    assert (await client.get(f"/api/v1/photos/{photo['id']}")).status_code == 404
    overwrite(store, photo["sha256"], b"not the photo")
    code, lines = await dossier_verify_report(dossier["id"], app.state.registry, store)
    assert code == 1 and any(photo["id"] in line for line in lines), lines


@pytest.mark.parametrize("app_store", ["s3"], indirect=True)
async def test_a_presigned_url_comes_only_after_the_access_check(app_store, client, app):
    app.state.settings = app.state.settings.with_(s3_presign_seconds=60)
    w = await f.world()
    dossier = await submitted(client, app, w)
    photo = dossier["manifest"]["photos"][0]
    served = await client.get(f"/api/v1/photos/{photo['id']}")
    assert served.status_code == 303 and "Signature=" in served.headers["location"]
    assert served.headers["cache-control"] == "no-store"
    import httpx

    async with httpx.AsyncClient() as plain:
        fetched = await plain.get(served.headers["location"])
    assert hashlib.sha256(fetched.content).hexdigest() == photo["sha256"]
    await f.login(client, await f.person("Curieux"))
    assert (await client.get(f"/api/v1/photos/{photo['id']}")).status_code == 404
