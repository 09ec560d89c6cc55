"""The tutor's pages without JavaScript (issue 4 item 5) and the PWA's routes."""

import io
import json
import re
import uuid
from datetime import timedelta

from PIL import Image

from backend.auth import utcnow
from backend.domain.evidence import today_in_france
from backend.models import Observation, Photo
from tests import factories as f


def noise_jpeg(width: int = 640, height: int = 480) -> bytes:
    image = Image.merge("RGB", [Image.effect_noise((width, height), 60 + 20 * i) for i in range(3)])
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def form_id(html: str) -> str:
    return re.search(r'name="form_id" value="([0-9a-f-]{36})"', html)[1]


async def open_form(client, enrolment_id: int) -> str:
    response = await client.get(f"/enrolments/{enrolment_id}/observe")
    assert response.status_code == 200, response.text
    return response.text


def capture(fid: str, **fields) -> dict:
    return {"form_id": fid, "observed_on": today_in_france(utcnow()).isoformat(),
            "situation": "Pose du garde-corps", "place": "Chantier Dupont",
            "rating-C1.1.a": "met", "rating-C1.1.b": "progressing", "rating-C1.1.c": "",
            "photo_target": "C1.1|support avant travaux", "comment": "Bien", **fields}


async def test_capture_form_lists_every_criterion_of_the_referential_grouped_by_block(client, app):
    w = await f.world()
    await f.login(client, w.tutor)
    html = await open_form(client, w.enrolment.id)
    ref = app.state.registry.get(*f.CQP)
    sections = html.split('<section class="block')[1:]
    assert len(sections) == len(ref.blocks)
    assert {b.code for b in ref.blocks} == {re.search(r'data-block="([^"]+)"', s)[1]
                                            for s in sections}
    for section in sections:
        block = ref.block(re.search(r'data-block="([^"]+)"', section)[1])
        for criterion in (k for c in block.competencies for k in c.criteria):
            name = f"rating-{re.escape(criterion.code)}"
            radios = re.findall(rf'name="{name}" value="(\w*)"', section)
            assert radios == ["met", "progressing", "not_met", ""]
            assert f'name="rating-{criterion.code}" value="" checked' in section
        for code in (b.code for b in ref.blocks):  # one tap to any block
            assert f'href="#block-{code}"' in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html and "multiple" in html
    assert f'value="{today_in_france(utcnow()).isoformat()}"' in html
    assert "<legend>" in html and "Non observé" in html and "Enregistrer" in html
    # Free text is optional; the photo choices of a competency are its expected items.
    assert re.search(r'<input id="situation"[^>]*required', html) is None
    assert "détail soudure" in html and "data-choices=" in html


async def test_acquired_competencies_are_folded_after_the_work_in_progress(client, app):
    w = await f.world()
    ref = app.state.registry.get(*f.CQP)
    c11 = next(c for c in ref.competencies() if c.code == "C1.1")
    await f.login(client, w.tutor)
    for days_ago in (1, 2):
        day = today_in_france(utcnow()) - timedelta(days=days_ago)
        response = await client.put(f"/api/v1/observations/{uuid.uuid4()}", json={
            "enrolment": w.enrolment.id, "observed_on": day.isoformat(),
            "ratings": {k.code: "met" for k in c11.criteria}})
        assert response.status_code in (200, 201), response.text
    html = await open_form(client, w.enrolment.id)
    bc01 = html.split('data-block="BC01"')[1].split("</section>")[0]
    order = re.findall(r'data-competency="([^"]+)"[^>]*?( open)?>', bc01)
    assert order == [("C1.2", " open"), ("C1.3", " open"), ("C1.1", "")], order


async def test_the_plain_form_attaches_photos_to_the_one_expected_photo(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    data = {"form_id": fid, "observed_on": today_in_france(utcnow()).isoformat(),
            "rating-C2.1.a": "met", "photo_target": ""}
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe", data=data,
                                 files=[("photos", ("a.jpg", noise_jpeg(), "image/jpeg"))])
    assert response.status_code == 303, response.text
    observation = await Observation.get(id=fid)
    assert observation.situation == ""
    assert [(p["competency"], p["evidence"]) for p in observation.photos] == [
        ("C2.1", "pièces débitées et usinées")]


