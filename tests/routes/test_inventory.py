"""The inventory (état des lieux): figures per CQP version from SQL aggregates, the page with
its charts, and the CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook

from backend.auth import utcnow
from backend.domain.inventory import percentile
from backend.models import Decision, Dossier, Enrolment, Observation
from tests import factories as f


def test_percentiles_interpolate_like_postgresql():
    assert percentile([], 50) is None
    assert percentile([10], 90) == 10
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile(list(range(1, 11)), 90) == 9.1


async def observe(e, author, on: date, ratings: dict) -> None:
    await Observation.create(id=uuid.uuid4(), enrolment=e, author=author, author_role="tutor",
                             kind="observation", referential_version=e.referential_version,
                             observed_on=on, situation="s", ratings=ratings,
                             content_sha256=uuid.uuid4().hex * 2)


async def decide(e, w, block: str, outcome: str, at: datetime) -> None:
    dossier = await Dossier.create(enrolment=e, block_code=block, manifest={},
                                   manifest_sha256="d" * 64, submitted_by=w.tutor,
                                   submitted_at=at)
    await Decision.create(dossier=dossier, outcome=outcome, decided_by=w.jury_employer,
                          decided_at=at, manifest_sha256="d" * 64)


async def test_the_admin_reads_and_exports_the_inventory(client, db):
    w = await f.world()
    app = client._transport.app
    ref = app.state.registry.get("CQP-FIOMB", "2026-1")
    today = utcnow().date()
    e1, e2 = w.enrolment, w.other_enrolment
    e1.started_on = today - timedelta(days=300)
    await e1.save()
    e2.started_on = today - timedelta(days=400)
    await e2.save()
    await observe(e1, w.tutor, today - timedelta(days=10), {"C1.1.a": "met"})
    await observe(e2, w.other_tutor, today - timedelta(days=200), {"C1.1.c": "met"})
    at = datetime.combine(today - timedelta(days=20), datetime.min.time(), tzinfo=UTC)
    for block in ref.blocks:
        await decide(e1, w, block.code, "validated", at)
    await decide(e2, w, ref.blocks[0].code, "not_validated", at)
    await f.login(client, w.admin)
    assert "/admin/inventory\"" in (await client.get("/admin")).text
    assert f"/admin/enrolments/{e1.id}/route" in (await client.get(
        f"/admin/enrolments/{e1.id}")).text
    assert (await client.post(f"/admin/enrolments/{e1.id}/route",
                              data={"route": "job_seeker"})).status_code == 303
    assert 'value="job_seeker" selected' in (await client.get(
        f"/admin/enrolments/{e1.id}/route")).text
    assert f"/admin/companies/{w.company.id}/size" in (await client.get(
        f"/admin/companies/{w.company.id}")).text
    assert (await client.post(f"/admin/companies/{w.company.id}/size",
                              data={"band": "1-10"})).status_code == 303
    assert (await client.post(f"/admin/companies/{w.company.id}/size",
                              data={"band": "huge"})).status_code == 422
    page = await client.get("/admin/inventory")
    assert page.status_code == 200
    for text in ("CQP-FIOMB — version 2026-1", "<svg", "Exporter en XLSX",
                 "/admin/figures", "Médiane : 280 jours"):
        assert text in page.text, text
    sheet = await client.get("/admin/inventory.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.text.lstrip("\ufeff")), delimiter=";"))
    header, line = rows[0], rows[1]
    got = dict(zip(header, line, strict=False))
    assert got["CQP"] == "CQP-FIOMB" and got["statut"] == "open"
    assert (got["inscrits"], got["actifs 90 j"], got["dossier présenté"], got["bloc validé"],
            got["certifiés"], got["abandons"], got["entreprises"], got["salariés"],
            got["demandeurs d'emploi"], got["parcours non renseigné"]) == \
        ("2", "1", "2", "1", "1", "1", "2", "0", "1", "1")
    assert ["1 à 10 salariés", "1"] in rows and ["non renseigné", "1"] in rows
    assert got["jours jusqu'à la certification (médiane)"] == "280"
    never = got["critères jamais observés"].split()
    assert "C1.1.a" not in never and "C1.1.c" not in never and len(never) == \
        len(ref.criteria()) - 2
    blocks = rows[rows.index([]) + 2:]
    first = dict(zip(rows[rows.index([]) + 1], blocks[0], strict=False))
    assert (first["bloc"], first["candidats présentés"], first["validés"],
            first["taux de réussite"]) == (ref.blocks[0].code, "2", "1", "50")
    book = await client.get("/admin/inventory.xlsx")
    workbook = load_workbook(io.BytesIO(book.content))
    assert workbook.sheetnames == ["CQP et versions", "Blocs", "Entreprises"]
    values = [c.value for c in workbook["CQP et versions"][2]]
    assert values[0] == "CQP-FIOMB" and values[11] == 2
    assert await Enrolment.all().count() == 2
