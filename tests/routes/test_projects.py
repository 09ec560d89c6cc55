"""A new CQP as a project: its opportunity report from draft to the CPNE's decision, the
register searched for existing certifications, the PDF, and the rule that only an approved
report lets a version open to candidates."""

from __future__ import annotations

import io
from dataclasses import replace

from pypdf import PdfReader

from backend.domain import certifications
from backend.domain.referentials import Registry
from backend.domain.register import iter_fiches
from backend.models import OpportunityReport
from tests import factories as f
from tests.register_xml import EXCERPT

FULL = {"need_jobs": "Poseurs de menuiseries aluminium qualifiés.",
        "evidence_job_offers": "120 offres non pourvues en 2026 (France Travail).",
        "target_public": "Salariés de la branche et demandeurs d'emploi.",
        "expected_per_year": "40", "companies_consulted": "Alu Ouest, Menuiseries Martin.",
        "assessment_mode": "Entièrement en situation de travail."}


async def test_a_project_opens_only_once_the_cpne_approves_its_report(client, db):
    w = await f.world()
    await certifications.import_fiches(iter_fiches(str(EXCERPT)))
    app = client._transport.app
    fiomb = app.state.registry.get("CQP-FIOMB", "2026-1")
    app.state.registry = Registry([fiomb, replace(fiomb, code="CQP-ALU", title="Poseur alu")])
    await f.login(client, w.admin)
    assert "/admin/projects\"" in (await client.get("/admin")).text
    made = await client.post("/admin/projects/new", data={"code": "CQP-ALU",
                                                          "title": "Poseur alu"})
    assert made.status_code == 303
    url = made.headers["location"]
    report = await OpportunityReport.get()
    assert url == f"/admin/projects/{report.id}" and report.state == "draft"
    # Born as a project: its loaded version is a project, not in the catalogue, cannot open.
    assert [e["code"] for e in (await client.get("/api/v1/catalogue")).json()["items"]] == \
        ["CQP-FIOMB"]
    refused = await client.post("/admin/catalogue/CQP-ALU/2026-1/status", data={"status": "open"})
    assert refused.status_code == 409 and "rapport d&#39;opportunité" in refused.text.replace(
        "'", "&#39;")
    incomplete = await client.post(f"{url}/submit", data={})
    assert incomplete.status_code == 422 and "le besoin observé" in incomplete.text
    assert (await client.post(f"{url}/save", data=FULL)).status_code == 303
    found = await client.get(url, params={"q": "finition"})
    assert "RNCP35809" in found.text
    assert (await client.post(f"{url}/existing", data={"number": "RNCP35809"})).status_code == 303
    still = await client.post(f"{url}/submit", data={})
    assert still.status_code == 422 and "chacune avec la raison" in still.text
    await client.post(f"{url}/save", data={**FULL, "why_RNCP35809": "Un BTS, pas la pose."})
    assert (await client.post(f"{url}/submit", data={})).status_code == 303
    assert (await client.post(f"{url}/save", data=FULL)).status_code == 409  # frozen now
    bad = await client.post(f"{url}/decision", data={"outcome": "approved", "cpne_date": "x",
                                                     "cpne_minutes": "PV 12"})
    assert bad.status_code == 422
    assert (await client.post(f"{url}/decision", data={
        "outcome": "approved", "cpne_date": "2026-10-14",
        "cpne_minutes": "PV CPNE 2026-07"})).status_code == 303
    report = await OpportunityReport.get()
    assert report.state == "approved" and str(report.cpne_date) == "2026-10-14"
    assert report.existing[0]["why_not"] == "Un BTS, pas la pose."
    assert (await client.post("/admin/catalogue/CQP-ALU/2026-1/status",
                              data={"status": "open"})).status_code == 303
    codes = [e["code"] for e in (await client.get("/api/v1/catalogue")).json()["items"]]
    assert codes == ["CQP-ALU", "CQP-FIOMB"]
    pdf = await client.get(f"{url}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for part in ("Rapport préalable d'opportunité", "Poseur alu", "RNCP35809",
                 "PV CPNE 2026-07", "Alu Ouest"):
        assert part in text, part


async def test_another_branch_never_sees_a_project(client, db):
    w, other = await f.world(), await f.world()
    await f.login(client, w.admin)
    made = await client.post("/admin/projects/new", data={"code": "CQP-X", "title": "X"})
    url = made.headers["location"]
    taken = await client.post("/admin/projects/new", data={"code": "CQP-X", "title": "Y"})
    assert taken.status_code == 409
    client.cookies.clear()
    await f.login(client, other.admin)
    for method, path in (("GET", url), ("POST", f"{url}/save"), ("GET", f"{url}/report.pdf")):
        assert (await client.request(method, path)).status_code == 404
    assert "CQP-X" not in (await client.get("/admin/projects")).text
