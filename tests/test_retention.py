"""`carnet purge`: with the clock moved forward it removes exactly what the retention settings
say, never anything a pending dossier holds, and both verify commands still pass."""

from __future__ import annotations

from datetime import timedelta

from backend.auth import utcnow
from backend.cli import audit_verify_report, purge_report
from backend.domain import dossiers, retention
from backend.models import Observation, Photo
from tests import factories as f
from tests.routes.test_jury import decision, observation_row, photo_row, submitted

DAY = timedelta(days=1)


async def decided(client, app, w, outcome: str = "validated") -> dict:
    dossier = await submitted(client, app, w, session=w.session)
    await f.login(client, w.jury_employer)
    body = decision(w, outcome,
                    **({"reasons": "Insuffisant"} if outcome != "validated" else {}))
    assert (await client.put(f"/api/v1/dossiers/{dossier['id']}/decision",
                             json=body)).status_code == 201
    assert (await client.post(f"/api/v1/jury-sessions/{w.session.id}/close")).status_code == 200
    return dossier


async def loose_evidence(store, enrolment, author) -> tuple[Observation, Photo]:
    """Evidence no dossier holds (recorded after the submission)."""
    photo = await photo_row(store, enrolment, author)
    obs = await observation_row(enrolment, author, enrolment.started_on,
                                ratings={"C1.1.a": "met"},
                                photos=[{"id": str(photo.id), "competency": None,
                                         "evidence": None}])
    return obs, photo


async def run(app, now, *, dry_run: bool = False) -> retention.Plan:
    return await retention.purge(app.state.registry, retention.Terms.of(app.state.settings),
                                 app.state.photo_store, now=now, dry_run=dry_run)


async def verifies(app, dossier_id: int) -> None:
    assert await dossiers.verify_dossier(dossier_id, app.state.registry,
                                         app.state.photo_store) == []
    code, lines = await audit_verify_report()
    assert code == 0, lines


async def test_purge_follows_the_settings_category_by_category(client, app):
    store = app.state.photo_store
    w = await f.world()
    dossier = await decided(client, app, w)
    kept_rows = {o["id"] for o in dossier["manifest"]["observations"]}
    loose_obs, loose_photo = await loose_evidence(store, w.enrolment, w.tutor)
    other_obs, other_photo = await loose_evidence(store, w.other_enrolment, w.other_tutor)
    now = utcnow()

    for moved in (DAY, 23 * 30 * DAY):  # within every period: nothing goes
        found = await run(app, now + moved)
        assert all(c.rows == 0 for c in found.categories.values()), moved

    # Abandoned (24 months without activity by default): loose evidence goes, on both
    # enrolments; what the decided dossier holds stays.
    dry = await run(app, now + 25 * 30 * DAY, dry_run=True)
    assert dry.categories["abandoned"].rows == 4 and dry.categories["abandoned"].bytes > 0
    assert await Observation.filter(id=loose_obs.id).exists()  # a dry run removes nothing
    code, lines = await purge_report(app.state.settings, app.state.registry, store,
                                     dry_run=False, now=now + 25 * 30 * DAY)
    assert code == 0 and any("abandoned: 4 row(s)" in line for line in lines), lines
    assert not await Observation.filter(id__in=[loose_obs.id, other_obs.id]).exists()
    assert not await Photo.filter(id__in=[loose_photo.id, other_photo.id]).exists()
    assert not store.exists(loose_photo.sha256) and not store.exists(other_photo.thumb_sha256)
    assert {str(i) for i in await Observation.filter(enrolment=w.enrolment).values_list(
        "id", flat=True)} >= kept_rows
    assert (await run(app, now + 40 * 30 * DAY)).categories["dossier_photos"].rows == 0
    await verifies(app, dossier["id"])

    # The validated block's photos: the appeal window plus the referential's 5 years of
    # validity, then full-size files go and thumbnails stay.
    later = now + (60 + 5 * 366 + 2) * DAY
    found = await run(app, later)
    photos = dossier["manifest"]["photos"]
    assert found.categories["dossier_photos"].rows == len(photos)
    for p in photos:
        assert not store.exists(p["sha256"]) and store.exists(p["thumb_sha256"])
    assert (await run(app, later)).categories["dossier_photos"].rows == 0  # done once
    await verifies(app, dossier["id"])


async def test_nothing_of_an_undecided_dossier_is_ever_purged(client, app):
    store = app.state.photo_store
    w = await f.world()
    dossier = await submitted(client, app, w)
    loose_obs, _ = await loose_evidence(store, w.enrolment, w.tutor)
    found = await run(app, utcnow() + 20 * 366 * DAY)
    assert found.categories["dossier_photos"].rows == 0
    assert await Observation.filter(id=loose_obs.id).exists()
    for p in dossier["manifest"]["photos"]:
        assert store.exists(p["sha256"])
    assert found.categories["abandoned"].rows == 0  # the dossier is pending: nothing goes
    await verifies(app, dossier["id"])


async def test_a_refusal_keeps_everything_through_the_appeal_window(client, app):
    store = app.state.photo_store
    w = await f.world()
    dossier = await decided(client, app, w, "not_validated")
    found = await run(app, utcnow() + 59 * DAY)
    assert all(c.rows == 0 for c in found.categories.values())
    found = await run(app, utcnow() + (60 + 12 * 31 + 2) * DAY)
    assert found.categories["dossier_photos"].rows == len(dossier["manifest"]["photos"])
    await verifies(app, dossier["id"])
    assert all(store.exists(p["thumb_sha256"]) for p in dossier["manifest"]["photos"])
