"""The real server killed with SIGKILL at random moments during uploads, then the
client retrying everything: every acknowledged item is there exactly once, every
stored file verifies, and no row references a missing file. Loopback only,
bounded in count and time."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from backend.storage import content_digest
from tests.images import jpeg
from tests.test_packaging import free_port, wait_for

pytestmark = pytest.mark.slow
ITEMS = 40
KILLS = 6
DEADLINE_SECONDS = 150


class Server:
    def __init__(self, data_dir: Path):
        self.data_dir, self.port, self.process = data_dir, free_port(), None
        self.env = {**os.environ, "CARNET_DATA_DIR": str(data_dir)}

    def start(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port), *extra],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(f"{self.url}/health", seconds=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


async def send_until_acknowledged(client: httpx.AsyncClient, method: str, url: str, **kw):
    """What the PWA outbox does: retry with a short backoff until a 2xx."""
    for attempt in range(400):
        try:
            response = await client.request(method, url, **kw)
            if response.status_code < 300:
                return response.json()
            assert response.status_code >= 500 or response.status_code == 503, response.text
        except httpx.TransportError:
            pass
        await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
    raise AssertionError(f"{url} never acknowledged")


async def upload_all(server: Server, enrolment_id: int, cookie: str, progress: list[int]):
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    acknowledged = {"photos": {}, "observations": {}}
    async with httpx.AsyncClient(base_url=server.url, cookies={"carnet": cookie},
                                 timeout=10) as client:
        for i in range(ITEMS):
            data = jpeg((200 + i, 150))
            photo_id, observation_id = str(uuid.uuid4()), str(uuid.uuid4())
            photo = await send_until_acknowledged(
                client, "PUT", f"/api/v1/photos/{photo_id}?enrolment={enrolment_id}",
                content=data, headers={"Content-Digest": content_digest(data)})
            assert photo["received_sha256"] == hashlib.sha256(data).hexdigest()
            acknowledged["photos"][photo_id] = photo
            progress[0] += 1
            body = {"enrolment": enrolment_id, "observed_on": yesterday,
                    "situation": f"Soudure n°{i}", "kind": "observation",
                    "ratings": {"C2.2.a": "met"}, "photos": [{"id": photo_id}]}
            obs = await send_until_acknowledged(client, "PUT",
                                                f"/api/v1/observations/{observation_id}",
                                                json=body)
            acknowledged["observations"][observation_id] = obs
            progress[0] += 1
    return acknowledged


async def killer(server: Server, uploads: asyncio.Task, progress: list[int]) -> int:
    """Kills at random points spread over the run, a few milliseconds after an
    acknowledgement so that the next request is likely in flight."""
    thresholds = sorted(random.sample(range(1, ITEMS * 2 - 1), KILLS))
    kills = 0
    for threshold in thresholds:
        while progress[0] < threshold and not uploads.done():  # noqa: ASYNC110 - polling a counter
            await asyncio.sleep(0.001)
        if uploads.done():
            break
        await asyncio.sleep(random.uniform(0, 0.02))
        server.kill()
        kills += 1
        await asyncio.to_thread(server.start)
    return kills


def demo_session(server: Server) -> tuple[int, str]:
    response = httpx.post(f"{server.url}/api/v1/session",
                          json={"email": "tuteur@demo.test", "password": "carnet-demo"})
    assert response.status_code == 200, response.text
    return response.json()["roles"]["tutor"][0], response.cookies["carnet"]


def existing_rows(data_dir: Path) -> tuple[set[str], set[str]]:
    """Photo and observation ids already there (the demo's own evidence)."""
    db = sqlite3.connect(f"file:{data_dir / 'carnet.sqlite3'}?mode=ro", uri=True)
    photos = {row[0] for row in db.execute("SELECT id FROM photo")}
    observations = {row[0] for row in db.execute("SELECT id FROM observation")}
    db.close()
    return photos, observations


def check_storage(data_dir: Path, acknowledged: dict, before: tuple[set, set]) -> None:
    db = sqlite3.connect(f"file:{data_dir / 'carnet.sqlite3'}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    photos = {row[0]: row[1:] for row in db.execute(
        "SELECT id, sha256, thumb_sha256, received_sha256 FROM photo")}
    observations = [row[0] for row in db.execute("SELECT id FROM observation")]
    assert sorted(set(photos) - before[0]) == sorted(acknowledged["photos"])  # exactly once
    assert len(photos) == len(before[0]) + ITEMS
    assert sorted(set(observations) - before[1]) == sorted(acknowledged["observations"])
    assert len(observations) == len(before[1]) + ITEMS
    root = data_dir / "photos"
    for sha, thumb, _ in photos.values():
        for name in (sha, thumb):
            path = root / name[:2] / name[2:4] / name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == name
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(".tmp-"):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


async def test_acknowledged_uploads_survive_sigkill_exactly_once(tmp_path):
    server = Server(tmp_path / "data")
    server.start("--demo")
    try:
        enrolment_id, cookie = demo_session(server)
        before = existing_rows(tmp_path / "data")
        progress = [0]
        uploads = asyncio.create_task(upload_all(server, enrolment_id, cookie, progress))
        kills = await asyncio.wait_for(killer(server, uploads, progress), DEADLINE_SECONDS)
        acknowledged = await asyncio.wait_for(uploads, DEADLINE_SECONDS)
    finally:
        server.kill()
    assert kills == KILLS
    assert len(acknowledged["photos"]) == len(acknowledged["observations"]) == ITEMS
    check_storage(tmp_path / "data", acknowledged, before)
