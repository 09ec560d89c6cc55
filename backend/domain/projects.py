"""Use cases of CQP projects and their opportunity reports (rules in `opportunity.py`).

A new CQP starts as a project: a `certificate` row claimed by the admin's branch with its
report in draft. Its referential versions are projects until the report is approved by the
CPNE; only then may a version open to candidates (`may_open`, asked by cqps.set_status).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend.domain.admin import Scope
from backend.domain.opportunity import (
    DEFAULT_ASSESSMENT,
    MAX_TEXT,
    TEXT_FIELDS,
    may_move,
    missing_for_submission,
    parse_expected,
)
from backend.domain.referentials import CODE_PATTERN
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.models import Certificate, OpportunityReport, RegisterCertification


async def create(scope: Scope, code: str, title: str, branch_id: Any = None) -> OpportunityReport:
    code, title = code.strip(), " ".join(title.split())
    if not CODE_PATTERN.fullmatch(code) or len(code) > 64:
        raise ValidationFailed("Code du CQP invalide (lettres, chiffres, « . », « - », « _ »).",
                               code="project_code_invalid")
    if not title or len(title) > 300:
        raise ValidationFailed("Indiquez l'intitulé du projet (300 caractères au plus).",
                               code="project_title_invalid")
    branch = scope.branch(branch_id)
    async with in_transaction():
        if await Certificate.filter(code=code).exists():
            raise Conflict("Ce code est déjà celui d'un CQP.", code="project_code_taken")
        certificate = await Certificate.create(code=code, branch_id=branch.id)
        return await OpportunityReport.create(certificate=certificate, title=title,
                                              assessment_mode=DEFAULT_ASSESSMENT)


async def of_scope(scope: Scope) -> list[OpportunityReport]:
    return await OpportunityReport.filter(certificate__branch_id__in=scope.branch_ids) \
        .prefetch_related("certificate").order_by("-updated_at")


async def get(scope: Scope, report_id: int) -> OpportunityReport:
    report = await OpportunityReport.get_or_none(
        id=report_id, certificate__branch_id__in=scope.branch_ids).prefetch_related(
        "certificate", "certificate__branch")
    if report is None:
        raise NotFound("Ce projet n'existe pas.", code="project_not_found")
    return report


def _editable(report: OpportunityReport) -> None:
    if report.state != "draft":
        raise Conflict("Le rapport n'est modifiable qu'en brouillon.",
                       code="report_not_draft")


async def update(report: OpportunityReport, form: dict[str, Any]) -> None:
    _editable(report)
    for name in TEXT_FIELDS:
        value = str(form.get(name, "")).strip()
        if len(value) > MAX_TEXT:
            raise ValidationFailed("Texte trop long (10 000 caractères au plus).",
                                   code="report_text_too_long")
        setattr(report, name, value)
    try:
        report.expected_per_year = parse_expected(form.get("expected_per_year"))
    except ValueError:
        raise ValidationFailed("Volume attendu par an : un nombre entier de 1 à 100 000.",
                               code="report_expected_invalid") from None
    existing = []
    for item in report.existing:  # the reasons are edited in the same form
        why = str(form.get(f"why_{item['number']}", item.get("why_not", ""))).strip()
        if form.get(f"remove_{item['number']}") != "yes":
            existing.append({**item, "why_not": why[:MAX_TEXT]})
    report.existing = existing
    await report.save()


async def add_existing(report: OpportunityReport, number: str) -> None:
    """Add a certification of the imported register to those considered."""
    _editable(report)
    found = await RegisterCertification.get_or_none(number=number.strip().upper())
    if found is None:
        raise NotFound("Cette certification n'est pas dans le répertoire importé.",
                       code="register_certification_not_found")
    if all(e["number"] != found.number for e in report.existing):
        report.existing = [*report.existing, {"number": found.number, "title": found.title,
                                              "active": found.active, "why_not": ""}]
        await report.save(update_fields=["existing", "updated_at"])


def fields_of(report: OpportunityReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in
            (*TEXT_FIELDS, "expected_per_year", "existing")}


async def submit(report: OpportunityReport, at: datetime) -> None:
    if not may_move(report.state, "submitted"):
        raise Conflict("Seul un brouillon peut être soumis.", code="report_not_draft")
    missing = missing_for_submission(fields_of(report))
    if missing:
        raise ValidationFailed("Le rapport est incomplet.", code="report_incomplete",
                               details={"missing": missing})
    report.state, report.submitted_at = "submitted", at
    await report.save(update_fields=["state", "submitted_at", "updated_at"])


async def decide(report: OpportunityReport, outcome: str, on: Any, minutes: str,
                 at: datetime) -> None:
    """Record the CPNE's decision on a submitted report (date, outcome, minutes reference),
    or send it back to draft."""
    if outcome not in ("approved", "rejected", "draft") or not may_move(report.state, outcome):
        raise Conflict("Cette décision n'est pas possible dans l'état du rapport.",
                       code="report_transition_refused")
    if outcome != "draft":
        try:
            day = date.fromisoformat(str(on or "").strip())
        except ValueError:
            raise ValidationFailed("Date de la CPNE invalide (AAAA-MM-JJ).",
                                   code="report_cpne_date_invalid") from None
        minutes = " ".join(str(minutes or "").split())
        if not minutes or len(minutes) > 200:
            raise ValidationFailed("Indiquez la référence du procès-verbal de la CPNE.",
                                   code="report_minutes_missing")
        report.cpne_date, report.cpne_minutes, report.decided_at = day, minutes, at
    report.state = outcome
    await report.save()


async def may_open(certificate: Certificate) -> None:
    """A CQP born as a project opens to candidates only once its report is approved."""
    report = await OpportunityReport.get_or_none(certificate_id=certificate.id)
    if report is not None and report.state != "approved":
        raise Conflict("Ce CQP ne peut pas ouvrir : son rapport d'opportunité n'est pas "
                       "approuvé par la CPNE.", code="report_not_approved")


async def project_codes() -> set[str]:
    """Codes of CQPs born as projects: their loaded versions without a recorded status are
    projects, opened one by one by the admin once the report is approved."""
    return set(await Certificate.filter(report__id__not_isnull=True)
               .values_list("code", flat=True))
