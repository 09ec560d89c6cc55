"""A new release: the page offers « Nouvelle version disponible », the tutor
accepts, the page reloads under the new worker, and the outbox is still there."""

from __future__ import annotations

import shutil

import pytest

from tests.browser.conftest import (
    PHONE,
    ROOT,
    TIMEOUT_MS,
    controlled,
    free_port,
    log_in,
    running_server,
    seed,
    wait_pending,
)

pytestmark = pytest.mark.browser

# An item the server refuses for good (unknown enrolment): it stays in the outbox,
# listed as stuck, which lets us watch the outbox across the update.
STUCK_ITEM = """async () => {
    const outbox = await import('/static/js/outbox.js');
    await outbox.saveCapture({id: crypto.randomUUID(), enrolment: 999999,
        savedAt: new Date().toISOString(), state: 'pending', error: null,
        body: {enrolment: 999999, kind: 'observation', observed_on: '2020-01-01',
               situation: 'Gardée pendant la mise à jour', ratings: {'C1.1.a': 'met'},
               photos: []}}, []);
    (await import('/static/js/sync.js')).syncNow();
}"""


@pytest.fixture
def release(tmp_path):
    """A copy of this checkout that the test can change into "the next release"."""
    tree = tmp_path / "release"
    for folder in ("backend", "pwa", "assessments"):
        shutil.copytree(ROOT / folder, tree / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "_pwa", "_assessments"))
    return tree


async def test_a_new_release_is_offered_and_installed_without_losing_the_outbox(
        browser, release, tmp_path):
    data_dir = tmp_path / "data"
    seed(data_dir)
    port = free_port()  # the same origin for both releases
    context = await browser.new_context(base_url=f"http://127.0.0.1:{port}", viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    with running_server(data_dir, port=port, tree=release):
        await log_in(page)
        await controlled(page)
        old_caches = await page.evaluate("caches.keys()")
        await page.evaluate(STUCK_ITEM)
        await page.wait_for_selector("[data-stuck]")
        assert await page.get_attribute("[data-pending]", "data-count") == "1"

    app_js = release / "pwa" / "js" / "app.js"
    app_js.write_text(app_js.read_text() + "// release 2\n")
    with running_server(data_dir, port=port, tree=release) as server:
        await page.reload()
        banner = page.locator("[data-update]")
        await banner.wait_for()
        assert "Nouvelle version disponible" in await banner.inner_text()
        await banner.get_by_role("button", name="Mettre à jour").click()
        await page.wait_for_function("() => !document.querySelector('[data-update]')")
        await page.wait_for_selector("[data-stuck]")
        await wait_pending(page, 1)
        new_caches = await page.evaluate("caches.keys()")
        statics = [n for n in new_caches if n.startswith("carnet-static-")]
        assert len(statics) == 1 and statics[0] not in old_caches  # old one deleted
        assert "release 2" in await page.evaluate(
            "() => fetch('/static/js/app.js').then(r => r.text())")
        assert server.rows("SELECT count(*) FROM observation WHERE enrolment_id = 999999") == [(0,)]
    await context.close()
