"""Progress API (ETag, constant queries, access), candidate and tutor pages, reflections,
branch figures and the move to a newer referential version."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from datetime import date, timedelta

import httpx
import pytest

from backend.app import create_app
from backend.auth import utcnow
from backend.domain.evidence import today_in_france
from backend.domain.referentials import Referential
from backend.models import AuditEvent, Dossier, Enrolment, Observation, Photo
from backend.resources import ASSESSMENTS_DIR
from tests import factories as f

SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def today() -> date:
    return today_in_france(utcnow())


@contextlib.contextmanager
def counted_queries(caplog):
    """The SQL statements run inside the block, from the ORM's client logger."""
    queries: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        yield queries
        queries += [r.getMessage() for r in caplog.records
                    if r.name == "tortoise.db_client" and SQL.match(r.getMessage())]


def ref_of(app) -> Referential:
    return app.state.registry.get(*f.CQP)


def observation(enrolment, author, day: date, *, ratings=None, photos=(), kind="observation",
                block=None, role="tutor", supersedes=None) -> Observation:
    return Observation(
        id=uuid.uuid4(), enrolment_id=enrolment.id, author_id=author.id, author_role=role,
        kind=kind, referential_version=enrolment.referential_version, observed_on=day,
        block_code=block, situation=f"Situation du {day.isoformat()}", ratings=ratings or {},
        photos=list(photos), content_sha256="0" * 64, supersedes_id=supersedes)


async def photo(enrolment, author, role: str = "tutor") -> str:
    """A received photo, stored without a file (its hashes are fake)."""
    p = await Photo.create(id=uuid.uuid4(), enrolment=enrolment, uploaded_by=author,
                           author_role=role, received_sha256="1" * 64, sha256="2" * 64,
                           content_type="image/jpeg", size=100, width=10, height=10,
                           thumb_sha256="3" * 64, thumb_size=10)
    return str(p.id)


async def seed(enrolment, tutor, count: int) -> None:
    """`count` tutor observations rating several criteria, spread over days."""
    codes = ["C1.1.a", "C1.1.b", "C2.1.a", "C2.2.a", "C3.1.a"]
    rows = [observation(enrolment, tutor, enrolment.started_on + timedelta(days=i % 50),
                        ratings={codes[i % 5]: "met", codes[(i + 1) % 5]: "progressing"})
            for i in range(count)]
    await Observation.bulk_create(rows)


async def make_ready(enrolment, tutor, candidate, ref: Referential, block_code: str,
                     first: date) -> None:
    """Every essential criterion met on two distinct days, every expected photo or document
    received, and a reflection by the candidate: the block is ready for the jury."""
    block = ref.block(block_code)
    essential = {k.code: "met" for c in block.competencies for k in c.criteria if k.essential}
    photos = [{"id": await photo(enrolment, tutor), "competency": c.code, "evidence": e.label}
              for c in block.competencies for e in c.evidence]
    await Observation.bulk_create([
        observation(enrolment, tutor, first, ratings=essential),
        observation(enrolment, tutor, first + timedelta(days=1), ratings=essential,
                    photos=photos),
        observation(enrolment, candidate, first + timedelta(days=5), kind="reflection",
                    block=block_code, role="candidate"),
    ])


async def get_progress(client, enrolment, **headers) -> httpx.Response:
    return await client.get(f"/api/v1/enrolments/{enrolment.id}/progress", headers=headers)


# API: queries ---------------------------------------------------------------------------------


async def test_progress_runs_the_same_number_of_queries_at_10_and_300_observations(
        client, caplog):
    w = await f.world()
    few, many = w.enrolment, await f.enrolment(w.candidate, w.company, w.tutor)
    await seed(few, w.tutor, 10)
    await seed(many, w.tutor, 300)
    await f.login(client, w.tutor)
    counts = {}
    for name, enrolment in (("few", few), ("many", many)):
        with counted_queries(caplog) as queries:
            response = await get_progress(client, enrolment)
        assert response.status_code == 200
        counts[name] = len(queries)
    assert counts["few"] == counts["many"] > 0
    assert counts["many"] <= 10  # session, enrolment and relation, then one per table
    body = response.json()
    met = {k["code"]: k["met_count"] for b in body["blocks"] for c in b["competencies"]
           for k in c["criteria"]}
    assert met["C1.1.a"] == 60 and met["C1.1.b"] == 60


