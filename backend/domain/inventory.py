"""The branch's inventory (état des lieux) of its CQPs: the figures per version, their
percentiles, the charts a person would rather look at, and the rows of the exports.

Pure: no ORM. The SQL aggregates are in `inventories.py`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

ACTIVE_DAYS = 90  # "active": an observation in the last 90 days
ABANDONED_DAYS = 180  # "abandoned": not certified, nothing observed for 180 days


@dataclass(frozen=True)
class BlockLine:
    code: str
    title: str
    presented: int  # candidates with a dossier on the block
    validated: int  # candidates with the block validated
    decisions: int
    validated_decisions: int

    @property
    def success_rate(self) -> float | None:
        return self.validated_decisions / self.decisions if self.decisions else None


@dataclass(frozen=True)
class VersionLine:
    code: str
    version: str
    title: str
    status: str
    opened_on: date | None
    closed_on: date | None
    withdrawn_on: date | None
    register_kind: str
    register_number: str | None
    register_ends_on: date | None  # renewal due (from the imported register)
    report_state: str | None  # the opportunity report, for a CQP born as a project
    enrolled: int = 0
    active: int = 0
    presented: int = 0
    with_validated_block: int = 0
    certified: int = 0
    abandoned: int = 0
    employees: int = 0
    job_seekers: int = 0
    route_unknown: int = 0
    companies: int = 0
    blocks: tuple[BlockLine, ...] = ()
    days_to_certification: tuple[int, ...] = ()
    never_observed: tuple[str, ...] = ()

    @property
    def median_days(self) -> float | None:
        return percentile(self.days_to_certification, 50)

    @property
    def p90_days(self) -> float | None:
        return percentile(self.days_to_certification, 90)


@dataclass
class Inventory:
    today: date
    versions: list[VersionLine] = field(default_factory=list)
    companies_by_band: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[int], p: float) -> float | None:
    """The p-th percentile, linear between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- charts (inline SVG, no script) ------------------------------------------------------------


