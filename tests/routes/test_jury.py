"""The jury: frozen dossiers, sessions, conflicts of interest, decisions, closing, appeals,
outcomes and the PDF documents, through HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from datetime import date, timedelta

import httpx
import pytest
from pypdf import PdfReader

from backend.auth import utcnow
from backend.domain import dossiers, jury
from backend.domain.referentials import Referential
from backend.models import (
    AuditEvent,
    Decision,
    Dossier,
    Enrolment,
    HeldBlock,
    JuryMember,
    JurySession,
    Observation,
    Photo,
)
from tests import factories as f
from tests.images import jpeg

BLOCK = "BC04"  # the smallest block of the referential: 5 essential criteria, 3 evidence items


# Building evidence ----------------------------------------------------------------------------


async def photo_row(store, enrolment: Enrolment, author) -> Photo:
    sha, thumb = store.put(jpeg((48, 36))), store.put(jpeg((24, 18)))
    return await Photo.create(id=uuid.uuid4(), enrolment=enrolment, uploaded_by=author,
                              author_role="tutor", received_sha256=sha, sha256=sha,
                              content_type="image/jpeg", size=1000, width=48, height=36,
                              thumb_sha256=thumb, thumb_size=500)


async def observation_row(enrolment: Enrolment, author, observed_on: date, *,
                          kind: str = "observation", role: str = "tutor", ratings=None,
                          photos=(), block: str | None = None, supersedes=None) -> Observation:
    return await Observation.create(
        id=uuid.uuid4(), enrolment=enrolment, author=author, author_role=role, kind=kind,
        referential_version=enrolment.referential_version, observed_on=observed_on,
        block_code=block, situation=f"Situation du {observed_on}", place="Atelier",
        ratings=ratings or {}, photos=list(photos), content_sha256="c" * 64,
        supersedes=supersedes)


async def ready_block(ref: Referential, enrolment: Enrolment, tutor, candidate, store,
                      block_code: str = BLOCK) -> list[Observation]:
    """Rows making `block_code` ready: every essential criterion met on two days, one photo per
    expected evidence item, one reflection by the candidate."""
    block = ref.block(block_code)
    essentials = {k.code: "met" for c in block.competencies for k in c.criteria if k.essential}
    refs = []
    for c in block.competencies:
        for e in c.evidence:
            for _ in range(e.min):
                photo = await photo_row(store, enrolment, tutor)
                refs.append({"id": str(photo.id), "competency": c.code, "evidence": e.label})
    today = date.today()
    return [
        await observation_row(enrolment, tutor, today - timedelta(days=9), ratings=essentials,
                              photos=refs),
        await observation_row(enrolment, tutor, today - timedelta(days=4), ratings=essentials),
        await observation_row(enrolment, candidate, today - timedelta(days=3), kind="reflection",
                              role="candidate", block=block_code),
    ]


def registry_ref(app) -> Referential:
    return app.state.registry.get(*f.CQP)


async def submitted(client, app, w, *, session: JurySession | None = None) -> dict:
    """The tutor submits BLOCK of w.enrolment; the dossier is put in `session` when given."""
    await ready_block(registry_ref(app), w.enrolment, w.tutor, w.candidate, app.state.photo_store)
    await f.login(client, w.tutor)
    response = await client.post(f"/api/v1/enrolments/{w.enrolment.id}/dossiers",
                                 json={"block": BLOCK})
    assert response.status_code == 201, response.text
    if session is not None:
        await Dossier.filter(id=response.json()["id"]).update(session_id=session.id)
    return response.json()


def decision(w, outcome: str = "validated", **changes) -> dict:
    """The jury's decision as its president (w.jury_employer) enters it: both members of the
    world's session present, both voting `outcome`."""
    return {"outcome": outcome, "reasons": "Preuves solides et régulières.",
            "recommendations": "", "votes": {str(w.jury_employer.id): outcome,
                                             str(w.jury_employee.id): outcome}, **changes}


def form_decision(w, outcome: str = "validated", **changes) -> dict:
    """The same decision as the review page's form posts it."""
    return {"outcome": outcome, "reasons": "Preuves solides.", "recommendations": "",
            f"vote-{w.jury_employer.id}": outcome, f"vote-{w.jury_employee.id}": outcome,
            **changes}


@pytest.fixture
async def w(client):
    return await f.world()


# Submitting -----------------------------------------------------------------------------------


async def test_an_unready_block_is_refused_with_the_reasons_and_nothing_is_frozen(client, w):
    await f.login(client, w.tutor)
    response = await client.post(f"/api/v1/enrolments/{w.enrolment.id}/dossiers",
                                 json={"block": BLOCK})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "block_not_ready"
    assert body["details"]["block"] == BLOCK
    reasons = " ".join(body["details"]["reasons"])
    assert "C4.1" in reasons and "réflexion" in reasons
    assert await Dossier.all().count() == 0


async def test_a_ready_block_is_frozen_into_a_hashed_manifest_and_progress_says_submitted(
        client, app, w):
    revision = (await Enrolment.get(id=w.enrolment.id)).revision
    body = await submitted(client, app, w)
    manifest = body["manifest"]
    assert body["manifest_sha256"] == hashlib.sha256(jury.canonical_json(manifest)).hexdigest()
    ref = registry_ref(app)
    assert manifest["referential"] == {"code": ref.code, "version": ref.version,
                                       "digest": ref.digest}
    assert manifest["block"]["code"] == BLOCK
    assert [o["kind"] for o in manifest["observations"]] == ["observation", "observation",
                                                             "reflection"]
    assert all(set(o["ratings"]) <= {"C4.1.a", "C4.1.b", "C4.2.a", "C4.3.a", "C4.3.b"}
               for o in manifest["observations"])
    assert len(manifest["photos"]) == 3
    assert all(p["sha256"] and p["thumb_sha256"] and p["size"] for p in manifest["photos"])
    assert manifest["attestation"]["person"] == w.tutor.id
    assert manifest["attestation"]["name"] == w.tutor.full_name
    assert manifest["attestation"]["role"] == "tutor"
    event = await AuditEvent.get(action="dossier.submitted")
    assert event.payload["manifest_sha256"] == body["manifest_sha256"]
    assert (await Enrolment.get(id=w.enrolment.id)).revision > revision
    progress = await client.get(f"/api/v1/enrolments/{w.enrolment.id}/progress")
    states = {b["code"]: b["state"] for b in progress.json()["blocks"]}
    assert states[BLOCK] == "submitted"


