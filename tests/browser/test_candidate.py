"""The candidate (issue section 4), in Chromium with touch at 360×740: what is missing for
a block in at most two taps from the candidate's home, rings that agree with the counters
beside them, and their own photos, tagged to an expected evidence item in one tap and
kept on the phone first (offline), then sent."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.browser.conftest import PASSWORD, PHONE, TIMEOUT_MS, controlled, wait_pending

pytestmark = pytest.mark.browser

CANDIDATE = "candidat@demo.test"


@pytest.fixture
async def phone(browser, server):
    ctx = await browser.new_context(base_url=server.url, viewport=PHONE, locale="fr-FR",
                                    timezone_id="Europe/Paris", has_touch=True, is_mobile=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    try:
        yield ctx
    finally:
        await ctx.close()


async def candidate_home(phone):
    page = await phone.new_page()
    await page.goto("/login?next=/candidate")
    await page.fill("#email", CANDIDATE)
    await page.fill("#password", PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url("**/enrolments/*")  # her home opens her only enrolment
    return page


async def test_what_is_missing_in_two_taps_and_rings_agree_with_counters(phone, server):
    page = await candidate_home(phone)
    block = page.locator("details.missing").first
    await block.locator("summary").tap()  # one tap
    items = await block.locator("li").all_inner_texts()
    assert items and await block.locator("li").first.is_visible(), items
    for article in await page.locator("article.block").all():
        ring = await article.locator("[data-ring]").get_attribute("data-ring")
        counts = await article.locator(".counts").inner_text()
        assert f"{ring} compétences acquises" in counts, (ring, counts)


async def test_the_candidate_adds_a_photo_offline_tagged_in_one_tap(phone, server, small_photos):
    page = await candidate_home(phone)
    await controlled(page)
    section = page.locator("[data-candidate-photos][data-enhanced=true]")
    await section.wait_for()
    target = "C2.1|pièces débitées et usinées"
    button = section.locator(f"label[data-evidence='{target}']")
    await phone.set_offline(True)
    async with page.expect_file_chooser() as chooser:
        await button.tap()  # the tag and the camera or gallery, in one tap
    await (await chooser.value).set_files(str(small_photos[3]))
    await page.wait_for_function(
        "() => document.querySelector('[data-candidate-status]').textContent.includes('gardée')")
    await wait_pending(page, 2)  # the photo and the record citing it, on the phone
    await phone.set_offline(False)
    await page.evaluate("import('/static/js/sync.js').then(s => s.syncNow())")
    await wait_pending(page, 0, timeout_ms=30_000)
    for _ in range(100):
        rows = server.rows("SELECT photos, ratings FROM observation WHERE author_role = "
                           "'candidate' AND kind = 'observation'")
        if rows:
            break
        await asyncio.sleep(0.1)
    photos = json.loads(rows[-1][0])
    assert json.loads(rows[-1][1]) == {}
    assert [(p["competency"], p["evidence"]) for p in photos] == [
        ("C2.1", "pièces débitées et usinées")]
    await page.reload()
    block = await page.text_content("#bloc-BC02")
    assert "par le candidat" in block  # the photo shows under its evidence, marked as hers
    assert "« pièces débitées et usinées » manquante" not in block


async def test_a_pdf_document_is_evidence_with_a_thumbnail(phone, server, tmp_path):
    """Section 3 in the browser: a PDF for a document the referential expects."""
    from tests import pdfs

    path = tmp_path / "croquis.pdf"
    path.write_bytes(pdfs.plain(2))
    page = await candidate_home(phone)
    section = page.locator("[data-candidate-photos][data-enhanced=true]")
    await section.wait_for()
    button = section.locator("label[data-evidence='C1.1|croquis coté']")
    assert "application/pdf" in await button.locator("input").get_attribute("accept")
    async with page.expect_file_chooser() as chooser:
        await button.tap()
    await (await chooser.value).set_files(str(path))
    await wait_pending(page, 0, timeout_ms=30_000)
    for _ in range(100):
        rows = server.rows("SELECT id, content_type, size FROM photo "
                           "WHERE content_type = 'application/pdf'")
        if rows:
            break
        await asyncio.sleep(0.1)
    [(photo_id, content_type, size)] = rows
    assert size == path.stat().st_size  # kept as received
    thumb = await page.evaluate(
        "u => fetch(u).then(r => r.headers.get('content-type'))",
        f"/api/v1/photos/{photo_id}?size=thumb")
    assert thumb.startswith("image/jpeg")
    await page.reload()
    assert f"/api/v1/photos/{photo_id}?size=thumb" in await page.content()
