"""The ORM configuration for a database URL, and the migration entry point."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

MODELS = ["backend.models"]
MIGRATIONS = "backend.migrations"

# Durability over speed: a 2xx promises the evidence is on disk (docs/security.md).
SQLITE_PRAGMAS = {"journal_mode": "WAL", "synchronous": "FULL", "foreign_keys": "ON",
                  "busy_timeout": 10000}


def tortoise_config(database_url: str) -> dict[str, Any]:
    connection = expand_db_url(database_url)
    if connection["engine"] == "tortoise.backends.sqlite":
        for name, value in SQLITE_PRAGMAS.items():
            connection["credentials"].setdefault(name, value)
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> None:
    """Apply every migration to the database (creates the SQLite file if needed)."""
    from pathlib import Path

    from tortoise import Tortoise
    from tortoise.migrations.api.migrate import migrate as migrate_api

    connection = expand_db_url(database_url)
    if connection["engine"] == "tortoise.backends.sqlite":
        # aiosqlite waits forever on a file whose folder is missing: create the folder.
        path = connection["credentials"].get("file_path", "")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        await migrate_api(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


def __getattr__(name: str) -> Any:
    """`tortoise -c backend.db.TORTOISE_ORM makemigrations` for developers."""
    if name == "TORTOISE_ORM":
        from backend.settings import from_env

        return tortoise_config(from_env().database_url)
    raise AttributeError(name)
