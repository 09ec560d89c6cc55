"""Erasure: nothing personal left in the export, both verify commands still pass, what the
branch must keep is kept under a stable pseudonym, and a pending dossier blocks it."""

from __future__ import annotations

import json
from datetime import timedelta

from backend.auth import utcnow
from backend.cli import audit_verify_report
from backend.domain import dossiers, erasure, personal_data, retention
from backend.models import AuditEvent, Decision, JuryMember, LoginSession, Person, Photo
from tests import factories as f
from tests.test_personal_data import read_zip, realistic_candidate
from tests.test_retention import decided


def args(app, now=None) -> dict:
    s = app.state.settings
    return {"secret_key": s.secret_key, "terms": retention.Terms.of(s),
            "now": now or utcnow() + timedelta(days=61)}  # past the appeal window


async def test_erasure_leaves_nothing_personal_and_every_certificate_verifiable(
        client, app, tmp_path):
    store = app.state.photo_store
    w, enrolments = await realistic_candidate(store)
    dossier = await decided(client, app, w)  # a validated block on the first enrolment
    kept_photos = {p["id"] for p in dossier["manifest"]["photos"]}
    name, email = w.candidate.full_name, w.candidate.email
    loose = [p for p in await Photo.filter(enrolment_id__in=[e.id for e in enrolments])
             if str(p.id) not in kept_photos]

    dry = await erasure.plan(w.candidate, **args(app))
    assert not dry.blocked
    assert next(g for g in dry.goes if g.what.startswith("photos")).count == len(loose)
    assert await Person.filter(email=email).exists()  # the dry run changed nothing

    await erasure.erase(w.candidate, actor_id=w.admin.id, store=store, **args(app))
    person = await Person.get(id=w.candidate.id)
    assert person.full_name == erasure.pseudonym(person.id, app.state.settings.secret_key)
    assert person.password_hash is None and not person.is_active and person.company_id is None
    assert not await LoginSession.filter(person_id=person.id).exists()
    for p in loose:
        assert not await Photo.filter(id=p.id).exists() and not store.exists(p.sha256)

    path = await personal_data.export(person, actor_id=None, store=store, day="2026-01-01",
                                      dest=tmp_path / "after.zip")
    data, files = read_zip(path)
    text = json.dumps(data, ensure_ascii=False)
    assert name not in text and email not in text
    assert {f.removeprefix("photos/").removesuffix(".jpg") for f in files} == kept_photos
    assert {o["id"] for o in data["observations"]} == {
        o["id"] for o in dossier["manifest"]["observations"]}

    # What certifies stays, and verifies.
    assert await Decision.filter(dossier_id=dossier["id"]).exists()
    assert await dossiers.verify_dossier(dossier["id"], app.state.registry, store) == []
    code, lines = await audit_verify_report()
    assert code == 0, lines
    event = await AuditEvent.get(action="person.erased")
    assert name not in json.dumps(event.payload) and email not in json.dumps(event.payload)


async def test_a_juror_is_erased_under_a_pseudonym_and_their_seat_stays(client, app):
    w = await f.world()
    await decided(client, app, w)
    await erasure.erase(w.jury_employer, actor_id=w.admin.id, store=app.state.photo_store,
                        **args(app))
    assert await JuryMember.filter(person_id=w.jury_employer.id).exists()
    code, lines = await audit_verify_report()
    assert code == 0, lines
    again = await erasure.plan(await Person.get(id=w.jury_employer.id), **args(app))
    assert again.pseudonym == (await Person.get(id=w.jury_employer.id)).full_name  # stable


async def test_a_pending_dossier_blocks_the_erasure_and_the_page_says_why(client, app):
    w = await f.world()
    await decided(client, app, w)
    await f.login(client, w.admin)
    page = await client.get(f"/admin/people/{w.candidate.id}/erase")
    assert page.status_code == 200 and "délai de recours" in page.text  # closed just now
    refused = await client.post(f"/admin/people/{w.candidate.id}/erase",
                                data={"confirm": "EFFACER"})
    assert refused.status_code == 409
    assert (await Person.get(id=w.candidate.id)).email == w.candidate.email
    unconfirmed = await client.post(f"/admin/people/{w.tutor.id}/erase", data={})
    assert unconfirmed.status_code == 422
    done = await client.post(f"/admin/people/{w.tutor.id}/erase", data={"confirm": "effacer"})
    assert done.status_code == 303
    assert (await Person.get(id=w.tutor.id)).email == f"erased-{w.tutor.id}@invalid"
