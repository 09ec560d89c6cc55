"""Old-iPhone conditions simulated in Chromium: a tab reloaded between the photos
and the save, missing APIs, a stuck resize worker, uploads without progress
events, a storage near its quota, the "only on this phone" warnings, the export
through the share sheet (docs/pwa.md)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.browser.conftest import (
    fill_observation,
    log_in,
    open_capture,
    open_more,
    save,
    wait_pending,
)
from tests.browser.test_pwa import observation_rows, photo_rows, wait_observation_rows

pytestmark = pytest.mark.browser

OUTBOX_PHOTOS = """async () => {
    const outbox = await import('/static/js/outbox.js');
    return Promise.all((await outbox.listPhotos()).map(async (p) => {
        const bitmap = await createImageBitmap(p.blob);
        return Math.max(bitmap.width, bitmap.height);
    }));
}"""


async def test_a_reload_after_the_camera_loses_no_photo(context, server, small_photos):
    page = await context.new_page()
    await open_capture(page, server)
    situation = f"Brouillon {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C1.1.a": "met"}, photos=small_photos[:2])
    await page.wait_for_timeout(600)  # the typed fields reach the draft (400 ms debounce)
    await page.reload()  # what an old iPhone does when the camera returns
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
    offer = page.locator("[data-draft]")
    await offer.wait_for()
    assert situation in await offer.inner_text() and "2 photos" in await offer.inner_text()
    assert await page.input_value("#situation") == ""  # nothing restored before the tutor says so
    await page.click("[data-resume]")
    assert await page.input_value("#situation") == situation
    assert await page.is_checked("input[name='rating-C1.1.a'][value=met]")
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-thumbs] img[src^=\"blob:\"]').length === 2")
    await save(page)
    await wait_pending(page, 3)
    await page.reload()
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
    assert await page.locator("[data-draft]").count() == 0  # the draft left with the save
    await context.set_offline(False)
    [row] = await wait_observation_rows(server, situation, 1, timeout_s=30)
    assert len(photo_rows(server, [r["id"] for r in json.loads(row[1])])) == 2


async def test_capture_works_without_random_uuid_and_offscreen_canvas(context, server,
                                                                     small_photos):
    page = await context.new_page()
    await page.add_init_script("""
        delete Crypto.prototype.randomUUID;
        delete self.OffscreenCanvas;
    """)
    await open_capture(page, server)
    assert await page.evaluate("typeof crypto.randomUUID") == "undefined"
    assert await page.is_hidden("[data-plain-note]")
    situation = f"Vieil iPhone {uuid.uuid4().hex[:8]}"
    await fill_observation(page, situation, ratings={"C1.2.a": "met"}, photos=small_photos[:1])
    await save(page)
    [row] = await wait_observation_rows(server, situation, 1, timeout_s=30)
    [ref] = json.loads(row[1])
    assert uuid.UUID(ref["id"]).version == 4 and uuid.UUID(row[0]).version == 4


async def test_without_indexeddb_the_plain_form_says_why_and_posts(context, server):
    page = await context.new_page()
    await page.add_init_script("Object.defineProperty(self, 'indexedDB', {value: undefined});")
    await log_in(page, f"/enrolments/{server.enrolment_id}/observe")
    note = page.locator("[data-plain-note]")
    await note.wait_for(state="visible")
    assert "navigation privée" in await note.inner_text()
    assert await page.get_attribute("form[data-capture]", "data-enhanced") is None
    situation = f"Formulaire simple {uuid.uuid4().hex[:8]}"
    await fill_observation(page, situation, ratings={"C1.3.a": "met"})
    await page.click("[data-save]")
    await wait_observation_rows(server, situation, 1)


RESIZE_LIMIT = "async (ms) => { (await import('/static/js/images.js')).limits.resizeMs = ms; }"
NEVER_ANSWERS = """
    self.Worker = class {
        constructor() { self.__workers = (self.__workers || 0) + 1; }
        postMessage() {}
        terminate() { self.__terminated = true; }
        addEventListener() {}
    };
