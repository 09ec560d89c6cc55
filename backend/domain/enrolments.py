"""Enrolments: creating them, designating tutors, and their JSON shape."""

from __future__ import annotations

from datetime import date

from tortoise.transactions import in_transaction

from backend import audit
from backend.domain.referentials import Registry
from backend.errors import ValidationFailed
from backend.models import ACCESS_ROUTES, Enrolment, Organisation, Person, Tutorship


async def enrol(*, candidate: Person, company: Organisation, code: str, version: str,
                access_route: str, started_on: date, tutors: list[tuple[Person, date]],
                registry: Registry, by: int, today: date | None = None) -> Enrolment:
    """AFEST needs the tutor designated beforehand: a designation may not come
    after the enrolment's start."""
    if registry.find(code, version) is None:
        raise ValidationFailed("Référentiel inconnu.", code="referential_not_found")
    if access_route not in ACCESS_ROUTES:
        raise ValidationFailed("Voie d'accès inconnue.", code="invalid_access_route")
    if company.kind != "company":
        raise ValidationFailed("L'organisation doit être une entreprise.", code="invalid_company")
    for tutor, designated_on in tutors:
        refuse_future_designation(designated_on, today)
        if designated_on > started_on:
            raise ValidationFailed("Le tuteur doit être désigné au plus tard au début du parcours.",
                                   code="tutor_designated_late")
        if tutor.id == candidate.id:
            raise ValidationFailed("Le candidat ne peut pas être son propre tuteur.",
                                   code="invalid_tutor")
    async with in_transaction() as conn:
        enrolment = await Enrolment.create(candidate=candidate, company=company,
                                           referential_code=code, referential_version=version,
                                           access_route=access_route, started_on=started_on,
                                           using_db=conn)
        for tutor, designated_on in tutors:
            await Tutorship.create(enrolment=enrolment, tutor=tutor, designated_on=designated_on,
                                   using_db=conn)
        await audit.record("enrolment.created", actor_id=by, subject=f"enrolment:{enrolment.id}",
                           payload={"candidate": candidate.id, "company": company.id,
                                    "referential": f"{code}/{version}",
                                    "tutors": [t.id for t, _ in tutors]}, connection=conn)
    return enrolment


def refuse_future_designation(designated_on: date, today: date | None) -> None:
    """A designation is a fact that has happened (AFEST, D6313-3-2: the tutor is designated
    beforehand): it is never dated in the future."""
    if today is not None and designated_on > today:
        raise ValidationFailed("La date de désignation du tuteur ne peut pas être dans le "
                               "futur.", code="tutor_designated_in_future")


async def designate_tutor(enrolment: Enrolment, tutor: Person, designated_on: date,
                          by: int, today: date | None = None) -> Tutorship:
    refuse_future_designation(designated_on, today)
    async with in_transaction() as conn:
        tutorship = await Tutorship.create(enrolment=enrolment, tutor=tutor,
                                           designated_on=designated_on, using_db=conn)
        await audit.record("tutor.designated", actor_id=by, subject=f"enrolment:{enrolment.id}",
                           payload={"tutor": tutor.id, "designated_on": designated_on.isoformat()},
                           connection=conn)
    return tutorship


def enrolment_json(e: Enrolment) -> dict:
    """Needs `candidate`, `company`, `tutorships__tutor` and `held_blocks` loaded."""
    return {
        "id": e.id,
        "candidate": {"id": e.candidate.id, "full_name": e.candidate.full_name},
        "company": {"id": e.company.id, "name": e.company.name},
        "referential": {"code": e.referential_code, "version": e.referential_version},
        "access_route": e.access_route,
        "started_on": e.started_on.isoformat(),
        "tutors": [{"id": t.tutor.id, "full_name": t.tutor.full_name,
                    "designated_on": t.designated_on.isoformat()}
                   for t in e.tutorships if t.ended_on is None],
        "held_blocks": [{"block": h.block_code, "decided_on": h.decided_on.isoformat(),
                         "referential_version": h.referential_version} for h in e.held_blocks],
    }


ENROLMENT_RELATED = ("candidate", "company")
ENROLMENT_PREFETCH = ("tutorships__tutor", "held_blocks")
