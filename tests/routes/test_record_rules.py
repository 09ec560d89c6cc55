"""The record of evidence cannot be rewritten sideways, and the tutor is designated before the
work situations they observe (docs/domain.md, item "record of evidence"), through HTTP on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from backend.domain.evidence import supersede_problem
from backend.models import Observation, Tutorship
from tests import factories as f
from tests.routes.test_evidence import observation, put_observation


async def test_a_candidates_reflection_cannot_supersede_the_tutors_observation(client):
    w = await f.world()
    await f.login(client, w.tutor)
    old = str(uuid.uuid4())
    assert (await put_observation(client, observation(w.enrolment.id), old)).status_code == 201
    await f.login(client, w.candidate)
    sideways = await put_observation(client, observation(
        w.enrolment.id, kind="reflection", ratings={}, block="BC02",
        situation="Ma réflexion", supersedes=old))
    assert sideways.status_code == 422 and sideways.json()["code"] == "supersede_refused"
    kept = await Observation.get(id=old)
    assert kept.ratings == {"C2.2.a": "met", "C2.2.b": "progressing"}
    assert await Observation.filter(supersedes_id=old).count() == 0


async def test_a_correction_never_crosses_between_work_situations_and_reflective_phases(
        client):
    w = await f.world()
    await f.login(client, w.tutor)
    old = str(uuid.uuid4())
    await put_observation(client, observation(w.enrolment.id), old)
    crossed = await put_observation(client, observation(
        w.enrolment.id, kind="reflection", ratings={}, block="BC02", situation="Échange",
        supersedes=old))
    assert crossed.status_code == 422 and crossed.json()["code"] == "supersede_refused"
    same = await put_observation(client, observation(
        w.enrolment.id, ratings={"C2.2.a": "progressing"}, supersedes=old))
    assert same.status_code == 201  # the tutor correcting their own observation


async def test_only_the_author_corrects_a_record(client):
    w = await f.world()
    second = await f.person("Second tuteur", company_org=w.company)
    await Tutorship.create(enrolment=w.enrolment, tutor=second,
                           designated_on=w.enrolment.started_on)
    await f.login(client, w.tutor)
    old = str(uuid.uuid4())
    await put_observation(client, observation(w.enrolment.id), old)
    await f.login(client, second)
    other = await put_observation(client, observation(w.enrolment.id, supersedes=old))
    assert other.status_code == 422 and other.json()["code"] == "supersede_refused"


def test_the_supersede_rule():
    assert supersede_problem(old_kind="observation", old_author=1, kind="observation",
                             author=1) is None
    assert supersede_problem(old_kind="observation", old_author=1, kind="reflection", author=1)
    assert supersede_problem(old_kind="reflection", old_author=2, kind="reflection", author=1)


async def test_an_observation_dated_before_the_tutors_designation_is_refused(client):
    w = await f.world()
    late = await f.person("Tuteur désigné aujourd'hui", company_org=w.company)
    await Tutorship.create(enrolment=w.enrolment, tutor=late, designated_on=date.today())
    await f.login(client, late)
    before = (date.today() - timedelta(days=30)).isoformat()
    refused = await put_observation(client, observation(w.enrolment.id, observed_on=before))
    assert refused.status_code == 422 and refused.json()["code"] == "observed_before_designation"
    today = date.today().isoformat()
    assert (await put_observation(client, observation(w.enrolment.id, observed_on=today))
            ).status_code == 201


async def test_a_tutors_designation_date_cannot_be_in_the_future(client):
    w = await f.world()
    await f.login(client, w.admin)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    refused = await client.post(f"/admin/enrolments/{w.enrolment.id}/tutors",
                                data={"tutor": w.other_tutor.id, "designated_on": tomorrow})
    assert refused.status_code == 422 and "futur" in refused.text
    assert not await Tutorship.filter(enrolment=w.enrolment, tutor=w.other_tutor).exists()
    today = date.today().isoformat()
    added = await client.post(f"/admin/enrolments/{w.enrolment.id}/tutors",
                              data={"tutor": w.other_tutor.id, "designated_on": today})
    assert added.status_code == 303
