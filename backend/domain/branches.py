"""Branches: the first start (`carnet init`), further branches and their administrators,
and a branch's own settings (name, address, contact, time zone, logo for its PDFs).

The first administrator gets a setup link: an admin invitation issued by nobody
(`accounts.invite` with `by=None`), so it follows the invitation rules: only the keyed hash
of its token is stored, it is single use, it expires, and it is printed once, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from tortoise.transactions import in_transaction

from backend import audit
from backend.domain import accounts
from backend.domain.admin import Scope, clean_name
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.models import AdminGrant, Organisation, Person
from backend.storage import check_logo

DEFAULT_TIME_ZONE = "Europe/Paris"


@dataclass(frozen=True)
class Setup:
    branch: Organisation
    issued: accounts.IssuedInvitation


async def any_branch() -> bool:
    return await Organisation.filter(kind="branch").exists()


async def init(*, branch_name: str, admin_email: str, admin_name: str, at: datetime,
               days: int, secret_key: str) -> Setup:
    """The first start: the branch and its first administrator's setup link. Refused once
    any branch exists (`carnet branch create` and `carnet admin invite` then)."""
    email = accounts.check_email(admin_email)  # before anything is written
    if await any_branch():
        raise Conflict("Carnet is already initialised: a branch exists. Use `carnet branch "
                       "create` and `carnet admin invite` for further ones.",
                       code="already_initialised")
    async with in_transaction():  # both or neither (the nested writes join it)
        branch = await create_branch(branch_name, actor_id=None)
        issued = await invite_admin(branch, email=email, full_name=admin_name, by=None, at=at,
                                    days=days, secret_key=secret_key)
    return Setup(branch, issued)


async def create_branch(name: Any, *, actor_id: int | None) -> Organisation:
    name = clean_name(name)
    async with in_transaction() as conn:
        branch = await Organisation.create(kind="branch", name=name,
                                           time_zone=DEFAULT_TIME_ZONE, using_db=conn)
        await audit.record("branch.created", actor_id=actor_id,
                           subject=f"organisation:{branch.id}", payload={"name": name},
                           connection=conn)
        if actor_id is not None:  # an admin creating a branch administers it
            await AdminGrant.create(person_id=actor_id, organisation=branch, using_db=conn)
            await audit.record("admin.granted", actor_id=actor_id,
                               subject=f"person:{actor_id}",
                               payload={"organisation": branch.id}, connection=conn)
    return branch


async def find_branch(key: str) -> Organisation:
    """A branch by id or by exact name (the command line names them so)."""
    query = Organisation.filter(kind="branch")
    branch = await (query.filter(id=int(key)) if key.isdigit() else query.filter(name=key)).first()
    if branch is None:
        raise NotFound(f"no branch {key!r}", code="branch_not_found")
    return branch


async def invite_admin(branch: Organisation, *, email: str, full_name: str, by: Person | None,
                       at: datetime, days: int, secret_key: str) -> accounts.IssuedInvitation:
    full_name = (full_name or "").strip() or accounts.normalise_email(email).split("@")[0]
    return await accounts.invite(email=email, full_name=full_name, role="admin",
                                 organisation=branch, by=by, at=at, days=days,
                                 secret_key=secret_key)


def clean_time_zone(raw: Any) -> str:
    value = str(raw or "").strip() or DEFAULT_TIME_ZONE
    if value not in available_timezones():
        raise ValidationFailed("Fuseau horaire inconnu (ex. Europe/Paris, America/Cayenne).",
                               code="invalid_time_zone")
    ZoneInfo(value)
    return value


def clean_text(raw: Any, limit: int, what: str) -> str:
    value = str(raw or "").strip()
    if len(value) > limit:
        raise ValidationFailed(f"{what} : {limit} caractères au plus.", code="text_too_long")
    return value


async def update_settings(scope: Scope, branch_id: Any, *, name: Any, address: Any,
                          contact: Any, time_zone: Any, logo: bytes | None = None,
                          remove_logo: bool = False) -> Organisation:
    """Rename a branch and set what its PDFs print; audited with what changed."""
    branch = scope.branch(branch_id)
    changes = {"name": clean_name(name), "address": clean_text(address, 500, "Adresse"),
               "contact": clean_text(contact, 200, "Contact"),
               "time_zone": clean_time_zone(time_zone)}
    if logo:
        changes["logo"], changes["logo_type"] = logo, check_logo(logo)
    elif remove_logo:
        changes["logo"], changes["logo_type"] = None, ""
    changed = sorted(k for k, v in changes.items() if getattr(branch, k) != v)
    if not changed:
        return branch
    async with in_transaction() as conn:
        await Organisation.filter(id=branch.id).using_db(conn).update(**changes)
        await audit.record("branch.updated", actor_id=scope.admin.id,
                           subject=f"organisation:{branch.id}",
                           payload={"fields": changed, "name": changes["name"]},
                           connection=conn)
    for key, value in changes.items():
        setattr(branch, key, value)
    return branch