"""


async def test_a_worker_that_never_answers_falls_back_to_the_page(context, server, small_photos):
    page = await context.new_page()
    await page.add_init_script(NEVER_ANSWERS)
    await open_capture(page, server)
    await page.evaluate(RESIZE_LIMIT, 800)
    situation = f"Worker muet {uuid.uuid4().hex[:8]}"
    await context.set_offline(True)
    await fill_observation(page, situation, ratings={"C2.1.a": "met"}, photos=small_photos[:2])
    note = await page.inner_text("[data-thumbs]")
    assert "le traitement en arrière-plan ne répondait pas" in note
    assert await page.evaluate("self.__terminated") is True
    await save(page)
    await wait_pending(page, 3)
    assert all(side <= 2000 for side in await page.evaluate(OUTBOX_PHOTOS))
    await context.set_offline(False)
    await wait_pending(page, 0, timeout_ms=30_000)


async def test_the_save_button_says_what_it_waits_for(context, server, small_photos):
    page = await context.new_page()
    await page.add_init_script(NEVER_ANSWERS)
    await open_capture(page, server)
    await page.evaluate(RESIZE_LIMIT, 3000)
    await context.set_offline(True)
    await open_more(page)
    await page.fill("#situation", "Attente")
    await page.set_input_files("#photos", [str(small_photos[0])])
    await page.click("[data-save]")
    busy = page.locator("[data-busy]")
    await busy.wait_for(state="visible")
    assert await page.is_disabled("[data-save]")
    assert "Préparation des photos (0 sur 1)" in await busy.inner_text()
    await page.wait_for_function("() => document.querySelector('#situation').value === ''",
                                 timeout=20_000)
    assert await page.is_enabled("[data-save]") and await busy.is_hidden()
    await wait_pending(page, 2)
    await context.set_offline(False)
    await wait_pending(page, 0, timeout_ms=30_000)
    assert await asyncio.to_thread(observation_rows, server, "Attente")


NO_UPLOAD_PROGRESS = """
    // A browser that sends no upload progress events: xhr.upload is inert.
    const inert = {addEventListener() {}, removeEventListener() {}};
    Object.defineProperty(XMLHttpRequest.prototype, 'upload', {get: () => inert});
"""
SHORT_UPLOAD_LIMITS = """async () => {
    const sync = await import('/static/js/sync.js');
    Object.assign(sync.limits, {baseMs: 2500, minBytesPerSecond: 1e9, stallMs: 300});
}"""
SYNC_PHASE = "async () => (await import('/static/js/sync.js')).state.phase"


async def test_uploads_without_progress_events_finish_or_time_out(context, server, small_photos):
    page = await context.new_page()
    await page.add_init_script(NO_UPLOAD_PROGRESS)
    await open_capture(page, server)
    await page.evaluate(SHORT_UPLOAD_LIMITS)
    release = asyncio.Event()
    held = []

    async def slow(route):  # longer than the stall limit, shorter than the budget
        await asyncio.sleep(1.0)
        await route.continue_()

    async def hanging(route):
        held.append(route)
        await release.wait()
        with_error = False
        try:
            await route.continue_()
        except Exception:  # the page gave up on it already
            with_error = True
        return with_error

    # A slow upload, no progress events: not mistaken for a stalled one.
    await context.route("**/api/v1/photos/**", slow)
    situation = f"Lente {uuid.uuid4().hex[:8]}"
    await fill_observation(page, situation, ratings={"C1.1.a": "met"}, photos=small_photos[:1])
    await save(page)
    await wait_observation_rows(server, situation, 1, timeout_s=20)
    await context.unroute("**/api/v1/photos/**", slow)

    # An upload that never ends is cut at its time budget; the items stay.
    await context.route("**/api/v1/photos/**", hanging)
    situation = f"Bloquée {uuid.uuid4().hex[:8]}"
    await fill_observation(page, situation, ratings={"C1.1.a": "met"}, photos=small_photos[1:2])
    await save(page)
    for _ in range(100):
        if held:
            break
        await asyncio.sleep(0.1)
    assert held, "the upload never started"
    await page.wait_for_function(f"() => ({SYNC_PHASE})().then(p => p === 'waiting')",
                                 timeout=10_000)
    assert held and observation_rows(server, situation) == []
    await wait_pending(page, 2)
    release.set()
    await context.unroute("**/api/v1/photos/**", hanging)
    await page.evaluate("async () => (await import('/static/js/sync.js')).syncNow()")
    await wait_pending(page, 0, timeout_ms=30_000)
    assert len(observation_rows(server, situation)) == 1


FAKE_SHARE = """
    Navigator.prototype.canShare = function (data) {
        return Boolean(data && data.files && data.files.length);
    };
    Navigator.prototype.share = async function (data) {
        const file = data.files[0];
        self.__shared = {name: file.name, type: file.type, text: await file.text(),
                         title: data.title};
    };
