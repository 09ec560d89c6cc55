"""The national register (RNCP and Répertoire spécifique): reading France compétences'
open-data XML (flux version 4.1) and turning one fiche into a draft referential.

Pure: no ORM. `iter_fiches` reads a file handed in as a stream (lxml iterparse), clearing
each FICHE once read, so memory stays flat whatever the size of the export (~570 MB).
Every element but NUMERO_FICHE is optional: RS fiches often have no blocks, texts may
hold HTML lists (escaped in the XML) and HTML entities.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import IO, Any

import yaml
from lxml import etree
from lxml import html as lxml_html

from backend.domain.referentials import FORMAT

TODO = "TODO"
# The public page of a fiche, from its number (the register's own address scheme).
FICHE_URL = "https://www.francecompetences.fr/recherche/{kind}/{digits}/"


@dataclass(frozen=True)
class Coded:
    code: str
    label: str


@dataclass(frozen=True)
class FicheBlock:
    code: str
    title: str
    competencies: tuple[str, ...] = ()
    assessment: str = ""


@dataclass(frozen=True)
class Fiche:
    """One certification of the register, as much of it as Carnet uses."""

    number: str  # "RNCP35809", "RS5678"
    title: str
    kind: str  # "rncp" | "rs"
    abbreviation: str = ""
    level: int | None = None  # European level (3 to 8), RNCP only
    active: bool = False
    state: str = ""
    certifiers: tuple[str, ...] = ()
    rome: tuple[Coded, ...] = ()
    nsf: tuple[Coded, ...] = ()
    effective_on: date | None = None
    ends_on: date | None = None
    published_on: date | None = None
    jobs: str = ""
    activities: str = ""
    objectives: str = ""
    capacities: tuple[str, ...] = ()
    assessment: str = ""  # fiche-level assessment modes (RS fiches without blocks)
    statistics: tuple[dict[str, str], ...] = ()
    blocks: tuple[FicheBlock, ...] = field(default_factory=tuple)

    @property
    def url(self) -> str:
        return fiche_url(self.number)

    def details(self) -> dict[str, Any]:
        """The texts kept beside the indexed columns (JSON-ready)."""
        return {"jobs": self.jobs, "activities": self.activities, "objectives": self.objectives,
                "capacities": list(self.capacities), "assessment": self.assessment,
                "statistics": [dict(s) for s in self.statistics]}

    def search_text(self) -> str:
        words = [self.number, self.title, self.abbreviation, *self.certifiers,
                 *(c.code for c in self.rome), *(c.label for c in self.rome),
                 *(c.code for c in self.nsf)]
        return fold(" ".join(w for w in words if w))

    def sha256(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fiche_url(number: str) -> str:
    kind = "rs" if number.upper().startswith("RS") else "rncp"
    return FICHE_URL.format(kind=kind, digits=re.sub(r"\D", "", number))


def fold(text: str) -> str:
    """Lower case without accents, for searching ("Métallerie" matches "metal")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# --- texts -----------------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<\s*/?\s*(li|ul|ol|p|br|div|span|strong|em|b|i|u)\b[^>]*>", re.I)
_BULLET = re.compile(r"(?:^|\s)[-–—•·▪*]\s+")
_BLOCK_TAGS = ("p", "div", "li", "ul", "ol", "br")


def _html_lines(text: str) -> list[str]:
    """The text lines of an HTML fragment: one per list item, paragraph or <br>."""
    try:
        root = lxml_html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError):
        return [re.sub(r"<[^>]*>", " ", text)]
    items = [li.text_content() for li in root.iter("li")]
    if items:
        return items
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return root.text_content().split("\n")


def clean(text: str | None) -> str:
    """One paragraph of plain text: HTML tags dropped, entities decoded, spaces collapsed."""
    if not text:
        return ""
    if _HTML_TAG.search(text):
        text = " ".join(_html_lines(text))
    return " ".join(html.unescape(text).split())


def split_competencies(text: str | None) -> list[str]:
    """The items of a LISTE_COMPETENCES (or CAPACITES_ATTESTEES): an HTML list, lines, or
    "- A  - B" dashes on one line. Intro lines ending with ':' and repeats are dropped."""
    if not text or not text.strip():
        return []
    lines = _html_lines(text) if _HTML_TAG.search(text) else text.splitlines()
    items: list[str] = []
    for line in lines:
        for piece in _BULLET.split(html.unescape(line)):
            item = " ".join(piece.split()).strip(" ;,")
            if item and not item.endswith(":") and item not in items:
                items.append(item)
    return items


