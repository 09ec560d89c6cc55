"""Accounts: logging in and out, invitations, disabling, SIRET checks.

Pure helpers (SIRET, email normalisation) first, then one use case per write,
each in one transaction with its audit event.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from backend import audit
from backend.auth import end_sessions_of, hash_password, token_hash, verify_password
from backend.errors import Gone, NotAuthenticated, TooManyRequests, ValidationFailed
from backend.models import (
    EMAIL_LENGTH,
    AdminGrant,
    Invitation,
    LoginThrottle,
    Organisation,
    Person,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
INVITABLE_ROLES = ("admin", "tutor", "candidate", "jury")
BAD_LOGIN = "Adresse ou mot de passe incorrect."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def check_email(email: str) -> str:
    email = normalise_email(email)
    if len(email) > EMAIL_LENGTH or not EMAIL_RE.match(email):
        raise ValidationFailed("Adresse électronique invalide.", code="invalid_email")
    return email


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD or len(password) > 1024:
        raise ValidationFailed(f"Le mot de passe doit compter au moins {MIN_PASSWORD} caractères.",
                               code="weak_password")
    return password


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


def throttle_key(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


# --- logging in --------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int
    window: timedelta


async def _check_throttle(key: str, at: datetime, limits: LoginLimits) -> None:
    row = await LoginThrottle.get_or_none(key=key)
    if row is None or at - row.window_started_at >= limits.window:
        return
    if row.failures >= limits.max_failures:
        wait = row.window_started_at + limits.window - at
        raise TooManyRequests(retry_after=max(1, int(wait.total_seconds())))


async def _count_failure(key: str, at: datetime, limits: LoginLimits, conn) -> None:
    row = await LoginThrottle.select_for_update().using_db(conn).get_or_none(key=key)
    if row is None:
        await LoginThrottle.create(key=key, failures=1, window_started_at=at, using_db=conn)
    elif at - row.window_started_at >= limits.window:
        row.failures, row.window_started_at = 1, at
        await row.save(using_db=conn)
    else:
        row.failures += 1
        await row.save(using_db=conn, update_fields=["failures"])


async def authenticate(email: str, password: str, at: datetime, limits: LoginLimits) -> Person:
    """The person, or NotAuthenticated with the same message whether the account
    exists or not. Too many failures on one account → TooManyRequests, which
    lifts when the window ends (no one can lock another out for long)."""
    email = normalise_email(email)
    key = throttle_key(email)
    await _check_throttle(key, at, limits)
    # No account has a longer address (the ORM refuses to filter by more than the column).
    person = await Person.get_or_none(email=email) if 0 < len(email) <= EMAIL_LENGTH else None
    stored = person.password_hash if person and person.is_active else None
    if await verify_password(stored, password or ""):
        await LoginThrottle.filter(key=key).delete()
        return person
    async with in_transaction() as conn:
        await _count_failure(key, at, limits, conn)
        await audit.record("login.failed", actor_id=person.id if person else None,
                           subject=f"person:{person.id}" if person else "", connection=conn)
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
                 by: Person, at: datetime, days: int, secret_key: str) -> IssuedInvitation:
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
            expires_at=at + timedelta(days=days),
            using_db=conn)
        await audit.record("invitation.created", actor_id=by.id,
                           subject=f"invitation:{invitation.id}",
                           payload={"email": email, "role": role}, connection=conn)
    return IssuedInvitation(invitation, token)


async def find_invitation(token: str, secret_key: str, at: datetime, conn=None) -> Invitation:
    query = Invitation.filter(token_hash=token_hash(secret_key, token or ""))
    if conn is not None:
        query = query.select_for_update().using_db(conn)
    invitation = await query.first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= at:
        raise Gone("Ce lien d'invitation n'est plus valable.", code="invitation_invalid")
    return invitation


async def accept_invitation(token: str, password: str, secret_key: str, at: datetime) -> Person:
    """Single use: the row is locked, checked and marked used in one transaction."""
    check_password(password)
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        invitation = await find_invitation(token, secret_key, at, conn)
        person = await Person.get_or_none(email=invitation.email).using_db(conn)
        if person is None:
            person = await Person.create(email=invitation.email, full_name=invitation.full_name,
                                         password_hash=password_hash, using_db=conn)
        else:
            person.password_hash = password_hash
            await person.save(using_db=conn, update_fields=["password_hash"])
        await _grant_invited(invitation, person, conn)
        invitation.used_at, invitation.person = at, person
        await invitation.save(using_db=conn, update_fields=["used_at", "person_id"])
        await audit.record("invitation.accepted", actor_id=person.id,
                           subject=f"invitation:{invitation.id}", connection=conn)
    return person


async def _grant_invited(invitation: Invitation, person: Person, conn) -> None:
    """What the invitation's organisation means: a company the person joins
    (employees, employers), or the branch an admin invitation grants."""
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
            await audit.record("admin.granted", actor_id=invitation.invited_by_id,
                               subject=f"person:{person.id}",
                               payload={"organisation": organisation.id,
                                        "invitation": invitation.id}, connection=conn)