async def test_a_304_never_reads_the_observations(client, caplog):
    w = await f.world()
    await seed(w.enrolment, w.tutor, 10)
    await f.login(client, w.tutor)
    etag = (await get_progress(client, w.enrolment)).headers["etag"]
    with counted_queries(caplog) as queries:
        response = await get_progress(client, w.enrolment, **{"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert queries and not any('"observation"' in q for q in queries)


# API: ETag ------------------------------------------------------------------------------------


async def test_etag_answers_304_and_changes_only_when_the_enrolments_evidence_changes(client):
    w = await f.world()
    await f.login(client, w.tutor)
    first = await get_progress(client, w.enrolment)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-store"  # a person's data: never stored
    assert first.json()["enrolment"] == w.enrolment.id and first.json()["revision"] == 0
    again = await get_progress(client, w.enrolment, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    weak = await get_progress(client, w.enrolment, **{
        "If-None-Match": f'"x", W/{etag.removeprefix("W/")}'})
    assert weak.status_code == 304

    async with httpx.AsyncClient(transport=client._transport,
                                 base_url="https://testserver") as other:
        await f.login(other, w.other_tutor)  # evidence of another enrolment changes nothing
        stored = await other.put(f"/api/v1/observations/{uuid.uuid4()}", json={
            "enrolment": w.other_enrolment.id, "observed_on": today().isoformat(),
            "situation": "Garde-corps", "ratings": {"C2.1.a": "met"}})
        assert stored.status_code == 201
    assert (await get_progress(client, w.enrolment)).headers["etag"] == etag

    stored = await client.put(f"/api/v1/observations/{uuid.uuid4()}", json={
        "enrolment": w.enrolment.id, "observed_on": today().isoformat(),
        "situation": "Portail", "ratings": {"C2.1.a": "met"}})
    assert stored.status_code == 201
    changed = await get_progress(client, w.enrolment, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["revision"] == 1


async def test_a_browser_asking_for_gzip_gets_the_same_body_compressed_from_the_cache(client):
    w = await f.world()
    await seed(w.enrolment, w.tutor, 30)
    await f.login(client, w.tutor)
    plain = await get_progress(client, w.enrolment, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    for _ in range(2):  # the first compresses and keeps it, the second is served as kept
        packed = await get_progress(client, w.enrolment, **{"Accept-Encoding": "gzip, br"})
        assert packed.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert packed.headers["etag"] == f"W/{plain.headers['etag']}"
        again = await get_progress(client, w.enrolment, **{
            "Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]})
        assert again.status_code == 304
        # httpx decodes the body; the length on the wire is the compressed one.
        assert int(packed.headers["content-length"]) < len(plain.content) / 3
        assert packed.content == plain.content


async def test_only_a_tutor_gets_what_to_observe_next_and_its_own_etag(client):
    w = await f.world()
    await seed(w.enrolment, w.tutor, 3)
    await f.login(client, w.tutor)
    tutor = await get_progress(client, w.enrolment)
    await f.login(client, w.candidate)
    candidate = await get_progress(client, w.enrolment)
    assert "observe_next" not in candidate.json()
    next_codes = [k["code"] for k in tutor.json()["observe_next"]]
    assert next_codes and all(k["state"] != "acquired" for k in tutor.json()["observe_next"])
    assert tutor.headers["etag"] != candidate.headers["etag"]
    stale = await get_progress(client, w.enrolment, **{"If-None-Match": tutor.headers["etag"]})
    assert stale.status_code == 200


# API: access ----------------------------------------------------------------------------------


async def test_another_candidates_progress_is_not_found(client):
    w = await f.world()
    await f.login(client, w.other_candidate)
    response = await get_progress(client, w.enrolment)
    assert response.status_code == 404 and response.json()["code"] == "enrolment_not_found"


async def test_a_tutor_of_another_enrolment_gets_404(client):
    w = await f.world()
    await f.login(client, w.other_tutor)
    assert (await get_progress(client, w.enrolment)).status_code == 404


async def test_a_jury_member_never_reads_live_progress_even_with_a_dossier_in_their_session(
        client):
    """The jury reads the frozen dossier, not what the candidate did since."""
    w = await f.world()
    await f.login(client, w.jury_employer)
    assert (await get_progress(client, w.enrolment)).status_code == 404
    await Dossier.create(enrolment=w.enrolment, block_code="BC01", manifest={},
                         manifest_sha256="4" * 64, submitted_by=w.tutor,
                         submitted_at=utcnow(),
                         session=w.session)
    response = await get_progress(client, w.enrolment)
    assert response.status_code == 404 and response.json()["code"] == "enrolment_not_found"


async def test_progress_needs_a_session(client):
    w = await f.world()
    assert (await get_progress(client, w.enrolment)).status_code == 401


# Pages ----------------------------------------------------------------------------------------


async def test_candidate_page_shows_the_reasons_and_a_block_ready_for_the_jury(app, client):
    w = await f.world()
    ref = ref_of(app)
    await make_ready(w.enrolment, w.tutor, w.candidate, ref, "BC01", today() - timedelta(days=10))
    await f.login(client, w.candidate)
    home = await client.get("/candidate")
    assert home.status_code == 303 and home.headers["location"] == f"/enrolments/{w.enrolment.id}"
    page = await client.get(home.headers["location"])
    assert page.status_code == 200
    html = page.text
    assert "Prêt pour le jury" in html
    assert "BC01 : prêt pour le jury" in html
    progress = (await get_progress(client, w.enrolment)).json()
    bc02 = next(b for b in progress["blocks"] if b["code"] == "BC02")
    assert bc02["state"] == "in_progress"
    for reason in (bc02["reason"], bc02["competencies"][0]["reason"],
                   bc02["competencies"][0]["criteria"][0]["reason"]):
        assert _escaped(reason) in html
    assert "photo « détail soudure » manquante" in html
    assert "par le candidat" in html and "Réflexion" in html
    assert "?size=thumb" in html and "À observer ensuite" not in html
    assert 'style="' not in html  # the CSP forbids inline styles
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # and inline scripts


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def test_tutor_page_lists_what_to_observe_next_and_links_the_capture_page(client):
    w = await f.world()
    await Observation.bulk_create([observation(w.enrolment, w.tutor, today(),
                                               ratings={"C2.2.b": "met"})])
    await f.login(client, w.tutor)
    page = await client.get(f"/enrolments/{w.enrolment.id}")
    assert page.status_code == 200
    assert "À observer ensuite" in page.text
    assert f'href="/enrolments/{w.enrolment.id}/observe"' in page.text
    section = page.text.split("À observer ensuite")[1].split("</section>")[0]
    assert section.index("C2.2.b") < section.index("C1.1.a")  # closest to acquisition first
    assert "Ajouter une réflexion" not in page.text  # the candidate's form


async def test_the_timeline_is_newest_first_and_leaves_out_corrected_observations(client):
    w = await f.world()
    old = observation(w.enrolment, w.tutor, today() - timedelta(days=3),
                      ratings={"C1.1.a": "not_met"})
    await Observation.bulk_create([old])
    await Observation.bulk_create([
        observation(w.enrolment, w.tutor, today() - timedelta(days=3),
                    ratings={"C1.1.a": "met"}, supersedes=old.id),
        observation(w.enrolment, w.tutor, today() - timedelta(days=1), ratings={"C1.2.a": "met"}),
    ])
    await f.login(client, w.candidate)
    html = (await client.get(f"/enrolments/{w.enrolment.id}")).text
    journal = html.split('id="journal"')[1]
    assert journal.index("C1.2.a") < journal.index("C1.1.a")
    assert "non acquis" not in journal and "correction" in journal


async def test_a_candidate_adds_a_reflection_from_the_page(client):
    w = await f.world()
    await f.login(client, w.candidate)
    page = await client.get(f"/enrolments/{w.enrolment.id}")
    form_id = re.search(r'name="id" value="([0-9a-f-]{36})"', page.text).group(1)
    data = {"id": form_id, "block": "BC02", "observed_on": today().isoformat(),
            "did": "J'ai soudé le cadre du portail.", "gap": "Cordon irrégulier en angle.",
            "learnt": "Pointer avant de souder."}
    response = await client.post(f"/enrolments/{w.enrolment.id}/reflections", data=data)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/enrolments/{w.enrolment.id}?reflection=1")
    again = await client.post(f"/enrolments/{w.enrolment.id}/reflections", data=data)
    assert again.status_code == 303  # the same form sent twice is stored once
    stored = await Observation.filter(enrolment_id=w.enrolment.id)
    assert len(stored) == 1 and str(stored[0].id) == form_id
    reflection = stored[0]
    assert (reflection.kind, reflection.author_role, reflection.block_code) == (
        "reflection", "candidate", "BC02")
    assert reflection.situation == "J'ai soudé le cadre du portail."
    assert "Cordon irrégulier" in reflection.comment and "Pointer avant" in reflection.comment
    page = await client.get(response.headers["location"])
    assert "Réflexion enregistrée." in page.text and "1 réflexion" in page.text


async def test_an_invalid_reflection_is_shown_again_with_its_message(client):
    w = await f.world()
    await f.login(client, w.candidate)
    response = await client.post(f"/enrolments/{w.enrolment.id}/reflections", data={
        "block": "", "observed_on": today().isoformat(), "did": "", "gap": "écart",
        "learnt": ""})
    assert response.status_code == 422
    assert "Une réflexion indique le bloc sur lequel elle porte." in response.text
    assert "« Ce que j&#39;ai fait » est obligatoire." in response.text
    assert ">écart</textarea>" in response.text  # what was typed is kept
    assert await Observation.filter(enrolment_id=w.enrolment.id).count() == 0


async def test_a_candidate_cannot_add_a_reflection_to_someone_elses_enrolment(client):
    w = await f.world()
    await f.login(client, w.other_candidate)
    response = await client.post(f"/enrolments/{w.enrolment.id}/reflections", data={
        "block": "BC01", "observed_on": today().isoformat(), "did": "x", "learnt": "y"})
    assert response.status_code == 404


async def test_a_candidate_with_two_enrolments_chooses_one(client):
    w = await f.world()
    second = await f.enrolment(w.candidate, w.company, w.tutor)
    await f.login(client, w.candidate)
    page = await client.get("/candidate")
    assert page.status_code == 200
    assert f"/enrolments/{w.enrolment.id}" in page.text and f"/enrolments/{second.id}" in page.text


# Branch figures -------------------------------------------------------------------------------


async def test_figures_count_candidates_by_block_state_for_the_admins_branch_only(app, client):
    w = await f.world()
    started = today() - timedelta(days=60)
    ready = await f.enrolment(w.candidate, w.company, w.tutor, started_on=started)
    await make_ready(ready, w.tutor, w.candidate, ref_of(app), "BC01", started + timedelta(50))
    elsewhere = await f.branch("Autre branche")
    stranger = await f.person("Étranger")
    await f.enrolment(stranger, await f.company(elsewhere), started_on=started)
    await f.login(client, w.admin)
    page = await client.get("/admin/figures")
    assert page.status_code == 200
    html = page.text
    assert '<strong class="enrolment-count">3</strong>' in html  # 2 of the world, 1 ready
    row = html.split('id="v-1-BC01"')[1].split("</tr>")[0]
    assert '<td data-state="ready">1</td>' in row
    assert '<td data-state="in_progress">2</td>' in row
    assert "55 jours" in row  # reflection 55 days after the start made it ready
    never = html.split("Critères jamais observés")[1]
    assert "C4.3.b" in never and "C1.1.a" not in never.split("</ul>")[0]


async def test_figures_are_for_branch_admins(client):
    w = await f.world()
    await f.login(client, w.tutor)
    assert (await client.get("/admin/figures")).status_code == 403


# Moving to a newer version --------------------------------------------------------------------


def second_version() -> str:
    """The packaged referential as version 2026-2: C1.1.c renamed to C1.1.d, C1.2.c removed,
    C1.3.d new."""
    text = (ASSESSMENTS_DIR / "CQP-FIOMB-2026-1.yaml").read_text(encoding="utf-8")
    replaced = [
        ('version: "2026-1"', 'version: "2026-2"'),
        ("{code: C1.1.c, label: Contraintes d'accès signalées",
         "{code: C1.1.d, label: Contraintes d'accès et de levage signalées"),
        ("          - {code: C1.2.c, label: Chutes optimisées, essential: false}\n", ""),
        ("          - {code: C1.3.c, label: Ordre des opérations respecté, essential: false}\n",
         "          - {code: C1.3.c, label: Ordre des opérations respecté, essential: false}\n"
         "          - {code: C1.3.d, label: Poste rangé en fin de journée, essential: false}\n"),
    ]
    for old, new in replaced:
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
async def versions_app(settings, db, tmp_path):
    folder = tmp_path / "assessments"
    folder.mkdir()
    (folder / "CQP-FIOMB-2026-2.yaml").write_text(second_version(), encoding="utf-8")
    application = create_app(settings.with_(assessments_dirs=(folder,)), manage_orm=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def versions_client(versions_app):
    transport = httpx.ASGITransport(app=versions_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def test_an_admin_moves_an_enrolment_to_a_newer_version_keeping_its_evidence(
        versions_client):
    client = versions_client
    w = await f.world()
    ratings = {"C1.1.a": "met", "C1.1.c": "met", "C1.2.c": "met"}
    await Observation.bulk_create([
        observation(w.enrolment, w.tutor, today() - timedelta(days=d), ratings=ratings)
        for d in (2, 1)])
    await f.login(client, w.admin)
    page = await client.get(f"/admin/enrolments/{w.enrolment.id}/move")
    assert page.status_code == 200 and 'value="2026-2"' in page.text
    preview = await client.get(f"/admin/enrolments/{w.enrolment.id}/move?version=2026-2")
    assert preview.status_code == 200
    mapping = preview.text.split('class="panel mapping"')[1]
    assert "C1.1.d" in mapping.split('class="new"')[1].split("</ul>")[0]
    removed = mapping.split('class="removed"')[1].split("</ul>")[0]
    assert "C1.1.c" in removed and "C1.2.c" in removed
    assert (await Enrolment.get(id=w.enrolment.id)).referential_version == "2026-1"

    moved = await client.post(f"/admin/enrolments/{w.enrolment.id}/move",
                              data={"version": "2026-2"})
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/enrolments/{w.enrolment.id}?moved=2026-2"
    assert "Parcours passé à la version 2026-2." in (await client.get(
        moved.headers["location"])).text
    enrolment = await Enrolment.get(id=w.enrolment.id)
    assert enrolment.referential_version == "2026-2" and enrolment.revision == 1
    kept = await Observation.filter(enrolment_id=w.enrolment.id).values_list(
        "referential_version", "ratings")
    assert kept == [("2026-1", ratings)] * 2

    body = (await get_progress(client, w.enrolment)).json()
    assert body["version"] == "2026-2"
    criteria = {k["code"]: k for b in body["blocks"] for c in b["competencies"]
                for k in c["criteria"]}
    assert criteria["C1.1.a"]["state"] == "acquired"
    assert criteria["C1.1.d"]["state"] == "not_observed" and criteria["C1.3.d"]
    assert "C1.1.c" not in criteria and "C1.2.c" not in criteria

    event = await AuditEvent.filter(action="enrolment.version_moved").get()
    assert event.subject == f"enrolment:{w.enrolment.id}" and event.actor_id == w.admin.id
    assert (event.payload["from"], event.payload["to"]) == ("2026-1", "2026-2")
    assert event.payload["removed"] == ["C1.1.c", "C1.2.c"]
    assert event.payload["new"] == ["C1.1.d", "C1.3.d"]
    assert event.payload["ratings_dropped"] == 4


async def test_an_enrolment_cannot_move_to_an_older_or_unknown_version(versions_client):
    client = versions_client
    w = await f.world()
    await Enrolment.filter(id=w.enrolment.id).update(referential_version="2026-2")
    await f.login(client, w.admin)
    page = await client.get(f"/admin/enrolments/{w.enrolment.id}/move")
    assert "Aucune version plus récente" in page.text
    for version in ("2026-1", "1999-1"):
        refused = await client.post(f"/admin/enrolments/{w.enrolment.id}/move",
                                    data={"version": version})
        assert refused.status_code == 422
    assert await AuditEvent.filter(action="enrolment.version_moved").count() == 0


async def test_only_the_branchs_admin_moves_an_enrolment(versions_client):
    client = versions_client
    w = await f.world()
    other_admin = await f.admin(await f.branch("Autre branche"))
    await f.login(client, other_admin)
    response = await client.post(f"/admin/enrolments/{w.enrolment.id}/move",
                                 data={"version": "2026-2"})
    assert response.status_code == 404
    await f.login(client, w.tutor)
    response = await client.post(f"/admin/enrolments/{w.enrolment.id}/move",
                                 data={"version": "2026-2"})
    assert response.status_code == 403
    assert (await Enrolment.get(id=w.enrolment.id)).referential_version == "2026-1"