def parse_date(text: str | None) -> date | None:
    """The register's dates are dd/mm/yyyy; anything else (or nothing) is None."""
    match = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*", text or "")
    if not match:
        return None
    day, month, year = map(int, match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _level(text: str | None) -> int | None:
    digits = re.search(r"\d+", text or "")
    return int(digits.group()) if digits else None


# --- XML -------------------------------------------------------------------------------------


def _text(element: etree._Element, path: str) -> str:
    return clean(element.findtext(path))


def _coded(element: etree._Element, path: str) -> tuple[Coded, ...]:
    found = []
    for item in element.iterfind(path):
        code = _text(item, "CODE")
        if code:
            found.append(Coded(code, _text(item, "LIBELLE")))
    return tuple(found)


def _blocks(fiche: etree._Element) -> tuple[FicheBlock, ...]:
    blocks: list[FicheBlock] = []
    seen: set[str] = set()
    for position, element in enumerate(fiche.iterfind("BLOCS_COMPETENCES/BLOC_COMPETENCES"), 1):
        code = _text(element, "CODE") or f"BC{position:02d}"
        if code in seen:  # a fiche repeating a code keeps both blocks, told apart
            code = f"{code}-{position}"
        seen.add(code)
        blocks.append(FicheBlock(
            code=code, title=_text(element, "LIBELLE"),
            competencies=tuple(split_competencies(element.findtext("LISTE_COMPETENCES"))),
            assessment=_text(element, "MODALITES_EVALUATION")))
    return tuple(blocks)


def _statistics(fiche: etree._Element) -> tuple[dict[str, str], ...]:
    rows = []
    for promotion in fiche.iterfind("STATISTIQUES_PROMOTIONS/*"):
        row = {child.tag.lower(): clean(child.text) for child in promotion
               if isinstance(child.tag, str)}
        if row:
            rows.append(row)
    return tuple(rows)


def parse_fiche(element: etree._Element) -> Fiche | None:
    """One FICHE element; None when it has no NUMERO_FICHE (nothing to key it on)."""
    number = _text(element, "NUMERO_FICHE").replace(" ", "").upper()
    if not number:
        return None
    return Fiche(
        number=number,
        title=_text(element, "INTITULE") or number,
        kind="rs" if number.startswith("RS") else "rncp",
        abbreviation=_text(element, "ABREGE/CODE"),
        level=_level(element.findtext("NOMENCLATURE_EUROPE/NIVEAU")),
        active=_text(element, "ACTIF").casefold() == "oui",
        state=_text(element, "ETAT_FICHE"),
        certifiers=tuple(n for n in (_text(c, "NOM_CERTIFICATEUR") for c in
                                     element.iterfind("CERTIFICATEURS/CERTIFICATEUR")) if n),
        rome=_coded(element, "CODES_ROME/ROME"),
        nsf=_coded(element, "CODES_NSF/NSF"),
        effective_on=parse_date(element.findtext("DATE_EFFET")),
        ends_on=parse_date(element.findtext("DATE_FIN_ENREGISTREMENT")),
        published_on=parse_date(element.findtext("DATE_DE_PUBLICATION")),
        jobs=_text(element, "TYPE_EMPLOI_ACCESSIBLES"),
        activities=_text(element, "ACTIVITES_VISEES"),
        objectives=_text(element, "OBJECTIFS_CONTEXTE"),
        capacities=tuple(split_competencies(element.findtext("CAPACITES_ATTESTEES"))),
        assessment=_text(element, "MODALITES_EVALUATION"),
        statistics=_statistics(element),
        blocks=_blocks(element),
    )


def iter_fiches(source: str | IO[bytes]) -> Iterator[Fiche]:
    """Every fiche of an export, read as a stream: each FICHE is parsed, then cleared and
    dropped from the tree, so memory does not grow with the file."""
    context = etree.iterparse(source, events=("end",), tag="FICHE", huge_tree=True,
                              resolve_entities=False, no_network=True, load_dtd=False)
    for _, element in context:
        fiche = parse_fiche(element)
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]
        if fiche is not None:
            yield fiche
    del context


