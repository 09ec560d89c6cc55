"""« Jury et résultats » on a phone: reached from the tutor's pages, a ready block offers
« Présenter au jury » where its state is shown, and the page fits 360 px."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


async def test_the_outcome_page_is_linked_and_fits_a_phone(context, server):
    page = await context.new_page()
    await log_in(page)
    await page.click(f"a[href='/enrolments/{server.enrolment_id}/outcome']")
    await page.wait_for_url(f"**/enrolments/{server.enrolment_id}/outcome")
    assert await page.inner_text("h1") == "Jury et résultats"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    for box in await page.locator("input[type=checkbox]").all():
        rect = await box.bounding_box()
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= 360, rect
        assert rect["width"] >= 24, rect

    # From the progress page: a ready block carries « Présenter au jury » next to its state.
    await page.goto(f"/enrolments/{server.enrolment_id}")
    ready = page.locator("article.block", has=page.locator(".ready-mark"))
    assert await ready.count() >= 1  # the demo's BC01
    await ready.first.locator("a", has_text="Présenter au jury").click()
    await page.wait_for_url("**/outcome#present-*")
    assert await page.locator(":target button[type=submit]").is_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
