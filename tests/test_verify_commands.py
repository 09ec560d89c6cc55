"""`carnet audit verify` and `carnet dossier verify`: they pass on intact data and name what was
tampered with: an audit payload, a deleted or reordered event, a photo byte, a stored row."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, timedelta

from backend import audit
from backend.auth import Identity, utcnow
from backend.cli import (
    _with_orm,
    audit_verify_report,
    dossier_verify_report,
    load_settings,
    main,
)
from backend.domain import dossiers, jury
from backend.domain.audit import (
    GENESIS,
    anchor_line,
    chain_key,
    event_hash,
    parse_anchor,
    plain_event_hash,
)
from backend.models import AuditEvent, AuditHead, Decision, Dossier, JurySession, Observation
from backend.permissions import relation_to
from tests import factories as f
from tests.routes.test_jury import (
    BLOCK,
    decision,
    observation_row,
    ready_block,
    refused_and_closed,
    submitted,
)

FIELDS = ("at", "actor_id", "action", "subject", "payload", "prev_hash", "hash")


async def chain(n: int = 4) -> list[int]:
    for i in range(n):
        await audit.record("test.event", actor_id=None, subject=f"thing:{i}", payload={"i": i})
    return list(await AuditEvent.all().order_by("id").values_list("id", flat=True))


def flip_a_byte(store, sha: str) -> None:
    path = store.path(sha)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# Audit chain --------------------------------------------------------------------------------


async def test_audit_verify_passes_on_an_intact_chain(db):
    await chain()
    code, lines = await audit_verify_report()
    assert code == 0 and "OK" in lines[0]


async def test_audit_verify_names_an_event_whose_payload_was_altered(db):
    ids = await chain()
    await AuditEvent.filter(id=ids[1]).update(payload={"i": 99})
    code, lines = await audit_verify_report()
    assert code == 1
    assert f"event {ids[1]}: content altered" in lines[0]


async def test_audit_verify_names_a_deleted_event(db):
    ids = await chain()
    await AuditEvent.filter(id=ids[1]).delete()
    code, lines = await audit_verify_report()
    assert code == 1
    assert f"event {ids[2]}: previous event missing or reordered" in lines[0]
    assert f"event {ids[1]} may have been deleted" in lines[1]


async def test_audit_verify_names_events_deleted_from_the_end(db):
    ids = await chain()
    await AuditEvent.filter(id=ids[-1]).delete()
    code, lines = await audit_verify_report()
    assert code == 1 and f"missing after event {ids[-2]}" in lines[0]


async def test_audit_verify_names_a_reordered_event(db):
    ids = await chain()
    second, third = [await AuditEvent.get(id=i) for i in ids[1:3]]
    a = {k: getattr(second, k) for k in FIELDS}
    b = {k: getattr(third, k) for k in FIELDS}
    await AuditEvent.filter(id=ids[2]).update(hash="0" * 64)  # free the unique hash
    await AuditEvent.filter(id=ids[1]).update(**b)
    await AuditEvent.filter(id=ids[2]).update(**a)
    code, lines = await audit_verify_report()
    assert code == 1
    assert f"event {ids[1]}: previous event missing or reordered" in lines[0]


async def rewrite_from(ids: list[int], start: int, hasher) -> None:
    """What someone with only database access does: edit from `start`, rehash every later
    event with `hasher(prev, at, actor, action, subject, payload)`, rewrite the head."""
    prev = (await AuditEvent.get(id=ids[start - 1])).hash if start else GENESIS
    for event_id in ids[start:]:
        e = await AuditEvent.get(id=event_id)
        digest = hasher(prev, e.at, e.actor_id, e.action, e.subject, e.payload)
        await AuditEvent.filter(id=event_id).update(prev_hash=prev, hash=digest)
        prev = digest
    count = await AuditEvent.all().count()
    await AuditHead.filter(id=audit.HEAD_ID).update(last_hash=prev, count=count)


async def test_recomputing_the_chain_with_plain_sha256_after_editing_an_event_fails(db):
    ids = await chain()
    await AuditEvent.filter(id=ids[1]).update(payload={"i": 99})
    await rewrite_from(ids, 1, plain_event_hash)
    code, lines = await audit_verify_report()
    assert code == 1 and f"event {ids[1]}: content altered" in lines[0]
    await rewrite_from(ids, 0, plain_event_hash)  # every event, the first one too
    code, lines = await audit_verify_report()
    assert code == 1 and "recomputed without" in lines[0], lines


async def test_recomputing_the_chain_with_another_key_fails_audit_verify(db):
    ids = await chain()
    other = chain_key("a key guessed by whoever reads the database")
    await rewrite_from(ids, 2, lambda *body: event_hash(other, *body))
    code, lines = await audit_verify_report()
    assert code == 1 and f"event {ids[2]}: content altered" in lines[0]


async def test_deleting_the_last_events_and_rewriting_the_head_fails_audit_verify_anchor(db):
    ids = await chain()
    anchor = await audit.current_anchor(utcnow())
    assert (anchor.count, anchor.event) == (len(ids), ids[-1])
    await AuditEvent.filter(id__in=ids[-2:]).delete()
    last = await AuditEvent.get(id=ids[-3])
    await AuditHead.filter(id=audit.HEAD_ID).update(last_hash=last.hash, count=len(ids) - 2)
    assert (await audit_verify_report())[0] == 0  # the database alone cannot tell
    code, lines = await audit_verify_report([anchor])
    assert code == 1
    assert f"the chain holds only {len(ids) - 2} events, 2 removed since" in lines[0]


async def test_an_event_rewritten_before_the_anchor_fails_audit_verify_anchor(db):
    ids = await chain()
    anchor = await audit.current_anchor(utcnow())
    await AuditEvent.filter(id__in=ids[-2:]).delete()
    await AuditHead.filter(id=audit.HEAD_ID).update(
        last_hash=(await AuditEvent.get(id=ids[-3])).hash, count=len(ids) - 2)
    await chain(2)  # new events fill the count back up, with other hashes
    code, lines = await audit_verify_report([anchor])
    assert code == 1 and f"number {len(ids)} in the chain" in lines[0], lines


async def test_an_anchor_then_more_events_still_verifies(db):
    await chain()
    first = await audit.current_anchor(utcnow())
    await chain(3)
    second = await audit.current_anchor(utcnow())
    await chain(1)
    code, lines = await audit_verify_report([first, second])
    assert code == 0 and "2 anchor(s) held" in lines[0], lines
    assert parse_anchor(anchor_line(first)) == first


async def test_a_chain_from_before_the_key_verifies_once_a_keyed_event_seals_it(db):
    ids = await chain()
    await rewrite_from(ids, 0, plain_event_hash)  # as written before the chain was keyed
    assert (await audit_verify_report())[0] == 1  # not sealed yet
    await chain(1)
    code, lines = await audit_verify_report()
    assert code == 0, lines
    await AuditEvent.filter(id=ids[1]).update(payload={"i": 99})
    await rewrite_from(ids, 1, plain_event_hash)  # the sealing event's link no longer holds
    code, lines = await audit_verify_report()
    assert code == 1 and "previous event missing" in lines[0], lines


# Dossiers -----------------------------------------------------------------------------------


async def test_dossier_verify_passes_then_names_a_photo_whose_bytes_changed(client, app):
    w = await f.world()
    dossier = await submitted(client, app, w)
    store = app.state.photo_store
    code, lines = await dossier_verify_report(dossier["id"], app.state.registry, store)
    assert code == 0, lines
    photo = dossier["manifest"]["photos"][1]
    flip_a_byte(store, photo["sha256"])
    code, lines = await dossier_verify_report(dossier["id"], app.state.registry, store)
    assert code == 1
    assert any(photo["id"] in line and "altered" in line for line in lines), lines


async def test_dossier_verify_names_rows_changed_deleted_or_slipped_in(client, app):
    w = await f.world()
    dossier = await submitted(client, app, w)
    entries = dossier["manifest"]["observations"]
    await Observation.filter(id=entries[0]["id"]).update(ratings={"C4.1.a": "not_met"})
    await Observation.filter(id=entries[2]["id"]).delete()
    late = await observation_row(w.enrolment, w.tutor, w.enrolment.started_on,
                                 ratings={"C4.3.a": "met"})
    submitted_at = (await Dossier.get(id=dossier["id"])).submitted_at
    await Observation.filter(id=late.id).update(created_at=submitted_at - timedelta(hours=1))
    problems = await dossiers.verify_dossier(dossier["id"], app.state.registry,
                                             app.state.photo_store)
    text = "\n".join(problems)
    assert f"observation {entries[0]['id']}: ratings.C4.1.a changed" in text
    assert f"observation {entries[2]['id']}: in the manifest, missing from the rows" in text
    assert f"observation {late.id}: in the rows, missing from the manifest" in text


async def test_dossier_verify_names_a_manifest_edited_in_place(client, app):
    w = await f.world()
    dossier = await submitted(client, app, w)
    edited = {**dossier["manifest"], "photos": dossier["manifest"]["photos"][1:]}
    await Dossier.filter(id=dossier["id"]).update(manifest=edited)
    code, lines = await dossier_verify_report(dossier["id"], app.state.registry,
                                              app.state.photo_store)
    assert code == 1
    assert any(line.strip().startswith("manifest: hashes to") for line in lines)
    assert any("photo" in line and "missing from the manifest" in line for line in lines)


async def test_evidence_recorded_after_a_refusal_does_not_disturb_the_old_dossier(client, app):
    w = await f.world()
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                     json=decision(w, "not_validated", reasons="Insuffisant"))
    await observation_row(w.enrolment, w.tutor, w.enrolment.started_on,
                          ratings={"C4.1.a": "met"})  # the block reopened
    assert await dossiers.verify_dossier(dossier["id"], app.state.registry,
                                         app.state.photo_store) == []


# The commands themselves, on a database file ------------------------------------------------


async def seed_dossier(registry, store) -> int:
    await audit.ensure_head()
    w = await f.world()
    await ready_block(registry.get(*f.CQP), w.enrolment, w.tutor, w.candidate, store)
    identity = Identity(person=w.tutor, session=None)
    relation = await relation_to(identity, w.enrolment.id)
    dossier = await dossiers.submit(identity, relation, BLOCK, registry=registry,
                                    today=date.today(), clock=utcnow)
    return dossier.id


def test_the_commands_exit_0_on_intact_data_and_1_naming_what_was_tampered(tmp_path,
                                                                          monkeypatch, capsys):
    from backend.app import load_registry
    from backend.settings import from_env
    from backend.storage import LocalPhotoStore

    path = tmp_path / "carnet.sqlite3"
    monkeypatch.setenv("CARNET_DATABASE_URL", f"sqlite://{path}")
    monkeypatch.setenv("CARNET_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    settings = from_env()
    store = LocalPhotoStore(settings.photos_dir)
    dossier_id = asyncio.run(_with_orm(settings.database_url,
                                       lambda: seed_dossier(load_registry(settings), store)))
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert main(["dossier", "verify", str(dossier_id)]) == 0
    assert "verifies" in capsys.readouterr().out

    with sqlite3.connect(path) as conn:
        photo = conn.execute("SELECT sha256 FROM photo ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE audit_event SET payload = '{\"tampered\": true}' WHERE id = 1")
    conn.close()
    flip_a_byte(store, photo)
    assert main(["audit", "verify"]) == 1
    assert "event 1: content altered" in capsys.readouterr().out
    assert main(["dossier", "verify", str(dossier_id)]) == 1
    assert f"file {photo} altered" in capsys.readouterr().out


def test_carnet_audit_anchor_prints_the_head_that_verify_anchor_then_holds(tmp_path,
                                                                           monkeypatch, capsys):
    path = tmp_path / "carnet.sqlite3"
    monkeypatch.setenv("CARNET_DATABASE_URL", f"sqlite://{path}")
    monkeypatch.setenv("CARNET_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    settings = load_settings()

    async def events(n: int) -> None:
        await audit.ensure_head()
        await chain(n)

    asyncio.run(_with_orm(settings.database_url, lambda: events(3)))
    capsys.readouterr()
    assert main(["audit", "anchor"]) == 0
    line = capsys.readouterr().out.strip()
    assert parse_anchor(line).count == 3
    anchors = tmp_path / "anchors.log"  # what a daily cron job would append to
    anchors.write_text(line + "\n")
    asyncio.run(_with_orm(settings.database_url, lambda: events(2)))
    assert main(["audit", "verify", "--anchor", line]) == 0
    assert main(["audit", "verify", "--anchor", str(anchors)]) == 0
    capsys.readouterr()

    with sqlite3.connect(path) as conn:  # drop the last three events, rewrite the head
        conn.execute("DELETE FROM audit_event WHERE id > 2")
        conn.execute("UPDATE audit_head SET count = 2, last_hash = "
                     "(SELECT hash FROM audit_event WHERE id = 2)")
    conn.close()
    assert main(["audit", "verify"]) == 0
    assert main(["audit", "verify", "--anchor", str(anchors)]) == 1
    assert "the chain holds only 2 events, 1 removed since" in capsys.readouterr().out
    anchors.write_text("not an anchor\n")
    assert main(["audit", "verify", "--anchor", str(anchors)]) == 2
    assert f"{anchors}:1: not an anchor line" in capsys.readouterr().err


# Decisions, closings and appeals -------------------------------------------------------------


async def decided(client, app, w, outcome: str = "validated", **changes) -> tuple[dict, Decision]:
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    response = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                                json=decision(w, outcome, **changes))
    assert response.status_code in (200, 201), response.text
    return dossier, await Decision.get(dossier_id=dossier["id"])


async def both_reports(app, dossier_id: int) -> tuple[int, int, str]:
    """(dossier verify's exit code, audit verify's, their lines)."""
    d_code, d_lines = await dossier_verify_report(dossier_id, app.state.registry,
                                                  app.state.photo_store)
    a_code, a_lines = await audit_verify_report()
    return d_code, a_code, "\n".join(d_lines + a_lines)


async def test_a_decision_is_sealed_on_its_row_and_in_its_audit_event(client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w)
    event = await AuditEvent.get(action="decision.recorded", subject=f"dossier:{dossier['id']}")
    assert stored.decision_sha256 == event.payload["decision_sha256"]
    assert event.payload["decision"]["reasons"] == stored.reasons
    assert (await both_reports(app, dossier["id"]))[:2] == (0, 0)


async def test_changing_a_decisions_outcome_in_the_database_fails_dossier_and_audit_verify(
        client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w)
    await Decision.filter(id=stored.id).update(outcome="not_validated")
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"decision {stored.id}: outcome is 'not_validated' in the rows, 'validated' in " \
           "audit event" in text
    # Recomputing the row's hash does not help: the audit event keeps the decided one.
    changed = await Decision.get(id=stored.id)
    await Decision.filter(id=stored.id).update(
        decision_sha256=jury.sha256_of(dossiers.decision_record(changed)))
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1) and "outcome is 'not_validated'" in text


async def test_changing_a_decisions_reasons_in_the_database_fails_dossier_and_audit_verify(
        client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w, "not_validated", reasons="Soudures poreuses")
    await Decision.filter(id=stored.id).update(reasons="Rien à redire")
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"decision {stored.id}: reasons is 'Rien à redire' in the rows, 'Soudures " \
           "poreuses' in audit event" in text


async def test_changing_who_decided_when_or_clearing_the_hash_fails_dossier_verify(client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w)
    await Decision.filter(id=stored.id).update(decided_by_id=w.jury_employee.id,
                                               decided_at=stored.decided_at - timedelta(days=1),
                                               decision_sha256=None)
    d_code, _, text = await both_reports(app, dossier["id"])
    assert d_code == 1
    assert f"decision {stored.id}: decided_by is {w.jury_employee.id} in the rows" in text
    assert f"decision {stored.id}: decided_at is" in text
    assert f"decision {stored.id}: no hash on the row" in text


async def test_deleting_a_decision_fails_dossier_and_audit_verify(client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w)
    await Decision.filter(id=stored.id).delete()
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"dossier {dossier['id']}: decided in audit event" in text


async def test_changing_a_closed_sessions_decision_or_closing_fails_dossier_and_audit_verify(
        client, app):
    w = await f.world()
    dossier, stored = await decided(client, app, w)
    assert (await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")).status_code == 200
    session = await JurySession.get(id=w.session.id)
    event = await AuditEvent.get(action="jury_session.closed")
    assert session.minutes_sha256 == event.payload["minutes_sha256"]
    assert (await both_reports(app, dossier["id"]))[:2] == (0, 0)

    await JurySession.filter(id=session.id).update(closed_by_id=w.jury_employee.id)
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"closing of session {session.id}: closed_by is {w.jury_employee.id} in the rows, " \
           f"{w.jury_employer.id} in audit event {event.id}" in text

    await JurySession.filter(id=session.id).update(closed_by_id=w.jury_employer.id,
                                                   status="open")
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"closing of session {session.id}: closed in audit event {event.id}, the row " \
           "says 'open'" in text

    await JurySession.filter(id=session.id).update(status="closed")
    await Decision.filter(id=stored.id).update(recommendations="Aucune")
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1)
    assert f"closing of session {session.id}: decisions[0].recommendations is 'Aucune'" in text


async def test_changing_an_appeal_in_the_database_fails_dossier_and_audit_verify(client, app):
    w = await f.world()
    original = await refused_and_closed(client, app, w)
    await f.login(client, w.candidate)
    response = await client.post(f"/api/v1/dossiers/{original['id']}/appeal",
                                 json={"grounds": "Le jury n'a pas vu la photo du PV."})
    assert response.status_code == 201, response.text
    appeal_id = response.json()["id"]
    row = await Dossier.get(id=appeal_id)
    assert row.appeal_sha256 == (await AuditEvent.get(action="dossier.appealed")
                                 ).payload["appeal_sha256"]
    assert (await both_reports(app, appeal_id))[:2] == (0, 0)

    await Dossier.filter(id=appeal_id).update(submitted_by_id=w.admin.id)
    d_code, a_code, text = await both_reports(app, appeal_id)
    assert (d_code, a_code) == (1, 1)
    assert f"appeal {appeal_id}: by is {w.admin.id} in the rows, {w.candidate.id} in audit " \
           "event" in text

    await Dossier.filter(id=appeal_id).update(submitted_by_id=w.candidate.id)
    await Decision.filter(dossier_id=original["id"]).update(outcome="validated")
    d_code, a_code, text = await both_reports(app, appeal_id)
    assert (d_code, a_code) == (1, 1)
    assert f"appeal {appeal_id}: reviewed_decision_sha256 is" in text


async def test_a_decision_from_before_seals_is_checked_against_what_its_event_names(
        client, app):
    w = await f.world()
    dossier = await submitted(client, app, w, session=w.session)
    stored = await Decision.create(dossier_id=dossier["id"], outcome="validated", reasons="Ok",
                                   decided_by_id=w.jury_employer.id, decided_at=utcnow(),
                                   manifest_sha256=dossier["manifest_sha256"])
    await audit.record("decision.recorded", actor_id=w.jury_employer.id,  # as events were
                       subject=f"dossier:{dossier['id']}",
                       payload={"enrolment": w.enrolment.id, "block": BLOCK,
                                "outcome": "validated", "session": w.session.id,
                                "manifest_sha256": dossier["manifest_sha256"]})
    assert (await both_reports(app, dossier["id"]))[:2] == (0, 0)
    await Decision.filter(id=stored.id).update(outcome="not_validated")
    d_code, a_code, text = await both_reports(app, dossier["id"])
    assert (d_code, a_code) == (1, 1) and "outcome is 'not_validated' in the rows" in text
