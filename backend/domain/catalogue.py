"""The public catalogue of a branch's CQPs: what each requires, how it is obtained, its
registration and the figures the branch publishes; its schema.org description and the
Atom feed of new and revised CQPs.

Pure: no ORM. Texts shown to the public stay French here (the referentials are French);
the catalogue pages translate their own interface.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree

from backend.domain.referentials import Referential
from backend.domain.register import fiche_url

# How long a message sent from the catalogue is kept (stated in the consent wording;
# `carnet purge` deletes older ones).
CONTACT_RETENTION_MONTHS = 12
CONTACT_KINDS = ("company", "person")
MAX_NAME = 200
MAX_MESSAGE = 4000
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Figures:
    """What the branch may publish: holders per year and the success rate of jury decisions."""

    holders_per_year: dict[int, int] = field(default_factory=dict)
    decisions: int = 0
    validated: int = 0

    @property
    def success_rate(self) -> float | None:
        return self.validated / self.decisions if self.decisions else None

    @property
    def holders(self) -> int:
        return sum(self.holders_per_year.values())


def figures(block_codes: Iterable[str],
            decisions: Iterable[tuple[int, str, str, datetime]]) -> Figures:
    """From (enrolment id, block code, outcome, decided at) rows: a holder is an enrolment
    whose every block was validated, counted in the year of its last validation; the success
    rate is validated decisions over all decisions."""
    blocks = frozenset(block_codes)
    validated_at: dict[int, dict[str, datetime]] = defaultdict(dict)
    total = validated = 0
    for enrolment, block, outcome, at in decisions:
        total += 1
        if outcome == "validated":
            validated += 1
            validated_at[enrolment][block] = at
    per_year: dict[int, int] = defaultdict(int)
    for by_block in validated_at.values():
        if blocks and blocks <= by_block.keys():
            per_year[max(by_block[b] for b in blocks).year] += 1
    return Figures(dict(sorted(per_year.items())), total, validated)


@dataclass(frozen=True)
class Entry:
    """One CQP of the catalogue: its open version's referential and what the branch adds."""

    referential: Referential
    opened_on: date | None = None
    register_title: str = ""  # the imported register's title, when the number is known
    register_ends_on: date | None = None
    figures: Figures | None = None  # only when the branch publishes them

    @property
    def code(self) -> str:
        return self.referential.code

    @property
    def register_url(self) -> str | None:
        number = self.referential.register.number
        return fiche_url(number) if number and self.referential.register.kind != "transmitted" \
            else None


def as_json(entry: Entry, url: str) -> dict[str, Any]:
    """The `/api/v1/catalogue` item (for orientation services)."""
    ref, cat = entry.referential, entry.referential.catalogue
    figures_ = None
    if entry.figures is not None:
        figures_ = {"holders_per_year": {str(y): n for y, n in
                                         entry.figures.holders_per_year.items()},
                    "success_rate": entry.figures.success_rate}
    return {
        "code": ref.code, "version": ref.version, "title": ref.title, "branch": ref.branch,
        "url": url, "purpose": cat.purpose, "jobs": list(cat.jobs),
        "assessment": "work_situations", "duration": cat.duration,
        "prerequisites": cat.prerequisites, "classification": cat.classification,
        "register": {"kind": ref.register.kind, "number": ref.register.number,
                     "level": ref.register.level, "url": entry.register_url},
        "opened_on": entry.opened_on.isoformat() if entry.opened_on else None,
        "blocks": [{"code": b.code, "title": b.title,
                    "competencies": [c.title for c in b.competencies]} for b in ref.blocks],
        "figures": figures_,
    }


def json_ld(entry: Entry, url: str) -> dict[str, Any]:
    """schema.org EducationalOccupationalCredential of one CQP."""
    ref, cat = entry.referential, entry.referential.catalogue
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "EducationalOccupationalCredential",
        "name": ref.title,
        "identifier": ref.code,
        "url": url,
        "credentialCategory": "Certificat de qualification professionnelle (CQP)",
        "inLanguage": "fr",
        "recognizedBy": {"@type": "Organization", "name": ref.branch} if ref.branch else None,
        "description": cat.purpose or None,
        "occupationalCategory": list(cat.jobs) or None,
        "competencyRequired": [b.title for b in ref.blocks],
        "educationalLevel": (f"Niveau {ref.register.level}" if ref.register.level else None),
    }
    if entry.register_url:
        data["sameAs"] = entry.register_url
    return {k: v for k, v in data.items() if v is not None}


def atom_feed(entries: Iterable[tuple[Entry, str, datetime]], *, feed_url: str, site_url: str,
              title: str, now: datetime) -> bytes:
    """An Atom feed of CQPs opened or revised: one entry per (code, version) with its URL and
    the time it was opened (or last changed)."""
    ElementTree.register_namespace("", ATOM)

    def sub(parent: ElementTree.Element, tag: str, text: str | None = None,
            **attrs: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    items = sorted(entries, key=lambda e: e[2], reverse=True)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    sub(feed, "title", title)
    sub(feed, "id", feed_url)
    sub(feed, "link", rel="self", href=feed_url)
    sub(feed, "link", rel="alternate", href=site_url)
    sub(feed, "updated", (items[0][2] if items else now).isoformat())
    for entry, url, updated in items:
        ref = entry.referential
        item = sub(feed, "entry")
        sub(item, "title", f"{ref.title} (version {ref.version})")
        sub(item, "id", f"{url}#{ref.version}")
        sub(item, "link", rel="alternate", href=url)
        sub(item, "updated", updated.isoformat())
        author = sub(item, "author")
        sub(author, "name", ref.branch or "Carnet")
        sub(item, "summary", entry.referential.catalogue.purpose or ref.title)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)


CONSENT = ("J'accepte que %(branch)s conserve ce message et mes coordonnées pendant "
           "%(months)s mois pour me répondre au sujet de ce CQP ; ils ne servent à rien "
           "d'autre et je peux en demander la suppression à tout moment.")


def consent_wording(branch: str, gettext=None) -> str:
    """What the sender of a contact message agrees to, in the page's language (`gettext`);
    stored with the message as shown."""
    template = gettext(CONSENT) if gettext else CONSENT
    return template % {"branch": branch or "la branche", "months": CONTACT_RETENTION_MONTHS}


def contact_problems(form: dict[str, str]) -> list[str]:
    """The fields of a contact form that are wrong (empty list: it can be stored); the page
    says what each expects, in its language."""
    problems = []
    if form.get("kind") not in CONTACT_KINDS:
        problems.append("kind")
    if not form.get("full_name") or len(form["full_name"]) > MAX_NAME:
        problems.append("full_name")
    email = form.get("email", "")
    if not EMAIL.fullmatch(email) or len(email) > 254:
        problems.append("email")
    if len(form.get("organisation", "")) > MAX_NAME:
        problems.append("organisation")
    if not form.get("message") or len(form["message"]) > MAX_MESSAGE:
        problems.append("message")
    if form.get("consent") != "yes":
        problems.append("consent")
    return problems
