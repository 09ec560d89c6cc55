"""The tutor's minute: from the tutor's home to a saved observation rating one criterion
'acquis' with two photos that count as expected evidence, in at most five taps, without
typing or scrolling, online and offline (Chromium with touch at 360×740).

Every tap goes through `Taps.tap` (Playwright's touch tap) and the page counts every
touchstart it receives, across navigations (sessionStorage): both counts must agree.
Picking a file stands for the camera's own shutter and is not counted."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.browser.conftest import (
    PASSWORD,
    PHONE,
    TIMEOUT_MS,
    controlled,
    log_in,
    open_capture,
    wait_pending,
)
from tests.browser.test_pwa import photo_rows

pytestmark = pytest.mark.browser

COUNT_TAPS = """(() => {
  document.addEventListener('touchstart', () => {
    const n = Number(sessionStorage.getItem('taps') || 0) + 1;
    sessionStorage.setItem('taps', String(n));
  }, {capture: true, passive: true});
  window.addEventListener('scroll', () => {
    if (window.scrollY > 0) sessionStorage.setItem('scrolled', String(window.scrollY));
  }, {passive: true});
  // Typing would show up as key events: none is expected.
  document.addEventListener('keydown', () => sessionStorage.setItem('typed', '1'), true);
})();"""

IN_VIEW = """(el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.top >= 0 && r.left >= 0
    && r.bottom <= innerHeight && r.right <= innerWidth;
}"""


class Taps:
    def __init__(self, page):
        self.page, self.count = page, 0

    async def tap(self, selector: str) -> None:
        """One tap on something already on screen (no scrolling needed)."""
        target = self.page.locator(selector).first
        await target.wait_for(state="visible")
        assert await target.evaluate(IN_VIEW), f"{selector} is not on screen"
        self.count += 1
        await target.tap()

    async def photo(self, selector: str, path) -> None:
        async with self.page.expect_file_chooser() as chooser:
            await self.tap(selector)
        await (await chooser.value).set_files(str(path))


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


async def tutor_home(phone, server):
    page = await phone.new_page()
    await log_in(page)
    await controlled(page)
    # The home page asked the worker to keep each candidate's form for offline use.
    await page.wait_for_function(
        "n => caches.open('carnet-pages-v1').then(c => c.match(n)).then(Boolean)",
        arg=f"/enrolments/{server.enrolment_id}/observe")
    await page.add_init_script(COUNT_TAPS)
    await page.reload()
    await page.evaluate("sessionStorage.clear()")
    return page


async def the_minute(page, small_photos) -> dict:
    """Observer, one rating, Photo twice, save: returns what was rated."""
    taps = Taps(page)
    await taps.tap("a[data-observe]")
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
    # The first criterion of the work in progress whose competency expects one kind of
    # photo (the form puts the competencies still missing a photo first).
    competency = await page.evaluate("""() => [...document.querySelectorAll(
        'details[data-competency][open]')].find((d) => JSON.parse(d.dataset.choices)
        .filter((c) => c.kind === 'photo').length === 1).dataset.competency""")
    code = await page.locator(f"[data-competency='{competency}'] [data-criterion]").first \
        .get_attribute("data-criterion")
    await taps.tap(f"[data-criterion='{code}'] label.choice-met")
    assert await page.is_checked(f"input[name='rating-{code}'][value=met]")
    for path in small_photos[:2]:
        await taps.photo("[data-photo-camera]", path)
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-thumbs] img[src^=\"blob:\"]').length === 2",
        timeout=60_000)
    lines = await page.locator("[data-thumbs] [data-target-line]").all_inner_texts()
    assert len(lines) == 2 and all(line.startswith("Preuve :") for line in lines), lines
    await taps.tap("[data-save]")
    await page.wait_for_selector("[data-saved]:not([hidden])")
    state = await page.evaluate("({taps: sessionStorage.getItem('taps'), "
                                "scrolled: sessionStorage.getItem('scrolled'), "
                                "typed: sessionStorage.getItem('typed'), y: scrollY})")
    assert taps.count <= 5, taps.count
    assert state["taps"] == str(taps.count), state  # the page saw exactly these taps
    assert state["scrolled"] is None and state["y"] == 0, state
    assert state["typed"] is None, state
    return {"code": code, "competency": competency}


async def server_observation(server, code: str, timeout_s: float = 30) -> tuple:
    """The newest observation, once it carries the rating and both photos."""
    for _ in range(int(timeout_s * 10)):
        rows = server.rows("SELECT id, photos, ratings, situation FROM observation "
                           "ORDER BY created_at DESC LIMIT 1")
        if rows and code in json.loads(rows[0][2]) and len(json.loads(rows[0][1])) == 2:
            return rows[0]
        await asyncio.sleep(0.1)
    raise AssertionError("the observation did not reach the server")


async def assert_counts_as_evidence(page, server, rated: dict, before: dict) -> None:
    row = await server_observation(server, rated["code"])
    photos = json.loads(row[1])
    assert json.loads(row[2]) == {rated["code"]: "met"}
    assert all(p["competency"] == rated["competency"] and p["evidence"] for p in photos), photos
    assert len(photo_rows(server, [p["id"] for p in photos])) == 2
    label = photos[0]["evidence"]
    after = await evidence_counts(page, server)
    assert after[(rated["competency"], label)] == before.get((rated["competency"], label), 0) + 2
    # What the candidate reads as missing no longer names it.
    await page.goto(f"/enrolments/{server.enrolment_id}")
    text = await page.text_content("main")
    assert f"« {label} »" in text and f"« {label} » manquante" not in text


async def evidence_counts(page, server) -> dict:
    tree = await page.evaluate(
        "u => fetch(u, {credentials: 'same-origin'}).then(r => r.json())",
        f"/api/v1/enrolments/{server.enrolment_id}/progress")
    return {(c["code"], e["label"]): e["count"] for b in tree["blocks"]
            for c in b["competencies"] for e in c["evidence"]}


async def test_five_taps_online(phone, server, small_photos):
    page = await tutor_home(phone, server)
    before = await evidence_counts(page, server)
    rated = await the_minute(page, small_photos)
    await wait_pending(page, 0, timeout_ms=30_000)
    await assert_counts_as_evidence(page, server, rated, before)


async def test_five_taps_offline(phone, server, small_photos):
    page = await tutor_home(phone, server)
    before = await evidence_counts(page, server)
    await phone.set_offline(True)
    await page.reload()  # the home page, from the worker's copy
    await page.evaluate("sessionStorage.clear()")
    rated = await the_minute(page, small_photos)
    await wait_pending(page, 3)  # one observation and two photos, on the phone
    await phone.set_offline(False)
    await page.evaluate("import('/static/js/sync.js').then(s => s.syncNow())")
    await wait_pending(page, 0, timeout_ms=30_000)
    await assert_counts_as_evidence(page, server, rated, before)


# --- the rest of the tutor's minute -------------------------------------------------

CLS = """() => new Promise((resolve) => {
  let total = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(total), 1500);
})"""

TARGETS = """() => {
  const selector = 'a[href], button, summary, select, textarea, label.choice, label.photo-button, '
    + 'input:not([type=hidden]):not([type=radio]):not([type=checkbox]):not([type=file])';
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const folded = (n) => n && n.closest('details:not([open])');
    for (let d = folded(el); d; d = folded(d.parentElement)) {
      const summary = d.querySelector(':scope > summary');
      if (!summary || !summary.contains(el)) return false; // folded away
    }
    return r.width > 1 && r.height > 1 && style.visibility !== 'hidden' && style.opacity !== '0';
  };
  const fixed = (el) => { for (let n = el; n; n = n.parentElement) {
    if (getComputedStyle(n).position === 'fixed') return true; } return false; };
  const items = Array.from(document.querySelectorAll(selector)).filter(shown).map((el) => {
    const r = el.getBoundingClientRect();
    return {el, fixed: fixed(el), box: [r.left, r.top + (fixed(el) ? 0 : scrollY), r.right,
      r.bottom + (fixed(el) ? 0 : scrollY)],
      name: (el.textContent || el.name || el.id || el.tagName).trim().slice(0, 40)};
  });
  const small = items.filter((i) => i.box[2] - i.box[0] < 47.5 || i.box[3] - i.box[1] < 47.5)
    .map((i) => `${i.name}: ${Math.round(i.box[2] - i.box[0])}×${Math.round(i.box[3] - i.box[1])}`);
  const close = [];
  for (let a = 0; a < items.length; a++) for (let b = a + 1; b < items.length; b++) {
    const p = items[a], q = items[b];
    if (p.fixed !== q.fixed || p.el.contains(q.el) || q.el.contains(p.el)) continue;
    const dx = Math.max(q.box[0] - p.box[2], p.box[0] - q.box[2]);
    const dy = Math.max(q.box[1] - p.box[3], p.box[1] - q.box[3]);
    if (Math.max(dx, dy) < 7.5) close.push(`${p.name} / ${q.name}`);
  }
  const logout = items.find((i) => i.el.closest('[data-logout]'));
  const others = items.filter((i) => i !== logout && !i.el.closest('[data-logout]'));
  const nearest = logout ? Math.min(...others
    .map((q) => { const p = logout;
      return Math.max(q.box[0] - p.box[2], p.box[0] - q.box[2],
        q.box[1] - p.box[3], p.box[1] - q.box[3]); }))
    : null;
  return {small, close, logout: nearest};
}"""


async def test_tutor_pages_do_not_move_and_fit_gloved_thumbs(phone, server, small_photos):
    page = await tutor_home(phone, server)
    for path in ("/tutor", f"/enrolments/{server.enrolment_id}/observe"):
        await page.goto(path)
        await page.wait_for_selector("[data-pending][data-count]")  # the sync panel is filled
        shift = await page.evaluate(CLS)
        assert shift < 0.1, (path, shift)
        if "observe" in path:
            await page.wait_for_selector("form[data-capture][data-enhanced=true]",
                                         state="attached")
            await page.set_input_files("#photos", [str(small_photos[0])])
            await page.wait_for_selector("[data-thumbs] li")
        found = await page.evaluate(TARGETS)
        assert found["small"] == [], (path, found["small"])
        assert found["close"] == [], (path, found["close"])
        assert found["logout"] is not None and found["logout"] >= 24, (path, found["logout"])


async def test_removing_a_photo_can_be_undone(phone, server, small_photos):
    page = await phone.new_page()
    await open_capture(page, server)
    await page.set_input_files("#photos", [str(p) for p in small_photos[:2]])
    await page.wait_for_function("() => document.querySelectorAll('[data-thumbs] li').length === 2")
    await page.locator("[data-thumbs] li button.remove").first.tap()
    await page.wait_for_function("() => document.querySelectorAll('[data-thumbs] li').length === 1")
    await page.locator("[data-undo]").tap()
    await page.wait_for_function("() => document.querySelectorAll('[data-thumbs] li').length === 2")
    drafted = await page.evaluate("""async () => {
        const outbox = await import('/static/js/outbox.js');
        const key = document.querySelector('[data-status]').dataset.personId + ':'
          + document.querySelector('form[data-capture]').dataset.enrolment;
        const found = await outbox.getDraft(key);
        return found ? found.photos.length : 0;
    }""")
    assert drafted == 2


async def test_a_photo_for_a_competency_expecting_several_asks_among_them(phone, server,
                                                                       small_photos):
    page = await phone.new_page()
    await open_capture(page, server)
    # C2.2 expects two kinds of photo (détail soudure, ensemble assemblé sur gabarit).
    await page.locator("[data-jump='BC02']").tap()
    await page.locator("[data-criterion='C2.2.a'] label.choice-met").tap()
    await page.set_input_files("#photos-camera", [str(small_photos[0])])
    buttons = page.locator("[data-thumbs] li [data-target]")
    await buttons.first.wait_for()
    labels = await buttons.all_inner_texts()
    assert labels == ["détail soudure", "ensemble assemblé sur gabarit"], labels
    box = await buttons.first.bounding_box()
    assert box["height"] >= 48 and box["width"] >= 48
    await buttons.nth(1).tap()
    assert (await page.inner_text("[data-thumbs] [data-target-line]")).startswith(
        "Preuve : ensemble assemblé sur gabarit")


async def test_search_reaches_a_criterion_and_last_values_come_back(phone, server):
    page = await phone.new_page()
    await open_capture(page, server)
    await page.fill("[data-criterion-search]", "souder cordons")
    visible = await page.locator("[data-criterion]:visible").evaluate_all(
        "els => els.map(e => e.dataset.criterion)")
    assert visible == ["C2.2.b"], visible
    await page.fill("[data-criterion-search]", "")
    # Last values: saved once, offered again in one tap.
    place = f"Atelier {uuid.uuid4().hex[:6]}"
    await page.locator("details.more summary").tap()
    await page.fill("#place", place)
    await page.locator("[data-criterion] label.choice-met").first.tap()
    await page.locator("[data-save]").tap()
    await page.wait_for_selector("[data-saved]:not([hidden])")
    await page.reload()
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
    await page.locator("details.more summary").tap()
    reuse = page.locator("[data-reuse=place]")
    assert place in await reuse.inner_text()
    await reuse.tap()
    assert await page.input_value("#place") == place
    assert await page.input_value("#observed_on") == await page.evaluate(
        "(() => { const d = new Date(); const p = n => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; })()")


async def test_logging_out_asks_warns_and_survives_offline(phone, server, small_photos):
    page = await phone.new_page()
    await open_capture(page, server)
    await phone.set_offline(True)
    await page.locator("[data-criterion] label.choice-met").first.tap()
    await page.locator("[data-save]").tap()
    await wait_pending(page, 1)
    await page.locator("[data-logout] summary").tap()
    text = page.locator("[data-logout-text]")
    await page.wait_for_function(
        "() => document.querySelector('[data-logout-text]').textContent"
        ".includes('pas encore envoy')")
    assert "1 élément n'est pas encore envoyé" in await text.inner_text()
    await page.locator("[data-logout-confirm]").tap()
    await page.wait_for_function(
        "() => document.querySelector('[data-logout-text]').textContent.includes('Pas de réseau')")
    assert "/observe" in page.url  # still on the page, not the browser's error page
    await phone.set_offline(False)
    await wait_pending(page, 0, timeout_ms=30_000)
    await page.locator("[data-logout-confirm]").tap()
    await page.wait_for_url("**/login")


async def test_the_installed_apps_start_page_answers_everyone(phone, server):
    page = await phone.new_page()
    response = await page.goto("/tutor")
    assert response.status == 401
    assert await page.is_visible("form[action='/login'] #email")
    await page.fill("#email", "candidat@demo.test")
    await page.fill("#password", PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").tap()
    # Through /tutor, then the candidate's home (which opens her only enrolment).
    await page.wait_for_url(lambda url: "/tutor" not in url and "/login" not in url)
    home = page.url
    assert "/candidate" in home or "/enrolments/" in home, home
    response = await page.goto("/tutor")
    assert response.status == 200 and page.url == home
