"""Erasure (GDPR art. 17) of one person, without breaking a certificate's verifiability.

The account is anonymised under a stable pseudonym; evidence of their enrolments that no
dossier needs is deleted with its files; what certifies (decisions, jury seats, dossiers
and their manifests, held blocks, the audit chain) stays, naming the person by id only,
and the id now leads to the pseudonym. Nothing hashed is rewritten, so `carnet audit
verify` and `carnet dossier verify` still pass. docs/personal-data.md says what remains.

Error codes (stable): `erasure_blocked` (409, a dossier of theirs is pending),
`erase_self` (409), `erasure_not_confirmed` (422).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend import audit
from backend.domain import retention
from backend.domain.evidence_rules import Disposable, delete_evidence, disposable
from backend.domain.personal_data import naming_events
from backend.errors import Conflict, ValidationFailed
from backend.models import (
    AdminGrant,
    Decision,
    Dossier,
    Enrolment,
    Invitation,
    JuryMember,
    LoginSession,
    Observation,
    Person,
    PersonToken,
    Photo,
    Tutorship,
)

CONFIRMATION = "EFFACER"


def pseudonym(person_id: int, secret_key: str) -> str:
    """The same for a person every time (a keyed hash of the id), guessable by no one."""
    digest = hmac.new(secret_key.encode(), f"erased person {person_id}".encode(),
                      hashlib.sha256).hexdigest()
    return f"Personne effacée {digest[:10]}"


@dataclass
class Line:
    what: str
    count: int
    why: str


@dataclass
class Plan:
    person_id: int
    pseudonym: str
    blocked: list[str] = field(default_factory=list)
    goes: list[Line] = field(default_factory=list)
    stays: list[Line] = field(default_factory=list)
    evidence: list[Disposable] = field(default_factory=list)


async def plan(person: Person, *, secret_key: str, terms: retention.Terms,
               now: datetime) -> Plan:
    """What erasing `person` would delete, what it keeps and why (the dry run)."""
    result = Plan(person.id, pseudonym(person.id, secret_key))
    enrolments = list(await Enrolment.filter(candidate_id=person.id).order_by("id"))
    for e in enrolments:
        if retention.pending(await retention.dossier_states(e.id), terms, now):
            result.blocked.append(f"Le parcours {e.id} a un dossier en attente de décision "
                                  "définitive (ou dans le délai de recours).")
        found = await disposable(e.id)
        if found:
            result.evidence.append(found)
    ids = [e.id for e in enrolments] or [-1]
    result.goes = [
        Line("compte : nom, adresse e-mail, mot de passe, entreprise", 1,
             "remplacés par un pseudonyme ; le compte ne peut plus servir"),
        Line("sessions ouvertes", await LoginSession.filter(person_id=person.id).count(),
             "supprimées"),
        Line("invitations reçues", await _invitations(person).count(), "supprimées"),
        Line("droits d'administration", await AdminGrant.filter(person_id=person.id).count(),
             "supprimés"),
        Line("observations et réflexions hors dossier",
             sum(len(d.observations) for d in result.evidence),
             "elles ne servent qu'un parcours inachevé, abandonné ou terminé"),
        Line("photos hors dossier (et leurs fichiers)",
             sum(len(d.photos) for d in result.evidence), "même raison"),
    ]
    dossiers = await Dossier.filter(enrolment_id__in=ids).count()
    result.stays = [
        Line("parcours (référentiel, entreprise, dates)", len(enrolments),
             "support des décisions et des certificats"),
        Line("dossiers présentés au jury, manifestes et vignettes", dossiers,
             "obligation de pouvoir vérifier un certificat (manifeste haché)"),
        Line("observations et photos citées par un dossier",
             await Observation.filter(enrolment_id__in=ids).count()
             - sum(len(d.observations) for d in result.evidence),
             "le manifeste du dossier est recalculé à partir d'elles"),
        Line("décisions du jury sur ses dossiers",
             await Decision.filter(dossier__enrolment_id__in=ids).count(),
             "obligation légale de la branche certificatrice"),
        Line("écrits et photos sur les parcours d'autres personnes",
             await Observation.filter(author_id=person.id).exclude(enrolment_id__in=ids).count()
             + await Photo.filter(uploaded_by_id=person.id).exclude(enrolment_id__in=ids).count(),
             "ils appartiennent au parcours de ces personnes ; signés du pseudonyme"),
        Line("décisions prises et sièges de jury",
             await Decision.filter(decided_by_id=person.id).count()
             + await JuryMember.filter(person_id=person.id).count(),
             "procès-verbaux scellés dans le journal d'audit"),
        Line("tutorats", await Tutorship.filter(tutor_id=person.id).count(),
             "historique des parcours suivis ; signés du pseudonyme"),
        Line("événements du journal d'audit qui le concernent",
             len(await naming_events(person.id, ids, [], [], [])),
             "journal chaîné : ne contient que des numéros, sauf les anciennes invitations "
             "(adresse e-mail), conservées comme trace de sécurité"),
    ]
    return result


def _invitations(person: Person):
    from tortoise.expressions import Q

    return Invitation.filter(Q(person_id=person.id) | Q(email=person.email))


async def erase(person: Person, *, actor_id: int | None, store: Any, secret_key: str,
                terms: retention.Terms, now: datetime) -> Plan:
    """Carry out the plan; refused while a dossier of theirs is pending."""
    if actor_id == person.id:
        raise Conflict("Vous ne pouvez pas effacer votre propre compte.", code="erase_self")
    found = await plan(person, secret_key=secret_key, terms=terms, now=now)
    if found.blocked:
        raise Conflict("Effacement impossible pour l'instant : " + " ".join(found.blocked),
                       code="erasure_blocked", details={"reasons": found.blocked})
    for evidence in found.evidence:
        await delete_evidence(evidence, store, actor_id=actor_id, reason="erasure")
    async with in_transaction() as conn:
        await _invitations(person).using_db(conn).delete()
        await LoginSession.filter(person_id=person.id).using_db(conn).delete()
        await PersonToken.filter(person_id=person.id).using_db(conn).delete()
        await AdminGrant.filter(person_id=person.id).using_db(conn).delete()
        await Person.filter(id=person.id).using_db(conn).update(
            full_name=found.pseudonym, email=f"erased-{person.id}@invalid", password_hash=None,
            is_active=False, sessions_valid_after=now, company_id=None)
        await audit.record("person.erased", actor_id=actor_id, subject=f"person:{person.id}",
                           payload={"observations": sum(len(d.observations)
                                                        for d in found.evidence),
                                    "photos": sum(len(d.photos) for d in found.evidence)},
                           connection=conn)
    return found


def check_confirmation(value: Any) -> None:
    if not isinstance(value, str) or value.strip().upper() != CONFIRMATION:
        raise ValidationFailed(f"Tapez {CONFIRMATION} pour confirmer l'effacement.",
                               code="erasure_not_confirmed")
