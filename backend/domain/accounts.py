"""Accounts: logging in, invitations, disabling, SIRET checks.

Pure helpers (SIRET, email normalisation) first, then one use case per write,
each in one transaction with its audit event. Passwords (strength, change,
reset) live in `passwords`, the login throttle in `throttle`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from backend import audit
from backend.auth import end_sessions_of, hash_password, token_hash, verify_password
from backend.domain import passwords, throttle
from backend.errors import Conflict, Forbidden, Gone, NotAuthenticated, ValidationFailed
from backend.i18n import _
from backend.models import EMAIL_LENGTH, AdminGrant, Invitation, Organisation, Person

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVITABLE_ROLES = ("admin", "tutor", "candidate", "jury")
BAD_LOGIN = "Adresse ou mot de passe incorrect."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    if len(email) > EMAIL_LENGTH or not EMAIL_RE.match(email):
        raise ValidationFailed("Adresse électronique invalide.", code="invalid_email")
    return email


def siret_is_valid(siret: str) -> bool:
    """14 digits passing the Luhn check (La Poste's establishments excepted:
    SIREN 356000000, whose SIRETs sum to a multiple of 5)."""
    if not re.fullmatch(r"\d{14}", siret or ""):
        return False
    if siret.startswith("356000000"):
        return sum(int(d) for d in siret) % 5 == 0
    total = 0
    for i, digit in enumerate(int(d) for d in reversed(siret)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


# --- logging in --------------------------------------------------------------------


async def authenticate(email: str, password: str, address: str, at: datetime,
                       limits: throttle.Limits,
                       on_account_locked: Callable[[Person], Awaitable[None]] | None = None
                       ) -> Person:
    """The person, or NotAuthenticated with the same message whether the account
    exists or not. Each attempt is counted before the password is checked
    (`backend.domain.throttle`); when this failure locks the account for every
    address, `on_account_locked` may mail its owner a link to lift it."""
    email = normalise_email(email)
    reservation = await throttle.reserve(email, address, at, limits)
    # No account has a longer address (the ORM refuses to filter by more than the column).
    person = await Person.get_or_none(email=email) if 0 < len(email) <= EMAIL_LENGTH else None
    stored = person.password_hash if person and person.is_active else None
    if await verify_password(stored, password or ""):
        await reservation.succeeded()
        return person
    blocked = await reservation.failed(at)
    await audit.record("login.failed", actor_id=person.id if person else None,
                       subject=f"person:{person.id}" if person else "")
    if "account" in blocked and person is not None and on_account_locked is not None:
        await on_account_locked(person)
    raise NotAuthenticated(BAD_LOGIN, code="bad_credentials")


async def disable_person(person_id: int, by: int, at: datetime) -> None:
    async with in_transaction() as conn:
        await Person.filter(id=person_id).using_db(conn).update(is_active=False)
        await end_sessions_of(person_id, at, conn)
        await audit.record("person.disabled", actor_id=by, subject=f"person:{person_id}",
                           connection=conn)


# --- invitations -------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once to the admin (or mailed); only its hash is stored


async def invite(*, email: str, full_name: str, role: str, organisation: Organisation | None,
                 by: Person | None, at: datetime, days: int,
                 secret_key: str, represents: Organisation | None = None) -> IssuedInvitation:
    """`by` is None only for an administrator's setup link printed by the command line.
    `represents`: a company the person represents (its employer, a manager), recorded on the
    person at acceptance: a conflict of interest with that company's candidates."""
    email = check_email(email)
    full_name = (full_name or "").strip()
    if not full_name or len(full_name) > 200:
        raise ValidationFailed("Le nom est obligatoire.", code="invalid_name")
    if role not in INVITABLE_ROLES:
        raise ValidationFailed("Rôle inconnu.", code="invalid_role")
    token = secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        invitation = await Invitation.create(
            token_hash=token_hash(secret_key, token), email=email, full_name=full_name,
            role=role, organisation=organisation, invited_by=by,
            represents_company=represents, expires_at=at + timedelta(days=days),
            using_db=conn)
        await audit.record("invitation.created", actor_id=by.id if by else None,
                           subject=f"invitation:{invitation.id}",
                           payload={"role": role}, connection=conn)
    return IssuedInvitation(invitation, token)


