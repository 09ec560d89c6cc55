"""The office (issue section 5): the admin invites a tutor, enrols a candidate with that
tutor before the invitation is accepted (the enrolment waits for them, and says so), the
tutor accepts and lands on their home, logged in, with a first-time hint; the pickers list
a company's people with a search field and no preselected certificate; the dashboard says
what waits; the admin's menu stays the admin's. Closing a session: tests/routes/test_office.py."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import TIMEOUT_MS, log_in

pytestmark = pytest.mark.browser

ADMIN = "admin@demo.test"
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture
async def office(browser, server):
    ctx = await browser.new_context(base_url=server.url, viewport=DESKTOP, locale="fr-FR",
                                    timezone_id="Europe/Paris")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    try:
        yield ctx
    finally:
        await ctx.close()


async def test_an_enrolment_waits_for_its_invited_tutor_who_lands_home_with_a_hint(
        office, browser, server):
    page = await office.new_page()
    await log_in(page, "/admin", ADMIN)
    # The dashboard says what waits, each with a link.
    waiting = page.locator("[data-waiting]")
    assert await waiting.is_visible()

    # Invite a tutor of the demo company.
    suffix = uuid.uuid4().hex[:6]
    email = f"tuteur-{suffix}@demo.test"
    await page.goto("/admin/people/invite")
    await page.fill("#full_name", f"Théo Invité {suffix}")
    await page.fill("#email", email)
    await page.select_option("#role", "tutor")
    await page.select_option("#company", label="Métallerie Durand")
    await page.click("form.panel button[type=submit]")
    link = (await page.inner_text("#invitation-link")).strip()

    # Enrol a candidate with that tutor, whose invitation is still pending.
    await page.goto("/admin/enrolments/new")
    assert await page.eval_on_selector("#referential", "s => s.value") == ""  # no preselection
    assert await page.is_visible("[data-picker-search=candidate]")
    # The candidate picker lists the company's people only, grouped by company.
    groups = await page.eval_on_selector_all("#candidate optgroup", "gs => gs.map(g => g.label)")
    assert groups and "Métallerie Durand" in groups, groups
    await page.fill("[data-picker-search=candidate]", "Camille")
    assert "Camille Candidate" in await page.eval_on_selector(
        "#candidate", "s => s.selectedOptions[0].textContent")
    await page.select_option("#company", label="Métallerie Durand")
    await page.select_option("#referential", index=1)
    await page.select_option("#access_route", "afest")
    await page.fill("#started_on", "2026-01-05")
    await page.select_option("#tutor-1", value=await page.eval_on_selector(
        "#tutor-1", "(s, e) => [...s.options].find(o => o.textContent.includes(e)).value", email))
    await page.fill("#designated-1", "2026-01-05")
    await page.click("form.panel button[type=submit]")
    await page.wait_for_url("**/admin/enrolments/*")
    pending = page.locator("[data-pending-tutors]")
    text = await pending.inner_text()
    assert email in text and "pas encore acceptée" in text
    enrolment_url = page.url

    # The tutor accepts: home, logged in, with the first-time hint and the candidate.
    tutor = await browser.new_context(base_url=server.url, viewport={"width": 360, "height": 740},
                                      locale="fr-FR")
    try:
        newcomer = await tutor.new_page()
        await newcomer.goto(link)
        await newcomer.fill("#password", "un mot de passe assez long 42")
        await newcomer.fill("#password_again", "un mot de passe assez long 42")
        await newcomer.click("form button[type=submit]")
        await newcomer.wait_for_url("**/tutor?welcome=1")
        assert "Observer" in await newcomer.inner_text("[data-welcome]")
        assert await newcomer.locator("a[data-observe]").count() >= 1
    finally:
        await tutor.close()
    await page.goto(enrolment_url)
    assert await page.locator("[data-pending-tutors]").count() == 0
    assert f"Théo Invité {suffix}" in await page.inner_text("main")


async def test_the_admins_menu_stays_on_a_page_about_a_tutor(office, server):
    page = await office.new_page()
    await log_in(page, "/admin", ADMIN)
    await page.goto("/admin/people?q=Thierry")
    await page.click("main a:has-text('Thierry Tuteur')")
    await page.wait_for_url("**/admin/people/*")
    menu = await page.inner_text("header nav.menu")
    assert "Administration" in menu and "Mes candidats" not in menu
