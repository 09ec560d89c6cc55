"""A certificate once delivered stays delivered; validity in months; a certificate rests on a
decision of a Carnet jury (docs/domain.md, item 3), through HTTP on SQLite and PostgreSQL, and
the pure rules over literal values."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.domain import dossiers, jury
from backend.domain.referentials import ReferentialError, parse_referential
from backend.models import AuditEvent, Decision, DeliveredCertificate, HeldBlock
from tests import factories as f
from tests.domain.test_jury import REF, final
from tests.domain.test_referentials import SOURCE, VALID, broken
from tests.routes.test_jury import decision, pdf_text, submitted

OTHERS = ("BC01", "BC02", "BC03")  # the CQP's blocks besides test_jury.BLOCK


async def held(w, day: date) -> None:
    for code in OTHERS:
        await HeldBlock.create(enrolment=w.enrolment, block_code=code, decided_on=day,
                               referential_version=f.CQP[1])


async def certified(client, app, w) -> dict:
    await held(w, date.today() - timedelta(days=400))
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    await client.put(f"/api/v1/dossiers/{dossier['id']}/decision", json=decision(w))
    assert (await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")).status_code == 200
    return dossier


async def test_a_delivered_certificate_is_a_stored_record_that_never_expires(client, app):
    w = await f.world()
    dossier = await certified(client, app, w)
    stored = await DeliveredCertificate.get(enrolment_id=w.enrolment.id)
    assert stored.record["blocks"][-1]["dossier"] == dossier["id"]
    assert stored.record["sessions"][0]["minutes_sha256"]
    assert stored.record["referential"]["version"] == f.CQP[1]
    assert await AuditEvent.filter(action="certificate.delivered").count() == 1
    # Years later, past the blocks' validity: still delivered, the PDF still answers.
    long_ago = date.today() - timedelta(days=10 * 366)
    await HeldBlock.filter(enrolment_id=w.enrolment.id).update(decided_on=long_ago)
    await Decision.filter(dossier_id=dossier["id"]).update(
        decided_at=stored.created_at - timedelta(days=3660))
    await f.login(client, w.candidate)
    outcome = (await client.get(f"/api/v1/enrolments/{w.enrolment.id}/outcome")).json()
    assert outcome["outcome"] == "certificate"
    assert outcome["certificate"]["number"] == stored.number
    pdf = await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf")
    assert pdf.status_code == 200 and stored.number in pdf_text(pdf).replace(" ", "")


async def test_an_altered_certificate_fails_audit_verify(client, app):
    w = await f.world()
    await certified(client, app, w)
    assert await dossiers.check_certificates() == []
    stored = await DeliveredCertificate.get(enrolment_id=w.enrolment.id)
    await DeliveredCertificate.filter(id=stored.id).update(
        delivered_on=stored.delivered_on - timedelta(days=1))
    problems = await dossiers.check_certificates()
    assert any("delivered_on" in p for p in problems), problems


async def test_held_blocks_typed_by_an_admin_give_no_certificate_without_a_jury(client, app):
    w = await f.world()
    await held(w, date.today() - timedelta(days=30))
    await HeldBlock.create(enrolment=w.enrolment, block_code="BC04",
                           decided_on=date.today() - timedelta(days=30),
                           referential_version=f.CQP[1])
    await f.login(client, w.candidate)
    outcome = (await client.get(f"/api/v1/enrolments/{w.enrolment.id}/outcome")).json()
    assert outcome["outcome"] == "partial" and "jury" in outcome["reason"]
    assert outcome["certificate"] is None
    text = pdf_text(await client.get(f"/enrolments/{w.enrolment.id}/certificate.pdf"))
    assert "Certificat de qualification professionnelle" not in text


def test_a_certificate_requires_a_decision_of_a_carnet_jury():
    from backend.domain.progress import HeldBlock as Held
    held_only = [Held("BC01", date(2025, 3, 1), "1"), Held("BC02", date(2025, 3, 1), "1")]
    assert jury.compute_outcome(REF, held_only, [], date(2025, 6, 1)).kind == "partial"
    with_jury = [Held("BC01", date(2025, 3, 1), "1")]
    decided = [final(1, "BC02", "validated", date(2025, 3, 10))]
    assert jury.compute_outcome(REF, with_jury, decided, date(2025, 6, 1)).kind == "certificate"


def test_a_delivered_certificate_never_expires():
    delivered = jury.Delivered("CQP-T-2025-000001", date(2025, 3, 10), (
        {"code": "BC01", "title": "Préparer", "status": "validated",
         "decided_on": "2025-03-10", "dossier": 1},))
    o = jury.compute_outcome(REF, [], [], date(2060, 1, 1), delivered)
    assert o.kind == "certificate" and o.delivered_on == date(2025, 3, 10)
    assert "CQP-T-2025-000001" in o.reason and o.blocks[0].valid_until is None


def test_validity_periods_can_be_given_in_months():
    ref = parse_referential(broken("block_validity_years: 5", "block_validity_months: 24"),
                            SOURCE)
    assert ref.validity_months == 24 and ref.block_validity_years is None
    assert parse_referential(VALID, SOURCE).validity_months == 60
    with pytest.raises(ReferentialError):
        parse_referential(broken("block_validity_years: 5",
                                 "block_validity_years: 5\nblock_validity_months: 24"), SOURCE)
    from dataclasses import replace
    months = replace(REF, block_validity_years=None, block_validity_months=24)
    o = jury.compute_outcome(months, [], [final(1, "BC01", "validated", date(2024, 1, 31))],
                             date(2025, 6, 1))
    assert o.blocks[0].valid_until == date(2026, 1, 31)


def test_the_jury_rules_are_read_from_the_referential():
    ref = parse_referential(broken("block_validity_years: 5", "block_validity_years: 5\n"
                                   "jury: {quorum: 4, majority: two_thirds, "
                                   "casting_vote: true}"), SOURCE)
    assert (ref.jury.quorum, ref.jury.majority, ref.jury.casting_vote) == (4, "two_thirds", True)
    with pytest.raises(ReferentialError):
        parse_referential(broken("block_validity_years: 5", "block_validity_years: 5\n"
                                 "jury: {quorum: 1}"), SOURCE)


# The register's facts in the referential (docs/domain.md, item 6) ---------------------------

RS_WITHOUT_BLOCKS = """\
format: carnet-referential/1
code: RS-TEST
version: "1"
title: Habilitation d'essai
register: {kind: rs, number: RS5678, ends_on: 2027-06-30}
competencies:
  - code: C1
    title: Appliquer la consigne
    criteria:
      - {code: C1.a, label: Consigne appliquée, essential: true}
