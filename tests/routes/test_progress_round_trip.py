"""A cached progress answer costs one database round trip: the session, its person,
the enrolment and the caller's ties in one statement (permissions.with_path_relation),
with the same answers to everyone as the two statements it replaces."""

from __future__ import annotations

from tests import factories as f
from tests.routes.test_progress import counted_queries


async def get_progress(client, enrolment_id: int, **headers):
    return await client.get(f"/api/v1/enrolments/{enrolment_id}/progress", headers=headers)


async def test_a_cached_answer_and_a_304_cost_one_statement(client, caplog):
    w = await f.world()
    await f.login(client, w.tutor)
    first = await get_progress(client, w.enrolment.id)
    assert first.status_code == 200
    with counted_queries(caplog) as queries:
        again = await get_progress(client, w.enrolment.id)
    assert again.status_code == 200 and again.json() == first.json()
    assert len(queries) == 1, queries
    assert '"login_session"' in queries[0] and '"tutorship"' in queries[0]
    with counted_queries(caplog) as queries:
        unchanged = await get_progress(client, w.enrolment.id,
                                       **{"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and len(queries) == 1


async def test_the_same_people_get_the_same_answers(client):
    w = await f.world()
    assert (await get_progress(client, w.enrolment.id)).status_code == 401
    for who, own, other in ((w.tutor, 200, 404), (w.candidate, 200, 404),
                            (w.outsider, 404, 404)):
        client.cookies.clear()
        await f.login(client, who)
        assert (await get_progress(client, w.enrolment.id)).status_code == own, who.email
        assert (await get_progress(client, w.other_enrolment.id)).status_code == other
        assert (await get_progress(client, 2_000_000_000)).status_code == 404
    # A session ended elsewhere no longer opens anything.
    client.cookies.clear()
    await f.login(client, w.tutor)
    cookies = dict(client.cookies)
    await client.delete("/api/v1/session")
    client.cookies.update(cookies)
    assert (await get_progress(client, w.enrolment.id)).status_code == 401


async def test_a_tutorship_that_ended_hides_the_enrolment_at_once(client):
    from datetime import date

    from backend.models import Tutorship

    w = await f.world()
    await f.login(client, w.tutor)
    assert (await get_progress(client, w.enrolment.id)).status_code == 200
    await Tutorship.filter(enrolment_id=w.enrolment.id, tutor_id=w.tutor.id).update(
        ended_on=date.today())
    assert (await get_progress(client, w.enrolment.id)).status_code == 404
