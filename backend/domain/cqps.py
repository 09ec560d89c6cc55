"""Use cases on the branch's CQPs: their status per version, what the public catalogue
shows, the figures a branch publishes, and the messages sent from the catalogue.

A loaded referential version without a `certificate_version` row is open (the versions in
use before statuses existed). A `certificate` row is claimed by the first branch whose
admin sets something on it; other branches' admins then get 404 on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage

from tortoise.transactions import in_transaction

from backend import mail
from backend.domain.admin import Scope
from backend.domain.catalogue import (
    CONTACT_RETENTION_MONTHS,
    Entry,
    Figures,
    consent_wording,
    contact_problems,
    figures,
)
from backend.domain.referentials import Referential, Registry, _natural
from backend.errors import NotFound, ValidationFailed
from backend.models import (
    CERTIFICATE_STATUSES,
    AdminGrant,
    CatalogueContact,
    Certificate,
    CertificateVersion,
    Decision,
    Person,
    RegisterCertification,
)

log = logging.getLogger("carnet.catalogue")


@dataclass(frozen=True)
class VersionState:
    referential: Referential
    status: str
    opened_on: date | None
    closed_on: date | None
    withdrawn_on: date | None
    updated_at: datetime | None


async def version_states(registry: Registry) -> dict[tuple[str, str], VersionState]:
    """Every loaded version with its status (when nothing was recorded: a project for a CQP
    born as a project, else open)."""
    from backend.domain.projects import project_codes

    rows = await CertificateVersion.all().prefetch_related("certificate")
    recorded = {(r.certificate.code, r.version): r for r in rows}
    projects = await project_codes()
    states = {}
    for ref in registry.all():
        row = recorded.get(ref.key)
        default = "project" if ref.code in projects else "open"
        states[ref.key] = VersionState(
            ref, row.status if row else default, row.opened_on if row else None,
            row.closed_on if row else None, row.withdrawn_on if row else None,
            row.updated_at if row else None)
    return states


async def published_figures(ref: Referential) -> Figures:
    rows = await Decision.filter(dossier__enrolment__referential_code=ref.code).values_list(
        "dossier__enrolment_id", "dossier__block_code", "outcome", "decided_at")
    return figures([b.code for b in ref.blocks], rows)


async def catalogue(registry: Registry) -> list[Entry]:
    """The CQPs open to candidates: per code, the latest open version."""
    states = await version_states(registry)
    latest: dict[str, VersionState] = {}
    for state in states.values():
        if state.status != "open":
            continue
        known = latest.get(state.referential.code)
        if known is None or _natural(state.referential.version) > \
                _natural(known.referential.version):
            latest[state.referential.code] = state
    publishing = set(await Certificate.filter(publish_figures=True).values_list("code",
                                                                                 flat=True))
    numbers = [s.referential.register.number for s in latest.values()
               if s.referential.register.number]
    register = {r.number: r for r in await RegisterCertification.filter(number__in=numbers)}
    entries = []
    for code in sorted(latest, key=_natural):
        state = latest[code]
        ref = state.referential
        found = register.get(ref.register.number or "")
        entries.append(Entry(
            ref, state.opened_on, found.title if found else "", found.ends_on if found else None,
            await published_figures(ref) if code in publishing else None))
    return entries


async def entry(registry: Registry, code: str) -> Entry:
    for found in await catalogue(registry):
        if found.code == code:
            return found
    raise NotFound("Ce CQP n'est pas au catalogue.", code="catalogue_cqp_not_found")


def feed_time(state: VersionState, referential_mtime: float) -> datetime:
    """When a version appeared or changed: its recorded change, else its file's time."""
    if state.updated_at is not None:
        return state.updated_at
    return datetime.fromtimestamp(referential_mtime, UTC).replace(microsecond=0)


# --- messages from the catalogue ----------------------------------------------------------


async def record_contact(registry: Registry, code: str, form: dict[str, str], now: datetime,
                         *, smtp_url: str, sender: str, gettext=None) -> CatalogueContact:
    """Store a message about an open CQP and mail it to the admins of the branch that manages
    it (of every branch while none claimed it). ValidationFailed lists the wrong fields."""
    found = await entry(registry, code)
    clean = {k: " ".join(str(form.get(k, "")).split()) for k in
             ("kind", "full_name", "email", "organisation", "consent")}
    clean["message"] = str(form.get("message", "")).strip()
    problems = contact_problems(clean)
    if problems:
        raise ValidationFailed(details={"fields": problems}, code="contact_invalid")
    contact = await CatalogueContact.create(
        certificate_code=code, kind=clean["kind"], full_name=clean["full_name"],
        email=clean["email"], organisation=clean["organisation"], message=clean["message"],
        consent=consent_wording(found.referential.branch, gettext), created_at=now)
    if smtp_url:
        for admin_email in await admins_of(code):
            try:
                await mail.send(smtp_url, contact_mail(contact, found, sender, admin_email))
            except Exception:  # the message is stored: the admins also read it in Carnet
                log.warning("catalogue contact %s: mail to an admin failed", contact.id,
                            exc_info=True)
    return contact