"""
NO_SHARE = "delete Navigator.prototype.share; delete Navigator.prototype.canShare;"


@pytest.mark.parametrize("share", [True, False], ids=["share-sheet", "download"])
async def test_the_export_uses_the_share_sheet_where_there_is_one(context, server,
                                                                 small_photos, share):
    page = await context.new_page()
    await page.add_init_script(FAKE_SHARE if share else NO_SHARE)
    await open_capture(page, server)
    await context.set_offline(True)
    await fill_observation(page, f"Export {uuid.uuid4().hex[:8]}", ratings={"C2.1.a": "met"},
                           photos=small_photos[:1])
    await save(page)
    await page.click("details.storage summary")
    if share:
        await page.click("[data-export]")
        await page.wait_for_function("() => self.__shared !== undefined")
        shared = await page.evaluate("self.__shared")
        assert shared["name"].startswith("carnet-non-envoyes-")
        assert shared["type"] == "application/json"
        content = json.loads(shared["text"])
    else:
        async with page.expect_download() as download_info:
            await page.click("[data-export]")
        download = await download_info.value
        content = json.loads(await asyncio.to_thread((await download.path()).read_text))
    assert content["format"] == "carnet-outbox/1"
    assert len(content["observations"]) >= 1 and len(content["photos"]) >= 1
    await context.set_offline(False)
    await wait_pending(page, 0, timeout_ms=30_000)


IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_8 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/15.6.6 Mobile/15E148 Safari/604.1")
SHIFT_CLOCK = """(() => {
    const shift = %d * 24 * 3600 * 1000;
    const Real = Date;
    class Shifted extends Real {
        constructor(...args) { if (args.length) super(...args); else super(Real.now() + shift); }
        static now() { return Real.now() + shift; }
    }
    self.Date = Shifted;
})();"""
STANDALONE = "Object.defineProperty(Navigator.prototype, 'standalone', {get: () => true});"


@pytest.fixture
async def iphone(browser, server):
    from tests.browser.conftest import PHONE, TIMEOUT_MS

    ctx = await browser.new_context(base_url=server.url, viewport=PHONE, locale="fr-FR",
                                    timezone_id="Europe/Paris", user_agent=IPHONE_UA)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


async def test_the_only_on_this_phone_warning_grows_with_the_days(iphone, server):
    page = await iphone.new_page()
    await open_capture(page, server)
    assert await page.is_hidden("[data-phone-only]")
    hint = "Safari efface les données"
    await iphone.set_offline(True)
    await fill_observation(page, f"Sur le téléphone {uuid.uuid4().hex[:8]}",
                           ratings={"C1.1.a": "met"})
    await save(page)
    await wait_pending(page, 1)
    seen = {}
    for days, level in [(0, "info"), (3, "warn"), (7, "danger")]:
        later = await iphone.new_page()
        await later.add_init_script(SHIFT_CLOCK % days)
        await later.goto(f"/enrolments/{server.enrolment_id}/observe")
        box = later.locator(f"[data-phone-only][data-level={level}]")
        await box.wait_for()
        text = await box.inner_text()
        assert "1 élément uniquement sur ce téléphone depuis le" in text and hint in text
        assert await box.get_attribute("data-days") == str(days)
        seen[level] = (await box.get_attribute("class"), await box.get_attribute("role"))
        await later.close()
    assert seen == {"info": ("level-info", None), "warn": ("level-warn", None),
                    "danger": ("level-danger", "alert")}
    # The storage panel states Safari's rule, not persist()'s promise.
    await page.click("details.storage summary")
    assert "7 jours d'utilisation de Safari" in await page.inner_text("[data-persist]")
    await iphone.set_offline(False)
    await wait_pending(page, 0, timeout_ms=30_000)
    await page.wait_for_selector("[data-phone-only]", state="hidden")


async def test_the_install_hint_on_an_iphone_says_why_and_to_send_first(iphone, server):
    page = await iphone.new_page()
    await log_in(page)
    text = page.locator("[data-install-text][data-ios]")
    await text.wait_for()
    assert "installez Carnet sur l'écran d'accueil" in await text.inner_text()
    assert "Sur l'écran d'accueil" in await text.inner_text()


async def test_the_installed_app_first_asks_to_empty_the_safari_tab(iphone, server):
    page = await iphone.new_page()
    await page.add_init_script(STANDALONE)
    await log_in(page)
    first = page.locator("[data-first-run]")
    await first.wait_for()
    assert "ouvrez Carnet une fois de plus dans Safari" in await first.inner_text()
    assert await page.is_hidden("[data-install]")
    await page.click("[data-first-run] button")
    await first.wait_for(state="detached")
    await page.reload()
    await page.wait_for_selector("[data-pending][data-count]")
    await page.wait_for_timeout(300)
    assert await page.locator("[data-first-run]").count() == 0
    await page.click("details.storage summary")
    assert "application de l'écran d'accueil" in await page.inner_text("[data-persist]")


NEAR_QUOTA = """
    StorageManager.prototype.estimate = async () => ({usage: 95e6, quota: 100e6});
"""


async def test_a_storage_near_its_quota_is_said_plainly(context, server):
    page = await context.new_page()
    await page.add_init_script(NEAR_QUOTA)
    await log_in(page)
    quota = page.locator("[data-quota]")
    await quota.wait_for()
    assert "Espace presque plein (95 %)" in await quota.inner_text()
