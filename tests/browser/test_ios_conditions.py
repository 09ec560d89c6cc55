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
