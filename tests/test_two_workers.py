"""Several workers, one truth: two `carnet serve` processes on one PostgreSQL database and
one S3 store (SeaweedFS), the PWA's sync protocol replayed through both alternately, with
retries, and one process killed with SIGKILL while an upload is in flight. Nothing is lost
or duplicated, every stored object verifies, the audit chain verifies. Loopback only,
bounded in items and time."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from backend.storage import content_digest
from tests.conftest import scratch_postgres_database
from tests.images import jpeg
from tests.live import LiveServer, carnet, init_branch, live_env, seed_enrolment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ITEMS = 16
DEADLINE_SECONDS = 120


class Alternating:
    """The PWA's outbox over two servers: each request goes to the next server; a refused
    connection, a cut one or a 5xx is retried (on the other) until a 2xx."""

    def __init__(self, servers: list[LiveServer], cookie: str):
        self.servers, self.turn, self.sent = servers, 0, [0, 0]
        self.clients = [httpx.AsyncClient(base_url=s.url, cookies={"carnet": cookie},
                                          timeout=10) for s in servers]

    async def send(self, method: str, url: str, **kw) -> httpx.Response:
        for attempt in range(200):
            index = self.turn % 2
            self.turn += 1
            try:
                response = await self.clients[index].request(method, url, **kw)
                if response.status_code < 300:
                    self.sent[index] += 1
                    return response
                assert response.status_code >= 500, response.text
            except httpx.TransportError:
                pass
            await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
        raise AssertionError(f"{url} never acknowledged")

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def replay(outbox: Alternating, servers: list[LiveServer], enrolment: int) -> dict:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    acknowledged: dict[str, dict] = {"photos": {}, "observations": {}}
    for i in range(ITEMS):
        data = jpeg((300 + i, 200))
        photo_id, observation_id = str(uuid.uuid4()), str(uuid.uuid4())
        put_photo = ("PUT", f"/api/v1/photos/{photo_id}?enrolment={enrolment}")
        headers = {"Content-Digest": content_digest(data)}
        if i == ITEMS // 2:
            # Mid-upload: this photo is in flight on the first server when it is killed.
            in_flight = asyncio.create_task(outbox.clients[0].request(
                *put_photo, content=data, headers=headers))
            await asyncio.sleep(random.uniform(0.0, 0.03))
            servers[0].kill()
            with pytest.raises(httpx.TransportError):
                if (await in_flight).status_code < 300:
                    raise httpx.ReadError("acknowledged before the kill: retried all the same")
            restart = asyncio.create_task(asyncio.to_thread(servers[0].start))
        photo = await outbox.send(*put_photo, content=data, headers=headers)
        assert photo.json()["received_sha256"] == hashlib.sha256(data).hexdigest()
        again = await outbox.send(*put_photo, content=data, headers=headers)  # a replay
        assert again.status_code == 200 and again.json()["id"] == photo.json()["id"]
        acknowledged["photos"][photo_id] = photo.json()
        body = {"enrolment": enrolment, "observed_on": yesterday, "situation": f"Soudure {i}",
                "kind": "observation", "ratings": {"C2.2.a": "met"},
                "photos": [{"id": photo_id}]}
        observation = await outbox.send("PUT", f"/api/v1/observations/{observation_id}",
                                        json=body)
        acknowledged["observations"][observation_id] = observation.json()
    await restart
    return acknowledged


async def test_two_processes_one_database_one_store_lose_and_duplicate_nothing(
        tmp_path, seaweedfs):
    async with scratch_postgres_database("carnet_two") as url:
        store_url = seaweedfs.url()
        env = live_env(tmp_path / "data", url, seaweedfs.env(store_url))
        init_branch(env, "admin@live.test")  # migrates too
        email, password, enrolment = seed_enrolment(env)
        servers = [LiveServer(env), LiveServer(env, ("--forwarded-allow-ips", "192.0.2.1"))]
        for server in servers:
            server.start()
        try:
            async with httpx.AsyncClient() as plain:
                login = await plain.post(f"{servers[0].url}/api/v1/session",
                                         json={"email": email, "password": password})
                assert login.status_code == 200, login.text
                cookie = login.cookies["carnet"]
            # A session opened by one process is known to the other: in the database.
            async with httpx.AsyncClient(cookies={"carnet": cookie}) as other:
                me = await other.get(f"{servers[1].url}/api/v1/me")
                assert me.status_code == 200 and me.json()["email"] == email
            check_forwarded_headers(servers)
            outbox = Alternating(servers, cookie)
            try:
                acknowledged = await asyncio.wait_for(replay(outbox, servers, enrolment),
                                                      DEADLINE_SECONDS)
            finally:
                await outbox.close()
            assert min(outbox.sent) > ITEMS // 2  # both processes took their share
        finally:
            for server in servers:
                server.stop()
        await check_rows(url, acknowledged, seaweedfs.store(store_url.split("/", 3)[3]))
        verified = carnet(env, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr


def check_forwarded_headers(servers: list[LiveServer]) -> None:
    """X-Forwarded-Proto counts only from a trusted proxy (`--forwarded-allow-ips`): the
    first server trusts 127.0.0.1 (the default), the second only 192.0.2.1."""
    proxied = {"Host": "carnet.example", "X-Forwarded-Proto": "https"}
    trusted = httpx.get(f"{servers[0].url}/api/v1/me", headers=proxied)
    assert trusted.status_code == 401  # seen as https: an ordinary "log in first"
    untrusted = httpx.get(f"{servers[1].url}/api/v1/me", headers=proxied)
    assert untrusted.status_code == 403 and untrusted.json()["code"] == "https_required"


async def check_rows(url: str, acknowledged: dict, store) -> None:
    db = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        photos = await db.fetch("SELECT id::text, sha256, thumb_sha256 FROM photo")
        observations = await db.fetch("SELECT id::text FROM observation")
    finally:
        await db.close()
    assert sorted(r["id"] for r in photos) == sorted(acknowledged["photos"])  # exactly once
    assert sorted(r["id"] for r in observations) == sorted(acknowledged["observations"])
    for row in photos:
        assert store.verify(row["sha256"]) and store.verify(row["thumb_sha256"])
    for sha in store.iter_hashes():
        assert store.verify(sha)
