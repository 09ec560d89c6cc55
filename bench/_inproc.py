"""In-process harness: the real app (create_app + its lifespan) behind httpx's
ASGITransport, and a SQL statement counter on the `tortoise.db_client` logger."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

from backend.settings import Settings
from bench._common import PASSWORD

BASE = "http://127.0.0.1"  # loopback http: the app uses the dev cookie name `carnet`


def settings_for(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir,
                    secret_key="bench-secret-key-not-for-production")


@asynccontextmanager
async def app_client(settings: Settings, no_body_cache: bool = False):
    from bench.bench_app import build_with

    app = build_with(settings, no_body_cache=no_body_cache)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield app, client


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
    r = await client.post("/api/v1/session", json={"email": email, "password": password})
    r.raise_for_status()


class StatementCounter(logging.Handler):
    """Counts the SQL statements Tortoise's clients log (one DEBUG record each)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg if isinstance(record.msg, str) else ""
        if msg.startswith(("Created connection", "Closed connection")):
            return
        text = str(record.args[0]) if msg == "%s: %s" and record.args else record.getMessage()
        self.statements.append(" ".join(text.split()))


@contextmanager
def count_statements():
    logger = logging.getLogger("tortoise.db_client")
    handler, level = StatementCounter(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