"""


@pytest.mark.parametrize(("register", "message"), [
    ("{kind: rncp, number: RNCP35809, level: 2}", "level must be 3 to 8"),
    ("{kind: rncp, number: RNCP35809, level: 9}", "level must be 3 to 8"),
    ("{kind: rncp, number: RS5678, level: 4}", "RNCP followed by digits"),
    ("{kind: rs, number: RNCP35809}", "RS followed by digits"),
    ("{kind: rncp, number: '35809'}", "RNCP followed by digits"),
    ("{kind: rncp, number: RNCP35809, ends_on: soon}", "must be a date"),
])
def test_the_register_fields_of_a_referential_are_validated(register, message):
    text = broken("register: {kind: transmitted, number: null, level: null}",
                  f"register: {register}")
    with pytest.raises(ReferentialError) as exc:
        parse_referential(text, SOURCE)
    assert message in str(exc.value)
    good = broken("register: {kind: transmitted, number: null, level: null}",
                  "register: {kind: rncp, number: RNCP35809, level: 4, ends_on: 2028-01-31}")
    ref = parse_referential(good, SOURCE)
    assert (ref.register.level, ref.register.ends_on) == (4, date(2028, 1, 31))


def test_the_admin_is_warned_six_months_before_the_end_of_registration():
    from backend.domain.referentials import register_warnings
    ref = parse_referential(RS_WITHOUT_BLOCKS, SOURCE)
    assert register_warnings(ref, date(2026, 12, 29)) == []
    assert "prend fin le 30/06/2027" in register_warnings(ref, date(2026, 12, 30))[0]
    assert "a pris fin" in register_warnings(ref, date(2027, 7, 1))[0]


async def test_the_admin_dashboard_shows_the_end_of_registration_warning(client, app):
    from dataclasses import replace
    w = await f.world()
    ref = app.state.registry.get(*f.CQP)
    soon = replace(ref.register, ends_on=date.today() + timedelta(days=30))
    app.state.registry._by_key[ref.key] = replace(ref, register=soon)
    await f.login(client, w.admin)
    page = await client.get("/admin")
    assert "prend fin le" in page.text


def test_a_repertoire_specifique_certification_without_blocks_has_one_implicit_block():
    ref = parse_referential(RS_WITHOUT_BLOCKS, SOURCE)
    assert [(b.code, b.title) for b in ref.blocks] == [("RS", "Habilitation d'essai")]
    assert ref.criterion_codes() == {"C1.a"}
    with pytest.raises(ReferentialError) as exc:  # only the RS may omit its blocks
        parse_referential(RS_WITHOUT_BLOCKS.replace("kind: rs, number: RS5678",
                                                    "kind: rncp, number: RNCP35809"), SOURCE)
    assert "missing 'blocks'" in str(exc.value)