async def test_the_manifest_leaves_out_superseded_rows_and_ratings_of_other_blocks(client, app,
                                                                                   w):
    rows = await ready_block(registry_ref(app), w.enrolment, w.tutor, w.candidate,
                             app.state.photo_store)
    old = await observation_row(w.enrolment, w.tutor, date.today() - timedelta(days=2),
                                ratings={"C4.2.b": "not_met", "C1.1.a": "met"})
    await observation_row(w.enrolment, w.tutor, date.today() - timedelta(days=2),
                          ratings={"C4.2.b": "met", "C1.1.a": "met"}, supersedes=old)
    await observation_row(w.enrolment, w.tutor, date.today() - timedelta(days=2),
                          ratings={"C1.2.a": "met"})
    await f.login(client, w.tutor)
    body = (await client.post(f"/api/v1/enrolments/{w.enrolment.id}/dossiers",
                              json={"block": BLOCK})).json()
    ids = [o["id"] for o in body["manifest"]["observations"]]
    assert str(old.id) not in ids and len(ids) == len(rows) + 1
    assert {"C4.2.b": "met"} in [o["ratings"] for o in body["manifest"]["observations"]]


async def test_after_submission_the_blocks_evidence_is_refused_and_the_manifest_verifies(
        client, app, w):
    body = await submitted(client, app, w)
    first = body["manifest"]["observations"][0]["id"]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    common = {"enrolment": w.enrolment.id, "observed_on": yesterday, "situation": "Reprise",
              "kind": "observation"}
    added = await client.put(f"/api/v1/observations/{uuid.uuid4()}",
                             json={**common, "ratings": {"C4.1.a": "not_met"}})
    assert added.status_code == 423 and added.json()["details"]["blocks"] == [BLOCK]
    corrected = await client.put(f"/api/v1/observations/{uuid.uuid4()}",
                                 json={**common, "ratings": {"C1.1.a": "met"},
                                       "supersedes": first})
    assert corrected.status_code == 423
    elsewhere = await client.put(f"/api/v1/observations/{uuid.uuid4()}",
                                 json={**common, "ratings": {"C1.1.a": "met"}})
    assert elsewhere.status_code == 201
    assert await dossiers.verify_dossier(body["id"], app.state.registry,
                                         app.state.photo_store) == []


async def test_only_a_designated_tutor_or_a_branch_admin_submits(client, app, w):
    await ready_block(registry_ref(app), w.enrolment, w.tutor, w.candidate, app.state.photo_store)
    url = f"/api/v1/enrolments/{w.enrolment.id}/dossiers"
    await f.login(client, w.candidate)
    assert (await client.post(url, json={"block": BLOCK})).status_code == 403
    await f.login(client, w.other_tutor)
    assert (await client.post(url, json={"block": BLOCK})).status_code == 404
    await f.login(client, w.admin)
    response = await client.post(url, json={"block": BLOCK})
    assert response.status_code == 201
    assert response.json()["manifest"]["attestation"]["role"] == "admin"


async def test_a_block_already_at_the_jury_cannot_be_submitted_again(client, app, w):
    await submitted(client, app, w)
    again = await client.post(f"/api/v1/enrolments/{w.enrolment.id}/dossiers",
                              json={"block": BLOCK})
    assert again.status_code == 409 and again.json()["code"] == "block_not_ready"
    assert "jury" in again.json()["details"]["reasons"][0]
    unknown = await client.post(f"/api/v1/enrolments/{w.enrolment.id}/dossiers",
                                json={"block": "BC99"})
    assert unknown.status_code == 422
    assert await Dossier.all().count() == 1


async def test_the_tutor_submits_from_the_outcome_page_with_an_attestation(client, app, w):
    await ready_block(registry_ref(app), w.enrolment, w.tutor, w.candidate, app.state.photo_store)
    await f.login(client, w.tutor)
    page = await client.get(f"/enrolments/{w.enrolment.id}/outcome")
    assert page.status_code == 200 and "Présenter au jury" in page.text
    url = f"/enrolments/{w.enrolment.id}/dossiers"
    refused = await client.post(url, data={"block": BLOCK})
    assert refused.status_code == 409 and "attestation" in refused.text
    done = await client.post(url, data={"block": BLOCK, "attest": "1"})
    assert done.status_code == 303
    assert await Dossier.filter(enrolment_id=w.enrolment.id, block_code=BLOCK).count() == 1


# Sessions and assignment ----------------------------------------------------------------------


