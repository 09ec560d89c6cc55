"""The tutor's offline PWA in a real browser (issue 6)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import (
    ARTIFACTS,
    PHONE,
    controlled,
    fill_observation,
    log_in,
    open_capture,
    pending,
    save,
    wait_pending,
)

pytestmark = pytest.mark.browser


async def test_service_worker_controls_the_page_and_the_manifest_is_valid(context, server):
    page = await context.new_page()
    await log_in(page)
    await controlled(page)
    cdp = await context.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    data = json.loads(manifest["data"])
    assert data["name"].startswith("Carnet") and data["display"] == "standalone"
    assert data["start_url"] == "/tutor" and data["scope"] == "/"
    for icon in data["icons"]:
        status = await page.evaluate("u => fetch(u).then(r => r.status + ' ' + "
                                     "r.headers.get('content-type'))", icon["src"])
        assert status == "200 image/png", icon
    assert await page.is_visible("[data-install]")  # the install hint on the home page
    names = await page.evaluate("caches.keys()")
    assert any(n.startswith("carnet-static-") for n in names) and "carnet-pages-v1" in names

    # One online visit is enough: the list, each candidate's form, the offline page.
    await page.wait_for_function(
        "n => caches.open('carnet-pages-v1').then(c => c.match(n)).then(Boolean)",
        arg=f"/enrolments/{server.enrolment_id}/observe")
    await context.set_offline(True)
    await page.reload()
    assert await page.inner_text("h1") == "Mes candidats"
    await page.goto(f"/enrolments/{server.enrolment_id}/observe")
    assert await page.inner_text("h1") == "Nouvelle observation"
    await page.goto("/jamais-visitee")
    assert await page.inner_text("h1") == "Pas de réseau"
    await context.set_offline(False)


def observation_rows(server, situation: str) -> list[tuple]:
    return server.rows("SELECT id, photos, supersedes_id, situation FROM observation "
                       "WHERE situation LIKE ?", situation)


async def wait_observation_rows(server, situation: str, count: int,
                                timeout_s: float = 20) -> list[tuple]:
    """Poll the server's database (the page's count may still show the state
    from before a save when the sync is quick)."""
    for _ in range(int(timeout_s * 10)):
        rows = observation_rows(server, situation)
        if len(rows) == count:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{situation!r}: {len(rows)} rows, expected {count}")


def photo_rows(server, ids: list[str]) -> list[tuple]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    # Tortoise stores UUIDs as text without normalising case on SQLite.
    return server.rows(f"SELECT id, sha256, width, height FROM photo WHERE id IN ({marks})",
                       *ids)


async def test_offline_capture_with_three_big_photos_reaches_the_server_once(
        context, server, big_photos):
    page = await context.new_page()
    await open_capture(page, server)
    situation = f"Pose garde-corps {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C1.1.a": "met", "C2.1.b": "progressing"},
                           photos=big_photos)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "capture-360x740.png")
    await page.screenshot(path=ARTIFACTS / "capture-360x740-full.png", full_page=True)
    await save(page)
    await wait_pending(page, 4)
    assert "4 en attente d'envoi" in await page.inner_text("[data-pending]")
    await page.screenshot(path=ARTIFACTS / "capture-saved-offline-360x740.png")
    assert observation_rows(server, situation) == []

    # Downscaled on the phone, before anything is sent: ≤ 1600 px, no EXIF block, WebP
    # (Chromium's canvas writes it; images.js checks the type it got back).
    stored = await page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        const photos = await outbox.listPhotos();
        return Promise.all(photos.map(async (p) => {
            const bitmap = await createImageBitmap(p.blob);
            const head = new Uint8Array(await p.blob.slice(0, 65536).arrayBuffer());
            const text = Array.from(head, (b) => String.fromCharCode(b)).join('');
            return {width: bitmap.width, height: bitmap.height, exif: text.includes('Exif'),
                    type: p.blob.type};
        }));
    }""")
    assert len(stored) == 3
    assert all(max(p["width"], p["height"]) <= 1600 and not p["exif"] for p in stored), stored
    assert all(p["type"] == "image/webp" for p in stored)

    await page.reload()  # still offline: the worker serves the page, the outbox is intact
    await wait_pending(page, 4)
    await context.set_offline(False)
    await wait_pending(page, 0, timeout_ms=60_000)
    assert "Tout est envoyé" in await page.inner_text("[data-pending]")
    assert "Dernier envoi confirmé" in await page.inner_text("[data-last-sync]")

    rows = observation_rows(server, situation)
    assert len(rows) == 1
    refs = json.loads(rows[0][1])
    photos = photo_rows(server, [r["id"] for r in refs])
    assert len(refs) == 3 and len(photos) == 3
    cached = await page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
        }
        return urls;
    }""")
    assert cached and not [u for u in cached if "/api/" in u]  # uploads never in the caches
    for _, sha, width, height in photos:
        assert max(width, height) <= 1600  # the server keeps up to 2560: the phone reduced it
        with Image.open(server.photo_file(sha)) as image:
            assert max(image.size) <= 1600
            assert not image.getexif() and "exif" not in image.info


async def test_flapping_network_during_the_sync_of_ten_observations_loses_and_doubles_nothing(
        context, server, small_photos):
    page = await context.new_page()
    await open_capture(page, server)
    run = uuid.uuid4().hex[:8]
    await context.set_offline(True)
    for i, photo in enumerate(small_photos):
        await fill_observation(page, f"Flap {run} n°{i}", ratings={"C1.1.a": "met"},
                               photos=[photo])
        await save(page)
    await wait_pending(page, 20)

    payload = await page.evaluate(
        "() => import('/static/js/outbox.js').then(o => o.listPhotos())"
        ".then(ps => ps.reduce((n, p) => n + p.blob.size, 0))")

    # A slow uplink so that cuts land in the middle of uploads, and online spells
    # of varied length so that some uploads also complete between cuts.
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 100, "downloadThroughput": 500_000,
            "uploadThroughput": 300_000}

    async def online() -> None:
        await context.set_offline(False)  # Playwright resets the throttling: set it again
        await cdp.send("Network.emulateNetworkConditions", slow)

    left_at_cuts = []
    for spell in (0.5, 1.5, 0.8, 2.5, 1.2, 3.0):
        await online()
        if not left_at_cuts:  # each photo shows its upload progress
            await page.wait_for_selector("[data-uploads] progress")
        await asyncio.sleep(spell)
        left_at_cuts.append(await pending(page))
        await context.set_offline(True)
        await asyncio.sleep(0.4)
    await online()
    await wait_pending(page, 0, timeout_ms=90_000)
    print(f"payload {payload} bytes; pending at each cut: {left_at_cuts}")
    assert all(n > 0 for n in left_at_cuts[:3]), left_at_cuts  # cuts during the sync
    assert left_at_cuts[0] > min(left_at_cuts), left_at_cuts  # and items got through between

    rows = observation_rows(server, f"Flap {run} %")
    assert sorted(r[3] for r in rows) == sorted(f"Flap {run} n°{i}" for i in range(10))
    refs = [ref["id"] for row in rows for ref in json.loads(row[1])]
    assert len(refs) == 10 and len(photo_rows(server, refs)) == 10


async def test_session_expired_while_offline_keeps_everything_and_resumes_after_login(
        context, server):
    page = await context.new_page()
    await open_capture(page, server)
    other = await context.new_page()  # the session ends elsewhere (same browser)
    await other.goto("/tutor")
    await other.click("[data-logout] summary")  # « Se déconnecter » asks first
    await other.click("form[action='/logout'] button")
    await other.wait_for_url("**/login")
    await other.close()

    situation = f"Après expiration {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C1.2.a": "met"})
    await save(page)
    await wait_pending(page, 1)
    await context.set_offline(False)
    await page.wait_for_selector("[data-auth]:not([hidden])")
    assert "Session expirée : reconnectez-vous" in await page.inner_text("[data-auth]")
    assert await pending(page) == 1 and observation_rows(server, situation) == []

    await page.click("[data-auth] a")
    await page.wait_for_url("**/login?next=*")
    await page.fill("#email", "tuteur@demo.test")
    await page.fill("#password", "browser-test-password")
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"**/enrolments/{server.enrolment_id}/observe")
    await wait_pending(page, 0)
    assert len(observation_rows(server, situation)) == 1


CRAFT_CONFLICT = """async ([id, enrolment, situation, day]) => {
    const outbox = await import('/static/js/outbox.js');
    const sync = await import('/static/js/sync.js');
    await outbox.saveCapture({id, enrolment, savedAt: new Date().toISOString(),
        state: 'pending', error: null,
        body: {enrolment, kind: 'observation', observed_on: day, situation, place: 'Atelier',
               comment: '', ratings: {'C1.3.a': 'not_met'}, photos: []}}, []);
    sync.syncNow();
}"""


async def test_a_conflict_shows_both_versions_and_the_tutor_decides(context, server):
    page = await context.new_page()
    await open_capture(page, server)
    run = uuid.uuid4().hex[:8]
    day = await page.input_value("#observed_on")
    await fill_observation(page, f"Version serveur {run}", ratings={"C1.3.a": "met"})
    await save(page)
    [(stored_id, *_)] = await wait_observation_rows(server, f"Version serveur {run}", 1)
    await wait_pending(page, 0)

    # The same UUID with other content (as after a restore from an old export).
    mine = f"Version téléphone {run}"
    await page.evaluate(CRAFT_CONFLICT, [stored_id, server.enrolment_id, mine, day])
    card = page.locator(f"[data-conflict='{stored_id}']")
    await card.wait_for()
    assert mine in await card.locator("[data-version=mine]").inner_text()
    assert f"Version serveur {run}" in await card.locator("[data-version=stored]").inner_text()
    await page.screenshot(path=ARTIFACTS / "conflict-360x740.png", full_page=True)
    await card.get_by_role("button", name="Garder la mienne").click()
    await wait_pending(page, 0)
    rows = {r[3]: r for r in observation_rows(server, f"Version % {run}")}
    assert len(rows) == 2 and rows[mine][2] == stored_id  # a correction superseding it

    await page.evaluate(CRAFT_CONFLICT, [stored_id, server.enrolment_id, "Encore une", day])
    card = page.locator(f"[data-conflict='{stored_id}']")
    await card.get_by_role("button", name="Abandonner la mienne").click()
    await wait_pending(page, 0)
    assert len(observation_rows(server, f"Version % {run}")) == 2
    assert observation_rows(server, "Encore une") == []
    assert PHONE["width"] == 360


async def test_unsent_items_exported_then_imported_reach_the_server_once(
        context, server, small_photos):
    page = await context.new_page()
    await open_capture(page, server)
    situation = f"Exportée {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C2.1.a": "met"}, photos=small_photos[:1])
    await save(page)
    await wait_pending(page, 2)
    await page.click("details.storage summary")
    await page.wait_for_function(
        "() => document.querySelector('[data-storage]').textContent.includes('Espace utilisé')")
    assert await page.inner_text("[data-persist]")  # the persist() answer, whatever it is
    async with page.expect_download() as download_info:
        await page.click("[data-export]")
    download = await download_info.value
    exported = Path(await download.path())
    content = json.loads(await asyncio.to_thread(exported.read_text))
    assert content["format"] == "carnet-outbox/1"
    assert len(content["observations"]) == 1 and len(content["photos"]) == 1

    # The phone's storage is wiped; the exported file brings everything back.
    await page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        for (const o of await outbox.listObservations()) {
            await outbox.deleteObservation(o.id, {withPhotos: true});
        }
    }""")
    await wait_pending(page, 0)
    for _ in range(2):  # importing twice is harmless: the server is idempotent
        await context.set_offline(True)
        await page.set_input_files("#import-file", str(exported))
        await page.click("[data-import] button[type=submit]")
        await wait_pending(page, 2)
        assert "1 observation(s) et 1 photo(s) ajoutées" in await page.inner_text(
            "[data-import-result]")
        await context.set_offline(False)
        await wait_pending(page, 0, timeout_ms=30_000)
        rows = observation_rows(server, situation)
        assert len(rows) == 1
        assert len(photo_rows(server, [r["id"] for r in json.loads(rows[0][1])])) == 1


