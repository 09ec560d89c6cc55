"""Backups that restore: `carnet backup` while uploads are running, `carnet restore` into a
fresh folder, and both verify commands pass there on every dossier. `carnet photos migrate`
moves the folder store into an S3 bucket (SeaweedFS), resumably, and dossier verify passes
on the bucket. Real processes on loopback, bounded."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import uuid
from datetime import date, timedelta

import httpx
import pytest

from backend.storage import LocalPhotoStore, content_digest
from tests.images import jpeg
from tests.live import ROOT, LiveServer, carnet, init_branch, live_env, seed_enrolment

pytestmark = pytest.mark.slow
UPLOADS = 24
PACE_SECONDS = 0.15  # between items, as a phone on a worksite network would send them

READY_BLOCK = """
import asyncio, sys
from tortoise import Tortoise
from backend.app import load_registry
from backend.db import tortoise_config
from backend.models import Enrolment, Person
from backend.settings import from_env
from backend.storage import open_store
from tests.routes.test_jury import BLOCK, ready_block

async def main():
    settings = from_env()
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        enrolment = await Enrolment.get(id=int(sys.argv[1])).prefetch_related("candidate")
        tutor = await Person.get(email="tuteur@live.test")
        ref = load_registry(settings).get(enrolment.referential_code,
                                          enrolment.referential_version)
        await ready_block(ref, enrolment, tutor, enrolment.candidate, open_store(settings))
        print(BLOCK)
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


def ready_block(env: dict[str, str], enrolment: int) -> subprocess.CompletedProcess:
    """Rows making a block of the enrolment ready for a dossier (tests/routes/test_jury.py)."""
    done = subprocess.run([sys.executable, "-c", READY_BLOCK, str(enrolment)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def sqlite_env(data_dir, **extra) -> dict[str, str]:
    env = live_env(data_dir, "", {}, **extra)
    env.pop("CARNET_DATABASE_URL")
    for name in ("CARNET_PHOTO_STORE", "CARNET_S3_ENDPOINT"):
        env.pop(name, None)
    return env


async def upload(server: LiveServer, cookie: str, enrolment: int, done: list[int]) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=server.url, cookies={"carnet": cookie},
                                 timeout=20) as client:
        for i in range(UPLOADS):
            data = jpeg((120 + i, 90))
            photo_id = str(uuid.uuid4())
            sent = await client.put(f"/api/v1/photos/{photo_id}?enrolment={enrolment}",
                                    content=data, headers={"Content-Digest": content_digest(data)})
            assert sent.status_code == 201, sent.text
            sent = await client.put(f"/api/v1/observations/{uuid.uuid4()}", json={
                "enrolment": enrolment, "observed_on": yesterday, "situation": f"Pose {i}",
                "kind": "observation", "ratings": {"C2.2.a": "met"},
                "photos": [{"id": photo_id}]})
            assert sent.status_code == 201, sent.text
            done[0] += 1
            await asyncio.sleep(PACE_SECONDS)


async def test_a_backup_taken_during_uploads_restores_and_verifies(tmp_path):
    env = sqlite_env(tmp_path / "data")
    init_branch(env, "admin@live.test")
    tutor, password, enrolment = seed_enrolment(env)
    block = ready_block(env, enrolment)
    server = LiveServer(env).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            login = await client.post("/api/v1/session",
                                      json={"email": tutor, "password": password})
            cookie = login.cookies["carnet"]
            dossier = await client.post(f"/api/v1/enrolments/{enrolment}/dossiers",
                                        json={"block": block.stdout.strip()})
            assert dossier.status_code == 201, dossier.text
        done = [0]
        uploads = asyncio.create_task(upload(server, cookie, enrolment, done))
        while done[0] < UPLOADS // 4:  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.01)
        backup = await asyncio.to_thread(carnet, env, "backup", str(tmp_path / "backup"))
        assert backup.returncode == 0, backup.stderr
        assert done[0] < UPLOADS  # it ran while uploads went on
        await asyncio.wait_for(uploads, 120)
    finally:
        server.stop()

    restored = sqlite_env(tmp_path / "restored")
    restored.pop("CARNET_SECRET_KEY")  # the backup's key is restored into the folder
    done = carnet(restored, "restore", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr + done.stdout
    assert (tmp_path / "restored" / "secret_key").read_text() == env["CARNET_SECRET_KEY"]
    db = sqlite3.connect(f"file:{tmp_path / 'restored' / 'carnet.sqlite3'}?mode=ro", uri=True)
    dossiers = [row[0] for row in db.execute("SELECT id FROM dossier")]
    photos = db.execute("SELECT sha256, thumb_sha256 FROM photo").fetchall()
    db.close()
    assert dossiers and len(photos) >= UPLOADS // 3
    store = LocalPhotoStore(tmp_path / "restored" / "photos")
    assert all(store.verify(sha) and store.verify(thumb) for sha, thumb in photos)
    verified = carnet(restored, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for dossier_id in dossiers:
        verified = carnet(restored, "dossier", "verify", str(dossier_id))
        assert verified.returncode == 0, verified.stdout + verified.stderr

    # A damaged backup is refused before anything is written.
    (tmp_path / "backup" / "secret_key").write_text("changed")
    again = carnet(sqlite_env(tmp_path / "elsewhere"), "restore", str(tmp_path / "backup"))
    assert again.returncode == 1 and "altered" in again.stderr
    assert not (tmp_path / "elsewhere").exists()


async def test_photos_migrate_to_s3_is_resumable_and_dossier_verify_passes_there(
        tmp_path, seaweedfs):
    env = sqlite_env(tmp_path / "data")
    init_branch(env, "admin@live.test")
    tutor, password, enrolment = seed_enrolment(env)
    block = ready_block(env, enrolment)
    local = LocalPhotoStore(tmp_path / "data" / "photos")
    shas = list(local.iter_hashes())
    assert shas
    url = seaweedfs.url()
    s3 = {k: v for k, v in seaweedfs.env(url).items() if k != "CARNET_PHOTO_STORE"}
    first = carnet({**env, **s3}, "photos", "migrate", "--to", url)
    assert first.returncode == 0, first.stderr
    assert f"{len(shas)} photo(s) copied" in first.stdout
    again = carnet({**env, **s3}, "photos", "migrate", "--to", url)
    assert "0 photo(s) copied" in again.stdout and f"{len(shas)} already there" in again.stdout
    bucket = seaweedfs.store(url.split("/", 3)[3])
    assert sorted(bucket.iter_hashes()) == sorted(shas)
    # The folder is gone: from now on the server and the commands use the bucket.
    shutil.rmtree(tmp_path / "data" / "photos")
    on_s3 = {**env, **seaweedfs.env(url)}
    server = LiveServer(on_s3).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.post("/api/v1/session", json={"email": tutor, "password": password})
            dossier = await client.post(f"/api/v1/enrolments/{enrolment}/dossiers",
                                        json={"block": block.stdout.strip()})
            assert dossier.status_code == 201, dossier.text
    finally:
        server.stop()
    verified = carnet(on_s3, "dossier", "verify", str(dossier.json()["id"]))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    gc = carnet(on_s3, "gc", "--dry-run")
    assert gc.returncode == 0 and "0 orphan file(s)" in gc.stdout, gc.stdout

