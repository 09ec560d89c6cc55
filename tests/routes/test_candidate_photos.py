"""The candidate's own photos (issue section 4): a record citing them for an expected
evidence item, without ratings, counts as evidence; a candidate never rates criteria."""

from __future__ import annotations

import uuid

from backend.domain import standing
from tests import factories as f
from tests.images import jpeg
from tests.routes.test_evidence import observation, put_observation, put_photo


async def test_a_candidates_photo_tagged_to_expected_evidence_counts(client, app):
    w = await f.world()
    await f.login(client, w.candidate)
    photo_id = str(uuid.uuid4())
    assert (await put_photo(client, w.enrolment.id, jpeg((64, 48)), photo_id)).status_code \
        in (200, 201)
    cited = [{"id": photo_id, "competency": "C2.1", "evidence": "pièces débitées et usinées"}]
    refused = await put_observation(client, observation(w.enrolment.id, photos=cited))
    assert refused.status_code == 403  # with ratings: the tutor's job
    stored = await put_observation(client, observation(w.enrolment.id, ratings={},
                                                       situation="", photos=cited))
    assert stored.status_code == 201, stored.text
    ref = app.state.registry.get(*f.CQP)
    records = await standing.load_records(w.enrolment.id, ref)
    assert photo_id in records.by_candidate
    assert [(e.competency, e.label) for e in records.evidence] == [
        ("C2.1", "pièces débitées et usinées")]
    assert records.ratings == ()
