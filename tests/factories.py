"""Plain factory functions for test data. Passwords are hashed once per run
(argon2 is deliberately slow)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from argon2 import PasswordHasher

from backend.models import (
    AdminGrant,
    Enrolment,
    JuryMember,
    JurySession,
    Organisation,
    Person,
    Tutorship,
)

PASSWORD = "correct horse battery"
CQP = ("CQP-FIOMB", "2026-1")
_seq = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


async def branch(name: str = "Artisanat du bâtiment") -> Organisation:
    return await Organisation.create(kind="branch", name=name)


async def company(branch_org: Organisation, name: str = "Métallerie") -> Organisation:
    return await Organisation.create(kind="company", name=f"{name} {next(_seq)}",
                                     branch=branch_org)


async def person(name: str = "Personne", *, company_org: Organisation | None = None,
                 email: str | None = None, active: bool = True) -> Person:
    n = next(_seq)
    return await Person.create(email=email or f"p{n}@example.test", full_name=f"{name} {n}",
                               password_hash=password_hash(), company=company_org,
                               is_active=active)


async def admin(branch_org: Organisation) -> Person:
    p = await person("Admin")
    await AdminGrant.create(person=p, organisation=branch_org)
    return p


async def enrolment(candidate: Person, company_org: Organisation, tutor: Person | None = None,
                    *, started_on: date | None = None, version: str = CQP[1]) -> Enrolment:
    started_on = started_on or date.today() - timedelta(days=60)
    e = await Enrolment.create(candidate=candidate, company=company_org,
                               referential_code=CQP[0], referential_version=version,
                               access_route="afest", started_on=started_on)
    if tutor is not None:
        await Tutorship.create(enrolment=e, tutor=tutor, designated_on=started_on)
    return e


async def jury_session(branch_org: Organisation, *members: tuple[Person, str]) -> JurySession:
    s = await JurySession.create(organisation=branch_org, held_on=date.today(), place="Salle 1")
    for i, (p, college) in enumerate(members):
        mandate = "employer_organisation" if college == "employer" else "union"
        await JuryMember.create(session=s, person=p, college=college, is_president=i == 0,
                                mandate=mandate, represents="Organisation représentative")
    return s


async def login(client, who: Person, password: str = PASSWORD):
    response = await client.post("/api/v1/session", json={"email": who.email,
                                                           "password": password})
    assert response.status_code == 200, response.text
    return response


@dataclass
class World:
    """Two companies of one branch, each with a tutor and a candidate, a branch
    admin, and a jury session with one member per college."""

    branch: Organisation
    company: Organisation
    other_company: Organisation
    admin: Person
    tutor: Person
    candidate: Person
    enrolment: Enrolment
    other_tutor: Person
    other_candidate: Person
    other_enrolment: Enrolment
    jury_employer: Person
    jury_employee: Person
    session: JurySession
    outsider: Person


async def world() -> World:
    b = await branch()
    c1, c2 = await company(b), await company(b, "Serrurerie")
    tutor = await person("Tuteur", company_org=c1)
    candidate = await person("Candidat", company_org=c1)
    other_tutor = await person("Tutrice", company_org=c2)
    other_candidate = await person("Candidate", company_org=c2)
    j1, j2 = await person("Juré"), await person("Jurée")
    return World(
        branch=b, company=c1, other_company=c2, admin=await admin(b), tutor=tutor,
        candidate=candidate, enrolment=await enrolment(candidate, c1, tutor),
        other_tutor=other_tutor, other_candidate=other_candidate,
        other_enrolment=await enrolment(other_candidate, c2, other_tutor),
        jury_employer=j1, jury_employee=j2,
        session=await jury_session(b, (j1, "employer"), (j2, "employee")),
        outsider=await person("Inconnu"))
