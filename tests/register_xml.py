"""Synthetic register exports (France compétences flux 4.1 shape) for the import tests."""

from __future__ import annotations

from pathlib import Path

EXCERPT = Path(__file__).parent / "data" / "rncp35809_excerpt.xml"

RS_FICHE = """<FICHE>
  <NUMERO_FICHE>RS5678</NUMERO_FICHE>
  <INTITULE>Soudage semi-automatique &amp;eacute;l&amp;eacute;mentaire</INTITULE>
  <ETAT_FICHE>Publiée</ETAT_FICHE>
  <ACTIF>Oui</ACTIF>
  <CERTIFICATEURS><CERTIFICATEUR><NOM_CERTIFICATEUR>CPNE Métallurgie</NOM_CERTIFICATEUR>
  </CERTIFICATEUR></CERTIFICATEURS>
  <CAPACITES_ATTESTEES>&lt;ul&gt;&lt;li&gt;Préparer le poste de soudage&lt;/li&gt;
  &lt;li&gt;R&amp;eacute;aliser une soudure d&amp;#39;angle&amp;nbsp;&lt;/li&gt;&lt;/ul&gt;
  </CAPACITES_ATTESTEES>
  <MODALITES_EVALUATION>Mise en situation professionnelle</MODALITES_EVALUATION>
</FICHE>"""


def synthetic_fiche(i: int, blocks: int = 3) -> str:
    """A plausible RNCP fiche with HTML-list competencies; block codes repeat across
    fiches only through the number prefix (BC01, BC02...)."""
    items = "".join(
        f"<BLOC_COMPETENCES><CODE>RNCP{90000 + i}BC{b:02d}</CODE>"
        f"<LIBELLE>Bloc {b} de la fiche {i}</LIBELLE>"
        "<LISTE_COMPETENCES>&lt;p&gt;Le candidat sait :&lt;/p&gt;&lt;ul&gt;"
        + "".join(f"&lt;li&gt;Compétence {b}.{c} de la fiche {i} &amp;amp; suite&lt;/li&gt;"
                  for c in range(1, 6))
        + "&lt;/ul&gt;</LISTE_COMPETENCES>"
        f"<MODALITES_EVALUATION>Mise en situation {'x' * 400}</MODALITES_EVALUATION>"
        "</BLOC_COMPETENCES>" for b in range(1, blocks + 1))
    return (f"<FICHE><ID_FICHE>{i}</ID_FICHE><NUMERO_FICHE>RNCP{90000 + i}</NUMERO_FICHE>"
            f"<INTITULE>Certification synthétique {i}</INTITULE>"
            "<NOMENCLATURE_EUROPE><NIVEAU>NIV4</NIVEAU></NOMENCLATURE_EUROPE>"
            f"<CODES_ROME><ROME><CODE>H{2900 + i % 50}</CODE><LIBELLE>Métier</LIBELLE></ROME>"
            "</CODES_ROME><CODES_NSF><NSF><CODE>254</CODE><LIBELLE>Structures métalliques"
            f"</LIBELLE></NSF></CODES_NSF><OBJECTIFS_CONTEXTE>{'Contexte. ' * 1000}"
            "</OBJECTIFS_CONTEXTE>"
            f"<BLOCS_COMPETENCES>{items}</BLOCS_COMPETENCES><ACTIF>Oui</ACTIF>"
            "<DATE_EFFET>01/09/2021</DATE_EFFET></FICHE>")


def write_export(path: Path, count: int, *, extra: str = "") -> Path:
    """An export of `count` synthetic fiches (written piece by piece, never whole in memory)."""
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<FICHES><VERSION_FLUX>4.1'
                  "</VERSION_FLUX>\n")
        for i in range(count):
            out.write(synthetic_fiche(i))
            out.write("\n")
        out.write(extra)
        out.write("</FICHES>\n")
    return path
