"""The national register's XML: fiches read as a stream, competencies split, drafts."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from backend.domain.referentials import ReferentialError, load_file, parse_referential
from backend.domain.register import (
    draft_referential,
    fiche_url,
    iter_fiches,
    parse_date,
    split_competencies,
)
from tests.register_xml import EXCERPT, RS_FICHE, synthetic_fiche, write_export

TODAY = date(2026, 11, 30)


def fiches_of(xml: str):
    return list(iter_fiches(io.BytesIO(xml.encode("utf-8"))))


def test_the_real_fiche_is_read_whole():
    [fiche] = list(iter_fiches(str(EXCERPT)))
    assert (fiche.number, fiche.kind, fiche.level, fiche.active) == ("RNCP35809", "rncp", 5, True)
    assert fiche.title == "Finition, aménagement des bâtiments : conception et réalisation"
    assert fiche.certifiers == ("MINISTERE DE L'ENSEIGNEMENT SUPERIEUR ET DE LA RECHERCHE",)
    assert [r.code for r in fiche.rome] == ["F1201", "F1202"]
    assert [n.code for n in fiche.nsf] == ["233"]
    assert (fiche.effective_on, fiche.ends_on) == (date(2021, 9, 1), date(2026, 8, 31))
    assert [b.code for b in fiche.blocks] == [f"RNCP35809BC0{i}" for i in range(1, 5)]
    assert [len(b.competencies) for b in fiche.blocks] == [9, 20, 6, 14]
    assert fiche.blocks[1].competencies[0] == "Valider une solution technique"  # spaces folded
    assert "Lire, décoder : un document, une information, une base de données..." in \
        fiche.blocks[1].competencies
    assert fiche.blocks[0].assessment.startswith("Scolaires")
    assert fiche.url == "https://www.francecompetences.fr/recherche/rncp/35809/"


@pytest.mark.parametrize(("text", "items"), [
    ("- Analyser  - Proposer une pré-réception  - Comparer", ["Analyser",
                                                              "Proposer une pré-réception",
                                                              "Comparer"]),
    ("<ul><li>Souder&nbsp;</li><li>Contr&ocirc;ler</li></ul>", ["Souder", "Contrôler"]),
    ("<p>Le candidat sait :</p><ul><li>A</li><li>B</li></ul>", ["A", "B"]),
    ("Préparer<br/>Réaliser<br>Contrôler", ["Préparer", "Réaliser", "Contrôler"]),
    ("Compétences :\n• Lire un plan\n• Tracer ;\n• Lire un plan", ["Lire un plan", "Tracer"]),
    ("", []), (None, []), ("   ", []),
])
def test_competency_lists_are_split_whatever_their_form(text, items):
    assert split_competencies(text) == items


def test_dates_and_urls():
    assert parse_date("31/08/2026") == date(2026, 8, 31)
    assert parse_date("31/02/2026") is None and parse_date("2026-08-31") is None
    assert fiche_url("RS5678") == "https://www.francecompetences.fr/recherche/rs/5678/"


def test_rs_fiches_without_blocks_and_missing_elements_are_read():
    xml = (f"<FICHES>{RS_FICHE}<FICHE><NUMERO_FICHE>RNCP1</NUMERO_FICHE></FICHE>"
           "<FICHE><INTITULE>sans numéro</INTITULE></FICHE>"
           "<FICHE><NUMERO_FICHE>RNCP2</NUMERO_FICHE><BLOCS_COMPETENCES><BLOC_COMPETENCES>"
           "<CODE>RNCP2BC01</CODE><LIBELLE>Vide</LIBELLE><LISTE_COMPETENCES/>"
           "</BLOC_COMPETENCES></BLOCS_COMPETENCES></FICHE></FICHES>")
    rs, bare, empty = fiches_of(xml)
    assert (rs.number, rs.kind, rs.level, rs.blocks) == ("RS5678", "rs", None, ())
    assert rs.title == "Soudage semi-automatique élémentaire"  # HTML entities decoded
    assert rs.capacities == ("Préparer le poste de soudage", "Réaliser une soudure d'angle")
    assert (bare.number, bare.title, bare.blocks, bare.certifiers) == ("RNCP1", "RNCP1", (), ())
    assert empty.blocks[0].competencies == ()


def test_a_draft_keeps_blocks_and_competencies_and_leaves_criteria_as_todo(tmp_path):
    [fiche] = list(iter_fiches(str(EXCERPT)))
    draft = draft_referential(fiche, "2026-1", TODAY)
    assert (draft.blocks, draft.competencies, draft.todos) == (4, 49, 49)
    with pytest.raises(ReferentialError) as refused:
        parse_referential(draft.text, "draft.yaml")
    faults = refused.value.faults
    assert len(faults) == 49 and all("is still to write: TODO" in f.message for f in faults)
    assert faults[0].message.startswith("criterion C1.1.a:")
    # Once the branch writes its criteria, the file loads as it is.
    path = tmp_path / "done.yaml"
    path.write_text(draft.text.replace("TODO: critère", "Critère"), encoding="utf-8")
    ref = load_file(path)
    assert (ref.code, ref.version, ref.register.kind, ref.register.number, ref.register.level) \
        == ("RNCP35809", "2026-1", "rncp", "RNCP35809", 5)
    assert [b.code for b in ref.blocks] == ["BC01", "BC02", "BC03", "BC04"]
    assert ref.blocks[0].title == "Répondre à un projet"
    assert ref.blocks[0].competencies[0].title == "Analyser le dossier de l'affaire"
    assert ref.blocks[2].note.startswith("Modalités d'évaluation au Répertoire : Scolaires")


def test_an_rs_fiche_without_blocks_drafts_one_block_from_its_capacities():
    [rs] = fiches_of(f"<FICHES>{RS_FICHE}</FICHES>")
    draft = draft_referential(rs, "1", TODAY)
    assert draft.blocks == 1 and draft.competencies == 2
    faults = pytest.raises(ReferentialError, parse_referential, draft.text, "rs.yaml").value
    assert {f.message.split(":")[0] for f in faults.faults} == {"criterion C1.1.a",
                                                                "criterion C1.2.a"}
    [empty] = fiches_of("<FICHES><FICHE><NUMERO_FICHE>RS9</NUMERO_FICHE></FICHE></FICHES>")
    text = draft_referential(empty, "1", TODAY).text
    faults = pytest.raises(ReferentialError, parse_referential, text, "rs9.yaml").value.faults
    assert [f.message.split(":")[0] for f in faults] == ["competency C1.1", "criterion C1.1.a"]


def test_block_notes_leave_the_digest_of_existing_files_unchanged():
    # The digest of the packaged file before block notes existed.
    assert load_file("assessments/CQP-FIOMB-2026-1.yaml").digest == \
        "cb3d54b1a7f363015e68167c962e8f0e713553bcb3477ec9171077aa3cf01abf"


def test_memory_does_not_grow_with_the_number_of_fiches(tmp_path):
    def peak(count: int) -> int:
        path = write_export(tmp_path / f"{count}.xml", count)
        tracemalloc.start()
        read = sum(1 for _ in iter_fiches(str(path)))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert read == count
        return top

    peak(3000)  # once first: lxml's and re's caches fill up (bounded), then stay
    small, large = peak(200), peak(3000)
    assert large < small * 1.5, (small, large)  # 15 times the fiches, not more memory


# The child's own peak (VmHWM of its process image): ru_maxrss of children would count the
# parent's pages shared at fork, before the child runs anything.
PEAK = ("import sys; from backend.cli import main; code = main(sys.argv[1:]); "
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))); "
        "sys.exit(code)")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_the_import_command_stays_under_200_mb(tmp_path):
    """Thousands of fiches (~45 MB) through `carnet register import` in a child process:
    its peak resident memory, interpreter and libraries included, stays under 200 MB."""
    path = write_export(tmp_path / "big.xml", 3000)
    assert path.stat().st_size > 30_000_000
    env = {**os.environ, "CARNET_DATABASE_URL": f"sqlite://{tmp_path}/r.sqlite3",
           "CARNET_DATA_DIR": str(tmp_path)}
    for args in (["migrate"], ["register", "import", "--quiet", str(path)]):
        done = subprocess.run([sys.executable, "-c", PEAK, *args], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    assert "3000 fiches read: 3000 added" in done.stdout
    peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", done.stdout).group(1))
    assert peak_kb < 200_000, f"{peak_kb} kB"


def test_synthetic_fiches_parse_like_real_ones():
    [fiche] = fiches_of(f"<FICHES>{synthetic_fiche(7)}</FICHES>")
    assert fiche.blocks[0].competencies[0] == "Compétence 1.1 de la fiche 7 & suite"
    assert len(fiche.blocks[0].competencies) == 5  # the intro "Le candidat sait :" is dropped