async def test_the_start_page_answers_the_logged_out_and_other_roles(client):
    w = await f.world()
    response = await client.get("/tutor")
    assert response.status_code == 401 and 'action="/login"' in response.text
    assert 'name="next" value="/tutor"' in response.text
    await f.login(client, w.candidate)
    response = await client.get("/tutor")
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_form_without_javascript_stores_the_observation_and_its_photos_once(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    files = [("photos", ("a.jpg", noise_jpeg(), "image/jpeg")),
             ("photos", ("b.jpg", noise_jpeg(480, 640), "image/jpeg"))]
    for _ in range(2):  # a double tap, or the browser resending the form
        response = await client.post(f"/enrolments/{w.enrolment.id}/observe",
                                     data=capture(fid), files=files)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/enrolments/{w.enrolment.id}/observations"
    observation = await Observation.get(enrolment_id=w.enrolment.id)
    assert str(observation.id) == fid and observation.author_role == "tutor"
    assert observation.ratings == {"C1.1.a": "met", "C1.1.b": "progressing"}
    assert observation.place == "Chantier Dupont"
    photos = await Photo.filter(enrolment_id=w.enrolment.id)
    assert len(photos) == 2 and await Observation.all().count() == 1
    assert {p["id"] for p in observation.photos} == {str(p.id) for p in photos}
    assert all(p["evidence"] == "support avant travaux" for p in observation.photos)
    listing = await client.get(f"/enrolments/{w.enrolment.id}/observations")
    assert listing.status_code == 200
    for photo in photos:
        assert f"/api/v1/photos/{photo.id}?size=thumb" in listing.text
        assert (await client.get(f"/api/v1/photos/{photo.id}?size=thumb")).status_code == 200


async def test_an_observation_without_situation_is_saved(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe",
                                 data=capture(fid, situation="  ", photo_target=""))
    assert response.status_code == 303, response.text
    observation = await Observation.get(id=fid)
    assert observation.situation == "" and observation.place == "Chantier Dupont"


async def test_an_error_re_renders_the_form_with_the_values(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe",
                                 data=capture(fid, observed_on="2999-01-01"))
    assert response.status_code == 422
    assert 'value="Chantier Dupont"' in response.text
    assert 'name="rating-C1.1.a" value="met" checked' in response.text
    assert 'aria-invalid="true" aria-describedby="observed_on-error"' in response.text
    assert form_id(response.text) == fid  # nothing was stored: the same form goes on
    assert await Observation.all().count() == 0 and await Photo.all().count() == 0


async def test_a_future_date_is_refused_with_the_domain_message(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe",
                                 data=capture(fid, observed_on="2999-01-01"))
    assert response.status_code == 422
    assert "La date d&#39;observation est dans le futur." in response.text
    assert await Observation.all().count() == 0


async def test_more_than_ten_photos_are_refused_and_nothing_is_stored(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    small = noise_jpeg(32, 32)
    files = [("photos", (f"{i}.jpg", small, "image/jpeg")) for i in range(11)]
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe", data=capture(fid),
                                 files=files)
    assert response.status_code == 422
    assert "10 photos au plus" in response.text
    assert await Photo.all().count() == 0 and await Observation.all().count() == 0


async def test_a_photo_over_the_limit_is_refused_and_so_is_an_oversized_form(client, app):
    app.state.settings = app.state.settings.with_(max_upload_bytes=20_000)
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    big = noise_jpeg(400, 300)
    assert len(big) > 20_000
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe", data=capture(fid),
                                 files=[("photos", ("big.jpg", big, "image/jpeg"))])
    assert response.status_code == 413 and "trop volumineux" in response.text
    huge = b"x" * (10 * 20_000 + 1_000_001)
    response = await client.post(f"/enrolments/{w.enrolment.id}/observe", data=capture(fid),
                                 files=[("photos", ("huge.jpg", huge, "image/jpeg"))])
    assert response.status_code == 413
    assert await Photo.all().count() == 0 and await Observation.all().count() == 0


