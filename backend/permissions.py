"""Object-level access: how the caller relates to one enrolment, and what follows.

Every route that touches an enrolment, an observation, a photo or a dossier asks
here. Not visible → 404 (existence is not revealed); visible but not allowed to
write → 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q, RawSQL

from backend.auth import Identity
from backend.errors import Forbidden, NotFound
from backend.models import AdminGrant, Dossier, Enrolment, JuryMember, Organisation


@dataclass(frozen=True)
class Relation:
    """The caller's ties to one enrolment."""

    enrolment: Enrolment
    admin: bool = False
    tutor: bool = False
    candidate: bool = False
    jury: bool = False
    conflicted: bool = False  # tutors or employs the candidate: may not decide

    @property
    def visible(self) -> bool:
        return self.admin or self.tutor or self.candidate or self.jury


async def admin_branch_ids(person_id: int) -> list[int]:
    return await AdminGrant.filter(person_id=person_id).values_list("organisation_id", flat=True)


def _ties(person_id: int) -> dict[str, RawSQL]:
    """The caller's ties to the enrolment row, as EXISTS columns of the same query:
    every API call on an enrolment asks, so it costs one query, not four. The id is
    an int from our own session row, never client text."""
    pid = int(person_id)
    return {
        "is_admin": RawSQL(
            'EXISTS (SELECT 1 FROM "admin_grant" g JOIN "organisation" o '
            'ON o."branch_id" = g."organisation_id" '
            f'WHERE g."person_id" = {pid} AND o."id" = "enrolment"."company_id")'),
        "is_tutor": RawSQL(
            'EXISTS (SELECT 1 FROM "tutorship" t WHERE t."enrolment_id" = "enrolment"."id" '
            f'AND t."tutor_id" = {pid} AND t."ended_on" IS NULL)'),
        "in_jury": RawSQL(
            'EXISTS (SELECT 1 FROM "dossier" d JOIN "jury_member" m '
            'ON m."session_id" = d."session_id" '
            f'WHERE d."enrolment_id" = "enrolment"."id" AND m."person_id" = {pid})'),
    }


async def relation_to(identity: Identity, enrolment_id: int) -> Relation:
    """Raises NotFound unless the caller may see the enrolment."""
    pid = identity.person.id
    enrolment = await Enrolment.filter(id=enrolment_id).annotate(**_ties(pid)).select_related(
        "company").first()
    if enrolment is None:
        raise NotFound("Parcours introuvable.", code="enrolment_not_found")
    tutor = bool(enrolment.is_tutor)
    conflicted = tutor or identity.person.company_id == enrolment.company_id
    relation = Relation(enrolment=enrolment, admin=bool(enrolment.is_admin), tutor=tutor,
                        candidate=enrolment.candidate_id == pid,
                        jury=not conflicted and bool(enrolment.in_jury), conflicted=conflicted)
    if not relation.visible:
        raise NotFound("Parcours introuvable.", code="enrolment_not_found")
    return relation


def require_writer(relation: Relation, kind: str) -> str:
    """The author role for an observation of `kind`: tutors record observations
    and reflections, candidates only reflections (and their own photos)."""
    if relation.tutor:
        return "tutor"
    if relation.candidate and kind == "reflection":
        return "candidate"
    raise Forbidden("Seul un tuteur désigné sur ce parcours peut enregistrer une observation.",
                    code="not_designated_tutor")


def require_photo_writer(relation: Relation) -> str:
    if relation.tutor:
        return "tutor"
    if relation.candidate:
        return "candidate"
    raise Forbidden("Vous ne pouvez pas ajouter de photo à ce parcours.",
                    code="not_designated_tutor")


async def visible_enrolments_query(identity: Identity):
    """Enrolments the caller may list: the same rules as relation_to, as one query."""
    pid = identity.person.id
    branches = await admin_branch_ids(pid)
    company_id = identity.person.company_id
    jury_ids = await Dossier.filter(session__members__person_id=pid).exclude(
        enrolment__tutorships__tutor_id=pid).values_list("enrolment_id", flat=True)
    condition = (Q(candidate_id=pid) | Q(tutorships__tutor_id=pid, tutorships__ended_on=None)
                 | Q(company__branch_id__in=branches or [-1]))
    if jury_ids:
        jury_q = Q(id__in=jury_ids)
        if company_id is not None:
            jury_q &= ~Q(company_id=company_id)
        condition |= jury_q
    return Enrolment.filter(condition).distinct()


async def admin_organisations(identity: Identity) -> list[Organisation]:
    return await Organisation.filter(admin_grants__person_id=identity.person.id)


async def jury_seat(identity: Identity, session_id: int) -> JuryMember | None:
    return await JuryMember.get_or_none(session_id=session_id, person_id=identity.person.id)
