"""Hand-written statements for the hot read paths (session, relation, progress records).

Every authenticated request reads its session and most read an enrolment's ties and
records. Through the ORM, building the SQL and the model objects of those few rows cost
several times the statements themselves (bench/README.md, "Request overhead"), so these
paths keep their SQL here, written once with `?` placeholders and translated once per
dialect, and read plain rows. Everything else goes through the ORM.

Values come back as each driver gives them: asyncpg decodes dates, times and UUIDs,
SQLite hands back text and integers; `as_date` and `as_datetime` accept both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


@cache
def translated(sql: str, dialect: str) -> str:
    """`?` placeholders as the dialect wants them (asyncpg numbers them: $1, $2…).
    The statements here never hold a literal `?`."""
    if dialect != "postgres":
        return sql
    first, *rest = sql.split("?")
    return first + "".join(f"${n}{part}" for n, part in enumerate(rest, 1))


async def rows(sql: str, params: list[Any], conn: BaseDBAsyncClient | None = None
               ) -> list[dict[str, Any]]:
    """The rows of one statement as dicts, on `conn` (a transaction) or the default client."""
    client = conn if conn is not None else connections.get("default")
    return await client.execute_query_dict(
        translated(sql, client.capabilities.dialect), params)


def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def as_datetime(value: Any) -> datetime | None:
    """Timestamps are stored in UTC; SQLite's text may lack the offset."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
