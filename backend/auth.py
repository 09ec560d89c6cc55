"""Passwords, server-side sessions and the current identity.

The cookie holds a random token; the database keeps only its keyed hash, so a
leaked database does not yield usable sessions. Hashing passwords is CPU-bound
and runs in a thread, so a burst of logins does not stall the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from backend import sql
from backend.models import AdminGrant, Enrolment, JuryMember, LoginSession, Person, Tutorship

# OWASP minimum for argon2id is m=19 MiB, t=2, p=1; we stay above it.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024 + 1024, parallelism=1)
SECURE_COOKIE = "__Host-carnet"
DEV_COOKIE = "carnet"
# Refreshing last_seen on every request would turn reads into writes.
TOUCH_INTERVAL = timedelta(minutes=5)
# A fixed hash to verify against for unknown accounts: same cost, same answer.
_DUMMY_HASH = HASHER.hash("not a real password")


async def hash_password(password: str) -> str:
    return await run_in_threadpool(HASHER.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await run_in_threadpool(check)


def now(request: Request) -> datetime:
    """The app's clock (tests replace `app.state.clock`)."""
    return request.app.state.clock()


def utcnow() -> datetime:
    return datetime.now(UTC)


def token_hash(secret_key: str, token: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_is_secure(request: Request) -> bool:
    """`__Host-` cookies need Secure, which plain http cannot carry. "auto" allows
    an unprefixed, non-Secure cookie only for plain http on a loopback host."""
    mode = request.app.state.settings.cookie_secure
    if mode == "never":
        return False
    if mode == "always" or request.url.scheme == "https":
        return True
    return not _is_loopback(request.url.hostname or "")


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if cookie_is_secure(request) else DEV_COOKIE


@dataclass
class Identity:
    person: Person
    session: LoginSession
    _roles: frozenset[str] | None = field(default=None, repr=False)

    @property
    def id(self) -> int:
        return self.person.id

    async def roles(self) -> frozenset[str]:
        if self._roles is None:
            self._roles = await roles_of(self.person.id)
        return self._roles


async def roles_of(person_id: int) -> frozenset[str]:
    found = set()
    if await AdminGrant.filter(person_id=person_id).exists():
        found.add("admin")
    if await Tutorship.filter(tutor_id=person_id, ended_on=None).exists():
        found.add("tutor")
    if await Enrolment.filter(candidate_id=person_id).exists():
        found.add("candidate")
    if await JuryMember.filter(person_id=person_id).exists():
        found.add("jury")
    return frozenset(found)


def session_lifetime(settings, roles: frozenset[str]) -> tuple[timedelta, timedelta]:
    """(idle, absolute). Tutors work offline for days, so theirs are long; but a
    person who also administers a branch or sits on a jury gets the short
    lifetime of that more privileged role. All sessions stay revocable."""
    if "tutor" in roles and not roles & {"admin", "jury"}:
        days = timedelta(days=settings.tutor_session_days)
        return days, days
    return timedelta(hours=settings.session_idle_hours), timedelta(days=settings.session_max_days)


async def open_session(request: Request, person: Person,
                       connection=None) -> tuple[str, LoginSession]:
    settings = request.app.state.settings
    idle, absolute = session_lifetime(settings, await roles_of(person.id))
    token = secrets.token_urlsafe(32)
    at = now(request)
    session = await LoginSession.create(
        token_hash=token_hash(settings.secret_key, token), person=person, created_at=at,
        last_seen_at=at, expires_at=at + absolute, idle_seconds=int(idle.total_seconds()),
        using_db=connection,
    )
    return token, session


def set_session_cookie(request: Request, response: Response, token: str, session: LoginSession):
    secure = cookie_is_secure(request)
    max_age = int((session.expires_at - session.created_at).total_seconds())
    response.set_cookie(SECURE_COOKIE if secure else DEV_COOKIE, token, max_age=max_age,
                        path="/", secure=secure, httponly=True, samesite="lax")


def clear_session_cookie(request: Request, response: Response) -> None:
    secure = cookie_is_secure(request)
    response.delete_cookie(SECURE_COOKIE if secure else DEV_COOKIE, path="/", secure=secure,
                           httponly=True, samesite="lax")


def _session_alive(session: LoginSession, at: datetime) -> bool:
    person = session.person
    if session.revoked_at is not None or not person.is_active:
        return False
    cutoff = person.sessions_valid_after
    if cutoff is not None and session.created_at <= cutoff:
        return False
    idle_limit = session.last_seen_at + timedelta(seconds=session.idle_seconds)
    return at < session.expires_at and at < idle_limit


async def current_identity(request: Request) -> Identity | None:
    """The logged-in person, looked up once per request."""
    if "identity" in request.scope.get("state", {}):
        return request.state.identity
    identity = await _load_identity(request)
    request.state.identity = identity
    return identity


# Session and person in one statement, read as plain rows (backend/sql.py says why).
# tests/test_sql.py fails when a column of either table is missing here.
SESSION_SQL = (
    'SELECT s."token_hash", s."person_id", s."created_at", s."last_seen_at", s."expires_at", '
    's."idle_seconds", s."revoked_at", p."id" AS "p_id", p."email" AS "p_email", '
    'p."full_name" AS "p_full_name", p."password_hash" AS "p_password_hash", '
    'p."is_active" AS "p_is_active", p."sessions_valid_after" AS "p_sessions_valid_after", '
    'p."company_id" AS "p_company_id", p."represents_company_id" AS '
    '"p_represents_company_id", p."created_at" AS "p_created_at" '
    'FROM "login_session" s JOIN "person" p ON p."id" = s."person_id" '
    'WHERE s."token_hash" = ?')


SESSION_COLUMNS = frozenset(("token_hash", "person_id", "created_at", "last_seen_at",
                             "expires_at", "idle_seconds", "revoked_at"))


def _session_from_row(row: dict) -> LoginSession:
    """The ORM's own constructor for database rows (it converts SQLite's text)."""
    person = Person._init_from_db(**{k[2:]: v for k, v in row.items() if k.startswith("p_")})
    session = LoginSession._init_from_db(
        **{k: v for k, v in row.items() if k in SESSION_COLUMNS})
    session.person = person
    return session


def session_digest(request: Request) -> str | None:
    """The keyed hash of the request's session cookie, None without one."""
    token = request.cookies.get(cookie_name(request))
    if not token:
        return None
    return token_hash(request.app.state.settings.secret_key, token)


async def _load_identity(request: Request) -> Identity | None:
    digest = session_digest(request)
    if digest is None:
        return None
    found = await sql.rows(SESSION_SQL, [digest])
    return await identity_from_row(request, found[0] if found else None, digest)


async def identity_from_row(request: Request, row: dict | None, digest: str) -> Identity | None:
    """The identity a SESSION_SQL row (its columns, possibly among others) stands for,
    if the session is alive; touches it now and then."""
    at = now(request)
    session = _session_from_row(row) if row else None
    if session is None or not _session_alive(session, at):
        return None
    if at - session.last_seen_at > TOUCH_INTERVAL:
        await LoginSession.filter(token_hash=digest).update(last_seen_at=at)
    return Identity(person=session.person, session=session)


async def end_sessions_of(person_id: int, at: datetime, connection=None) -> None:
    """Logout everywhere / disabling: every session issued so far stops working."""
    await Person.filter(id=person_id).using_db(connection).update(sessions_valid_after=at)
    await LoginSession.filter(person_id=person_id, revoked_at=None).using_db(connection).update(
        revoked_at=at)
