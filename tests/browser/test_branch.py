"""The branch's pages in Chromium, on a phone-sized screen: from the admin's dashboard, by
links only, to the imported register, a fiche, and its draft referential."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.browser.conftest import (
    LAUNCH_ARGS,
    PHONE,
    ROOT,
    TIMEOUT_MS,
    log_in,
    running_server,
    seed,
    server_env,
)
from tests.register_xml import EXCERPT

ADMIN = "admin@demo.test"


@pytest.fixture(scope="module")
def branch_server(tmp_path_factory):
    """A server of its own: the demo data plus the register excerpt imported."""
    data_dir = tmp_path_factory.mktemp("branch-data")
    seed(data_dir)
    subprocess.run([sys.executable, "-m", "backend.cli", "register", "import", "--quiet",
                    str(EXCERPT)], cwd=ROOT, env=server_env(data_dir), check=True, timeout=120)
    with running_server(data_dir) as srv:
        yield srv


@pytest.fixture
async def phone(chromium, branch_server):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), headless=True,
                                          args=LAUNCH_ARGS)
        ctx = await browser.new_context(base_url=branch_server.url, viewport=PHONE,
                                        locale="fr-FR", accept_downloads=True)
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            yield await ctx.new_page()
        finally:
            await browser.close()


async def no_sideways_scroll(page) -> None:
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide"


async def test_the_admin_reaches_the_register_and_a_draft_by_links(phone, tmp_path):
    page = phone
    await log_in(page, "/admin", ADMIN)
    await page.get_by_role("link", name="Répertoire national").first.click()
    await page.wait_for_url("**/admin/register")
    await page.fill("#q", "aménagement bâtiments")
    await page.get_by_role("button", name="Rechercher").click()
    await page.get_by_role("link", name="RNCP35809").click()
    await page.wait_for_url("**/admin/register/RNCP35809")
    assert await page.get_by_role("heading", name="RNCP35809BC01 — Répondre à un projet") \
        .is_visible()
    await no_sideways_scroll(page)
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Télécharger un brouillon de référentiel").click()
    download = await downloading.value
    path = tmp_path / download.suggested_filename
    await download.save_as(path)
    assert path.name.startswith("RNCP35809-") and "TODO" in path.read_text(encoding="utf-8")


async def test_a_visitor_finds_a_cqp_on_a_phone_and_writes_to_the_branch(phone):
    page = phone
    await page.goto("/")
    await page.get_by_role("link", name="Catalogue des CQP").first.click()
    await page.wait_for_url("**/catalogue")
    await no_sideways_scroll(page)
    await page.get_by_role("link", name="Fabricant installateur d'ouvrages métalliques dans le "
                           "bâtiment").click()
    await page.wait_for_url("**/catalogue/CQP-FIOMB")
    assert await page.get_by_role("heading", name="Métiers visés").is_visible()
    await no_sideways_scroll(page)
    data = await page.evaluate(
        "() => JSON.parse(document.querySelector('script[type=\"application/ld+json\"]')"
        ".textContent)")
    assert data["@type"] == "EducationalOccupationalCredential"
    await page.get_by_role("link", name="English").click()
    await page.wait_for_url("**/catalogue/CQP-FIOMB?lang=en")
    assert await page.get_by_role("heading", name="Target jobs").is_visible()
    await page.get_by_label("for a company").check()
    await page.get_by_label("Name", exact=True).fill("Jeanne Patron")
    await page.get_by_label("E-mail address").fill("jeanne@acier.test")
    await page.get_by_label("Message", exact=True).fill("Two employees would like to start.")
    await page.get_by_label("I agree that").check()
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_url("**/catalogue/CQP-FIOMB?sent=1&lang=en#contact")
    assert await page.get_by_role("status").is_visible()
    await no_sideways_scroll(page)


async def test_the_admin_manages_the_catalogue_by_links(phone, branch_server):
    page = phone
    await log_in(page, "/admin", ADMIN)
    await page.get_by_role("link", name="Catalogue public").click()
    await page.wait_for_url("**/admin/catalogue")
    await no_sideways_scroll(page)
    await page.get_by_label("Version 2026-1").select_option("closed")
    await page.get_by_role("button", name="Enregistrer").first.click()
    await page.wait_for_url("**/admin/catalogue")
    assert branch_server.rows("SELECT status FROM certificate_version") == [("closed",)]
    await page.get_by_label("Version 2026-1").select_option("open")
    await page.get_by_role("button", name="Enregistrer").first.click()
    await page.wait_for_url("**/admin/catalogue")
    await page.get_by_role("link", name="Voir le catalogue public").click()
    await page.wait_for_url("**/catalogue")
    assert await page.get_by_role("link", name="Fabricant installateur", exact=False).is_visible()


async def test_the_admin_starts_a_project_and_reaches_its_report(phone):
    page = phone
    await log_in(page, "/admin", ADMIN)
    await page.get_by_role("link", name="Projets de CQP").click()
    await page.wait_for_url("**/admin/projects")
    await page.get_by_label("Code du futur CQP").fill("CQP-BROWSER")
    await page.get_by_label("Intitulé").fill("Projet vu au téléphone")
    await page.get_by_role("button", name="Créer le projet").click()
    await page.wait_for_url("**/admin/projects/*")
    assert await page.get_by_role("heading", name="CQP-BROWSER — Projet vu au téléphone") \
        .is_visible()
    await page.get_by_label("Emplois et compétences recherchés").fill("Poseurs")
    await page.get_by_role("button", name="Enregistrer le brouillon").click()
    await page.wait_for_url("**/admin/projects/*")
    await no_sideways_scroll(page)
    await page.fill("#q", "RNCP35809")
    await page.get_by_role("button", name="Rechercher").click()
    await page.get_by_role("button", name="Ajouter aux certifications étudiées").click()
    await page.wait_for_url("**/admin/projects/*")
    assert await page.get_by_label("RNCP35809", exact=False).first.is_visible()
    href = await page.get_by_role("link", name="Le rapport en PDF").get_attribute("href")
    pdf = await page.request.get(href)  # with the page's session
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")


async def test_the_admin_reads_the_inventory_on_a_phone(phone):
    page = phone
    await log_in(page, "/admin", ADMIN)
    await page.get_by_role("link", name="État des lieux des CQP").click()
    await page.wait_for_url("**/admin/inventory")
    assert await page.get_by_role("heading", name="CQP-FIOMB — version 2026-1").is_visible()
    assert await page.locator("svg.chart").count() >= 1
    await no_sideways_scroll(page)
    href = await page.get_by_role("link", name="Exporter en XLSX").get_attribute("href")
    book = await page.request.get(href)
    assert book.status == 200 and (await book.body()).startswith(b"PK")
