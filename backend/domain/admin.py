"""The branch admin's queries and use cases.

Everything goes through a `Scope`: the branches the admin holds an AdminGrant
on, their companies, those companies' enrolments, the branches' jury sessions
and the people tied to any of them. An object outside the scope is NotFound, so
another branch's records are not even revealed. Each write is one transaction
with its audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend import audit
from backend.domain import accounts, enrolments, jury
from backend.domain.progress import add_months
from backend.domain.referentials import Registry
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.http import bounded_int, row_id
from backend.models import (
    ACCESS_ROUTES,
    AdminGrant,
    Decision,
    Dossier,
    Enrolment,
    HeldBlock,
    Invitation,
    JuryMember,
    JurySession,
    Organisation,
    PendingTutorship,
    Person,
    Tutorship,
)

PAGE_SIZE = 25
ROLE_LABELS = {"admin": "administrateur de branche", "tutor": "tuteur", "candidate": "candidat",
               "jury": "membre de jury"}
ACCESS_ROUTE_LABELS = {"afest": "AFEST en entreprise", "continuing": "formation continue",
                       "vae": "VAE"}
COLLEGE_LABELS = {"employer": "collège employeurs", "employee": "collège salariés"}
INVITATION_STATUS_LABELS = {"pending": "en attente", "used": "utilisée", "expired": "expirée"}
MAX_NAME = 200


# --- pure helpers ------------------------------------------------------------------


def page_number(raw: str | None) -> int:
    return bounded_int(raw, low=1) or 1


def search_text(raw: str | None) -> str:
    return (raw or "").strip()[:100]


def parse_date(raw: Any, label: str) -> date:
    try:
        return date.fromisoformat(str(raw or "").strip())
    except ValueError:
        raise ValidationFailed(f"{label} : date invalide (attendu AAAA-MM-JJ).",
                               code="invalid_date") from None


def clean_name(raw: Any, label: str = "Le nom") -> str:
    name = " ".join(str(raw or "").split())
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(f"{label} est obligatoire ({MAX_NAME} caractères au plus).",
                               code="invalid_name")
    return name


def parse_id(raw: Any) -> int | None:
    """A row id from a form or path; None for anything no row can have (a number past the
    database's int range made the driver fail: a 500)."""
    return row_id(raw)


def invitation_status(invitation: Invitation, at: datetime) -> str:
    if invitation.used_at is not None:
        return "used"
    return "expired" if invitation.expires_at <= at else "pending"


def held_until(decided_on: date, validity_months: int | None) -> date | None:
    """Capitalised blocks count `validity_months` toward a certificate not yet delivered
    (None: for life)."""
    return None if validity_months is None else add_months(decided_on, validity_months)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


async def paginate(query: QuerySet, number: int) -> Page:
    """`query` is already ordered; a page past the end shows the last one."""
    total = await query.count()
    number = min(number, max(1, -(-total // PAGE_SIZE)))
    items = await query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return Page(list(items), number, total)


# --- the admin's scope -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    admin: Person
    branches: tuple[Organisation, ...]

    @property
    def branch_ids(self) -> list[int]:
        return [b.id for b in self.branches] or [-1]

    def branch(self, raw_id: Any = None) -> Organisation:
        """The branch named by a form, or the only one the admin holds."""
        if len(self.branches) == 1 and raw_id in (None, ""):
            return self.branches[0]
        wanted = parse_id(raw_id)
        for branch in self.branches:
            if branch.id == wanted:
                return branch
        raise ValidationFailed("Choisissez la branche.", code="invalid_branch")

    def companies(self) -> QuerySet:
        return Organisation.filter(kind="company", branch_id__in=self.branch_ids)

    def _company_ids(self) -> Subquery:
        return Subquery(self.companies().values("id"))

    def _organisation_ids(self) -> Subquery:
        return Subquery(Organisation.filter(
            Q(id__in=self.branch_ids) | Q(branch_id__in=self.branch_ids)).values("id"))

    def enrolments(self) -> QuerySet:
        return Enrolment.filter(company_id__in=self._company_ids())

    def sessions(self) -> QuerySet:
        return JurySession.filter(organisation_id__in=self.branch_ids)

    def invitations(self) -> QuerySet:
        return Invitation.filter(organisation_id__in=self._organisation_ids())

    def people(self) -> QuerySet:
        """Everyone tied to the branches: employees of their companies, their
        admins, candidates and tutors of their enrolments, their jury members,
        and whoever accepted one of their invitations."""
        ids = self.branch_ids
        enrolment_ids = Subquery(self.enrolments().values("id"))
        return Person.filter(
            Q(company_id__in=self._company_ids())
            | Q(id__in=Subquery(AdminGrant.filter(organisation_id__in=ids).values("person_id")))
            | Q(id__in=Subquery(self.enrolments().values("candidate_id")))
            | Q(id__in=Subquery(Tutorship.filter(enrolment_id__in=enrolment_ids)
                                .values("tutor_id")))
            | Q(id__in=Subquery(JuryMember.filter(session__organisation_id__in=ids)
                                .values("person_id")))
            | Q(id__in=Subquery(self.invitations().filter(person_id__isnull=False)
                                .values("person_id"))))

    async def company(self, company_id: Any) -> Organisation:
        found = await self.companies().get_or_none(id=parse_id(company_id) or 0)
        if found is None:
            raise NotFound("Entreprise introuvable.", code="company_not_found")
        return found

    async def person(self, person_id: Any) -> Person:
        found = await self.people().get_or_none(id=parse_id(person_id) or 0)
        if found is None:
            raise NotFound("Personne introuvable.", code="person_not_found")
        return found

    async def enrolment(self, enrolment_id: Any) -> Enrolment:
        found = await self.enrolments().get_or_none(id=parse_id(enrolment_id) or 0)
        if found is None:
            raise NotFound("Parcours introuvable.", code="enrolment_not_found")
        return found

    async def session(self, session_id: Any) -> JurySession:
        found = await self.sessions().get_or_none(id=parse_id(session_id) or 0)
        if found is None:
            raise NotFound("Session de jury introuvable.", code="jury_session_not_found")
        return found

    async def invitation(self, invitation_id: Any) -> Invitation:
        found = await self.invitations().get_or_none(id=parse_id(invitation_id) or 0)
        if found is None:
            raise NotFound("Invitation introuvable.", code="invitation_not_found")
        return found

    async def active_person(self, person_id: Any, label: str) -> Person:
        try:
            found = await self.person(person_id)
        except NotFound:
            found = None
        if found is None or not found.is_active:
            raise ValidationFailed(f"Choisissez {label} parmi les personnes actives de la branche.",
                                   code="invalid_person")
        return found


async def scope_of(admin: Person) -> Scope:
    branches = await Organisation.filter(admin_grants__person_id=admin.id).order_by("name", "id")
    return Scope(admin, tuple(branches))


# --- lists and pages ---------------------------------------------------------------


def search_companies(scope: Scope, q: str) -> QuerySet:
    query = scope.companies()
    if q:
        query = query.filter(Q(name__icontains=q) | Q(siret__contains=q.replace(" ", "")))
    return query.order_by("name", "id")


def search_people(scope: Scope, q: str) -> QuerySet:
    query = scope.people()
    if q:
        query = query.filter(Q(full_name__icontains=q) | Q(email__icontains=q))
    return query.select_related("company").order_by("full_name", "id")


def search_enrolments(scope: Scope, q: str) -> QuerySet:
    query = scope.enrolments()
    if q:
        query = query.filter(candidate__full_name__icontains=q)
    return query.select_related("candidate", "company").order_by("-started_on", "-id")


def filter_invitations(scope: Scope, status: str, at: datetime) -> QuerySet:
    query = scope.invitations()
    if status == "pending":
        query = query.filter(used_at__isnull=True, expires_at__gt=at)
    elif status == "used":
        query = query.filter(used_at__isnull=False)
    elif status == "expired":
        query = query.filter(used_at__isnull=True, expires_at__lte=at)
    return query.select_related("organisation").order_by("-created_at", "-id")


async def roles_by_person(person_ids: list[int]) -> dict[int, list[str]]:
    """The roles each person holds (anywhere), in a fixed number of queries."""
    if not person_ids:
        return {}
    found: dict[int, set[str]] = {pid: set() for pid in person_ids}
    sources = (
        ("admin", AdminGrant.filter(person_id__in=person_ids).values_list("person_id", flat=True)),
        ("tutor", Tutorship.filter(tutor_id__in=person_ids, ended_on=None).values_list(
            "tutor_id", flat=True)),
        ("candidate", Enrolment.filter(candidate_id__in=person_ids).values_list(
            "candidate_id", flat=True)),
        ("jury", JuryMember.filter(person_id__in=person_ids).values_list("person_id", flat=True)),
    )
    for role, query in sources:
        for pid in await query:
            found[pid].add(role)
    return {pid: [r for r in ROLE_LABELS if r in roles] for pid, roles in found.items()}


async def active_people(scope: Scope) -> list[Person]:
    """Choices for the forms (candidate, tutor, jury member)."""
    return await scope.people().filter(is_active=True).order_by("full_name", "id")


async def waiting_for_admin(scope: Scope, today: date) -> dict[str, Any]:
    """What the dashboard lists as waiting: dossiers presented and in no session yet,
    open sessions whose day has come (to close), and where to assign the dossiers."""
    dossiers = await Dossier.filter(
        enrolment_id__in=Subquery(scope.enrolments().values("id")), session_id__isnull=True
    ).select_related("enrolment__candidate").order_by("submitted_at", "id")
    open_sessions = await scope.sessions().filter(status="open").order_by("held_on", "id")
    upcoming = [s for s in open_sessions if s.held_on >= today]
    return {"dossiers": dossiers, "to_close": [s for s in open_sessions if s.held_on <= today],
            "assign_to": (upcoming or open_sessions or [None])[0]}


async def dashboard_counts(scope: Scope, at: datetime) -> dict[str, int]:
    return {
        "companies": await scope.companies().count(),
        "people": await scope.people().count(),
        "enrolments": await scope.enrolments().count(),
        "sessions": await scope.sessions().count(),
        "pending_invitations": await filter_invitations(scope, "pending", at).count(),
    }


# --- companies and people ----------------------------------------------------------


def clean_siret(raw: Any) -> str:
    siret = re.sub(r"[\s.]", "", str(raw or ""))
    if not accounts.siret_is_valid(siret):
        raise ValidationFailed("Numéro SIRET invalide : il faut 14 chiffres et une clé de "
                               "contrôle juste (vérifiez la saisie).", code="invalid_siret")
    return siret


async def create_company(scope: Scope, *, name: Any, siret: Any, branch_id: Any) -> Organisation:
    name, siret, branch = clean_name(name), clean_siret(siret), scope.branch(branch_id)
    taken = ValidationFailed("Une entreprise avec ce numéro SIRET est déjà enregistrée.",
                             code="siret_taken")
    if await Organisation.filter(siret=siret).exists():
        raise taken
    try:
        async with in_transaction() as conn:
            company = await Organisation.create(kind="company", name=name, siret=siret,
                                                branch=branch, using_db=conn)
            await audit.record("company.created", actor_id=scope.admin.id,
                               subject=f"organisation:{company.id}",
                               payload={"name": name, "siret": siret, "branch": branch.id},
                               connection=conn)
    except IntegrityError:
        raise taken from None
    return company


async def invite_person(scope: Scope, *, email: Any, full_name: Any, role: Any, company_id: Any,
                        branch_id: Any, at: datetime, days: int,
                        secret_key: str, represents_id: Any = None) -> accounts.IssuedInvitation:
    """The invitation's organisation is the company when one is given (the person
    joins it on acceptance), else the branch (an admin invitation grants it)."""
    role = str(role or "")
    if company_id not in (None, ""):
        if role == "admin":
            raise ValidationFailed("Un administrateur de branche n'est rattaché à aucune "
                                   "entreprise.", code="invalid_company")
        organisation = await scope.company(company_id)
    else:
        organisation = scope.branch(branch_id)
    represents = (await scope.company(represents_id)
                  if represents_id not in (None, "") else None)
    return await accounts.invite(email=str(email or ""), full_name=str(full_name or ""),
                                 role=role, organisation=organisation, by=scope.admin, at=at,
                                 days=days, secret_key=secret_key, represents=represents)


async def set_represents(scope: Scope, person_id: Any, company_id: Any) -> Person:
    """Record (or clear, with an empty company) the company a person represents: its
    employer, a manager. Conflicts of interest rest on it (docs/domain.md)."""
    person = await scope.person(person_id)
    company = await scope.company(company_id) if company_id not in (None, "") else None
    async with in_transaction() as conn:
        person.represents_company_id = company.id if company else None
        await person.save(using_db=conn, update_fields=["represents_company_id"])
        await audit.record("person.represents", actor_id=scope.admin.id,
                           subject=f"person:{person.id}",
                           payload={"company": person.represents_company_id}, connection=conn)
    return person


async def disable(scope: Scope, person_id: Any, at: datetime) -> Person:
    person = await scope.person(person_id)
    if person.id == scope.admin.id:
        raise ValidationFailed("Vous ne pouvez pas désactiver votre propre compte.",
                               code="cannot_disable_self")
    await accounts.disable_person(person.id, by=scope.admin.id, at=at)
    return person


# --- enrolments --------------------------------------------------------------------


def parse_referential(raw: Any, registry: Registry) -> tuple[str, str]:
    code, _, version = str(raw or "").partition("/")
    if registry.find(code, version) is None:
        raise ValidationFailed("Choisissez un référentiel.", code="referential_not_found")
    return code, version


async def enrol_candidate(scope: Scope, registry: Registry, *, candidate_id: Any, company_id: Any,
                          referential: Any, access_route: Any, started_on: Any,
                          tutor_rows: list[tuple[Any, Any]],
                          today: date | None = None) -> Enrolment:
    """`tutor_rows` are (person id, designation date) from the form; empty rows
    are skipped and an empty date means the start date (today, for a later start: a
    designation is never dated in the future)."""
    candidate = await scope.active_person(candidate_id, "le candidat")
    try:
        company = await scope.company(company_id)
    except NotFound:
        raise ValidationFailed("Choisissez l'entreprise.", code="invalid_company") from None
    code, version = parse_referential(referential, registry)
    if access_route not in ACCESS_ROUTES:
        raise ValidationFailed("Choisissez la voie d'accès.", code="invalid_access_route")
    start = parse_date(started_on, "Date de début")
    tutors: list[tuple[Person, date]] = []
    invited: list[tuple[Invitation, date]] = []  # tutors whose invitation waits
    for tutor_id, designated_on in tutor_rows:
        if str(tutor_id or "").strip() == "":
            continue
        when = (parse_date(designated_on, "Date de désignation") if designated_on
                else min(start, today) if today else start)
        if str(tutor_id).startswith(INVITED):
            invitation = await pending_tutor_invitation(scope, tutor_id, today)
            if any(i.id == invitation.id for i, _ in invited):
                raise ValidationFailed("Un même tuteur est désigné deux fois.",
                                       code="invalid_tutor")
            invited.append((invitation, when))
            continue
        tutor = await scope.active_person(tutor_id, "chaque tuteur")
        refuse_self_designation(scope, tutor)
        if any(t.id == tutor.id for t, _ in tutors):
            raise ValidationFailed("Un même tuteur est désigné deux fois.", code="invalid_tutor")
        when = (parse_date(designated_on, "Date de désignation") if designated_on
                else min(start, today) if today else start)
        tutors.append((tutor, when))
    if access_route == "afest" and not tutors and not invited:
        raise ValidationFailed("Une AFEST demande un tuteur désigné avant le début du parcours.",
                               code="tutor_required")
    for _, when in invited:
        enrolments.refuse_future_designation(when, today)
        if when > start:
            raise ValidationFailed("Le tuteur doit être désigné au plus tard au début du "
                                   "parcours.", code="tutor_designated_late")
    enrolment = await enrolments.enrol(candidate=candidate, company=company, code=code,
                                       version=version, access_route=access_route,
                                       started_on=start, tutors=tutors, registry=registry,
                                       by=scope.admin.id, today=today)
    for invitation, when in invited:
        await PendingTutorship.create(enrolment=enrolment, invitation=invitation,
                                      designated_on=when)
        await audit.record("tutor.designated_pending", actor_id=scope.admin.id,
                           subject=f"enrolment:{enrolment.id}",
                           payload={"invitation": invitation.id,
                                    "designated_on": when.isoformat()})
    return enrolment


INVITED = "invitation:"  # a tutor picker's value for a tutor whose invitation waits


async def pending_tutor_invitation(scope: Scope, value: Any, today: date | None) -> Invitation:
    """A tutor invitation of the admin's branches, neither used nor expired."""
    try:
        invitation_id = int(str(value).removeprefix(INVITED))
    except ValueError:
        invitation_id = 0
    invitation = await scope.invitations().filter(
        id=invitation_id, role="tutor", used_at__isnull=True).first()
    if invitation is None or (today is not None and invitation.expires_at.date() < today):
        raise ValidationFailed("Cette invitation de tuteur n'est plus en attente.",
                               code="invalid_tutor")
    return invitation


async def pending_tutor_invitations(scope: Scope, at: datetime) -> list[Invitation]:
    """Tutors invited and not yet arrived: they may be designated already."""
    return await filter_invitations(scope, "pending", at).filter(role="tutor")


def refuse_self_designation(scope: Scope, tutor: Person) -> None:
    """An admin who made themself tutor would write the evidence they then certify,
    and would gain a tutor's month-long session."""
    if tutor.id == scope.admin.id:
        raise ValidationFailed("Vous ne pouvez pas vous désigner vous-même comme tuteur.",
                               code="cannot_tutor_self")


async def add_tutor(scope: Scope, enrolment: Enrolment, *, tutor_id: Any,
                    designated_on: Any, today: date | None = None) -> Tutorship:
    tutor = await scope.active_person(tutor_id, "le tuteur")
    refuse_self_designation(scope, tutor)
    when = parse_date(designated_on, "Date de désignation")
    if tutor.id == enrolment.candidate_id:
        raise ValidationFailed("Le candidat ne peut pas être son propre tuteur.",
                               code="invalid_tutor")
    if await Tutorship.filter(enrolment_id=enrolment.id, tutor_id=tutor.id).exists():
        raise ValidationFailed("Cette personne est déjà désignée comme tuteur de ce parcours.",
                               code="tutor_already_designated")
    try:
        return await enrolments.designate_tutor(enrolment, tutor, when, by=scope.admin.id,
                                                today=today)
    except IntegrityError:
        raise ValidationFailed("Cette personne est déjà désignée comme tuteur de ce parcours.",
                               code="tutor_already_designated") from None


async def record_held_block(scope: Scope, enrolment: Enrolment, registry: Registry, *,
                            block_code: Any, decided_on: Any, version: Any,
                            today: date) -> HeldBlock:
    """A block capitalised from an earlier decision, on this referential or an
    earlier version of it; an expired capitalisation is refused."""
    code = str(block_code or "")
    referential = registry.find(enrolment.referential_code, enrolment.referential_version)
    if referential is None or referential.block(code) is None:
        raise ValidationFailed("Choisissez un bloc du référentiel du parcours.",
                               code="invalid_block")
    decided_in = registry.find(enrolment.referential_code, str(version or ""))
    if decided_in is None:
        raise ValidationFailed("Choisissez la version du référentiel de la décision.",
                               code="invalid_version")
    decided = parse_date(decided_on, "Date de la décision")
    if decided > today:
        raise ValidationFailed("La date de la décision ne peut pas être dans le futur.",
                               code="invalid_date")
    until = held_until(decided, decided_in.validity_months)
    if until is not None and until < today:
        raise ValidationFailed(f"La capitalisation de ce bloc a expiré le {until:%d/%m/%Y}.",
                               code="held_block_expired")
    duplicate = ValidationFailed("Ce bloc est déjà enregistré comme acquis pour ce parcours.",
                                 code="held_block_exists")
    if await HeldBlock.filter(enrolment_id=enrolment.id, block_code=code).exists():
        raise duplicate
    try:
        async with in_transaction() as conn:
            held = await HeldBlock.create(enrolment=enrolment, block_code=code,
                                          decided_on=decided,
                                          referential_version=decided_in.version, using_db=conn)
            await Enrolment.filter(id=enrolment.id).using_db(conn).update(
                revision=F("revision") + 1)
            await audit.record("held_block.recorded", actor_id=scope.admin.id,
                               subject=f"enrolment:{enrolment.id}",
                               payload={"block": code, "decided_on": decided.isoformat(),
                                        "referential_version": decided_in.version},
                               connection=conn)
    except IntegrityError:
        raise duplicate from None
    return held


# --- jury sessions -----------------------------------------------------------------


async def convene(scope: Scope, *, branch_id: Any, held_on: Any, place: Any) -> JurySession:
    branch = scope.branch(branch_id)
    when = parse_date(held_on, "Date de la session")
    where = clean_name(place, "Le lieu")
    async with in_transaction() as conn:
        session = await JurySession.create(organisation=branch, held_on=when, place=where,
                                           using_db=conn)
        await audit.record("jury_session.convened", actor_id=scope.admin.id,
                           subject=f"jury_session:{session.id}",
                           payload={"branch": branch.id, "held_on": when.isoformat(),
                                    "place": where}, connection=conn)
    return session


def _require_open(session: JurySession) -> None:
    if session.status != "open":
        raise Conflict("La session est close : sa composition ne peut plus changer.",
                       code="jury_session_closed")


async def add_member(scope: Scope, session: JurySession, *, person_id: Any, mandate: Any,
                     represents: Any, president: bool) -> JuryMember:
    """Seat a member for what they represent (an employer organisation or a union, named):
    the college follows from it, it is not chosen (docs/domain.md)."""
    _require_open(session)
    person = await scope.active_person(person_id, "le membre")
    college = jury.college_of(mandate) if isinstance(mandate, str) else None
    if college is None:
        raise ValidationFailed("Indiquez ce que le membre représente : une organisation "
                               "d'employeurs ou une organisation syndicale de salariés.",
                               code="invalid_mandate")
    represents = clean_name(represents, "L'organisation représentée")
    if await JuryMember.filter(session_id=session.id, person_id=person.id).exists():
        raise ValidationFailed("Cette personne siège déjà dans cette session.",
                               code="already_member")
    if president and await JuryMember.filter(session_id=session.id, is_president=True).exists():
        raise ValidationFailed("La session a déjà un président : retirez-le avant d'en désigner "
                               "un autre.", code="president_exists")
    try:
        async with in_transaction() as conn:
            member = await JuryMember.create(session=session, person=person, college=college,
                                             is_president=president, mandate=mandate,
                                             represents=represents, using_db=conn)
            await audit.record("jury.member_added", actor_id=scope.admin.id,
                               subject=f"jury_session:{session.id}",
                               payload={"person": person.id, "college": college,
                                        "mandate": mandate, "represents": represents,
                                        "president": president}, connection=conn)
    except IntegrityError:
        raise ValidationFailed("Cette personne siège déjà dans cette session.",
                               code="already_member") from None
    return member


async def remove_member(scope: Scope, session: JurySession, member_id: Any) -> None:
    _require_open(session)
    member = await JuryMember.get_or_none(id=parse_id(member_id) or 0, session_id=session.id)
    if member is None:
        raise NotFound("Membre introuvable.", code="jury_member_not_found")
    if await Decision.filter(decided_by_id=member.person_id,
                             dossier__session_id=session.id).exists():
        raise Conflict("Ce membre a déjà pris part à des décisions de la session.",
                       code="member_has_decided")
    async with in_transaction() as conn:
        await JuryMember.filter(id=member.id).using_db(conn).delete()
        await audit.record("jury.member_removed", actor_id=scope.admin.id,
                           subject=f"jury_session:{session.id}",
                           payload={"person": member.person_id, "college": member.college,
                                    "president": member.is_president}, connection=conn)
