"""Migrations: `carnet migrate` builds the same schema on SQLite and PostgreSQL,
and the models round-trip a realistic enrolment on it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, timedelta

import pytest
from tortoise.context import TortoiseContext

from backend.db import tortoise_config
from backend.models import Enrolment, Observation, Organisation, Person, Photo, Tutorship
from tests.conftest import forget_compiled_queries, scratch_postgres_database


def run_migrate(url: str, tmp_path) -> None:
    env = {**os.environ, "CARNET_DATABASE_URL": url, "CARNET_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "***" in done.stdout or "@" not in url  # passwords are never printed


async def sqlite_schema(conn) -> dict[str, set[str]]:
    _, tables = await conn.execute_query(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    schema = {}
    for row in tables:
        _, cols = await conn.execute_query(f"PRAGMA table_info('{row['name']}')")
        schema[row["name"]] = {c["name"] for c in cols}
    return schema


async def pg_schema(conn) -> dict[str, set[str]]:
    _, rows = await conn.execute_query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public'")
    schema: dict[str, set[str]] = {}
    for row in rows:
        schema.setdefault(row["table_name"], set()).add(row["column_name"])
    return schema


# Lookups by person that the unique indexes (leading with the other column) cannot serve.
PERSON_INDEXES = {("tutorship", ("tutor_id",)), ("jury_member", ("person_id",)),
                  ("login_session", ("person_id",))}


async def sqlite_indexes(conn) -> set[tuple[str, tuple[str, ...]]]:
    """Explicit (non-constraint) indexes as (table, columns in order)."""
    _, rows = await conn.execute_query(
        "SELECT tbl_name, name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")
    indexes = set()
    for row in rows:
        _, cols = await conn.execute_query(f"PRAGMA index_info('{row['name']}')")
        ordered = tuple(c["name"] for c in sorted(cols, key=lambda c: c["seqno"]))
        indexes.add((row["tbl_name"], ordered))
    return indexes


async def pg_indexes(conn) -> set[tuple[str, tuple[str, ...]]]:
    """Indexes that back no constraint (primary key, unique) as (table, columns in order)."""
    _, rows = await conn.execute_query(
        "SELECT t.relname AS table_name, x.indexrelid::bigint AS index_id, a.attname, k.ord "
        "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "WHERE n.nspname = 'public' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY t.relname, x.indexrelid, k.ord")
    grouped: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        grouped.setdefault((row["table_name"], row["index_id"]), []).append(row["attname"])
    return {(table, tuple(cols)) for (table, _), cols in grouped.items()}


async def round_trip() -> None:
    branch = await Organisation.create(kind="branch", name="Branche")
    company = await Organisation.create(kind="company", name="Métallerie", branch=branch,
                                        siret="73282932000074")
    tutor = await Person.create(email="t@example.test", full_name="Tuteur", company=company)
    candidate = await Person.create(email="c@example.test", full_name="Candidate")
    started = date(2026, 9, 1)
    enrolment = await Enrolment.create(candidate=candidate, company=company,
                                       referential_code="CQP-FIOMB", referential_version="2026-1",
                                       access_route="afest", started_on=started)
    await Tutorship.create(enrolment=enrolment, tutor=tutor, designated_on=started)
    photo_id = uuid.uuid4()
    await Photo.create(id=photo_id, enrolment=enrolment, uploaded_by=tutor, author_role="tutor",
                       received_sha256="a" * 64, sha256="b" * 64, content_type="image/jpeg",
                       size=1234, width=2000, height=1500, thumb_sha256="c" * 64, thumb_size=99)
    for day in range(3):
        await Observation.create(
            id=uuid.uuid4(), enrolment=enrolment, author=tutor, author_role="tutor",
            kind="observation", referential_version="2026-1",
            observed_on=started + timedelta(days=day), situation="Garde-corps, soudure",
            place="Chantier Dupont", ratings={"C2.2.a": "met", "C2.2.b": "progressing"},
            photos=[{"id": str(photo_id), "competency": "C2.2", "evidence": "détail soudure"}],
            content_sha256="d" * 64)
    loaded = await Enrolment.get(id=enrolment.id).prefetch_related("observations", "tutorships")
    assert len(loaded.observations) == 3
    assert {o.ratings["C2.2.a"] for o in loaded.observations} == {"met"}
    assert loaded.observations[0].photos[0]["evidence"] == "détail soudure"
    assert loaded.tutorships[0].designated_on == started


async def migrated_context(url: str):
    forget_compiled_queries()
    ctx = TortoiseContext()
    await ctx.__aenter__()
    await ctx.init(config=tortoise_config(url))
    return ctx


async def test_migrations_build_the_schema_on_an_empty_sqlite_file(tmp_path):
    url = f"sqlite://{tmp_path / 'fresh.sqlite3'}"
    run_migrate(url, tmp_path)
    run_migrate(url, tmp_path)  # applying twice is a no-op
    ctx = await migrated_context(url)
    try:
        conn = ctx.connections.get("default")
        schema = await sqlite_schema(conn)
        assert {"enrolment", "observation", "photo", "dossier", "audit_event"} <= set(schema)
        assert PERSON_INDEXES <= await sqlite_indexes(conn)
        _, mode = await conn.execute_query("PRAGMA journal_mode")
        assert mode[0]["journal_mode"] == "wal"
        _, sync = await conn.execute_query("PRAGMA synchronous")
        assert sync[0]["synchronous"] == 2  # FULL
        await round_trip()
    finally:
        await ctx.__aexit__(None, None, None)


@pytest.mark.postgres
async def test_migrations_give_postgresql_the_same_schema_as_sqlite(tmp_path):
    sqlite_url = f"sqlite://{tmp_path / 'twin.sqlite3'}"
    async with scratch_postgres_database("carnet_mig") as pg_url:
        run_migrate(pg_url, tmp_path)
        run_migrate(sqlite_url, tmp_path)
        ctx = await migrated_context(pg_url)
        try:
            pg = await pg_schema(ctx.connections.get("default"))
            pg_index_set = await pg_indexes(ctx.connections.get("default"))
            await round_trip()
        finally:
            await ctx.__aexit__(None, None, None)
        ctx = await migrated_context(sqlite_url)
        try:
            lite = await sqlite_schema(ctx.connections.get("default"))
            lite_index_set = await sqlite_indexes(ctx.connections.get("default"))
        finally:
            await ctx.__aexit__(None, None, None)
        assert pg == lite
        assert PERSON_INDEXES <= pg_index_set
        assert pg_index_set == lite_index_set