class CountingReader:
    """A binary file that counts what was read (for a progress bar over the bytes)."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None] | None = None):
        self.raw, self.done, self.on_read = raw, 0, on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.done += len(data)
        if self.on_read is not None:
            self.on_read(self.done)
        return data


# --- draft referential -----------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    text: str  # the YAML file
    code: str
    version: str
    blocks: int
    competencies: int
    todos: int  # titles and criteria left to write


class _Quoted(str):
    """A string the YAML dump always quotes (versions, numbers: the loader wants text)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", str(v), style='"'))


def _short_block_code(number: str, code: str) -> str:
    """"RNCP35809BC01" -> "BC01" (the register prefixes block codes with the fiche number)."""
    short = code[len(number):] if code.upper().startswith(number) else code
    short = re.sub(r"[^A-Za-z0-9._-]+", "-", short).strip("-._")
    return short or code


def draft_referential(fiche: Fiche, version: str, today: date) -> Draft:
    """A referential file in Carnet's format from a fiche: its blocks and titles, the
    competencies split from LISTE_COMPETENCES, the assessment modes kept as block notes, and
    each criterion a TODO for the branch to write (the loader refuses a file while any is
    left; `carnet referential check` lists them)."""
    blocks_in = list(fiche.blocks)
    if not blocks_in:  # RS fiches often have none: one block from the capacities
        blocks_in = [FicheBlock(code="BC01", title=fiche.title, competencies=fiche.capacities,
                                assessment=fiche.assessment)]
    blocks, competencies, todos, used = [], 0, 0, set()
    for b_index, block in enumerate(blocks_in, 1):
        code = _short_block_code(fiche.number, block.code)
        if code in used:
            code = f"BC{b_index:02d}"
        used.add(code)
        titles = list(block.competencies) or [f"{TODO}: compétences du bloc à rédiger"]
        items = []
        for c_index, title in enumerate(titles, 1):
            ccode = f"C{b_index}.{c_index}"
            todos += 1 + title.startswith(TODO)
            items.append({
                "code": ccode, "title": title,
                "criteria": [{"code": f"{ccode}.a",
                              "label": f"{TODO}: critère observable en situation de travail "
                                       f"pour « {title[:120]} »",
                              "essential": True}]})
        competencies += len(items)
        entry: dict[str, Any] = {"code": code,
                                 "title": block.title or f"{TODO}: intitulé du bloc {code}"}
        todos += not block.title
        if block.assessment:
            entry["note"] = f"Modalités d'évaluation au Répertoire : {block.assessment}"
        entry["competencies"] = items
        blocks.append(entry)
    register: dict[str, Any] = {"kind": fiche.kind, "number": _Quoted(fiche.number)}
    if fiche.kind == "rncp" and fiche.level:
        register["level"] = fiche.level
    document = {
        "format": FORMAT,
        "code": fiche.number,
        "version": _Quoted(version),
        "title": fiche.title,
        "branch": ", ".join(fiche.certifiers),
        "register": register,
        "note": (f"Brouillon tiré de la fiche {fiche.number} ({fiche.url}) le "
                 f"{today.isoformat()} ; à valider par la CPNE."),
        "blocks": blocks,
    }
    header = (f"# Brouillon de référentiel tiré de la fiche {fiche.number} du répertoire national\n"
              "# (open data France compétences, Licence Ouverte 2.0).\n"
              f"# Reste à écrire : {todos} élément(s) marqués {TODO} (critères observables,\n"
              "# titres manquants). `carnet referential check FICHIER` les liste un à un.\n")
    body = yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return Draft(text=header + body, code=fiche.number, version=version, blocks=len(blocks),
                 competencies=competencies, todos=todos)


def fiche_from_row(number: str, kind: str, title: str, level: int | None,
                   certifiers: list[str], details: dict[str, Any],
                   blocks: list[tuple[str, str, list[str], str]]) -> Fiche:
    """A Fiche rebuilt from what the import stored (the draft works on either)."""
    return Fiche(number=number, title=title, kind=kind, level=level,
                 certifiers=tuple(certifiers),
                 capacities=tuple(details.get("capacities") or ()),
                 assessment=details.get("assessment") or "",
                 blocks=tuple(FicheBlock(code, t, tuple(c), a) for code, t, c, a in blocks))
