"""The rapport préalable d'opportunité of a new CQP: what it must hold before the joint
committee (CPNE) decides, and its states draft → submitted → approved / rejected.

Pure: no ORM. The use cases are in `projects.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATES = ("draft", "submitted", "approved", "rejected")
TRANSITIONS = {"draft": ("submitted",), "submitted": ("approved", "rejected", "draft"),
               "approved": (), "rejected": ("draft",)}
DEFAULT_ASSESSMENT = ("Entièrement en situation de travail : le tuteur observe et note en "
                      "entreprise les critères de chaque compétence ; un jury paritaire valide "
                      "chaque bloc sur le dossier de preuves.")
TEXT_FIELDS = ("need_jobs", "evidence_job_offers", "evidence_survey", "evidence_opco",
               "target_public", "companies_consulted", "assessment_mode")
MAX_TEXT = 10_000
MAX_EXPECTED = 100_000


def may_move(state: str, to: str) -> bool:
    return to in TRANSITIONS.get(state, ())


def missing_for_submission(report: Mapping[str, Any]) -> list[str]:
    """The parts a report lacks before it can go to the CPNE (field names, in form order):
    the need, at least one piece of evidence, the public and its volume, the existing
    certifications considered (each with why it does not meet the need), the companies
    consulted and the assessment mode."""
    missing = []
    if not report.get("need_jobs"):
        missing.append("need_jobs")
    if not any(report.get(k) for k in ("evidence_job_offers", "evidence_survey",
                                       "evidence_opco")):
        missing.append("evidence")
    if not report.get("target_public"):
        missing.append("target_public")
    if not report.get("expected_per_year"):
        missing.append("expected_per_year")
    existing = report.get("existing") or []
    if not existing or any(not e.get("why_not") for e in existing):
        missing.append("existing")
    if not report.get("companies_consulted"):
        missing.append("companies_consulted")
    if not report.get("assessment_mode"):
        missing.append("assessment_mode")
    return missing


def parse_expected(raw: Any) -> int | None:
    """Expected candidates per year: a whole number from 1 to 100,000, or None (empty);
    ValueError otherwise."""
    text = str(raw or "").strip().replace(" ", "")
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_EXPECTED:
        raise ValueError(text)
    return int(text)
