"""Personal data: the export holds every row and file that names the person and nothing of
anyone else; the notice is generated from the settings in force."""

from __future__ import annotations

import json
import zipfile
from datetime import date, timedelta

from backend.domain import personal_data
from backend.models import AuditEvent, Observation, Photo
from tests import factories as f
from tests.routes.test_jury import observation_row, photo_row

PHOTOS = 50


async def realistic_candidate(store):
    """f.world()'s candidate with three enrolments' worth of observations and 50 photos; the
    other candidate has evidence too (none of it may leak into the first one's export)."""
    w = await f.world()
    enrolments = [w.enrolment, await f.enrolment(w.candidate, w.company, w.tutor),
                  await f.enrolment(w.candidate, w.other_company, w.other_tutor)]
    for i in range(PHOTOS):
        await photo_row(store, enrolments[i % 3], w.tutor if i % 2 else w.candidate)
    for e in enrolments:
        for day in range(10):
            await observation_row(e, w.tutor, e.started_on + timedelta(days=day),
                                  ratings={"C1.1.a": "met"})
        await observation_row(e, w.candidate, e.started_on + timedelta(days=11),
                              kind="reflection", role="candidate", block="BC01")
    await photo_row(store, w.other_enrolment, w.other_tutor)
    await observation_row(w.other_enrolment, w.other_tutor, date.today(),
                          ratings={"C1.1.a": "met"})
    return w, enrolments


def read_zip(path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "LISEZMOI.txt" in names
        data = json.loads(archive.read("donnees.json"))
        files = {n: archive.read(n) for n in names if n.startswith("photos/")}
    return data, files


async def test_export_of_a_realistic_candidate_has_all_their_rows_and_files_and_no_one_else(
        app, tmp_path):
    store = app.state.photo_store
    w, enrolments = await realistic_candidate(store)
    path = await personal_data.export(w.candidate, actor_id=w.candidate.id, store=store,
                                      day="2026-01-01", dest=tmp_path / "export.zip")
    data, files = read_zip(path)

    ids = [e.id for e in enrolments]
    expected_obs = {str(o) for o in await Observation.filter(enrolment_id__in=ids).values_list(
        "id", flat=True)}
    assert {o["id"] for o in data["observations"]} == expected_obs
    assert len(expected_obs) == 33
    photos = await Photo.filter(enrolment_id__in=ids)
    assert len(photos) == PHOTOS and len(files) == PHOTOS
    for p in photos:
        assert files[f"photos/{p.id}.jpg"] == store.open(p.sha256)
    assert {e["id"] for e in data["enrolments"]} == set(ids)
    assert data["profile"]["email"] == w.candidate.email
    assert len(data["ratings"]) == 30

    text = json.dumps(data, ensure_ascii=False)
    for other in (w.other_candidate, w.tutor, w.other_tutor, w.admin, w.jury_employer):
        assert other.full_name not in text and other.email not in text
    assert str(w.other_enrolment.id) not in {str(o["enrolment"]) for o in data["observations"]}
    assert not [e for e in data["audit_events"] if e["payload"].get("enrolment")
                == w.other_enrolment.id]

    event = await AuditEvent.filter(action="personal_data.exported").first()
    assert event.subject == f"person:{w.candidate.id}"
    assert event.payload["photos"] == PHOTOS
    assert w.candidate.email not in json.dumps(event.payload)


async def test_the_tutor_export_holds_what_they_wrote_and_photographed(app, tmp_path):
    store = app.state.photo_store
    w, _ = await realistic_candidate(store)
    path = await personal_data.export(w.tutor, actor_id=None, store=store, day="2026-01-01",
                                      dest=tmp_path / "t.zip")
    data, files = read_zip(path)
    written = await Observation.filter(author_id=w.tutor.id).count()
    assert len(data["observations"]) == written
    assert len(files) == await Photo.filter(uploaded_by_id=w.tutor.id).count()
    assert {t["enrolment"] for t in data["roles"]["tutor_of"]} >= {w.enrolment.id}
    assert w.candidate.full_name not in json.dumps(data, ensure_ascii=False)


async def test_the_notice_is_public_and_says_the_durations_in_force(app, client):
    app.state.settings = app.state.settings.with_(keep_abandoned_months=31, appeal_days=47)
    response = await client.get("/privacy")
    assert response.status_code == 200
    assert "31 mois" in response.text and "47 jours" in response.text
    home = await client.get("/")
    assert 'href="/privacy"' in home.text  # every page's footer links the notice


async def test_my_data_downloads_as_a_zip_and_the_admin_gets_the_same(app, client):
    store = app.state.photo_store
    w = await f.world()
    await photo_row(store, w.enrolment, w.tutor)
    await f.login(client, w.candidate)
    page = await client.get("/me/data")
    assert page.status_code == 200 and "/me/data.zip" in page.text
    response = await client.get("/me/data.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    import io

    data, files = read_zip(io.BytesIO(response.content))
    assert data["profile"]["id"] == w.candidate.id and len(files) == 1
    client.cookies.clear()
    await f.login(client, w.admin)
    by_admin = await client.get(f"/admin/people/{w.candidate.id}/export.zip")
    assert by_admin.status_code == 200
    assert read_zip(io.BytesIO(by_admin.content))[0]["profile"]["id"] == w.candidate.id
    elsewhere = await client.get(f"/admin/people/{w.outsider.id}/export.zip")
    assert elsewhere.status_code == 404


def test_carnet_person_export_writes_the_zip(tmp_path, monkeypatch, capsys):
    import asyncio

    from backend.cli import _with_orm, main
    from backend.settings import from_env

    monkeypatch.setenv("CARNET_DATABASE_URL", f"sqlite://{tmp_path / 'c.sqlite3'}")
    monkeypatch.setenv("CARNET_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    settings = from_env()

    async def seed():
        from backend import audit

        await audit.ensure_head()
        return (await f.world()).candidate.email

    email = asyncio.run(_with_orm(settings.database_url, seed))
    assert main(["person", "export", email, str(tmp_path / "out.zip")]) == 0
    data, _ = read_zip(tmp_path / "out.zip")
    assert data["profile"]["email"] == email
    assert main(["person", "export", "nobody@example.test", str(tmp_path / "x.zip")]) == 1
