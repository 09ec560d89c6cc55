"""Passwords: strength, changing one's own, resets and lock lifts by mailed link.

Strength is scored by zxcvbn (a maintained estimator of guessing effort) rather
than by composition rules: twelve characters at least and a score of 3 or more,
with the person's own name and address counted as known words. Every change of
password ends every session of the person (the one that changed it gets a new
one from the web layer).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction
from zxcvbn import zxcvbn

from backend import audit
from backend.auth import end_sessions_of, hash_password, token_hash, verify_password
from backend.errors import Gone, ValidationFailed
from backend.i18n import _
from backend.models import Person, PersonToken

MIN_LENGTH = 12
MAX_LENGTH = 1024
MIN_SCORE = 3
# Words anyone guessing a Carnet password would try first.
SITE_WORDS = ("carnet", "cqp", "motdepasse", "mot de passe", "password", "tuteur", "candidat",
              "jury", "branche", "chantier")
RESET_LIFETIME = timedelta(hours=1)
UNLOCK_LIFETIME = timedelta(hours=24)
# A new reset link is not mailed more often than this (no mail bombing).
RESET_COOLDOWN = timedelta(minutes=5)


def check_strength(password: object, *, known: tuple[str, ...] = ()) -> str:
    """The password, or ValidationFailed `weak_password` saying why."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ValidationFailed(
            _("Le mot de passe doit compter au moins %(n)d caractères.") % {"n": MIN_LENGTH},
            code="weak_password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(_("Ce mot de passe est trop long."), code="weak_password")
    inputs = [w for w in (*SITE_WORDS, *known) if w]
    # zxcvbn's cost grows with the length; what lies beyond 100 characters adds nothing.
    if zxcvbn(password[:100], user_inputs=inputs)["score"] < MIN_SCORE:
        raise ValidationFailed(
            _("Ce mot de passe est trop facile à deviner : allongez-le, par exemple avec "
              "quelques mots sans rapport entre eux."), code="weak_password")
    return password


def known_words(person: Person | None, *more: str) -> tuple[str, ...]:
    words = list(more)
    if person is not None:
        words += [person.email, person.email.split("@")[0], *person.full_name.split()]
    return tuple(w for w in words if w)


def check_repeated(password: object, again: object) -> None:
    if password != again:
        raise ValidationFailed(_("Les deux mots de passe ne sont pas identiques."),
                               code="passwords_differ")


async def change_password(person: Person, current: str, new: str, at: datetime) -> None:
    """Asks the current password; ends every session of the person."""
    if not await verify_password(person.password_hash, current or ""):
        raise ValidationFailed(_("Le mot de passe actuel est incorrect."),
                               code="bad_current_password")
    check_strength(new, known=known_words(person))
    new_hash = await hash_password(new)
    async with in_transaction() as conn:
        await Person.filter(id=person.id).using_db(conn).update(password_hash=new_hash)
        await end_sessions_of(person.id, at, conn)
        await audit.record("password.changed", actor_id=person.id,
                           subject=f"person:{person.id}", connection=conn)


# --- mailed links ---------------------------------------------------------------------


async def issue_token(person: Person, purpose: str, at: datetime, secret_key: str, *,
                      cooldown: bool = True) -> str | None:
    """A new single-use link token for the person (only its hash is stored), or
    None when one of the same purpose was mailed moments ago (`cooldown`)."""
    recent = await PersonToken.filter(person_id=person.id, purpose=purpose, used_at=None,
                                      created_at__gt=at - RESET_COOLDOWN).exists()
    if cooldown and recent:
        return None
    lifetime = RESET_LIFETIME if purpose == "reset" else UNLOCK_LIFETIME
    token = secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        row = await PersonToken.create(token_hash=token_hash(secret_key, token), person=person,
                                       purpose=purpose, created_at=at, expires_at=at + lifetime,
                                       using_db=conn)
        await audit.record(f"{purpose}_link.issued", actor_id=None, subject=f"person:{person.id}",
                           payload={"link": row.id}, connection=conn)
    return token


async def find_token(token: str, purpose: str, secret_key: str, at: datetime,
                     conn=None) -> PersonToken:
    query = PersonToken.filter(token_hash=token_hash(secret_key, token or ""), purpose=purpose)
    if conn is not None:
        query = query.select_for_update().using_db(conn)
    row = await query.first()
    if row is None or row.used_at is not None or row.expires_at <= at:
        raise Gone(_("Ce lien n'est plus valable. Demandez-en un nouveau."), code="link_invalid")
    return row


async def reset_password(token: str, new: str, secret_key: str, at: datetime) -> Person:
    """Single use: the row is locked, checked and marked used with the new hash."""
    row = await find_token(token, "reset", secret_key, at)
    person = await Person.get(id=row.person_id)
    check_strength(new, known=known_words(person))
    new_hash = await hash_password(new)
    async with in_transaction() as conn:
        row = await find_token(token, "reset", secret_key, at, conn)
        await Person.filter(id=row.person_id).using_db(conn).update(password_hash=new_hash)
        await end_sessions_of(row.person_id, at, conn)
        row.used_at = at
        await row.save(using_db=conn, update_fields=["used_at"])
        await audit.record("password.reset", actor_id=row.person_id,
                           subject=f"person:{row.person_id}", connection=conn)
    return person


async def use_unlock(token: str, secret_key: str, at: datetime) -> Person:
    async with in_transaction() as conn:
        row = await find_token(token, "unlock", secret_key, at, conn)
        row.used_at = at
        await row.save(using_db=conn, update_fields=["used_at"])
        await audit.record("login.unlocked", actor_id=row.person_id,
                           subject=f"person:{row.person_id}", connection=conn)
    return await Person.get(id=row.person_id)
