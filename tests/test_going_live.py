"""Going live: `carnet init` and its setup link, further branches and administrators, the
branch's settings, and the page a fresh server shows before any branch exists."""

from __future__ import annotations

import io
import re

from PIL import Image

from backend.cli_ops import admin_invite_report, branch_create_report, init_report
from backend.models import AdminGrant, AuditEvent, Invitation, Organisation, Person
from tests import factories as f

LINK = re.compile(r"/invitation/([A-Za-z0-9_-]{20,})")
STRONG = "un mot de passe long et sûr 42"


async def test_fresh_server_says_what_to_run(client):
    page = await client.get("/")
    assert page.status_code == 200
    assert "carnet init --branch" in page.text


async def test_init_prints_a_single_use_setup_link_that_logs_the_admin_in(client, settings):
    settings = settings.with_(public_url="https://carnet.example")
    code, lines = await init_report(settings, "CPNE du bâtiment", "Boss@Example.org", "")
    assert code == 0, lines
    token = LINK.search("\n".join(lines))[1]
    assert any(line.startswith("https://carnet.example/invitation/") for line in lines)
    invitation = await Invitation.get(email="boss@example.org")
    assert invitation.token_hash != token and token not in invitation.token_hash
    assert invitation.invited_by_id is None and invitation.role == "admin"
    # Refused politely the second time: nothing more is written.
    again = await init_report(settings, "Autre", "other@example.org", "")
    assert again[0] == 1 and "already initialised" in again[1][0]
    assert await Organisation.filter(kind="branch").count() == 1

    answer = await client.post(f"/invitation/{token}", data={
        "action": "create", "password": STRONG, "password_again": STRONG})
    assert answer.status_code == 303, answer.text
    assert (await client.get("/admin")).status_code == 200  # logged in, administrator
    person = await Person.get(email="boss@example.org")
    assert await AdminGrant.filter(person=person).exists()
    # Single use.
    assert (await client.get(f"/invitation/{token}")).status_code == 410
    # Never in the audit log either.
    payloads = [str(e.payload) + e.subject for e in await AuditEvent.all()]
    assert not [p for p in payloads if token in p]


async def test_further_branches_and_administrators(client, settings):
    assert (await branch_create_report(settings, "Première"))[0] == 0
    code, lines = await admin_invite_report(settings, "a@example.org", None, "")
    assert code == 0 and LINK.search(lines[1])
    assert (await branch_create_report(settings, "Seconde"))[0] == 0
    code, lines = await admin_invite_report(settings, "b@example.org", None, "")
    assert code == 1 and "--branch" in lines[0]  # two branches: name one
    code, lines = await admin_invite_report(settings, "b@example.org", "Seconde", "Bea B")
    assert code == 0
    assert (await Invitation.get(email="b@example.org")).full_name == "Bea B"
    code, lines = await admin_invite_report(settings, "b@example.org", "Nope", "")
    assert code == 1


def png(size=(60, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "navy").save(buf, "PNG")
    return buf.getvalue()


async def test_admin_renames_a_branch_and_sets_what_its_pdfs_print(client):
    w = await f.world()
    await f.login(client, w.admin)
    url = f"/admin/branches/{w.branch.id}"
    assert (await client.get(url)).status_code == 200
    bad = await client.post(url, data={"name": "X", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422 and "Fuseau" in bad.text
    ok = await client.post(url, data={"name": "CPNE renommée", "address": "1 rue de la Paix",
                                      "contact": "secretariat@cpne.test",
                                      "time_zone": "America/Cayenne"},
                           files={"logo": ("logo.png", png(), "image/png")})
    assert ok.status_code == 303, ok.text
    branch = await Organisation.get(id=w.branch.id)
    assert (branch.name, branch.time_zone, branch.logo_type) == (
        "CPNE renommée", "America/Cayenne", "image/png")
    assert await AuditEvent.filter(action="branch.updated").exists()
    refused = await client.post(url, data={"name": "CPNE", "time_zone": "Europe/Paris"},
                                files={"logo": ("x.png", b"<svg/>", "image/png")})
    assert refused.status_code == 422
    # Another branch's settings are not there for this admin.
    other = await f.branch("Autre branche")
    assert (await client.get(f"/admin/branches/{other.id}")).status_code == 404
    created = await client.post("/admin/branches/new", data={"name": "Nouvelle"})
    assert created.status_code == 303
    assert await AdminGrant.filter(person_id=w.admin.id).count() == 2


async def test_the_branch_logo_address_and_contact_are_printed_on_its_pdfs(app):
    import pypdf

    from backend import documents

    branch = await f.branch("CPNE au logo")
    await Organisation.filter(id=branch.id).update(
        logo=png((120, 40)), logo_type="image/png", address="12 rue des Forges\n75011 Paris",
        contact="secretariat@cpne.test")
    branch = await Organisation.get(id=branch.id)
    data = documents.render_pdf(app.state.templates.env, "documents/_base.html",
                                {"branch": branch}, app.state.photo_store)
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    text = page.extract_text()
    assert "CPNE au logo" in text and "75011 Paris" in text and "secretariat@cpne.test" in text
    assert len(page.images) == 1  # the logo, loaded from its data: URL and nothing else