async def test_jury_sessions_list_the_callers_sessions_with_their_dossiers(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    other = await JurySession.create(organisation=w.branch, held_on=date.today(), place="Ailleurs")
    stranger = await f.person("Juré d'ailleurs")
    await JuryMember.create(session=other, person=stranger, college="employee")
    await f.login(client, w.jury_employee)
    items = (await client.get("/api/v1/jury-sessions")).json()["items"]
    assert [s["id"] for s in items] == [w.session.id]
    assert items[0]["dossiers"][0]["id"] == dossier["id"]
    assert items[0]["dossiers"][0]["candidate"]["full_name"] == w.candidate.full_name
    assert {m["college"] for m in items[0]["members"]} == {"employer", "employee"}
    await f.login(client, w.admin)
    assert {s["id"] for s in (await client.get("/api/v1/jury-sessions")).json()["items"]} == {
        w.session.id, other.id}
    await f.login(client, stranger)
    assert (await client.get("/api/v1/jury-sessions")).json()["items"][0]["dossiers"] == []
    await f.login(client, w.candidate)
    assert (await client.get("/api/v1/jury-sessions")).status_code == 403


async def test_the_admin_assigns_a_dossier_and_is_warned_of_a_conflicted_member(client, app, w):
    dossier = await submitted(client, app, w)
    boss = await f.person("Patron", company_org=w.company)
    await JuryMember.create(session=w.session, person=boss, college="employer")
    await f.login(client, w.admin)
    url = f"/admin/jury-sessions/{w.session.id}/dossiers"
    page = await client.get(url)
    assert page.status_code == 200 and "même entreprise que le candidat" in page.text
    assert (await client.post(url, data={"dossier": dossier["id"]})).status_code == 303
    assert (await Dossier.get(id=dossier["id"])).session_id == w.session.id
    assert await AuditEvent.filter(action="dossier.assigned").count() == 1
    page = await client.get(url)
    assert boss.full_name in page.text and "ne pourra pas décider" in page.text
    again = await client.post(url, data={"dossier": dossier["id"]})
    assert again.status_code == 409
    await f.login(client, w.jury_employer)
    assert (await client.get(url)).status_code == 403


# Deciding -------------------------------------------------------------------------------------


async def test_one_decision_per_dossier_and_the_second_gets_409_with_the_stored_one(client, app,
                                                                                  w):
    dossier = await submitted(client, app, w, session=w.session)
    revision = (await Enrolment.get(id=w.enrolment.id)).revision
    await f.login(client, w.jury_employer)
    url = f"/api/v1/dossiers/{dossier['id']}/decision"
    first = await client.put(url, json=decision(w))
    assert first.status_code == 201, first.text
    assert first.json()["manifest_sha256"] == dossier["manifest_sha256"]
    assert [(v["person"], v["vote"]) for v in first.json()["deliberation"]] == [
        (w.jury_employer.id, "validated"), (w.jury_employee.id, "validated")]
    second = await client.put(url, json=decision(w, "not_validated", reasons="Autre avis"))
    assert second.status_code == 409 and second.json()["code"] == "already_decided"
    assert second.json()["details"]["stored"] == first.json()
    stored = await Decision.get(dossier_id=dossier["id"])
    assert stored.outcome == "validated" and stored.decided_by_id == w.jury_employer.id
    assert await AuditEvent.filter(action="decision.recorded").count() == 1
    assert (await Enrolment.get(id=w.enrolment.id)).revision > revision


async def test_a_refusal_needs_reasons_and_bad_bodies_change_nothing(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    url = f"/api/v1/dossiers/{dossier['id']}/decision"
    for body in (decision(w, "not_validated", reasons="  "), {"outcome": "maybe"},
                 decision(w, reasons=["not", "text"]), decision(w, reasons="x" * 5001)):
        response = await client.put(url, json=body)
        assert response.status_code == 422, body
    assert (await client.put(url, content="outcome=validated",
                             headers={"Content-Type": "text/plain"})).status_code == 415
    assert await Decision.all().count() == 0


async def test_conflicted_members_see_no_decision_controls_and_may_not_decide(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    boss = await f.person("Patron", company_org=w.company)
    await JuryMember.create(session=w.session, person=boss, college="employer")
    await JuryMember.create(session=w.session, person=w.tutor, college="employee")
    api, page = f"/api/v1/dossiers/{dossier['id']}/decision", f"/dossiers/{dossier['id']}"
    await f.login(client, w.tutor)  # sees the dossier as the tutor, never as a juror
    review = await client.get(page)
    assert review.status_code == 200
    assert "Enregistrer la décision" not in review.text and "Conflit d'intérêts" in review.text
    refused = await client.put(api, json=decision(w))
    assert refused.status_code == 403 and refused.json()["code"] == "conflict_of_interest"
    await f.login(client, boss)
    assert (await client.get(page)).status_code == 403
    assert (await client.put(api, json=decision(w))).status_code == 403
    assert (await client.post(f"{page}/decision", data=form_decision(w))).status_code == 403
    sessions = (await client.get("/api/v1/jury-sessions")).json()["items"]
    assert sessions[0]["dossiers"][0]["conflict_of_interest"] == "même entreprise que le candidat"
    await f.login(client, w.jury_employer)
    assert "Enregistrer la décision" in (await client.get(page)).text
    assert await Decision.all().count() == 0


async def test_only_members_of_the_dossiers_session_decide(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    other = await JurySession.create(organisation=w.branch, held_on=date.today(), place="B")
    elsewhere = await f.person("Juré d'une autre session")
    await JuryMember.create(session=other, person=elsewhere, college="employer",
                            is_president=True)
    url = f"/api/v1/dossiers/{dossier['id']}/decision"
    await f.login(client, elsewhere)
    assert (await client.put(url, json=decision(w))).status_code == 404
    await f.login(client, w.outsider)
    assert (await client.put(url, json=decision(w))).status_code == 403  # holds no jury seat
    assert await Decision.all().count() == 0


async def test_a_juror_decides_from_the_review_page(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    page = f"/dossiers/{dossier['id']}"
    form = await client.get(page)
    assert f'name="vote-{w.jury_employee.id}"' in form.text
    missing = await client.post(f"{page}/decision", data=form_decision(w, "not_validated",
                                                                       reasons=""))
    assert missing.status_code == 422 and "motivée" in missing.text
    done = await client.post(f"{page}/decision", data=form_decision(w, reasons="Bien"))
    assert done.status_code == 303
    assert "Validé" in (await client.get(page)).text


@pytest.mark.postgres
@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
async def test_two_simultaneous_decisions_record_exactly_one_fifty_times_over(app, db):
    """PostgreSQL only, where two connections really race (SQLite serialises writers)."""
    w = await f.world()
    ids = []
    for i in range(50):
        manifest = {"format": jury.MANIFEST_FORMAT, "n": i}
        d = await Dossier.create(enrolment=w.enrolment, block_code=f"BC{i}", manifest=manifest,
                                 manifest_sha256=jury.sha256_of(manifest), submitted_by=w.tutor,
                                 submitted_at=utcnow(), session=w.session)
        ids.append(d.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as one, \
            httpx.AsyncClient(transport=transport, base_url="https://testserver") as two:
        await f.login(one, w.jury_employer)  # the president, on two devices at once
        await f.login(two, w.jury_employer)
        for dossier_id in ids:
            url = f"/api/v1/dossiers/{dossier_id}/decision"
            answers = await asyncio.gather(
                asyncio.create_task(one.put(url, json=decision(w))),
                asyncio.create_task(two.put(url, json=decision(w, "not_validated"))))
            assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
            won = next(a for a in answers if a.status_code == 201).json()
            lost = next(a for a in answers if a.status_code == 409).json()
            assert lost["code"] == "already_decided" and lost["details"]["stored"] == won
            assert await Decision.filter(dossier_id=dossier_id).count() == 1


# Closing and appeals --------------------------------------------------------------------------


async def test_the_president_closes_the_session_and_decisions_become_final(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    close = f"/api/v1/jury-sessions/{w.session.id}/close"
    await f.login(client, w.jury_employee)
    assert (await client.post(close)).status_code == 403  # not the president
    await f.login(client, w.jury_employer)
    undecided = await client.post(close)
    assert undecided.status_code == 409 and undecided.json()["code"] == "dossiers_undecided"
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    closed = await client.post(close)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (await client.post(close)).status_code == 409
    event = await AuditEvent.get(action="jury_session.closed")
    assert event.payload["decisions"][0]["outcome"] == "validated"
    late = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                            json=decision(w, "not_validated", reasons="Revu"))
    assert late.status_code == 409
    await f.login(client, w.admin)
    moved = await client.post(f"/admin/jury-sessions/{w.session.id}/dossiers",
                              data={"dossier": dossier["id"], "action": "unassign"})
    assert moved.status_code == 409
    assert (await Decision.get(dossier_id=dossier["id"])).outcome == "validated"


async def test_a_session_missing_a_college_cannot_be_closed(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    await JuryMember.filter(session=w.session, person=w.jury_employee).delete()
    refused = await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert refused.status_code == 409 and refused.json()["code"] == "jury_composition"
    assert any("salariés" in p for p in refused.json()["details"]["problems"])
    page = await client.post(f"/jury-sessions/{w.session.id}/close")
    assert page.status_code == 409 and "composition" in page.text
    assert (await JurySession.get(id=w.session.id)).status == "open"


async def refused_and_closed(client, app, w) -> dict:
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                     json=decision(w, "not_validated", reasons="Fixations non conformes",
                                   recommendations="Reprendre les fixations sur béton"))
    assert (await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")).status_code == 200
    return dossier


async def test_an_appeal_is_a_new_dossier_reviewing_the_same_evidence(client, app, w):
    dossier = await refused_and_closed(client, app, w)
    url = f"/api/v1/dossiers/{dossier['id']}/appeal"
    await f.login(client, w.tutor)
    assert (await client.post(url, json={"grounds": "x"})).status_code == 403
    await f.login(client, w.candidate)
    assert (await client.post(url, json={"grounds": " "})).status_code == 422
    response = await client.post(url, json={"grounds": "Le jury n'a pas vu la photo du PV."})
    assert response.status_code == 201, response.text
    appeal = response.json()
    assert appeal["review_of"] == dossier["id"] and appeal["block"] == BLOCK
    assert appeal["manifest"]["review_of"]["manifest_sha256"] == dossier["manifest_sha256"]
    assert jury.original_of(appeal["manifest"]) == dossier["manifest"]
    assert (await client.post(url, json={"grounds": "Encore"})).status_code == 409
    assert await dossiers.verify_dossier(appeal["id"], app.state.registry,
                                         app.state.photo_store) == []
    progress = (await client.get(f"/api/v1/enrolments/{w.enrolment.id}/progress")).json()
    assert {b["code"]: b["state"] for b in progress["blocks"]}[BLOCK] == "submitted"


async def test_a_validation_cannot_be_appealed(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    await f.login(client, w.candidate)
    early = await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal", json={"grounds": "?"})
    assert early.status_code == 409 and early.json()["code"] == "decision_not_final"
    await f.login(client, w.jury_employer)
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    await f.login(client, w.candidate)
    late = await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal", json={"grounds": "?"})
    assert late.status_code == 409 and late.json()["code"] == "not_appealable"


# Outcomes and review --------------------------------------------------------------------------


async def test_the_candidate_and_the_tutor_see_the_outcome_once_the_session_is_closed(client,
                                                                                      app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    await f.login(client, w.candidate)
    url = f"/api/v1/enrolments/{w.enrolment.id}/outcome"
    pending = (await client.get(url)).json()
    assert pending["outcome"] == "in_progress"
    assert {b["code"]: b["status"] for b in pending["blocks"]}[BLOCK] == "pending"
    await f.login(client, w.jury_employer)
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    for who in (w.candidate, w.tutor):
        await f.login(client, who)
        body = (await client.get(url)).json()
        assert body["outcome"] == "partial"
        block = next(b for b in body["blocks"] if b["code"] == BLOCK)
        assert block["status"] == "validated" and block["acquired"]
        decided = date.fromisoformat(block["decided_on"])
        assert block["valid_until"] == decided.replace(year=decided.year + 5).isoformat()
        assert body["dossiers"][0]["decision"]["outcome"] == "validated"
    page = await client.get(f"/enrolments/{w.enrolment.id}/outcome")
    assert "Validation partielle" in page.text and "Validé par le jury" in page.text
    await f.login(client, w.other_candidate)
    assert (await client.get(url)).status_code == 404


async def test_the_review_page_shows_the_evidence_and_moves_to_the_next_dossier(client, app, w):
    first = await submitted(client, app, w, session=w.session)
    await ready_block(registry_ref(app), w.other_enrolment, w.other_tutor, w.other_candidate,
                      app.state.photo_store)
    await f.login(client, w.other_tutor)
    second = (await client.post(f"/api/v1/enrolments/{w.other_enrolment.id}/dossiers",
                                json={"block": BLOCK})).json()
    await Dossier.filter(id=second["id"]).update(session_id=w.session.id)
    await f.login(client, w.jury_employee)
    page = await client.get(f"/dossiers/{first['id']}")
    assert page.status_code == 200
    text = page.text
    assert w.candidate.full_name in text and "C4.1.a" in text and "acquis" in text
    assert f"/dossiers/{second['id']}" in text and "Dossier suivant" in text
    photo = first["manifest"]["photos"][0]["id"]
    assert f"/api/v1/photos/{photo}?size=thumb" in text
    assert (await client.get(f"/api/v1/photos/{photo}")).status_code == 200
    assert "prêt pour le jury" in text and "Réflexions" in text
    assert (await client.get(f"/dossiers/{second['id']}")).text.count("Dossier précédent") == 2
    await f.login(client, w.other_candidate)
    assert (await client.get(f"/dossiers/{first['id']}")).status_code == 404


async def test_the_jury_pages_list_sessions_and_the_president_closes_from_the_page(client, app,
                                                                                   w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    home = await client.get("/jury")
    assert home.status_code == 200 and w.candidate.full_name in home.text
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    session_page = await client.get(f"/jury-sessions/{w.session.id}")
    assert "Clore la session" in session_page.text
    closed = await client.post(f"/jury-sessions/{w.session.id}/close")
    assert closed.status_code == 303
    assert "décisions sont définitives" in (await client.get(closed.headers["location"])).text


# Documents ------------------------------------------------------------------------------------


def pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    # Table cells wrap: compare words, not lines.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


async def test_the_dossier_minutes_and_certificate_pdfs_name_candidate_blocks_and_decisions(
        client, app, w):
    for code in ("BC01", "BC02", "BC03"):
        await HeldBlock.create(enrolment=w.enrolment, block_code=code,
                               decided_on=date.today() - timedelta(days=400),
                               referential_version=f.CQP[1])
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                     json=decision(w, reasons="Interventions maîtrisées"))
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    text = pdf_text(await client.get(f"/dossiers/{dossier['id']}.pdf"))
    assert w.candidate.full_name in text and BLOCK in text and "Interventions maîtrisées" in text
    assert dossier["manifest_sha256"] in text.replace(" ", "")
    minutes = pdf_text(await client.get(f"/jury-sessions/{w.session.id}/minutes.pdf"))
    assert "Procès-verbal" in minutes and w.candidate.full_name in minutes
    assert "validé" in minutes and "Interventions maîtrisées" in minutes
    assert w.jury_employer.full_name in minutes and "vice-président" in minutes
    assert "Page 1 sur" in minutes
    # test_the_minutes_give_each_candidates_overall_result
    assert "Résultat par candidat" in minutes and "Certificat délivré" in minutes
    assert "Votes" in minutes and w.jury_employee.full_name in minutes
    await f.login(client, w.candidate)
    certificate = pdf_text(await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf"))
    assert "Certificat de qualification professionnelle" in certificate
    assert w.candidate.full_name in certificate
    assert all(code in certificate for code in ("BC01", "BC02", "BC03", "BC04"))


async def test_a_partial_validation_gives_a_block_attestation_with_its_expiry(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    await f.login(client, w.tutor)
    text = pdf_text(await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf"))
    decided = (await Decision.get(dossier_id=dossier["id"])).decided_at.date()
    assert "Attestation de validation de blocs" in text and w.candidate.full_name in text
    assert decided.replace(year=decided.year + 5).strftime("%d/%m/%Y") in text
    assert "BC01" in text  # among the blocks still to acquire


async def test_no_certificate_or_attestation_without_an_acquired_block(client, w):
    await f.login(client, w.candidate)
    response = await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf")
    assert response.status_code == 409
    await f.login(client, w.other_candidate)
    assert (await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf")).status_code == 404


async def test_without_pango_the_server_serves_and_pdfs_answer_503_naming_the_library(
        client, app, w, monkeypatch):
    import sys

    from backend import documents

    dossier = await submitted(client, app, w, session=w.session)
    monkeypatch.setattr(documents, "_weasyprint", None)
    # What importing WeasyPrint raises on a machine without Pango.
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    monkeypatch.setattr(documents, "_missing", "")
    real_import = __import__

    def no_pango(name, *args, **kwargs):
        if name.startswith("weasyprint"):
            raise OSError("cannot load library 'libpango-1.0-0': No such file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", no_pango)
    await f.login(client, w.jury_employer)
    response = await client.get(f"/dossiers/{dossier['id']}.pdf")
    assert response.status_code == 503 and "libpango" in response.text
    assert (await client.get("/health")).status_code == 200


# What a jury member reads: the dossiers of their sessions and the evidence frozen in them -----


async def second_session_dossier(app, w) -> tuple[JurySession, object, dict, Observation, Photo]:
    """Session 2, with one member, holding a BC01 dossier of the same candidate that freezes
    one observation (rating a BC01 criterion and a BC04 one) and its photo. Returns the
    session, its member, the dossier's JSON as the API gives it, the observation, the photo."""
    member = await f.person("Juré de la session 2")
    session = await f.jury_session(w.branch, (member, "employer"))
    photo = await photo_row(app.state.photo_store, w.enrolment, w.tutor)
    observation = await observation_row(
        w.enrolment, w.tutor, date.today() - timedelta(days=2),
        ratings={"C1.1.a": "met", "C4.1.a": "met"},
        photos=[{"id": str(photo.id), "competency": "C1.1", "evidence": "Croquis"}])
    manifest = jury.build_manifest(
        ref=registry_ref(app), block_code="BC01",
        enrolment={"id": w.enrolment.id, "candidate": w.candidate.id,
                   "company": w.company.id},
        observations=await Observation.filter(id=observation.id).values(
            *jury.OBSERVATION_FIELDS),
        photos=await Photo.filter(id=photo.id).values(*jury.PHOTO_FIELDS),
        attestation={"person": w.tutor.id, "name": w.tutor.full_name, "role": "tutor",
                     "at": jury.instant(utcnow())})
    dossier = await Dossier.create(enrolment=w.enrolment, block_code="BC01", manifest=manifest,
                                   manifest_sha256=jury.sha256_of(manifest),
                                   submitted_by=w.tutor, submitted_at=utcnow(),
                                   session=session)
    return session, member, {"id": dossier.id, "manifest": manifest}, observation, photo


async def statuses(client, urls: list[str]) -> dict[str, int]:
    return {url: (await client.get(url)).status_code for url in urls}


def dossier_urls(dossier_id: int) -> list[str]:
    return [f"/api/v1/dossiers/{dossier_id}", f"/dossiers/{dossier_id}",
            f"/dossiers/{dossier_id}.pdf"]


def evidence_urls(manifest: dict) -> list[str]:
    return [*(f"/api/v1/observations/{o['id']}" for o in manifest["observations"]),
            *(f"/api/v1/photos/{p['id']}{size}" for p in manifest["photos"]
              for size in ("", "?size=thumb"))]


def enrolment_urls(enrolment_id: int) -> list[str]:
    return [f"/api/v1/enrolments/{enrolment_id}", f"/api/v1/enrolments/{enrolment_id}/progress",
            f"/enrolments/{enrolment_id}", f"/api/v1/enrolments/{enrolment_id}/outcome",
            f"/enrolments/{enrolment_id}/outcome", f"/enrolments/{enrolment_id}/certificate.pdf"]


async def test_a_jury_member_of_session_2_cannot_read_the_dossier_of_session_1(client, app, w):
    first = await submitted(client, app, w, session=w.session)
    _, member, _, _, _ = await second_session_dossier(app, w)
    await f.login(client, member)
    assert set((await statuses(client, dossier_urls(first["id"]))).values()) == {404}
    body = (await client.get(f"/api/v1/dossiers/{first['id']}")).json()
    assert body["code"] == "dossier_not_found"  # as for a dossier that does not exist


async def test_a_jury_member_reads_the_assigned_dossier_its_pdf_and_its_frozen_photos(
        client, app, w):
    await submitted(client, app, w, session=w.session)
    session, member, dossier, observation, photo = await second_session_dossier(app, w)
    await f.login(client, member)
    assert set((await statuses(client, [*dossier_urls(dossier["id"]),
                                        *evidence_urls(dossier["manifest"])])).values()) == {200}
    assert w.candidate.full_name in pdf_text(await client.get(f"/dossiers/{dossier['id']}.pdf"))
    full = await client.get(f"/api/v1/photos/{photo.id}")
    assert full.content == app.state.photo_store.path(photo.sha256).read_bytes()
    items = (await client.get("/api/v1/jury-sessions")).json()["items"]
    assert [(s["id"], [d["id"] for d in s["dossiers"]]) for s in items] == [
        (session.id, [dossier["id"]])]


async def test_a_jury_member_cannot_read_an_observation_outside_their_dossiers(client, app, w):
    first = await submitted(client, app, w, session=w.session)
    _, member, dossier, observation, _ = await second_session_dossier(app, w)
    later = await observation_row(w.enrolment, w.tutor, date.today(), ratings={"C1.1.b": "met"})
    await f.login(client, member)
    outside = [f"/api/v1/observations/{o['id']}" for o in first["manifest"]["observations"]]
    assert set((await statuses(client, [*outside, f"/api/v1/observations/{later.id}"])
                ).values()) == {404}
    frozen = (await client.get(f"/api/v1/observations/{observation.id}")).json()
    # As the BC01 dossier froze it: not what it says of BC04, judged by another jury.
    assert frozen["ratings"] == {"C1.1.a": "met"}
    assert [p["id"] for p in frozen["photos"]] == [dossier["manifest"]["photos"][0]["id"]]


async def test_a_jury_member_cannot_read_a_photo_outside_their_dossiers(client, app, w):
    first = await submitted(client, app, w, session=w.session)
    _, member, _, _, _ = await second_session_dossier(app, w)
    unfrozen = await photo_row(app.state.photo_store, w.enrolment, w.tutor)
    await f.login(client, member)
    outside = [url for url in evidence_urls(first["manifest"]) if "/photos/" in url]
    assert outside and set((await statuses(client, [
        *outside, f"/api/v1/photos/{unfrozen.id}"])).values()) == {404}
    body = (await client.get(outside[0])).json()
    assert body["code"] == "photo_not_found"


async def test_a_jury_member_never_reads_the_candidates_enrolment_or_live_progress(client, app,
                                                                                   w):
    await submitted(client, app, w, session=w.session)
    _, member, _, _, _ = await second_session_dossier(app, w)
    for who in (w.jury_employer, member):
        await f.login(client, who)
        assert set((await statuses(client, enrolment_urls(w.enrolment.id))).values()) == {404}
        assert (await client.get("/api/v1/enrolments")).json()["items"] == []


async def test_a_jury_member_loses_access_90_days_after_the_session_closed(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    closed = await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert closed.status_code == 200
    closed_at = (await JurySession.get(id=w.session.id)).closed_at
    session_urls = [f"/jury-sessions/{w.session.id}", f"/jury-sessions/{w.session.id}/minutes.pdf"]
    urls = [*dossier_urls(dossier["id"]), *evidence_urls(dossier["manifest"]), *session_urls]
    for days, expected in ((90, 200), (90.01, 404)):
        app.state.clock = lambda days=days: closed_at + timedelta(days=days)
        for who in (w.jury_employer, w.jury_employee):
            await f.login(client, who)  # the clock moved past the login session's expiry
            assert set((await statuses(client, urls)).values()) == {expected}, (days, who)
            listed = (await client.get("/api/v1/jury-sessions")).json()["items"]
            assert [s["id"] for s in listed] == ([w.session.id] if expected == 200 else [])
    await f.login(client, w.admin)  # the branch keeps its records
    assert set((await statuses(client, urls)).values()) == {200}
    await f.login(client, w.candidate)
    assert (await client.get(f"/api/v1/dossiers/{dossier['id']}")).status_code == 200


async def test_the_jury_access_period_is_the_setting(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await JurySession.filter(id=w.session.id).update(status="closed",
                                                     closed_at=utcnow() - timedelta(days=11))
    app.state.settings = app.state.settings.with_(jury_access_days=10)
    await f.login(client, w.jury_employee)
    assert (await client.get(f"/api/v1/dossiers/{dossier['id']}")).status_code == 404
    app.state.settings = app.state.settings.with_(jury_access_days=12)
    assert (await client.get(f"/api/v1/dossiers/{dossier['id']}")).status_code == 200


async def test_a_jury_member_in_conflict_of_interest_reads_no_frozen_evidence(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    colleague = await f.person("Collègue juré", company_org=w.company)
    await JuryMember.create(session=w.session, person=colleague, college="employee")
    await f.login(client, colleague)
    assert (await client.get(f"/api/v1/dossiers/{dossier['id']}")).status_code == 403
    assert set((await statuses(client, evidence_urls(dossier["manifest"]))).values()) == {404}


async def test_a_jury_member_who_is_also_a_candidate_cannot_reach_the_outcome_page_by_appealing(
        client, app, w):
    dossier = await refused_and_closed(client, app, w)
    await f.enrolment(w.jury_employee, w.other_company)  # the juror is a candidate elsewhere
    await f.login(client, w.jury_employee)
    response = await client.post(f"/dossiers/{dossier['id']}/appeal", data={"grounds": "x"})
    assert response.status_code == 403
    assert "progression" not in response.text and BLOCK not in response.text
    assert not await Dossier.filter(review_of_id=dossier["id"]).exists()


# The jury decides as a jury (docs/domain.md) ------------------------------------------------


async def test_a_single_member_cannot_decide_for_the_jury(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    url = f"/api/v1/dossiers/{dossier['id']}/decision"
    await f.login(client, w.jury_employee)  # not the president: cannot enter it at all
    alone = {**decision(w), "votes": {str(w.jury_employee.id): "validated"}}
    refused = await client.put(url, json=alone)
    assert refused.status_code == 403 and refused.json()["code"] == "not_chair"
    await f.login(client, w.jury_employer)  # the president, voting alone
    alone = {**decision(w), "votes": {str(w.jury_employer.id): "validated"}}
    refused = await client.put(url, json=alone)
    assert refused.status_code == 422 and refused.json()["code"] == "jury_quorum"
    assert (await client.put(url, json={k: v for k, v in decision(w).items()
                                        if k != "votes"})).status_code == 422
    assert await Decision.all().count() == 0
    closing = await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert closing.status_code == 409 and closing.json()["code"] == "dossiers_undecided"


async def test_one_employer_against_three_employees_cannot_decide(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    more = [await f.person("Jurée salariée") for _ in range(2)]
    for p in more:
        await JuryMember.create(session=w.session, person=p, college="employee",
                                mandate="union", represents="CGT")
    await f.login(client, w.jury_employer)
    url = f"/api/v1/dossiers/{dossier['id']}/decision"
    body = decision(w)
    body["votes"].update({str(p.id): "validated" for p in more})
    refused = await client.put(url, json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "jury_quorum"
    assert "non paritaire" in str(refused.json()["details"])
    assert (await client.put(url, json=decision(w))).status_code == 201  # 1 + 1 present


async def test_the_outcome_entered_must_be_the_one_the_votes_give(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    body = {**decision(w, "validated"), "votes": {str(w.jury_employer.id): "validated",
                                                   str(w.jury_employee.id): "not_validated"}}
    tie = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=body)
    assert tie.status_code == 422 and tie.json()["code"] == "no_majority"
    body = decision(w, "validated")
    body["votes"] = {k: "not_validated" for k in body["votes"]}
    wrong = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=body)
    assert wrong.status_code == 422 and wrong.json()["code"] == "outcome_not_voted"


async def test_a_decision_is_recorded_only_on_or_after_the_sessions_date(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await JurySession.filter(id=w.session.id).update(held_on=date.today() + timedelta(days=2))
    await f.login(client, w.jury_employer)
    early = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    assert early.status_code == 409 and early.json()["code"] == "session_not_held_yet"
    assert await Decision.all().count() == 0


async def test_the_candidate_sees_the_decision_only_once_the_session_is_closed(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    for who in (w.candidate, w.tutor):
        await f.login(client, who)
        assert (await client.get(f"/api/v1/dossiers/{dossier['id']}")).json()["decision"] is None
        progress = (await client.get(f"/api/v1/enrolments/{w.enrolment.id}/progress")).json()
        assert {b["code"]: b["state"] for b in progress["blocks"]}[BLOCK] == "submitted"
        outcome = (await client.get(f"/api/v1/enrolments/{w.enrolment.id}/outcome")).json()
        assert outcome["dossiers"][0]["decision"] is None
        assert "Validé" not in (await client.get(f"/dossiers/{dossier['id']}")).text
    await f.login(client, w.jury_employer)
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    await f.login(client, w.candidate)
    shown = (await client.get(f"/api/v1/dossiers/{dossier['id']}")).json()["decision"]
    assert shown["outcome"] == "validated" and len(shown["deliberation"]) == 2


async def test_the_seal_covers_who_deliberated_and_their_votes(client, app, w):
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    assert await dossiers.verify_dossier(dossier["id"], app.state.registry,
                                         app.state.photo_store) == []
    stored = await Decision.get(dossier_id=dossier["id"])
    forged = [{**stored.deliberation[0], "vote": "not_validated"}, stored.deliberation[1]]
    await Decision.filter(id=stored.id).update(deliberation=forged)
    problems = await dossiers.verify_dossier(dossier["id"], app.state.registry,
                                             app.state.photo_store)
    assert any("deliberation[0].vote" in p for p in problems), problems


async def test_a_members_college_comes_from_what_they_represent(client, w):
    session = await JurySession.create(organisation=w.branch, held_on=date.today(), place="S")
    await f.login(client, w.admin)
    url = f"/admin/jury-sessions/{session.id}/members"
    chosen = await client.post(url, data={"person": w.other_tutor.id, "college": "employer"})
    assert chosen.status_code == 422
    seated = await client.post(url, data={"person": w.other_tutor.id, "mandate": "union",
                                          "represents": "CFDT Bâtiment"})
    assert seated.status_code == 303
    member = await JuryMember.get(session=session, person=w.other_tutor)
    assert (member.college, member.mandate, member.represents) == ("employee", "union",
                                                                   "CFDT Bâtiment")


async def test_the_presidency_alternates_between_colleges_from_session_to_session(client, app,
                                                                                  w):
    dossier = await submitted(client, app, w, session=w.session)
    earlier = await f.jury_session(w.branch, (w.outsider, "employer"),
                                   (await f.person("Autre"), "employee"))
    await JurySession.filter(id=earlier.id).update(
        status="closed", held_on=date.today() - timedelta(days=90),
        closed_at=utcnow() - timedelta(days=90))
    await f.login(client, w.jury_employer)  # presides for the employers again
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    refused = await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert refused.status_code == 409 and "alterne" in str(refused.json()["details"])
    await JuryMember.filter(session=earlier, is_president=True).update(is_president=False)
    await JuryMember.filter(session=earlier, college="employee").update(is_president=True)
    assert (await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")).status_code == 200


# Conflicts of interest from explicit ties ---------------------------------------------------


async def seated_and_refused(client, app, w, person, college: str = "employer") -> None:
    """`person`, seated in the dossier's session, may not decide on w.candidate."""
    dossier = await submitted(client, app, w, session=w.session)
    await JuryMember.create(session=w.session, person=person, college=college,
                            mandate="employer_organisation" if college == "employer"
                            else "union", represents="Organisation")
    await f.login(client, person)
    refused = await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    assert refused.status_code == 403 and refused.json()["code"] == "conflict_of_interest"
    listed = (await client.get("/api/v1/jury-sessions")).json()["items"][0]["dossiers"][0]
    assert listed["conflict_of_interest"]
    await f.login(client, w.admin)
    assert person.full_name in (await client.get(
        f"/admin/jury-sessions/{w.session.id}/dossiers")).text


async def test_the_candidate_cannot_decide_on_their_own_dossier_even_without_a_company(
        client, app, w):
    await type(w.candidate).filter(id=w.candidate.id).update(company_id=None)
    await seated_and_refused(client, app, w, w.candidate, "employee")


async def test_the_candidates_boss_cannot_decide_even_without_a_company_on_record(client, app,
                                                                                  w):
    boss = await f.person("Patron invité par la branche")  # no company of their own
    await type(boss).filter(id=boss.id).update(represents_company_id=w.company.id)
    await seated_and_refused(client, app, w, boss)


async def test_the_candidates_tutor_from_another_enrolment_cannot_decide(client, app, w):
    former = await f.person("Ancien tuteur", company_org=w.other_company)
    earlier = await f.enrolment(w.candidate, w.other_company, former)
    await type(earlier).filter(id=earlier.id).update(referential_version=f.CQP[1])
    from backend.models import Tutorship
    await Tutorship.filter(enrolment=earlier).update(ended_on=date.today() - timedelta(days=5))
    await seated_and_refused(client, app, w, former)


async def test_a_colleague_in_the_candidates_company_cannot_decide(client, app, w):
    colleague = await f.person("Collègue", company_org=w.company)
    await seated_and_refused(client, app, w, colleague, "employee")


# Appeals ------------------------------------------------------------------------------------


async def test_an_appeal_after_the_deadline_is_refused(client, app, w):
    dossier = await refused_and_closed(client, app, w)
    days = app.state.settings.appeal_days
    await JurySession.filter(id=w.session.id).update(
        closed_at=utcnow() - timedelta(days=days + 1))
    await f.login(client, w.candidate)
    late = await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal",
                             json={"grounds": "Trois ans après."})
    assert late.status_code == 409 and late.json()["code"] == "appeal_too_late"
    await JurySession.filter(id=w.session.id).update(
        closed_at=utcnow() - timedelta(days=days - 1))
    assert (await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal",
                              json={"grounds": "Dans le délai."})).status_code == 201


async def test_an_appeal_is_decided_by_a_jury_with_no_member_of_the_first_decision(client, app,
                                                                                  w):
    dossier = await refused_and_closed(client, app, w)
    await f.login(client, w.candidate)
    appeal = (await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal",
                                json={"grounds": "Photo non vue."})).json()
    second = await f.jury_session(w.branch, (w.jury_employee, "employee"),
                                  (w.jury_employer, "employer"))
    await Dossier.filter(id=appeal["id"]).update(session_id=second.id)
    await f.login(client, w.jury_employee)  # presides the appeal's session
    body = decision(w)
    refused = await client.put(f"/api/v1/dossiers/{appeal['id']}/decision", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "conflict_of_interest"
    assert "contestée" in refused.json()["message"]
    fresh = await f.jury_session(w.branch, (await f.person("Nouveau"), "employee"),
                                 (await f.person("Nouvelle"), "employer"))
    await Dossier.filter(id=appeal["id"]).update(session_id=fresh.id)
    president, other = await JuryMember.filter(session=fresh).order_by("-is_president")
    await f.login(client, await president.person)
    ok = await client.put(f"/api/v1/dossiers/{appeal['id']}/decision",
                          json={**body, "votes": {str(president.person_id): "validated",
                                                  str(other.person_id): "validated"}})
    assert ok.status_code == 201, ok.text


# Notices ------------------------------------------------------------------------------------


async def test_each_step_of_a_dossier_tells_its_people_and_no_one_else(client, app, w):
    from backend.models import MailMessage, Notice

    async def told(event):
        return sorted(n.person_id for n in await Notice.filter(event=event))

    dossier = await submitted(client, app, w)
    assert await told("dossier.presented") == [w.admin.id]
    await f.login(client, w.admin)
    await client.post(f"/admin/jury-sessions/{w.session.id}/dossiers",
                      data={"dossier": dossier["id"]})
    assert await told("dossier.assigned") == sorted([w.jury_employer.id, w.jury_employee.id])
    convocations = await MailMessage.filter(person_id=w.jury_employer.id)
    assert len(convocations) == 1 and "Convocation" in convocations[0].subject
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                     json=decision(w, "not_validated"))
    assert await told("decision.published") == []  # not before the session is closed
    await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")
    assert await told("decision.published") == sorted([w.candidate.id, w.tutor.id])
    published = await Notice.get(event="decision.published", person_id=w.candidate.id)
    assert published.params["outcome"] == "non validé"
    mail = await MailMessage.get(person_id=w.candidate.id)
    assert "non validé" in mail.body and "Preuves solides" not in mail.body  # no reasons
    await f.login(client, w.candidate)
    await client.post(f"/api/v1/dossiers/{dossier['id']}/appeal",
                      json={"grounds": "Le jury n'a pas vu la photo du PV."})
    assert await told("appeal.lodged") == [w.admin.id]
    assert w.other_tutor.id not in await told("decision.published")


async def test_a_block_that_becomes_ready_is_announced_once_to_its_tutor_and_candidate(
        client, app, w):
    from backend.models import Notice

    rows = await ready_block(registry_ref(app), w.enrolment, w.tutor, w.candidate,
                             app.state.photo_store)
    await Observation.filter(id=rows[-1].id).delete()  # the reflection is what's missing
    await f.login(client, w.candidate)
    for n in range(2):
        answer = await client.put(f"/api/v1/observations/{uuid.uuid4()}", json={
            "enrolment": w.enrolment.id, "kind": "reflection", "block": BLOCK,
            "observed_on": (date.today() - timedelta(days=1)).isoformat(),
            "situation": f"Ce que j'ai appris ({n})", "ratings": {}})
        assert answer.status_code == 201, answer.text
    told = await Notice.filter(event="block.ready")
    assert sorted(n.person_id for n in told) == sorted([w.tutor.id, w.candidate.id])
    assert {n.params["block"] for n in told} == {BLOCK}
