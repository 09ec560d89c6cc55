"""The imported national register: the import (rerunnable, keyed on fiche number and block
code), the admin's search and fiche pages, and the draft referential they hand out."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from backend.domain import certifications
from backend.domain.referentials import ReferentialError, parse_referential
from backend.domain.register import iter_fiches
from backend.models import RegisterBlock, RegisterCertification
from tests import factories as f
from tests.register_xml import EXCERPT, RS_FICHE, synthetic_fiche


def export(*fiches: str) -> io.BytesIO:
    return io.BytesIO(f"<FICHES>{''.join(fiches)}</FICHES>".encode())


async def test_the_import_is_rerunnable_and_keys_blocks_on_fiche_and_code(db):
    first = await certifications.import_fiches(iter_fiches(str(EXCERPT)))
    assert (first.read, first.added, first.blocks) == (1, 1, 4)
    again = await certifications.import_fiches(iter_fiches(str(EXCERPT)))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    # Two fiches with the same block codes (BC01...) coexist; a changed fiche is updated.
    changed = synthetic_fiche(1).replace("Certification synthétique 1", "Titre revu")
    count = await certifications.import_fiches(iter_fiches(export(
        synthetic_fiche(1), synthetic_fiche(2), RS_FICHE)))
    assert (count.added, count.blocks) == (3, 6)
    count = await certifications.import_fiches(iter_fiches(export(changed, synthetic_fiche(2))))
    assert (count.added, count.updated, count.unchanged) == (0, 1, 1)
    assert await RegisterCertification.all().count() == 4
    assert await RegisterBlock.all().count() == 10
    assert (await RegisterCertification.get(number="RNCP90001")).title == "Titre revu"
    codes = await RegisterBlock.filter(certification_id="RNCP90001").values_list("code", flat=True)
    assert sorted(codes) == ["RNCP90001BC01", "RNCP90001BC02", "RNCP90001BC03"]


async def test_search_ignores_case_and_accents_and_matches_codes(db):
    await certifications.import_fiches(iter_fiches(export(RS_FICHE, synthetic_fiche(3))))
    await certifications.import_fiches(iter_fiches(str(EXCERPT)))
    numbers = lambda found: [c.number for c in found]  # noqa: E731
    assert numbers(await certifications.search("amenagement BATIMENTS")) == ["RNCP35809"]
    assert numbers(await certifications.search("F1202")) == ["RNCP35809"]
    assert numbers(await certifications.search("rs5678")) == ["RS5678"]
    assert numbers(await certifications.search("métallurgie soudage")) == ["RS5678"]
    assert numbers(await certifications.search("nothing here")) == []


async def test_the_admin_finds_a_fiche_and_downloads_its_draft(client, db):
    w = await f.world()
    await certifications.import_fiches(iter_fiches(str(EXCERPT)))
    await f.login(client, w.admin)
    dashboard = await client.get("/admin")
    assert '/admin/register"' in dashboard.text
    found = await client.get("/admin/register", params={"q": "finition"})
    assert found.status_code == 200 and '/admin/register/RNCP35809"' in found.text
    page = await client.get("/admin/register/RNCP35809")
    assert page.status_code == 200
    for text in ("Répondre à un projet", "Analyser le dossier de l&#39;affaire", "F1202",
                 "https://www.francecompetences.fr/recherche/rncp/35809/",
                 '/admin/register/RNCP35809/draft.yaml"'):
        assert text in page.text, text
    draft = await client.get("/admin/register/RNCP35809/draft.yaml")
    assert draft.status_code == 200
    assert draft.headers["content-disposition"].startswith('attachment; filename="RNCP35809-')
    try:
        parse_referential(draft.text, "draft.yaml")
    except ReferentialError as exc:
        assert len(exc.faults) == 49
    missing = await client.get("/admin/register/RNCP1")
    assert missing.status_code == 404


def test_one_command_turns_a_fiche_into_a_draft_and_check_lists_what_is_left(tmp_path):
    env = {**os.environ, "CARNET_DATABASE_URL": f"sqlite://{tmp_path}/r.sqlite3",
           "CARNET_DATA_DIR": str(tmp_path)}

    def carnet(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    assert carnet("migrate").returncode == 0
    for _ in range(2):  # rerunnable
        done = carnet("register", "import", str(EXCERPT))
        assert done.returncode == 0, done.stderr
    assert "1 fiches read: 0 added, 0 updated, 1 unchanged" in done.stdout
    assert "fiches" in done.stderr  # the progress bar
    done = carnet("referential", "draft", "RNCP35809", "--version", "2027-1")
    assert done.returncode == 0, done.stderr
    assert "wrote RNCP35809-2027-1.yaml: 4 blocks, 49 competencies, 49 items" in done.stdout
    assert carnet("referential", "draft", "RNCP35809", "--version", "2027-1").returncode == 1
    check = carnet("referential", "check", "RNCP35809-2027-1.yaml")
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert lines[0].startswith("RNCP35809-2027-1.yaml:") and "criterion C1.1.a" in lines[0]
    assert lines[-1].startswith("49 item(s) still marked TODO")
    assert carnet("referential", "draft", "RNCP404").returncode == 1
    bad = tmp_path / "bad.xml"
    bad.write_text("<FICHES><FICHE>")
    assert carnet("register", "import", str(bad)).returncode == 1