async def test_the_phone_hashes_an_observation_exactly_as_the_server_does(context, server):
    """The outbox drops an observation only when the server's content_sha256 equals
    the phone's: both sides must normalise and serialise alike."""
    from datetime import date

    from backend.app import load_registry
    from backend.domain.evidence import parse_observation
    from backend.settings import Settings

    ref = load_registry(Settings(database_url="sqlite://:memory:", data_dir=server.data_dir,
                                 secret_key="k")).get("CQP-FIOMB", "2026-1")
    body = {"enrolment": 3, "kind": "observation", "observed_on": "2026-01-05",
            "situation": '  Pose « garde-corps » "droit" \\ é\u00a0',
            "place": "\x1c\tAtelier\u3000",
            "comment": "ligne 1\nligne 2\u2028 \u0007 😀 \ufeff",
            "ratings": {"C1.1.b": "met", "C1.1.a": "not_met"},
            "photos": [{"id": str(uuid.uuid4()).upper(), "competency": "C1.1",
                        "evidence": "support avant travaux"},
                       {"id": str(uuid.uuid4()), "competency": "", "evidence": None}],
            "supersedes": str(uuid.uuid4())}
    expected = parse_observation(body, ref=ref, started_on=date(2025, 1, 1),
                                 today=date(2026, 6, 1), enrolment_id=3).content_sha256()
    page = await context.new_page()
    await page.goto("/login")
    computed = await page.evaluate(
        "b => import('/static/js/sync.js').then(s => s.contentSha256(b))", body)
    assert computed == expected