async def test_a_file_that_is_not_an_image_is_refused_with_its_number(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    response = await client.post(
        f"/enrolments/{w.enrolment.id}/observe", data=capture(fid),
        files=[("photos", ("ok.jpg", noise_jpeg(), "image/jpeg")),
               ("photos", ("page.jpg", b"<html>not a photo</html>", "image/jpeg"))])
    assert response.status_code == 415
    assert "Photo 2 (page.jpg)" in response.text
    assert form_id(response.text) != fid  # photo 1 may be stored: a new form, new names
    assert await Observation.all().count() == 0


async def test_another_tutor_a_candidate_and_an_admin_cannot_use_the_form(client):
    w = await f.world()
    url = f"/enrolments/{w.enrolment.id}/observe"
    await f.login(client, w.other_tutor)
    assert (await client.get(url)).status_code == 404
    response = await client.post(url, data=capture(str(uuid.uuid4())))
    assert response.status_code == 404
    assert (await client.get(f"/enrolments/{w.enrolment.id}/observations")).status_code == 404
    await f.login(client, w.candidate)
    assert (await client.get(url)).status_code == 403
    await f.login(client, w.admin)
    assert (await client.get(url)).status_code == 403
    assert await Observation.all().count() == 0


async def test_tutor_home_lists_only_my_candidates_with_their_links(client):
    w = await f.world()
    await f.login(client, w.tutor)
    response = await client.get("/tutor")
    assert response.status_code == 200
    html = response.text
    assert w.candidate.full_name in html and w.company.name in html
    assert w.other_candidate.full_name not in html
    assert f'href="/enrolments/{w.enrolment.id}"' in html
    assert f'href="/enrolments/{w.enrolment.id}/observe"' in html
    assert "CQP-FIOMB" in html and "data-install" in html


async def test_anonymous_visitors_are_sent_away_from_tutor_pages(client):
    w = await f.world()
    for url in ("/tutor", f"/enrolments/{w.enrolment.id}/observe",
                f"/enrolments/{w.enrolment.id}/observations"):
        assert (await client.get(url)).status_code == 401


async def test_observation_list_tells_tutor_observations_from_candidate_reflections(client):
    w = await f.world()
    await f.login(client, w.tutor)
    fid = form_id(await open_form(client, w.enrolment.id))
    await client.post(f"/enrolments/{w.enrolment.id}/observe", data=capture(fid))
    await f.login(client, w.candidate)
    response = await client.put(f"/api/v1/observations/{uuid.uuid4()}", json={
        "enrolment": w.enrolment.id, "kind": "reflection", "block": "BC01",
        "observed_on": today_in_france(utcnow()).isoformat(),
        "situation": "Ce que j'ai appris sur le relevé", "comment": "Mesurer deux fois."})
    assert response.status_code == 201, response.text
    html = (await client.get(f"/enrolments/{w.enrolment.id}/observations")).text
    assert 'class="entry entry-observation by-tutor"' in html
    assert 'class="entry entry-reflection by-candidate"' in html
    assert "du tuteur" in html and "du candidat" in html and "Réflexion" in html
    assert "Croquis coté complet et lisible" in html  # criterion labels, not only codes


async def test_tutor_pages_have_no_inline_script_or_style(client):
    w = await f.world()
    await f.login(client, w.tutor)
    for url in ("/tutor", f"/enrolments/{w.enrolment.id}/observe",
                f"/enrolments/{w.enrolment.id}/observations", "/offline"):
        html = (await client.get(url)).text
        assert " style=" not in html and "<style" not in html
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


async def test_service_worker_is_served_at_the_root_with_its_version_and_no_cache(client):
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    config = json.loads(re.match(r"const CARNET = (.*);\n", response.text)[1])
    assert re.fullmatch(r"[0-9a-f]{12}", config["version"])
    assert "/offline" in config["precache"]
    assert "/static/js/outbox.js" in config["precache"]
    for url in config["precache"]:
        assert (await client.get(url)).status_code == 200, url


async def test_service_worker_answers_its_own_etag_with_an_empty_304(client):
    first = await client.get("/sw.js")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    again = await client.get("/sw.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "no-cache"
    for other in ('"0123456789abcdef0123456789abcdef"', "garbage"):
        changed = await client.get("/sw.js", headers={"If-None-Match": other})
        assert changed.status_code == 200 and changed.content == first.content
        assert changed.headers["etag"] == etag


async def test_manifest_is_valid_with_fetchable_icons_and_start_url_in_scope(client):
    response = await client.get("/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"].startswith("Carnet") and manifest["lang"] == "fr"
    assert manifest["display"] == "standalone" and manifest["theme_color"]
    assert manifest["start_url"].startswith(manifest["scope"]) and manifest["scope"] == "/"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = await client.get(icon["src"])
        assert image.status_code == 200 and "immutable" in image.headers["cache-control"]
        width, height = Image.open(io.BytesIO(image.content)).size
        assert f"{width}x{height}" == icon["sizes"]


async def test_pages_link_the_manifest_and_the_app_module(client):
    html = (await client.get("/login")).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<script type="module" src="/static/js/app.js"></script>' in html