def funnel_svg(line: VersionLine, labels: dict[str, str]) -> str:
    """Per block, three bars: enrolled, dossier presented, validated."""
    rows = [(b.code, line.enrolled, b.presented, b.validated) for b in line.blocks]
    width, bar, gap, left = 320, 8, 10, 64
    height = max(len(rows), 1) * (3 * bar + gap) + 28
    top = max([line.enrolled, 1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(labels["title"])}" class="chart">']
    colours = ("#9ec5d8", "#2f7fa5", "#0b4f6c")
    y = 4
    for code, enrolled, presented, validated in rows:
        parts.append(f'<text x="0" y="{y + 2 * bar}" font-size="10">{escape(code)}</text>')
        for i, value in enumerate((enrolled, presented, validated)):
            w = round((width - left - 40) * value / top)
            parts.append(f'<rect x="{left}" y="{y + i * bar}" width="{w}" height="{bar - 1}" '
                         f'fill="{colours[i]}"/><text x="{left + w + 3}" y="{y + i * bar + 7}" '
                         f'font-size="8">{value}</text>')
        y += 3 * bar + gap
    for i, key in enumerate(("enrolled", "presented", "validated")):
        x = left + i * 85
        parts.append(f'<rect x="{x}" y="{y + 4}" width="8" height="8" fill="{colours[i]}"/>'
                     f'<text x="{x + 11}" y="{y + 11}" font-size="8">'
                     f'{escape(labels[key])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(days: Sequence[int], labels: dict[str, str], bins: int = 8) -> str:
    """Time to certification: how many candidates per band of days, median marked."""
    width, height, bottom = 320, 120, 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(labels["title"])}" class="chart">']
    if days:
        low, high = min(days), max(days)
        step = max(math.ceil((high - low + 1) / bins), 1)
        counts = [0] * bins
        for d in days:
            counts[min((d - low) // step, bins - 1)] += 1
        top = max(counts)
        w = width / bins
        for i, n in enumerate(counts):
            h = round((height - bottom - 12) * n / top)
            x = round(i * w)
            parts.append(f'<rect x="{x + 1}" y="{height - bottom - h}" width="{round(w) - 2}" '
                         f'height="{h}" fill="#2f7fa5"/><text x="{x + 2}" '
                         f'y="{height - bottom - h - 2}" font-size="8">{n}</text>'
                         f'<text x="{x + 2}" y="{height - 6}" font-size="7">'
                         f'{low + i * step}</text>')
        median = percentile(days, 50) or 0
        mx = round((median - low) / (step * bins) * width)
        parts.append(f'<line x1="{mx}" y1="0" x2="{mx}" y2="{height - bottom}" '
                     f'stroke="#c0392b" stroke-dasharray="3 2"/><text x="{mx + 2}" y="9" '
                     f'font-size="8" fill="#c0392b">{escape(labels["median"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- exports -----------------------------------------------------------------------------------

COLUMNS = ("CQP", "version", "intitulé", "statut", "ouvert le", "fermé le", "retiré le",
           "répertoire", "numéro", "fin d'enregistrement", "rapport d'opportunité",
           "inscrits", "actifs 90 j", "dossier présenté", "bloc validé", "certifiés",
           "abandons", "salariés", "demandeurs d'emploi", "parcours non renseigné",
           "entreprises", "jours jusqu'à la certification (médiane)", "(90e centile)",
           "critères jamais observés")
BANDS = {"unknown": "non renseigné", "1-10": "1 à 10 salariés", "11-49": "11 à 49 salariés",
         "50-249": "50 à 249 salariés", "250+": "250 salariés et plus"}
BLOCK_COLUMNS = ("CQP", "version", "bloc", "intitulé", "candidats présentés", "validés",
                 "décisions", "taux de réussite")


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _number(value: float | None) -> Any:
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else round(value, 1)


def version_rows(inventory: Inventory) -> list[list[Any]]:
    return [[v.code, v.version, v.title, v.status, _day(v.opened_on), _day(v.closed_on),
             _day(v.withdrawn_on), v.register_kind, v.register_number or "",
             _day(v.register_ends_on), v.report_state or "", v.enrolled, v.active, v.presented,
             v.with_validated_block, v.certified, v.abandoned, v.employees, v.job_seekers,
             v.route_unknown, v.companies, _number(v.median_days), _number(v.p90_days),
             " ".join(v.never_observed)] for v in inventory.versions]


def block_rows(inventory: Inventory) -> list[list[Any]]:
    return [[v.code, v.version, b.code, b.title, b.presented, b.validated, b.decisions,
             _number(None if b.success_rate is None else 100 * b.success_rate)]
            for v in inventory.versions for b in v.blocks]


def to_csv(inventory: Inventory) -> str:
    """One CSV (semicolon-separated, as French spreadsheets expect): versions, then blocks."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(COLUMNS)
    writer.writerows(version_rows(inventory))
    writer.writerow([])
    writer.writerow(BLOCK_COLUMNS)
    writer.writerows(block_rows(inventory))
    writer.writerow([])
    writer.writerow(["taille d'entreprise", "entreprises"])
    writer.writerows([[BANDS.get(band, band), n]
                      for band, n in inventory.companies_by_band.items()])
    return "\ufeff" + out.getvalue()  # the BOM makes spreadsheets read UTF-8


def to_xlsx(inventory: Inventory) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "CQP et versions"
    sheet.append(COLUMNS)
    for row in version_rows(inventory):
        sheet.append(row)
    blocks = book.create_sheet("Blocs")
    blocks.append(BLOCK_COLUMNS)
    for row in block_rows(inventory):
        blocks.append(row)
    sizes = book.create_sheet("Entreprises")
    sizes.append(["taille d'entreprise", "entreprises"])
    for band, n in inventory.companies_by_band.items():
        sizes.append([BANDS.get(band, band), n])
    for ws in book.worksheets:
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
