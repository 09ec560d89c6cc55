"""The public catalogue: what a person without an account finds, in French and English,
what the branch admin decides (status per version, figures published), and the messages."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

from backend.auth import utcnow
from backend.domain import cqps
from backend.models import CatalogueContact, Decision, Dossier
from tests import factories as f

CQP = "/catalogue/CQP-FIOMB"
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


async def test_anyone_finds_the_cqps_and_what_each_requires(client, db):
    home = await client.get("/")
    assert 'href="/catalogue"' in home.text
    index = await client.get("/catalogue")
    assert index.status_code == 200
    assert f'href="{CQP}"' in index.text and "<article>" in index.text
    assert 'type="application/atom+xml"' in index.text
    page = await client.get(CQP)
    assert page.status_code == 200
    for text in ("Fabriquer en atelier", "Métallier ou métallière", "12 à 18 mois",
                 "Entièrement en situation de travail", "aucun diplôme exigé",
                 "Convention collective", "BC01 — Préparer la réalisation",
                 "Reconnu dans la branche", 'id="contact"', 'name="consent"'):
        assert text in page.text, text
    data = json.loads(JSON_LD.search(page.text).group(1))
    assert data["@type"] == "EducationalOccupationalCredential"
    assert data["url"].endswith(CQP) and data["identifier"] == "CQP-FIOMB"
    assert "Métallier ou métallière" in data["occupationalCategory"]
    assert (await client.get("/catalogue/NOPE")).status_code == 404


async def test_the_catalogue_speaks_english(client, db):
    page = await client.get(CQP, params={"lang": "en"})
    assert '<html lang="en">' in page.text
    for text in ("Target jobs", "How to obtain it", "Interested?", "I agree that",
                 'href="?" hreflang="fr"'):
        assert text in page.text, text
    assert "Métallier ou métallière" in page.text  # the referential's own words stay French
    index = await client.get("/catalogue", params={"lang": "en"})
    assert "CQP catalogue" in index.text and f'href="{CQP}?lang=en"' in index.text


async def test_the_json_endpoint_and_the_atom_feed(client, db):
    listed = (await client.get("/api/v1/catalogue")).json()["items"]
    assert [e["code"] for e in listed] == ["CQP-FIOMB"]
    entry = listed[0]
    assert entry["assessment"] == "work_situations" and entry["figures"] is None
    assert entry["blocks"][0]["code"] == "BC01" and entry["blocks"][0]["competencies"]
    assert entry["register"] == {"kind": "transmitted", "number": None, "level": None,
                                 "url": None}
    feed = await client.get("/catalogue/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    assert entries[0].find("a:link", ns).get("href").endswith(CQP)


async def test_the_admin_closes_a_version_and_publishes_figures(client, db):
    w = await f.world()
    await f.login(client, w.admin)
    dashboard = await client.get("/admin")
    assert '/admin/catalogue"' in dashboard.text
    closed = await client.post("/admin/catalogue/CQP-FIOMB/2026-1/status",
                               data={"status": "closed"})
    assert closed.status_code == 303
    assert (await client.get("/api/v1/catalogue")).json() == {"items": []}
    assert (await client.get(CQP)).status_code == 404
    assert "fermé aux nouveaux candidats" in (await client.get("/admin/catalogue")).text
    assert (await client.post("/admin/catalogue/CQP-FIOMB/2026-1/status",
                              data={"status": "open"})).status_code == 303
    # Two blocks validated for the candidate (of four), one not: 1 holder once all four are.
    referential = client._transport.app.state.registry.get("CQP-FIOMB", "2026-1")
    at = datetime(2026, 6, 1, tzinfo=UTC)
    for i, block in enumerate(b.code for b in referential.blocks):
        await decide(w, block, "validated", at + timedelta(days=i))
    await decide(w, referential.blocks[0].code, "not_validated", at, enrolment=w.other_enrolment)
    assert "Chiffres publiés" not in (await client.get(CQP)).text
    assert (await client.post("/admin/catalogue/CQP-FIOMB/figures",
                              data={"publish": "yes"})).status_code == 303
    page = await client.get(CQP)
    assert "Chiffres publiés par la branche" in page.text
    assert "<td>2026</td><td>1</td>" in page.text
    assert "80 % des blocs présentés (5 décisions)" in page.text
    figures = (await client.get("/api/v1/catalogue")).json()["items"][0]["figures"]
    assert figures == {"holders_per_year": {"2026": 1}, "success_rate": 0.8}
    bad = await client.post("/admin/catalogue/CQP-FIOMB/2026-1/status", data={"status": "x"})
    assert bad.status_code == 422


async def test_another_branch_cannot_manage_a_claimed_cqp(client, db):
    w = await f.world()
    other = await f.world()
    await f.login(client, w.admin)
    await client.post("/admin/catalogue/CQP-FIOMB/figures", data={"publish": "yes"})
    client.cookies.clear()
    await f.login(client, other.admin)
    refused = await client.post("/admin/catalogue/CQP-FIOMB/figures", data={})
    assert refused.status_code == 404
    assert "CQP-FIOMB</h2>" not in (await client.get("/admin/catalogue")).text


async def decide(w, block: str, outcome: str, at: datetime, enrolment=None) -> None:
    dossier = await Dossier.create(enrolment=enrolment or w.enrolment, block_code=block,
                                   manifest={}, manifest_sha256="d" * 64, submitted_by=w.tutor,
                                   submitted_at=at)
    await Decision.create(dossier=dossier, outcome=outcome, decided_by=w.jury_employer,
                          decided_at=at, manifest_sha256="d" * 64)


async def test_a_visitor_writes_to_the_branch(client, db, monkeypatch):
    w = await f.world()
    sent = []

    async def fake_send(url, message):
        sent.append(message)

    monkeypatch.setattr("backend.mail.send", fake_send)
    app = client._transport.app
    monkeypatch.setattr(app.state, "settings",
                        replace(app.state.settings, smtp_url="smtp://mail.example.test:587"))
    refused = await client.post(f"{CQP}/contact", data={"full_name": "", "email": "nope"})
    assert refused.status_code == 422
    for text in ("indiquez une adresse électronique valide", "cochez la case d"):
        assert text in refused.text, text
    form = {"kind": "company", "full_name": "Jeanne Patron", "email": "jeanne@acier.test",
            "organisation": "Acier SARL", "message": "Nous aimerions former deux salariés.",
            "consent": "yes"}
    done = await client.post(f"{CQP}/contact", data=form)
    assert done.status_code == 303 and done.headers["location"].startswith(f"{CQP}?sent=1")
    contact = await CatalogueContact.get()
    assert contact.email == "jeanne@acier.test" and "12 mois" in contact.consent
    assert [m["To"] for m in sent] == [w.admin.email]
    assert sent[0]["Reply-To"] == "jeanne@acier.test"
    # Robots filling the hidden field are thanked and forgotten.
    await client.post(f"{CQP}/contact", data={**form, "website": "http://spam.test"})
    assert await CatalogueContact.all().count() == 1
    await f.login(client, w.admin)
    assert "Nous aimerions former deux salariés." in (await client.get("/admin/catalogue")).text
    # Kept twelve months, then purged.
    assert await cqps.purge_contacts(utcnow() + timedelta(days=200), dry_run=True) == 0
    assert await cqps.purge_contacts(utcnow() + timedelta(days=400), dry_run=False) == 1


def test_no_date_leaks_into_the_feed_without_rows():
    assert cqps.feed_time(cqps.VersionState(None, "open", None, None, None, None), 0) == \
        datetime(1970, 1, 1, tzinfo=UTC)
    assert date(2026, 1, 1).year == 2026
