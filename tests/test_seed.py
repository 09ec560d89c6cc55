import json
import os
import sqlite3
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.conftest import scratch_postgres_database

TABLES = ("person", "enrolment", "tutorship", "observation")


def run_seed(tmp_path, candidates: int, observations: int, database_url: str = "") -> dict:
    env = {**os.environ, "CARNET_DATA_DIR": str(tmp_path)}
    if database_url:
        env["CARNET_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-m", "backend.cli", "seed", "--candidates",
                           str(candidates), "--observations", str(observations)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    total = candidates * observations
    assert f"{total}/{total} observations" in done.stderr  # the progress bar
    return json.loads(done.stdout)


async def row_counts(database_url: str) -> dict[str, int]:
    if database_url.startswith("sqlite://"):
        db = sqlite3.connect(database_url.removeprefix("sqlite://"))
        try:
            return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        finally:
            db.close()
    conn = await asyncpg.connect(urlunsplit(urlsplit(database_url)._replace(scheme="postgresql")))
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
    finally:
        await conn.close()


async def test_seed_fills_the_database_with_candidates_and_their_observations(tmp_path):
    report = run_seed(tmp_path, 7, 13)
    assert report["candidates"] == 7 and report["observations"] == 91
    counts = await row_counts(f"sqlite://{tmp_path / 'carnet.sqlite3'}")
    assert counts == {"person": 8, "enrolment": 7, "tutorship": 7, "observation": 91}


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
async def test_seeding_the_same_database_twice_adds_a_second_set_of_candidates(tmp_path,
                                                                                dialect):
    if dialect == "postgres":
        async with scratch_postgres_database("carnet_seed") as url:
            await seed_twice(tmp_path, url)
    else:
        await seed_twice(tmp_path, f"sqlite://{tmp_path / 'twice.sqlite3'}")


async def seed_twice(tmp_path, url: str) -> None:
    first = run_seed(tmp_path, 5, 40, url)
    once = await row_counts(url)
    second = run_seed(tmp_path, 5, 40, url)
    assert await row_counts(url) == {table: 2 * n for table, n in once.items()}
    assert once == {"person": 6, "enrolment": 5, "tutorship": 5, "observation": 200}
    assert second["tutor"] != first["tutor"]
    assert second["candidate_email"] != first["candidate_email"]
    assert second["first_enrolment"] > first["first_enrolment"]