async def find_invitation(token: str, secret_key: str, at: datetime, conn=None) -> Invitation:
    query = Invitation.filter(token_hash=token_hash(secret_key, token or ""))
    if conn is not None:
        query = query.select_for_update().using_db(conn)
    invitation = await query.first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= at:
        raise Gone("Ce lien d'invitation n'est plus valable.", code="invitation_invalid")
    return invitation


async def account_for(invitation: Invitation) -> Person | None:
    """The existing account the invitation's address belongs to, if any."""
    return await Person.get_or_none(email=invitation.email)


async def accept_as_new_account(token: str, password: str, secret_key: str,
                                at: datetime) -> Person:
    """Creates the account the invitation names, with the password chosen here.
    Never for an address that already has an account: that person accepts while
    logged in as themself (`accept_as_existing`), so an invitation can never set
    the password of an account that exists."""
    invitation = await find_invitation(token, secret_key, at)
    passwords.check_strength(password, known=passwords.known_words(
        None, invitation.email, invitation.email.split("@")[0], *invitation.full_name.split()))
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        invitation = await find_invitation(token, secret_key, at, conn)
        if await Person.filter(email=invitation.email).using_db(conn).exists():
            raise Conflict(_("Un compte existe déjà pour cette adresse : connectez-vous pour "
                             "accepter l'invitation."), code="invitation_needs_login")
        person = await Person.create(email=invitation.email, full_name=invitation.full_name,
                                     password_hash=password_hash, using_db=conn)
        await _accept(invitation, person, at, conn)
    return person


async def accept_as_existing(token: str, person: Person, secret_key: str, at: datetime) -> None:
    """The logged-in person confirms the roles an invitation to their address grants."""
    async with in_transaction() as conn:
        invitation = await find_invitation(token, secret_key, at, conn)
        if invitation.email != person.email or not person.is_active:
            raise Forbidden(_("Cette invitation est destinée à une autre adresse."),
                            code="invitation_for_someone_else")
        await _accept(invitation, person, at, conn)


async def _accept(invitation: Invitation, person: Person, at: datetime, conn) -> None:
    """Single use: the caller locked the row; grant, mark used, audit, as the person
    who accepts (the admin acted when inviting, and is named in the payload)."""
    await _grant_invited(invitation, person, conn)
    await _take_up_designations(invitation, person, conn)
    invitation.used_at, invitation.person = at, person
    await invitation.save(using_db=conn, update_fields=["used_at", "person_id"])
    await audit.record("invitation.accepted", actor_id=person.id,
                       subject=f"invitation:{invitation.id}", connection=conn)


async def _take_up_designations(invitation: Invitation, person: Person, conn) -> None:
    """Enrolments that waited for this tutor: the designation becomes a tutorship,
    dated as the admin designated it."""
    from backend.models import PendingTutorship, Tutorship

    for pending in await PendingTutorship.filter(invitation_id=invitation.id).using_db(conn):
        _, created = await Tutorship.get_or_create(
            enrolment_id=pending.enrolment_id, tutor_id=person.id,
            defaults={"designated_on": pending.designated_on}, using_db=conn)
        if created:
            await audit.record("tutor.designated", actor_id=person.id,
                               subject=f"enrolment:{pending.enrolment_id}",
                               payload={"tutor": person.id, "invitation": invitation.id,
                                        "designated_on": pending.designated_on.isoformat()},
                               connection=conn)
        await pending.delete(using_db=conn)


async def _grant_invited(invitation: Invitation, person: Person, conn) -> None:
    """What the invitation's organisation means: a company the person joins
    (employees, employers), or the branch an admin invitation grants; and the company the
    person represents, when the invitation records one."""
    if invitation.represents_company_id is not None:
        person.represents_company_id = invitation.represents_company_id
        await person.save(using_db=conn, update_fields=["represents_company_id"])
    if invitation.organisation_id is None:
        return
    organisation = await Organisation.get(id=invitation.organisation_id).using_db(conn)
    if organisation.kind == "company" and invitation.role != "admin":
        person.company_id = organisation.id
        await person.save(using_db=conn, update_fields=["company_id"])
    elif invitation.role == "admin" and organisation.kind == "branch":
        _, created = await AdminGrant.get_or_create(person=person, organisation=organisation,
                                                    using_db=conn)
        if created:
            await audit.record("admin.granted", actor_id=person.id,
                               subject=f"person:{person.id}",
                               payload={"organisation": organisation.id,
                                        "invitation": invitation.id,
                                        "invited_by": invitation.invited_by_id},
                               connection=conn)
