"""The hand-written statements of the hot paths read what the ORM would, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend import sql
from backend.auth import Identity
from backend.models import Enrolment, LoginSession, Person
from backend.permissions import relation_to
from tests import factories as f


def test_placeholders_are_numbered_for_postgres_and_left_alone_for_sqlite():
    statement = 'SELECT 1 FROM "t" WHERE "a" = ? AND "b" = ? OR "c" = ?'
    assert sql.translated(statement, "postgres").endswith('"a" = $1 AND "b" = $2 OR "c" = $3')
    assert sql.translated(statement, "sqlite") == statement


def test_dates_and_times_read_the_same_from_text_and_from_the_driver():
    at = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert sql.as_datetime("2026-03-01 08:30:00+00:00") == at
    assert sql.as_datetime("2026-03-01 08:30:00") == at  # stored as UTC
    assert sql.as_datetime(at) is at and sql.as_datetime(None) is None
    assert sql.as_date("2026-03-01") == at.date() and sql.as_date(at.date()) == at.date()


async def test_the_relation_carries_the_enrolment_exactly_as_the_orm_reads_it(db):
    w = await f.world()
    await Enrolment.filter(id=w.enrolment.id).update(revision=7)
    relation = await relation_to(Identity(person=w.tutor, session=None), w.enrolment.id)
    stored = await Enrolment.get(id=w.enrolment.id)
    names = [field for field in Enrolment._meta.db_fields]
    assert {n: getattr(relation.enrolment, n) for n in names} == {
        n: getattr(stored, n) for n in names}
    assert relation.tutor and not relation.candidate and not relation.admin


async def test_the_session_row_gives_the_same_person_and_session_as_the_orm(db):
    from backend.auth import SESSION_SQL, _session_from_row

    w = await f.world()
    at = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    await LoginSession.create(token_hash="a" * 64, person=w.candidate, created_at=at,
                              last_seen_at=at, expires_at=at + timedelta(days=1),
                              idle_seconds=3600)
    [row] = await sql.rows(SESSION_SQL, ["a" * 64])
    session = _session_from_row(row)
    stored = await LoginSession.get(token_hash="a" * 64).select_related("person")
    for model, mine, theirs in ((LoginSession, session, stored),
                                (Person, session.person, stored.person)):
        names = list(model._meta.db_fields)
        assert {n: getattr(mine, n) for n in names} == {n: getattr(theirs, n) for n in names}
    assert session.expires_at == at + timedelta(days=1) and session.person.is_active is True
