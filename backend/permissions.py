"""Object-level access: how the caller relates to one enrolment, and what follows.

Every route that touches an enrolment, an observation, a photo or a dossier asks
here. Not visible → 404 (existence is not revealed); visible but not allowed to
write → 403.

A jury member has no tie to the enrolment: their seat lets them read the dossiers of
their session and the evidence frozen in those dossiers' manifests, never the live
enrolment, and only while the seat is in force (`jury_cutoff`). Those checks are in
`backend.domain.dossiers`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from tortoise.expressions import Q

from backend import sql
from backend.auth import (
    SESSION_SQL,
    Identity,
    current_identity,
    identity_from_row,
    now,
    session_digest,
)
from backend.errors import Forbidden, NotFound
from backend.models import AdminGrant, Enrolment, Organisation


@dataclass(frozen=True)
class Relation:
    """The caller's ties to one enrolment."""

    enrolment: Enrolment
    admin: bool = False
    tutor: bool = False
    candidate: bool = False

    @property
    def visible(self) -> bool:
        return self.admin or self.tutor or self.candidate


async def admin_branch_ids(person_id: int) -> list[int]:
    return await AdminGrant.filter(person_id=person_id).values_list("organisation_id", flat=True)


# The enrolment row and the caller's ties to it as EXISTS columns of the same statement:
# every API call on an enrolment asks, so it costs one query, not three (backend/sql.py
# says why it is written out). The parameters are the caller's id, twice, then the
# enrolment's. A seat in a jury is not a tie: it reads dossiers, not the enrolment.
RELATION_SQL = (
    'SELECT e."id", e."candidate_id", e."company_id", e."referential_code", '
    'e."referential_version", e."access_route", e."started_on", e."revision", '
    'e."created_at", '
    'EXISTS (SELECT 1 FROM "admin_grant" g JOIN "organisation" o '
    'ON o."branch_id" = g."organisation_id" '
    'WHERE g."person_id" = ? AND o."id" = e."company_id") AS "is_admin", '
    'EXISTS (SELECT 1 FROM "tutorship" t WHERE t."enrolment_id" = e."id" '
    'AND t."tutor_id" = ? AND t."ended_on" IS NULL) AS "is_tutor" '
    'FROM "enrolment" e WHERE e."id" = ?')
TIES = ("is_admin", "is_tutor")


async def relation_to(identity: Identity, enrolment_id: int) -> Relation:
    """Raises NotFound unless the caller may see the enrolment."""
    pid = identity.person.id
    found = await sql.rows(RELATION_SQL, [pid, pid, enrolment_id])
    if not found:
        raise NotFound("Parcours introuvable.", code="enrolment_not_found")
    row = found[0]
    admin, tutor = (bool(row.pop(tie)) for tie in TIES)
    # The ORM's own constructor for database rows (it converts SQLite's text).
    enrolment = Enrolment._init_from_db(**row)
    relation = Relation(enrolment=enrolment, admin=admin, tutor=tutor,
                        candidate=enrolment.candidate_id == pid)
    if not relation.visible:
        raise NotFound("Parcours introuvable.", code="enrolment_not_found")
    return relation


async def path_relation(request: Request) -> tuple[Identity, Relation]:
    """The caller and their relation to the enrolment the route's `{id}` names."""
    identity = await current_identity(request)
    enrolment_id = request.path_params["id"]
    prefetched = request.scope.get("state", {}).get("relation")
    if prefetched is not None and prefetched[0] == enrolment_id and prefetched[1] == identity.id:
        if prefetched[2] is None:
            raise NotFound("Parcours introuvable.", code="enrolment_not_found")
        return identity, prefetched[2]
    return identity, await relation_to(identity, enrolment_id)


# The session, its person, the enrolment and the caller's ties in one statement: the
# same columns as auth.SESSION_SQL and RELATION_SQL, the ties asked of the session's
# person. Parameters: the enrolment's id, then the session's token hash.
IDENTITY_RELATION_SQL = (
    SESSION_SQL.split(' FROM "login_session"')[0] + ', '
    'e."id" AS "e_id", e."candidate_id" AS "e_candidate_id", '
    'e."company_id" AS "e_company_id", e."referential_code" AS "e_referential_code", '
    'e."referential_version" AS "e_referential_version", '
    'e."access_route" AS "e_access_route", e."started_on" AS "e_started_on", '
    'e."revision" AS "e_revision", e."created_at" AS "e_created_at", '
    'EXISTS (SELECT 1 FROM "admin_grant" g JOIN "organisation" o '
    'ON o."branch_id" = g."organisation_id" '
    'WHERE g."person_id" = s."person_id" AND o."id" = e."company_id") AS "is_admin", '
    'EXISTS (SELECT 1 FROM "tutorship" t WHERE t."enrolment_id" = e."id" '
    'AND t."tutor_id" = s."person_id" AND t."ended_on" IS NULL) AS "is_tutor" '
    'FROM "login_session" s JOIN "person" p ON p."id" = s."person_id" '
    'LEFT JOIN "enrolment" e ON e."id" = ? '
    'WHERE s."token_hash" = ?')


def with_path_relation(endpoint):
    """Put above `@allow`: on a route whose `{id}` is an enrolment, the session and the
    caller's ties to it are read in one round trip (IDENTITY_RELATION_SQL), before the
    guard asks for the identity; `path_relation` then uses what was read. The checks
    are the same: an identity only from a live session (the guard's 401 otherwise),
    the same ties, the same 404 when none holds."""

    @functools.wraps(endpoint)
    async def prefetching(request: Request):
        state = request.scope.setdefault("state", {})
        enrolment_id = request.path_params.get("id")
        digest = session_digest(request)
        if "identity" not in state and digest is not None and isinstance(enrolment_id, int):
            found = await sql.rows(IDENTITY_RELATION_SQL, [enrolment_id, digest])
            row = found[0] if found else None
            identity = await identity_from_row(request, row, digest)
            request.state.identity = identity
            if identity is not None:
                state["relation"] = (enrolment_id, identity.id, _relation_from_row(row))
        return await endpoint(request)

    return prefetching


def _relation_from_row(row: dict) -> Relation | None:
    if row["e_id"] is None:
        return None
    enrolment = Enrolment._init_from_db(
        **{k[2:]: v for k, v in row.items() if k.startswith("e_")})
    relation = Relation(enrolment=enrolment, admin=bool(row["is_admin"]),
                        tutor=bool(row["is_tutor"]),
                        candidate=enrolment.candidate_id == row["person_id"])
    return relation if relation.visible else None


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
    condition = (Q(candidate_id=pid) | Q(tutorships__tutor_id=pid, tutorships__ended_on=None)
                 | Q(company__branch_id__in=branches or [-1]))
    return Enrolment.filter(condition).distinct()


async def admin_organisations(identity: Identity) -> list[Organisation]:
    return await Organisation.filter(admin_grants__person_id=identity.person.id)


# Jury seats in force ---------------------------------------------------------------------------


def jury_cutoff(request: Request) -> datetime:
    """Sessions closed before this instant no longer give their members anything to read:
    a jury needs the candidate's evidence to decide and to answer for its decision, not
    for ever (`CARNET_JURY_ACCESS_DAYS`)."""
    return now(request) - timedelta(days=request.app.state.settings.jury_access_days)


def seat_in_force(cutoff: datetime, session: str = "") -> Q:
    """The sessions (`session` is the path to them, e.g. "session__") whose members still
    read: open, or closed since `cutoff`. A closed session without its closing instant
    gives nothing."""
    return Q(**{f"{session}status": "open"}) | Q(**{f"{session}closed_at__gte": cutoff})
