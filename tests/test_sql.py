"""The hand-written statements of the hot paths read what the ORM would, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from backend import sql
from backend.auth import Identity
from backend.domain.standing import standing_rows
from backend.models import (
    Decision,
    Dossier,
    Enrolment,
    HeldBlock,
    JurySession,
    LoginSession,
    Person,
    Photo,
)
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


async def test_photos_held_blocks_and_dossiers_come_back_typed_from_one_statement(db):
    w = await f.world()
    eid = w.enrolment.id
    photo = await Photo.create(
        id=uuid.uuid4(), enrolment=w.enrolment, uploaded_by=w.candidate, author_role="candidate",
        received_sha256="1" * 64, sha256="2" * 64, content_type="image/jpeg", size=100,
        width=10, height=10, thumb_sha256="3" * 64, thumb_size=10)
    await HeldBlock.create(enrolment=w.enrolment, block_code="BC01", decided_on=date(2025, 6, 2),
                           referential_version="2026-1")
    submitted, decided = (datetime(2026, 5, d, 14, tzinfo=UTC) for d in (4, 20))
    # A decision counts once its session is closed (before, the block is at the jury).
    await JurySession.filter(id=w.session.id).update(status="closed", closed_at=decided)
    decided_one = await Dossier.create(enrolment=w.enrolment, block_code="BC02", manifest={},
                                       manifest_sha256="4" * 64, submitted_by=w.tutor,
                                       submitted_at=submitted, session=w.session)
    await Decision.create(dossier=decided_one, outcome="validated", decided_by=w.tutor,
                          decided_at=decided, manifest_sha256="4" * 64)
    await Dossier.create(enrolment=w.enrolment, block_code="BC03", manifest={},
                         manifest_sha256="5" * 64, submitted_by=w.tutor, submitted_at=decided)

    photos, held, dossiers = await standing_rows(eid)

    assert [(str(p), role) for p, role in photos] == [(str(photo.id), "candidate")]
    assert held == [("BC01", date(2025, 6, 2), "2026-1")]
    assert sorted(dossiers) == [("BC02", submitted, "validated", decided),
                                ("BC03", decided, None, None)]