async def admins_of(code: str) -> list[str]:
    certificate = await Certificate.get_or_none(code=code)
    grants = AdminGrant.all()
    if certificate is not None and certificate.branch_id is not None:
        grants = grants.filter(organisation_id=certificate.branch_id)
    ids = set(await grants.values_list("person_id", flat=True))
    return sorted(await Person.filter(id__in=ids, is_active=True).values_list("email", flat=True))


def contact_mail(contact: CatalogueContact, found: Entry, sender: str,
                 to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Reply-To"] = contact.email
    message["Subject"] = f"Carnet : demande au sujet du {found.referential.title}"
    who = "une entreprise" if contact.kind == "company" else "une personne"
    message.set_content(
        f"Message reçu par le catalogue public, de la part d'{who} :\n\n"
        f"Nom : {contact.full_name}\nAdresse : {contact.email}\n"
        f"Entreprise : {contact.organisation or '-'}\nCQP : {found.referential.code}\n\n"
        f"{contact.message}\n\n"
        f"L'expéditeur a accepté : « {contact.consent} »\n"
        f"Ce message est conservé {CONTACT_RETENTION_MONTHS} mois dans Carnet.\n")
    return message


async def contacts(scope: Scope, limit: int = 100) -> list[CatalogueContact]:
    """Messages about the CQPs the admin's branches manage, or that no branch claimed."""
    claimed_elsewhere = await Certificate.filter(branch_id__not_in=scope.branch_ids) \
        .exclude(branch_id=None).values_list("code", flat=True)
    return await CatalogueContact.exclude(certificate_code__in=list(claimed_elsewhere)) \
        .order_by("-created_at").limit(limit)


async def purge_contacts(now: datetime, *, dry_run: bool) -> int:
    """Delete messages older than the retention stated to their senders."""
    year, month = now.year, now.month - CONTACT_RETENTION_MONTHS
    while month < 1:
        year, month = year - 1, month + 12
    limit = now.replace(year=year, month=month, day=min(now.day, 28))
    old = CatalogueContact.filter(created_at__lt=limit)
    if dry_run:
        return await old.count()
    return await old.delete()


# --- the admin's side ----------------------------------------------------------------------


async def certificate_for(scope: Scope, code: str, registry: Registry,
                          *, claim: bool) -> Certificate:
    """The certificate row of a loaded code, if the admin's branches may manage it: 404 when
    another branch claimed it; with `claim`, created or claimed for the admin's branch."""
    if not registry.versions(code):
        raise NotFound("Ce CQP n'existe pas.", code="certificate_not_found")
    certificate = await Certificate.get_or_none(code=code)
    if certificate is not None and certificate.branch_id is not None and \
            certificate.branch_id not in scope.branch_ids:
        raise NotFound("Ce CQP n'existe pas.", code="certificate_not_found")
    if claim and (certificate is None or certificate.branch_id is None):
        branch = scope.branch()
        certificate, _ = await Certificate.get_or_create(code=code,
                                                         defaults={"branch_id": branch.id})
        if certificate.branch_id is None:
            certificate.branch_id = branch.id
            await certificate.save(update_fields=["branch_id", "updated_at"])
    return certificate or Certificate(code=code)


async def set_publish_figures(scope: Scope, registry: Registry, code: str,
                              publish: bool) -> None:
    certificate = await certificate_for(scope, code, registry, claim=True)
    certificate.publish_figures = publish
    await certificate.save(update_fields=["publish_figures", "updated_at"])


async def set_status(scope: Scope, registry: Registry, code: str, version: str, status: str,
                     today: date, *, may_open=None) -> CertificateVersion:
    """Record a version's status and the day it changed. `may_open(code)` (the opportunity
    report's rule) is asked before a version opens."""
    if status not in CERTIFICATE_STATUSES:
        raise ValidationFailed("Statut inconnu.", code="certificate_status_unknown")
    if registry.find(code, version) is None:
        raise NotFound("Cette version n'existe pas.", code="certificate_not_found")
    certificate = await certificate_for(scope, code, registry, claim=True)
    if status == "open" and may_open is not None:
        await may_open(certificate)
    async with in_transaction():
        row, _ = await CertificateVersion.get_or_create(certificate=certificate,
                                                        version=version)
        row.status = status
        if status == "open":
            row.opened_on = row.opened_on or today
        elif status == "closed":
            row.closed_on = today
        elif status == "withdrawn":
            row.withdrawn_on = today
        await row.save()
    return row
