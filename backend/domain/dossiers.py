"""Dossiers and jury sessions: the use cases around the pure rules of `backend.domain.jury`.

Each write is one transaction with its audit event, and bumps the enrolment's revision when
what the candidate and the tutor see changes. Object-level access is decided here, through
`backend.permissions`: not visible → 404, visible but not allowed → 403.

Concurrency:
- submitting locks the enrolment row, so two submissions of one block cannot both pass the
  readiness check, and the manifest is read after every evidence write that got in first;
- deciding and closing lock the session row: no decision lands after the closing, and the
  one-decision-per-dossier unique constraint settles whatever slips past the check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend import audit
from backend.auth import Identity, utcnow
from backend.domain import announcements, jury, seals
from backend.domain.evidence import bump_revision
from backend.domain.garbage import purged_photo_ids
from backend.domain.progress import HeldBlock as HeldRecord
from backend.domain.referentials import JuryRules, Referential, Registry
from backend.domain.standing import french_day, load_records
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.http import row_id
from backend.models import (
    AuditEvent,
    Decision,
    DeliveredCertificate,
    Dossier,
    Enrolment,
    HeldBlock,
    JuryMember,
    JurySession,
    Observation,
    Person,
    Photo,
    Tutorship,
)
from backend.permissions import Relation, admin_branch_ids, relation_to, seat_in_force
from backend.storage import PhotoStore

Clock = Callable[[], datetime]
SHA_HEX = re.compile(r"[0-9a-f]{64}")


def dossier_not_found() -> NotFound:
    return NotFound("Dossier introuvable.", code="dossier_not_found")


def session_not_found() -> NotFound:
    return NotFound("Session de jury introuvable.", code="jury_session_not_found")


def session_closed() -> Conflict:
    return Conflict("La session est close : ses décisions sont définitives.",
                    code="jury_session_closed")


def decision_json(d: Decision) -> dict[str, Any]:
    return {"id": d.id, "dossier": d.dossier_id, "outcome": d.outcome, "reasons": d.reasons,
            "recommendations": d.recommendations, "decided_by": d.decided_by_id,
            "decided_at": jury.instant(d.decided_at), "manifest_sha256": d.manifest_sha256,
            "deliberation": d.deliberation, "excluded": d.excluded}


def dossier_json(d: Dossier, decision: Decision | None = None, *,
                 manifest: bool = False) -> dict[str, Any]:
    data = {"id": d.id, "enrolment": d.enrolment_id, "block": d.block_code,
            "submitted_by": d.submitted_by_id, "submitted_at": jury.instant(d.submitted_at),
            "session": d.session_id, "review_of": d.review_of_id,
            "manifest_sha256": d.manifest_sha256,
            "decision": decision_json(decision) if decision else None}
    if manifest:
        data["manifest"] = d.manifest
    return data


# Conflicts of interest ----------------------------------------------------------------------


async def conflicts(person_ids: Iterable[int], enrolments: dict[int, int], conn: Any = None
                    ) -> dict[tuple[int, int], str]:
    """{(person, enrolment): reason} for the people of `person_ids` tied to the candidates of
    `enrolments` ({enrolment id: company id}), from explicit ties only (docs/domain.md): the
    candidate themself, any tutor of the candidate in any enrolment (past or present), a
    representative of the candidate's company (recorded on the person), a person of the
    candidate's company (the enrolment's, or the one on the candidate's record). Four
    queries whatever the numbers."""
    person_ids = list(set(person_ids))
    if not person_ids or not enrolments:
        return {}
    rows = await Enrolment.filter(id__in=list(enrolments)).using_db(conn).values_list(
        "id", "candidate_id", "candidate__company_id")
    candidate_of = {eid: cid for eid, cid, _ in rows}
    companies_of = {eid: {enrolments[eid], *([company] if company else [])}
                    for eid, _, company in rows}
    tutors = set(await Tutorship.filter(
        tutor_id__in=person_ids, enrolment__candidate_id__in=list(set(candidate_of.values()))
    ).using_db(conn).values_list("tutor_id", "enrolment__candidate_id"))
    people = {pid: (company, represents) for pid, company, represents in await Person.filter(
        id__in=person_ids).using_db(conn).values_list("id", "company_id",
                                                      "represents_company_id")}
    found = {}
    for pid in person_ids:
        company, represents = people.get(pid, (None, None))
        for eid in enrolments:
            candidate, theirs = candidate_of.get(eid), companies_of.get(eid, set())
            reason = jury.conflict_reason(
                candidate=pid == candidate, tutors=(pid, candidate) in tutors,
                represents=represents is not None and represents in theirs,
                same_company=company is not None and company in theirs)
            if reason:
                found[(pid, eid)] = reason
    return found


async def first_jurors(dossiers: Iterable[Dossier], conn: Any = None) -> dict[int, set[int]]:
    """{appeal dossier: the people who deliberated (or entered) the decision it appeals}: an
    appeal is decided by a jury with none of them."""
    appeals = {d.id: d.review_of_id for d in dossiers if d.review_of_id is not None}
    if not appeals:
        return {}
    decisions = {d.dossier_id: d for d in await Decision.filter(
        dossier_id__in=list(appeals.values())).using_db(conn)}
    found = {}
    for appeal_id, reviewed in appeals.items():
        d = decisions.get(reviewed)
        if d is not None:
            found[appeal_id] = {d.decided_by_id, *(v.get("person") for v in d.deliberation or []
                                                   if isinstance(v, dict))}
    return found


async def dossier_conflicts(person_ids: Iterable[int], dossiers: list[Dossier],
                            conn: Any = None) -> dict[tuple[int, int], str]:
    """{(person, dossier): reason}: the candidate's conflicts, and for an appeal the members
    of the first decision. Needs `enrolment` loaded on each dossier."""
    person_ids = list(set(person_ids))
    by_enrolment = await conflicts(person_ids, {d.enrolment_id: d.enrolment.company_id
                                                for d in dossiers}, conn)
    firsts = await first_jurors(dossiers, conn)
    found = {}
    for d in dossiers:
        for pid in person_ids:
            reason = by_enrolment.get((pid, d.enrolment_id)) or jury.conflict_reason(
                first_jury=pid in firsts.get(d.id, ()))
            if reason:
                found[(pid, d.id)] = reason
    return found


# Who may do what on a dossier ---------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    dossier: Dossier
    relation: Relation  # the caller's ties to the enrolment (none for a member who only sits)
    seat: JuryMember | None  # the caller's seat in the dossier's session, while in force
    conflict: str | None  # why the caller may not decide on this candidate

    @property
    def can_decide(self) -> bool:
        return self.seat is not None and self.conflict is None


async def seat_for(identity: Identity, dossier: Dossier, cutoff: datetime
                   ) -> JuryMember | None:
    """The caller's seat in the dossier's own session, while it is in force (the session
    open, or closed since `cutoff`). A seat in another session of the same candidate gives
    nothing: each dossier is read by the jury it was assigned to."""
    if dossier.session_id is None:
        return None
    return await JuryMember.filter(seat_in_force(cutoff, "session__"),
                                   session_id=dossier.session_id,
                                   person_id=identity.id).first()


async def dossier_access(identity: Identity, dossier_id: int, *, cutoff: datetime) -> Access:
    """Seen by whoever sees the enrolment, and by the members of the dossier's session while
    their seat is in force; a member in conflict of interest who has no other tie gets 403
    (the session lists the dossier to them), anyone else 404."""
    dossier = await Dossier.get_or_none(id=dossier_id).select_related("enrolment")
    if dossier is None:
        raise dossier_not_found()
    seat = await seat_for(identity, dossier, cutoff)
    try:
        relation = await relation_to(identity, dossier.enrolment_id)
    except NotFound:
        relation = None
    conflict = None
    if seat is not None:
        found = await dossier_conflicts([identity.id], [dossier])
        conflict = found.get((identity.id, dossier.id))
    if relation is None and seat is None:
        raise dossier_not_found()
    if relation is None and conflict:
        raise Forbidden(f"Conflit d'intérêts ({conflict}) : vous ne siégez pas pour ce dossier.",
                        code="conflict_of_interest")
    return Access(dossier, relation or Relation(enrolment=dossier.enrolment), seat, conflict)


async def jury_evidence(identity: Identity, enrolment_id: int, kind: str, row_id: str, *,
                        cutoff: datetime) -> list[dict[str, Any]]:
    """The entries of one observation or photo (`kind` is "observations" or "photos") in the
    manifests of the dossiers the caller reads as a jury member: dossiers of this enrolment
    in sessions where they hold a seat in force, free of conflict of interest. Empty when the
    row is not frozen in any of them: what a jury reads is what was frozen for it."""
    rows = await Dossier.filter(seat_in_force(cutoff, "session__"), enrolment_id=enrolment_id,
                                session__members__person_id=identity.id).values_list(
        "manifest", "enrolment__company_id")
    if not rows:
        return []
    if await conflicts([identity.id], {enrolment_id: rows[0][1]}):
        return []
    return [entry for manifest, _ in rows if jury.readable(manifest)
            for entry in manifest[kind] if isinstance(entry, dict) and entry.get("id") == row_id]


def require_appellant(access: Access) -> None:
    if not (access.relation.candidate or access.relation.admin):
        raise Forbidden("Seul le candidat (ou l'administrateur pour lui) forme un recours.",
                        code="not_appellant")


def require_decider(access: Access) -> None:
    if access.seat is None:
        raise Forbidden("Seuls les membres de la session de ce dossier décident.",
                        code="not_jury_member")
    if access.conflict:
        raise Forbidden(f"Conflit d'intérêts ({access.conflict}) : vous ne pouvez pas décider "
                        "sur ce dossier.", code="conflict_of_interest")


# Submitting a block -------------------------------------------------------------------------


def submitter_role(relation: Relation) -> str:
    if relation.tutor:
        return "tutor"
    if relation.admin:
        return "admin"
    raise Forbidden("Seul un tuteur désigné sur ce parcours ou l'administrateur de la branche "
                    "présente un bloc au jury.", code="not_designated_tutor")


def not_ready(block) -> Conflict:
    reasons = [block.reason] + [c.reason for c in block.competencies
                                if c.state != "acquired" or c.evidence_missing]
    return Conflict(f"Le bloc {block.code} n'est pas prêt pour le jury.", code="block_not_ready",
                    details={"block": block.code, "state": block.state, "reasons": reasons})


async def submit(identity: Identity, relation: Relation, block_code: Any, *,
                 registry: Registry, today: date, clock: Clock) -> Dossier:
    """Freeze a ready block into a dossier: the manifest of its evidence, the submitter's
    attestation and the manifest's sha256."""
    role = submitter_role(relation)
    enrolment = relation.enrolment
    ref = registry.find(enrolment.referential_code, enrolment.referential_version)
    if ref is None:
        raise NotFound("Le référentiel de ce parcours n'est pas chargé.",
                       code="referential_not_found")
    if not isinstance(block_code, str) or ref.block(block_code) is None:
        raise ValidationFailed("Bloc inconnu dans ce référentiel.", code="unknown_block",
                               details={"block": "inconnu"})
    async with in_transaction() as conn:
        await Enrolment.select_for_update().using_db(conn).get(id=enrolment.id)
        at = clock()  # after the lock: every row counted was written before this instant
        records = await load_records(enrolment.id, ref, conn=conn)
        block = next(b for b in records.progress(ref, today).blocks if b.code == block_code)
        if not block.ready:
            raise not_ready(block)
        manifest = jury.build_manifest(
            ref=ref, block_code=block_code,
            enrolment={"id": enrolment.id, "candidate": enrolment.candidate_id,
                       "company": enrolment.company_id},
            observations=await Observation.filter(enrolment_id=enrolment.id).using_db(
                conn).values(*jury.OBSERVATION_FIELDS),
            photos=await Photo.filter(enrolment_id=enrolment.id).using_db(conn).values(
                *jury.PHOTO_FIELDS),
            attestation={"person": identity.id, "name": identity.person.full_name,
                         "role": role, "at": jury.instant(at)})
        digest = jury.sha256_of(manifest)
        dossier = await Dossier.create(enrolment_id=enrolment.id, block_code=block_code,
                                       manifest=manifest, manifest_sha256=digest,
                                       submitted_by_id=identity.id, submitted_at=at,
                                       using_db=conn)
        await bump_revision(enrolment.id, conn)
        await audit.record("dossier.submitted", actor_id=identity.id,
                           subject=f"dossier:{dossier.id}",
                           payload={"enrolment": enrolment.id, "block": block_code,
                                    "manifest_sha256": digest,
                                    "observations": len(manifest["observations"]),
                                    "photos": len(manifest["photos"])}, connection=conn)
        await announcements.dossier_presented(conn, enrolment.id, block_code, at)
    return dossier


# Jury sessions: assignment ------------------------------------------------------------------


async def admin_session(identity: Identity, session_id: int) -> JurySession:
    branches = await admin_branch_ids(identity.id)
    session = await JurySession.get_or_none(id=session_id, organisation_id__in=branches or [-1])
    if session is None:
        raise session_not_found()
    return session


async def branch_dossier(session: JurySession, dossier_id: Any) -> Dossier:
    """A dossier of the session's branch (the only ones it may examine)."""
    wanted = row_id(dossier_id)
    if wanted is None:
        raise dossier_not_found()
    dossier = await Dossier.get_or_none(id=wanted,
                                        enrolment__company__branch_id=session.organisation_id)
    if dossier is None:
        raise dossier_not_found()
    return dossier


async def assign(identity: Identity, session_id: int, dossier_id: Any, *,
                 assigned: bool) -> Dossier:
    """Put an undecided dossier of the branch in an open session (`assigned`), or take it out."""
    session = await admin_session(identity, session_id)
    dossier = await branch_dossier(session, dossier_id)
    async with in_transaction() as conn:
        locked = await JurySession.select_for_update().using_db(conn).get(id=session.id)
        if locked.status != "open":
            raise Conflict("La session est close : ses dossiers ne changent plus.",
                           code="jury_session_closed")
        if await Decision.filter(dossier_id=dossier.id).using_db(conn).exists():
            raise Conflict("Ce dossier a déjà reçu sa décision.", code="already_decided")
        current = (None, session.id) if assigned else (session.id, None)
        moved = await Dossier.filter(id=dossier.id, session_id=current[0]).using_db(
            conn).update(session_id=current[1])
        if not moved:
            raise Conflict("Ce dossier est déjà affecté à une session." if assigned else
                           "Ce dossier n'est pas affecté à cette session.",
                           code="dossier_assigned" if assigned else "dossier_not_assigned")
        await audit.record("dossier.assigned" if assigned else "dossier.unassigned",
                           actor_id=identity.id, subject=f"dossier:{dossier.id}",
                           payload={"session": session.id}, connection=conn)
        if assigned:
            members = await JuryMember.filter(session_id=session.id).using_db(
                conn).values_list("person_id", flat=True)
            await announcements.dossier_assigned(conn, dossier.enrolment_id, dossier.block_code,
                                                 locked, list(members), utcnow())
    dossier.session_id = current[1]
    return dossier


async def session_members(session_ids: list[int]) -> dict[int, list[JuryMember]]:
    found: dict[int, list[JuryMember]] = {sid: [] for sid in session_ids}
    for m in await JuryMember.filter(session_id__in=session_ids or [-1]).select_related(
            "person").order_by("-is_president", "college", "id"):
        found[m.session_id].append(m)
    return found


@dataclass(frozen=True)
class DossierLine:
    """A dossier as the session screens list it."""

    dossier: Dossier
    decision: Decision | None
    conflicted: dict[int, str]  # member's person id → reason
    notes: tuple[str, ...]  # members who may not decide on it, and why
    problems: tuple[str, ...]  # what keeps the remaining members from deciding

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.notes + self.problems


def rules_for(dossier: Dossier, registry: Registry | None) -> JuryRules:
    """The jury rules of the dossier's certificate (its referential's `jury:`), else the
    default paritaire jury. Needs `enrolment` loaded."""
    e = dossier.enrolment
    ref = registry.find(e.referential_code, e.referential_version) if registry else None
    return ref.jury if ref is not None else JuryRules()


async def dossier_lines(dossiers: list[Dossier], members: list[JuryMember], conn: Any = None,
                        registry: Registry | None = None) -> list[DossierLine]:
    """Needs `enrolment__candidate` loaded. A few queries whatever the number of dossiers."""
    decisions = {d.dossier_id: d for d in await Decision.filter(
        dossier_id__in=[d.id for d in dossiers] or [-1]).using_db(conn)}
    found = await dossier_conflicts([m.person_id for m in members], dossiers, conn)
    lines = []
    for d in dossiers:
        mine = {m.person_id: r for m in members if (r := found.get((m.person_id, d.id)))}
        notes = tuple(f"{m.person.full_name} ({jury.COLLEGE_LABELS[m.college]}) : "
                      f"{mine[m.person_id]}, ne pourra pas décider." for m in members
                      if m.person_id in mine)
        problems = tuple(jury.deliberation_problems(
            [m.college for m in members if m.person_id not in mine],
            rules_for(d, registry))) if members else ()
        lines.append(DossierLine(d, decisions.get(d.id), mine, notes, problems))
    return lines


async def assignment_view(identity: Identity, session_id: int,
                          registry: Registry | None = None) -> dict[str, Any]:
    session = await admin_session(identity, session_id)
    members = (await session_members([session.id]))[session.id]
    assigned = await Dossier.filter(session_id=session.id).select_related(
        "enrolment__candidate").order_by("id")
    waiting = await Dossier.filter(
        session_id=None, decision=None,
        enrolment__company__branch_id=session.organisation_id).select_related(
        "enrolment__candidate").order_by("submitted_at", "id")
    return {"session": session, "members": members,
            "assigned": await dossier_lines(list(assigned), members, registry=registry),
            "waiting": await dossier_lines(list(waiting), members, registry=registry)}


# Jury sessions: listing ---------------------------------------------------------------------


async def visible_sessions(identity: Identity, cutoff: datetime) -> list[JurySession]:
    """Sessions the caller sits on (while the seat is in force), and every session of the
    branches they administer."""
    branches = await admin_branch_ids(identity.id)
    return list(await JurySession.filter(
        (Q(members__person_id=identity.id) & seat_in_force(cutoff))
        | Q(organisation_id__in=branches or [-1])
    ).distinct().order_by("-held_on", "-id"))


async def previous_presidency(session: JurySession, conn: Any = None) -> str | None:
    """The college that presided the branch's last session closed before this one was held
    (presidency alternates between the colleges, session to session)."""
    previous = await JurySession.filter(
        organisation_id=session.organisation_id, status="closed", id__not=session.id,
        held_on__lte=session.held_on).using_db(conn).order_by("-held_on", "-id").first()
    if previous is None:
        return None
    found = await JuryMember.filter(session_id=previous.id, is_president=True).using_db(
        conn).values_list("college", flat=True)
    return found[0] if found else None


async def composition_of(session: JurySession, members: list[JuryMember], conn: Any = None
                         ) -> list[str]:
    """The one check of a session's composition (session screens, admin pages, closing)."""
    return jury.composition_problems([(m.college, m.is_president) for m in members],
                                     await previous_presidency(session, conn))


async def session_view(identity: Identity, session: JurySession,
                       members: list[JuryMember], registry: Registry | None = None
                       ) -> dict[str, Any]:
    dossiers = await Dossier.filter(session_id=session.id).select_related(
        "enrolment__candidate").order_by("id")
    lines = await dossier_lines(list(dossiers), members, registry=registry)
    seat = next((m for m in members if m.person_id == identity.id), None)
    problems = await composition_of(session, members)
    return {"session": session, "members": members, "lines": lines, "seat": seat,
            "problems": problems, "vice_president": jury.vice_president(members)}


async def sessions_overview(identity: Identity, registry: Registry | None, cutoff: datetime
                            ) -> list[dict[str, Any]]:
    sessions = await visible_sessions(identity, cutoff)
    members = await session_members([s.id for s in sessions])
    return [await session_view(identity, s, members[s.id], registry) for s in sessions]


async def session_for(identity: Identity, session_id: int, cutoff: datetime) -> JurySession:
    """A session the caller sits on (while the seat is in force) or administers, else 404."""
    session = await JurySession.get_or_none(id=session_id)
    if session is None:
        raise session_not_found()
    if await JuryMember.filter(seat_in_force(cutoff, "session__"), session_id=session.id,
                               person_id=identity.id).exists():
        return session
    if session.organisation_id in await admin_branch_ids(identity.id):
        return session
    raise session_not_found()


def session_json(view: dict[str, Any], identity: Identity) -> dict[str, Any]:
    s = view["session"]
    return {
        "id": s.id, "held_on": s.held_on.isoformat(), "place": s.place, "status": s.status,
        "closed_at": jury.instant(s.closed_at), "composition_problems": view["problems"],
        "members": [{"person": {"id": m.person.id, "full_name": m.person.full_name},
                     "college": m.college, "is_president": m.is_president}
                    for m in view["members"]],
        "dossiers": [{**dossier_json(line.dossier, line.decision),
                      "candidate": {"id": line.dossier.enrolment.candidate.id,
                                    "full_name": line.dossier.enrolment.candidate.full_name},
                      "conflict_of_interest": line.conflicted.get(identity.id),
                      "warnings": list(line.warnings)} for line in view["lines"]],
    }


# Deciding -----------------------------------------------------------------------------------


def already_decided(decision: Decision) -> Conflict:
    return Conflict("Ce dossier a déjà reçu sa décision.", code="already_decided",
                    details={"stored": decision_json(decision)})


def check_manifest(dossier: Dossier) -> None:
    if jury.sha256_of(dossier.manifest) != dossier.manifest_sha256:
        raise Conflict("Le manifeste de ce dossier ne correspond plus à son empreinte : "
                       "décision impossible, prévenez l'administrateur.",
                       code="dossier_altered")


def not_chair() -> Forbidden:
    return Forbidden("La décision est celle du jury : seul son président (ou, s'il est en "
                     "conflit d'intérêts sur ce dossier, le premier membre de l'autre collège) "
                     "l'enregistre, avec le vote de chaque membre présent.", code="not_chair")


def seats_of(members: Iterable[JuryMember]) -> list[jury.Seat]:
    return [jury.Seat(m.person_id, m.college, m.is_president) for m in members]


async def decide(identity: Identity, dossier_id: int, data: jury.DecisionInput, *,
                 clock: Clock, cutoff: datetime, registry: Registry | None = None) -> Decision:
    """The chair enters the jury's decision on a dossier with the votes of the members present
    at the deliberation; it is recorded only if they are free of conflict, reach the quorum
    and the composition of the certificate's rules, and the outcome has the majority."""
    access = await dossier_access(identity, dossier_id, cutoff=cutoff)
    require_decider(access)
    dossier = access.dossier
    try:
        async with in_transaction() as conn:
            session = await JurySession.select_for_update().using_db(conn).get(
                id=dossier.session_id)
            now_in = await Dossier.filter(id=dossier.id).using_db(conn).values_list(
                "session_id", flat=True)
            if now_in != [session.id]:  # taken out of the session since the seat was checked
                raise Conflict("Ce dossier n'est plus affecté à cette session.",
                               code="dossier_not_assigned")
            stored = await Decision.get_or_none(dossier_id=dossier.id).using_db(conn)
            if stored is not None:
                raise already_decided(stored)
            if session.status != "open":
                raise session_closed()
            at = clock()
            if french_day(at) < session.held_on:
                raise Conflict(f"La session se tient le {session.held_on:%d/%m/%Y} : le jury "
                               "ne décide pas avant.", code="session_not_held_yet")
            check_manifest(dossier)
            members = list(await JuryMember.filter(session_id=session.id).using_db(conn))
            seats = seats_of(members)
            found = await dossier_conflicts([m.person_id for m in members], [dossier], conn)
            conflicted = {pid: r for (pid, _), r in found.items()}
            if jury.chair(seats, conflicted) != identity.id:
                raise not_chair()
            deliberation = jury.deliberate(seats, conflicted, data.votes,
                                           rules_for(dossier, registry))
            if deliberation.outcome != data.outcome:
                raise ValidationFailed(
                    "La décision saisie n'est pas celle que donnent les votes.",
                    code="outcome_not_voted",
                    details={"outcome": data.outcome, "voted": deliberation.outcome})
            decision = Decision(
                dossier_id=dossier.id, outcome=data.outcome, reasons=data.reasons,
                recommendations=data.recommendations, decided_by_id=identity.id,
                decided_at=at, manifest_sha256=dossier.manifest_sha256,
                deliberation=deliberation.record, excluded=deliberation.excluded)
            record = decision_record(decision)
            decision.decision_sha256 = jury.sha256_of(record)
            await decision.save(using_db=conn)
            await bump_revision(dossier.enrolment_id, conn)
            await audit.record("decision.recorded", actor_id=identity.id,
                               subject=f"dossier:{dossier.id}",
                               payload={"enrolment": dossier.enrolment_id,
                                        "block": dossier.block_code, "outcome": data.outcome,
                                        "manifest_sha256": dossier.manifest_sha256,
                                        "session": session.id, "decision": record,
                                        "decision_sha256": decision.decision_sha256},
                               connection=conn)
    except IntegrityError:  # a concurrent decision on the same dossier won
        raise already_decided(await Decision.get(dossier_id=dossier.id)) from None
    return decision


def decision_record(d: Decision) -> dict[str, Any]:
    """The decision's sealed record, from its row (with who deliberated and their votes)."""
    return seals.decision_record(dossier=d.dossier_id, manifest_sha256=d.manifest_sha256,
                                 outcome=d.outcome, reasons=d.reasons,
                                 recommendations=d.recommendations, decided_by=d.decided_by_id,
                                 decided_at=d.decided_at, deliberation=d.deliberation,
                                 excluded=d.excluded)


# Closing ------------------------------------------------------------------------------------


async def president_seat(identity: Identity, session_id: int, cutoff: datetime) -> JuryMember:
    session = await session_for(identity, session_id, cutoff)
    seat = await JuryMember.get_or_none(session_id=session.id, person_id=identity.id)
    if seat is None or not seat.is_president:
        raise Forbidden("Seul le président de la session la clôt.", code="not_president")
    return seat


async def close_session(identity: Identity, session_id: int, *, clock: Clock,
                        cutoff: datetime, early: bool = False,
                        registry: Registry | None = None) -> JurySession:
    """The president closes: every dossier decided (each decision met its certificate's rules
    of deliberation when it was recorded), the session's composition met (both colleges, one
    president, the presidency alternating). Decisions are final, and shown to the candidates,
    afterwards."""
    await president_seat(identity, session_id, cutoff)
    async with in_transaction() as conn:
        session = await JurySession.select_for_update().using_db(conn).get(id=session_id)
        if session.status != "open":
            raise Conflict("La session est déjà close.", code="jury_session_closed")
        if not early and session.held_on > french_day(clock()):
            raise Conflict(f"La session se tient le {session.held_on:%d/%m/%Y} : la clore avant "
                           "demande que le président confirme une clôture anticipée.",
                           code="jury_session_early")
        members = await JuryMember.filter(session_id=session.id).using_db(conn).select_related(
            "person").order_by("-is_president", "college", "id")
        dossiers = await Dossier.filter(session_id=session.id).using_db(conn).select_related(
            "enrolment__candidate").order_by("id")
        lines = await dossier_lines(list(dossiers), list(members), conn)
        undecided = [line.dossier.id for line in lines if line.decision is None]
        if undecided:
            raise Conflict("Des dossiers de la session attendent leur décision.",
                           code="dossiers_undecided", details={"dossiers": undecided})
        problems = await composition_of(session, list(members), conn)
        if problems:
            raise Conflict("La composition du jury ne permet pas de clore la session.",
                           code="jury_composition", details={"problems": problems})
        session.status, session.closed_at, session.closed_by_id = "closed", clock(), identity.id
        record = minutes_record(session, list(members), lines)
        session.minutes_sha256 = jury.sha256_of(record)
        await session.save(using_db=conn, update_fields=["status", "closed_at", "closed_by_id",
                                                         "minutes_sha256"])
        for enrolment_id in sorted({line.dossier.enrolment_id for line in lines}):
            await bump_revision(enrolment_id, conn)
        await audit.record("jury_session.closed", actor_id=identity.id,
                           subject=f"jury_session:{session.id}",
                           payload={**record, "minutes_sha256": session.minutes_sha256},
                           connection=conn)
        for line in lines:
            await announcements.decision_published(
                conn, line.dossier.enrolment_id, line.dossier.block_code,
                line.decision.outcome, session.closed_at)
        if registry is not None:
            for line in {line.dossier.enrolment_id: line for line in lines}.values():
                await deliver_certificate(identity, line.dossier.enrolment, registry,
                                          french_day(session.closed_at), conn)
    return session


def certificate_number(ref: Referential, enrolment_id: int, day: date) -> str:
    """One certificate per enrolment: its number says which certificate, when and whose."""
    return f"{ref.code}-{day.year}-{enrolment_id:06d}"


async def deliver_certificate(identity: Identity, enrolment: Enrolment, registry: Registry,
                              day: date, conn: Any) -> DeliveredCertificate | None:
    """Store the certificate of an enrolment whose blocks are now all acquired (one at least by
    a decision of a Carnet jury): its number, its date, the decisions and minutes it rests on
    and the referential version, sealed by its audit event. Delivered once, it never expires."""
    ref = registry.find(enrolment.referential_code, enrolment.referential_version)
    if ref is None or await DeliveredCertificate.filter(
            enrolment_id=enrolment.id).using_db(conn).exists():
        return None
    found = await enrolment_outcome(enrolment, ref, day, conn=conn)
    if found.outcome.kind != "certificate":
        return None
    used = {b.dossier for b in found.outcome.blocks if b.dossier}
    sessions = dict(await Dossier.filter(id__in=list(used) or [-1]).using_db(conn).values_list(
        "session_id", "session__minutes_sha256"))
    number = certificate_number(ref, enrolment.id, found.outcome.delivered_on)
    record = jury.certificate_record(number=number, enrolment=enrolment.id,
                                     candidate=enrolment.candidate_id, ref=ref,
                                     outcome=found.outcome, sessions=sessions)
    certificate = await DeliveredCertificate.create(
        enrolment_id=enrolment.id, number=number, delivered_on=found.outcome.delivered_on,
        referential_version=ref.version, record=record, record_sha256=jury.sha256_of(record),
        using_db=conn)
    await audit.record("certificate.delivered", actor_id=identity.id,
                       subject=f"certificate:{certificate.id}",
                       payload={"certificate": record,
                                "certificate_sha256": certificate.record_sha256},
                       connection=conn)
    return certificate


def minutes_record(session: JurySession, members: list[JuryMember],
                   lines: list[DossierLine]) -> dict[str, Any]:
    """What the minutes attest, by ids (names may change, this may not): its sha256 is in the
    closing's audit event and printed on the procès-verbal."""
    return {
        "session": session.id, "held_on": session.held_on.isoformat(), "place": session.place,
        "closed_at": jury.instant(session.closed_at), "closed_by": session.closed_by_id,
        "members": [[m.person_id, m.college, m.is_president] for m in members],
        "decisions": [{"dossier": line.dossier.id, "enrolment": line.dossier.enrolment_id,
                       "block": line.dossier.block_code,
                       "manifest_sha256": line.dossier.manifest_sha256,
                       "outcome": line.decision.outcome, "reasons": line.decision.reasons,
                       "recommendations": line.decision.recommendations,
                       "decided_by": line.decision.decided_by_id,
                       "decided_at": jury.instant(line.decision.decided_at),
                       **({"deliberation": line.decision.deliberation,
                           "excluded": line.decision.excluded}
                          if line.decision.deliberation is not None else {})}
                      for line in lines if line.decision is not None],
    }


async def minutes_view(identity: Identity, session_id: int, registry: Registry,
                       cutoff: datetime) -> dict[str, Any]:
    session = await session_for(identity, session_id, cutoff)
    members = (await session_members([session.id]))[session.id]
    view = await session_view(identity, session, members, registry)
    deciders = dict(await Person.filter(id__in=[line.decision.decided_by_id for line in
                                                view["lines"] if line.decision] or [-1]
                                        ).values_list("id", "full_name"))
    titles = {}
    for line in view["lines"]:
        e = line.dossier.enrolment
        ref = registry.find(e.referential_code, e.referential_version)
        block = ref.block(line.dossier.block_code) if ref else None
        titles[line.dossier.id] = block.title if block else ""
    results = {}  # per candidate: the overall result once the session's decisions are final
    for line in view["lines"]:
        e = line.dossier.enrolment
        ref = registry.find(e.referential_code, e.referential_version)
        if ref is not None and e.id not in results and session.status == "closed":
            found = await enrolment_outcome(e, ref, french_day(session.closed_at))
            results[e.id] = (e.candidate.full_name, found.outcome)
    rules = {}
    for line in view["lines"]:
        e = line.dossier.enrolment
        ref = registry.find(e.referential_code, e.referential_version)
        if ref is not None:
            rules[f"{ref.title} ({ref.code})"] = jury.rules_text(ref.jury)
    people = {v["person"] for line in view["lines"] if line.decision
              for v in line.decision.deliberation or []}
    names = dict(await Person.filter(id__in=list(people) or [-1]).values_list("id",
                                                                               "full_name"))
    view.update(results=results, rules=rules, names=names,
                previous_presidency=await previous_presidency(session))
    view.update(deciders=deciders, titles=titles,
                minutes_sha256=jury.sha256_of(minutes_record(session, members, view["lines"]))
                if session.status == "closed" else None)
    return view


# Appeals ------------------------------------------------------------------------------------


def appeal_deadline(closed_at: datetime, appeal_days: int) -> datetime:
    """The last instant of the appeal window: the session's closing stands for the
    notification of the decision (CARNET_APPEAL_DAYS, docs/domain.md)."""
    return closed_at + timedelta(days=appeal_days)


async def appeal(identity: Identity, dossier_id: int, grounds: str, *, clock: Clock,
                 cutoff: datetime, appeal_days: int = 60) -> Dossier:
    """A reasoned appeal against a final refusal, within the appeal window: a new dossier
    reviewing the same frozen evidence (`review_of`), to be assigned to a session and decided
    like any other, by a jury with none of the members of the first decision."""
    access = await dossier_access(identity, dossier_id, cutoff=cutoff)
    require_appellant(access)
    original = access.dossier
    decision = await Decision.get_or_none(dossier_id=original.id).select_related(
        "dossier__session")
    if decision is None or decision.dossier.session.status != "closed":
        raise Conflict("Un recours porte sur une décision définitive (session close).",
                       code="decision_not_final")
    if decision.outcome != "not_validated":
        raise Conflict("Seule une décision de non-validation peut faire l'objet d'un recours.",
                       code="not_appealable")
    closed_at = decision.dossier.session.closed_at
    if closed_at is None or clock() > appeal_deadline(closed_at, appeal_days):
        limit = french_day(appeal_deadline(closed_at, appeal_days)) if closed_at else None
        raise Conflict(f"Le délai de recours ({appeal_days} jours après la clôture de la "
                       "session) est dépassé." + (f" Il a expiré le {limit:%d/%m/%Y}."
                                                  if limit else ""),
                       code="appeal_too_late", details={"appeal_days": appeal_days})
    check_manifest(original)
    async with in_transaction() as conn:
        await Enrolment.select_for_update().using_db(conn).get(id=original.enrolment_id)
        if await Dossier.filter(review_of_id=original.id).using_db(conn).exists():
            raise Conflict("Un recours a déjà été formé contre cette décision.",
                           code="already_appealed")
        if await Dossier.filter(enrolment_id=original.enrolment_id,
                                block_code=original.block_code, decision=None).using_db(
                conn).exists():
            raise Conflict("Un dossier de ce bloc attend déjà la décision du jury.",
                           code="dossier_pending")
        at = clock()
        manifest = jury.appeal_manifest(
            original.manifest, dossier_id=original.id, manifest_sha256=original.manifest_sha256,
            grounds=grounds, by={"person": identity.id, "name": identity.person.full_name,
                                 "role": "candidate" if access.relation.candidate else "admin"},
            at=at)
        digest = jury.sha256_of(manifest)
        dossier = await Dossier.create(enrolment_id=original.enrolment_id,
                                       block_code=original.block_code, manifest=manifest,
                                       manifest_sha256=digest, submitted_by_id=identity.id,
                                       submitted_at=at, review_of_id=original.id,
                                       using_db=conn)
        record = appeal_record(dossier, decision)
        dossier.appeal_sha256 = jury.sha256_of(record)
        await dossier.save(using_db=conn, update_fields=["appeal_sha256"])
        await bump_revision(original.enrolment_id, conn)
        await audit.record("dossier.appealed", actor_id=identity.id,
                           subject=f"dossier:{dossier.id}",
                           payload={"enrolment": original.enrolment_id,
                                    "block": original.block_code, "review_of": original.id,
                                    "manifest_sha256": digest, "appeal": record,
                                    "appeal_sha256": dossier.appeal_sha256}, connection=conn)
        await announcements.appeal_lodged(conn, original.enrolment_id, original.block_code, at)
    return dossier


def appeal_record(d: Dossier, reviewed: Decision) -> dict[str, Any]:
    """An appeal's sealed record, from its dossier row and the decision it appeals."""
    return seals.appeal_record(
        dossier=d.id, review_of=d.review_of_id,
        reviewed_decision_sha256=jury.sha256_of(decision_record(reviewed)),
        enrolment=d.enrolment_id, block=d.block_code, manifest_sha256=d.manifest_sha256,
        by=d.submitted_by_id, at=d.submitted_at)


# Outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolmentOutcome:
    outcome: jury.Outcome
    dossiers: list[dict[str, Any]]  # every dossier with its session and decision, oldest first
    certificate: DeliveredCertificate | None = None  # once delivered


async def enrolment_outcome(enrolment: Enrolment, ref: Referential,
                            today: date, conn: Any = None) -> EnrolmentOutcome:
    held = await HeldBlock.filter(enrolment_id=enrolment.id).using_db(conn).values_list(
        "block_code", "decided_on", "referential_version")
    dossiers = await Dossier.filter(enrolment_id=enrolment.id).using_db(conn).order_by(
        "id").values("id", "block_code", "submitted_at", "review_of_id", "manifest_sha256",
                     "session_id", "session__held_on", "session__place", "session__status")
    decisions = {d["dossier_id"]: d for d in await Decision.filter(
        dossier__enrolment_id=enrolment.id).using_db(conn).values(
        "dossier_id", "outcome", "reasons", "recommendations", "decided_at")}
    stored = await DeliveredCertificate.get_or_none(enrolment_id=enrolment.id).using_db(conn)
    delivered = None if stored is None else jury.Delivered(
        stored.number, stored.delivered_on, tuple(stored.record.get("blocks") or ()))
    records = []
    for d in dossiers:
        decision = decisions.get(d["id"])
        # A decision reaches the candidate's page when its session is closed, not before.
        decision = decision if d["session__status"] == "closed" else None
        d["decision"] = decision
        records.append(jury.DossierRecord(
            id=d["id"], block=d["block_code"], submitted_on=french_day(d["submitted_at"]),
            outcome=decision["outcome"] if decision else None,
            decided_on=french_day(decision["decided_at"]) if decision else None,
            final=bool(decision) and d["session__status"] == "closed",
            reasons=decision["reasons"] if decision else "",
            recommendations=decision["recommendations"] if decision else "",
            review_of=d["review_of_id"]))
    outcome = jury.compute_outcome(ref, [HeldRecord(*h) for h in held], records, today,
                                   delivered)
    return EnrolmentOutcome(outcome, dossiers, stored)


def outcome_json(enrolment: Enrolment, found: EnrolmentOutcome) -> dict[str, Any]:
    c = found.certificate
    return {"enrolment": enrolment.id, **jury.outcome_dict(found.outcome),
            "certificate": None if c is None else {
                "number": c.number, "delivered_on": c.delivered_on.isoformat(),
                "referential_version": c.referential_version,
                "record_sha256": c.record_sha256}, "dossiers": [
        {"id": d["id"], "block": d["block_code"], "submitted_at": jury.instant(d["submitted_at"]),
         "review_of": d["review_of_id"], "manifest_sha256": d["manifest_sha256"],
         "session": None if d["session_id"] is None else {
             "id": d["session_id"], "held_on": d["session__held_on"].isoformat(),
             "place": d["session__place"], "status": d["session__status"]},
         "decision": None if d["decision"] is None else {
             "outcome": d["decision"]["outcome"], "reasons": d["decision"]["reasons"],
             "recommendations": d["decision"]["recommendations"],
             "decided_at": jury.instant(d["decision"]["decided_at"])}}
        for d in found.dossiers]}


# Review --------------------------------------------------------------------------------------


async def visible_decision(access: Access, session: JurySession | None) -> Decision | None:
    """The dossier's decision as the caller may see it: the jury and the branch's admins see
    it once recorded, the candidate and the tutor once the session is closed (the decision
    is the jury's when its minutes are signed)."""
    decision = await Decision.get_or_none(dossier_id=access.dossier.id)
    if decision is None or access.seat is not None or access.relation.admin:
        return decision
    return decision if session is not None and session.status == "closed" else None


async def review_view(access: Access, registry: Registry) -> dict[str, Any]:
    """The jury's page of one dossier: everything read from the frozen manifest."""
    dossier, manifest = access.dossier, access.dossier.manifest
    if not jury.readable(manifest):
        raise Conflict("Le manifeste de ce dossier est illisible : prévenez l'administrateur.",
                       code="dossier_altered")
    ref = registry.find(manifest["referential"]["code"], manifest["referential"]["version"])
    if ref is None:
        raise NotFound("Le référentiel de ce dossier n'est pas chargé.",
                       code="referential_not_found")
    session = await JurySession.get_or_none(id=dossier.session_id) if dossier.session_id else None
    decision = await visible_decision(access, session)
    members = list(await JuryMember.filter(session_id=session.id).select_related(
        "person").order_by("-is_president", "college", "id")) if session else []
    found = await dossier_conflicts([m.person_id for m in members], [dossier])
    conflicted = {pid: r for (pid, _), r in found.items()}
    chair = jury.chair(seats_of(members), conflicted)
    order = list(await Dossier.filter(session_id=dossier.session_id).order_by("id").values_list(
        "id", flat=True)) if session else [dossier.id]
    at = order.index(dossier.id)
    people = {manifest["enrolment"]["candidate"], dossier.submitted_by_id,
              *(o["author"] for o in manifest["observations"]),
              *([decision.decided_by_id] if decision else []),
              *(v["person"] for v in ((decision.deliberation if decision else None) or []))}
    names = dict(await Person.filter(id__in=list(people)).values_list("id", "full_name"))
    return {
        "dossier": dossier, "manifest": manifest, "ref": ref,
        "block": ref.block(manifest["block"]["code"]),
        "progress": jury.manifest_progress(manifest, ref, french_day(dossier.submitted_at)),
        "timeline": jury.criteria_timeline(manifest), "photos": jury.photo_labels(manifest),
        "observations": [o for o in manifest["observations"] if o["kind"] == "observation"],
        "reflections": [o for o in manifest["observations"] if o["kind"] == "reflection"],
        "names": names, "decision": decision, "session": session, "access": access,
        "previous": order[at - 1] if at > 0 else None,
        "next": order[at + 1] if at + 1 < len(order) else None, "position": (at + 1, len(order)),
        "hash_ok": jury.sha256_of(manifest) == dossier.manifest_sha256,
        "can_decide": access.can_decide and decision is None and session is not None
        and session.status == "open" and chair is not None and chair == access.seat.person_id,
        "members": members, "conflicted": conflicted,
        "rules_text": jury.rules_text(rules_for(dossier, registry)),
    }


# Verification -------------------------------------------------------------------------------


async def verify_dossier(dossier_id: int, registry: Registry, store: PhotoStore) -> list[str]:
    """Every difference between a dossier and what the database and the photo files say;
    empty when it verifies. Rows are read as they stood at submission: evidence recorded
    after it (a refused block reopens) belongs to later dossiers."""
    dossier = await Dossier.get_or_none(id=dossier_id)
    if dossier is None:
        return [f"dossier {dossier_id}: not found"]
    problems = await _check_hashes(dossier) + await check_seals(dossier)
    if dossier.review_of_id is not None:
        return problems + await _check_appeal(dossier, registry, store)
    manifest = dossier.manifest
    if not jury.readable(manifest):
        return problems + [f"manifest: unreadable (not a {jury.MANIFEST_FORMAT} manifest)"]
    ref = registry.find(manifest["referential"].get("code"),
                        manifest["referential"].get("version"))
    if ref is None or ref.block(manifest["block"].get("code")) is None:
        return problems + [f"referential {manifest['referential']}: not loaded"]
    enrolment = await Enrolment.get(id=dossier.enrolment_id)
    header = {"id": enrolment.id, "candidate": enrolment.candidate_id,
              "company": enrolment.company_id}
    if manifest.get("enrolment") != header:
        problems.append(f"enrolment: stored {manifest.get('enrolment')}, rows give {header}")
    cutoff = {"enrolment_id": enrolment.id, "created_at__lte": dossier.submitted_at}
    fresh = jury.evidence_part(
        ref, dossier.block_code,
        await Observation.filter(**cutoff).values(*jury.OBSERVATION_FIELDS),
        await Photo.filter(**cutoff).values(*jury.PHOTO_FIELDS))
    problems += jury.diff_manifests({k: manifest.get(k) for k in fresh}, fresh)
    purged = await purged_photo_ids()
    return problems + await run_in_threadpool(_check_files, manifest.get("photos") or [], store,
                                              purged)


async def _check_hashes(dossier: Dossier) -> list[str]:
    problems = []
    actual = jury.sha256_of(dossier.manifest)
    if actual != dossier.manifest_sha256:
        problems.append(f"manifest: hashes to {actual}, dossier records "
                        f"{dossier.manifest_sha256}")
    decision = await Decision.get_or_none(dossier_id=dossier.id)
    if decision is not None and decision.manifest_sha256 != dossier.manifest_sha256:
        problems.append(f"decision {decision.id}: made on manifest {decision.manifest_sha256}, "
                        f"dossier records {dossier.manifest_sha256}")
    action = "dossier.appealed" if dossier.review_of_id else "dossier.submitted"
    event = await AuditEvent.get_or_none(action=action, subject=f"dossier:{dossier.id}")
    if event is None:
        problems.append(f"audit: no {action} event for dossier {dossier.id}")
    elif event.payload.get("manifest_sha256") != dossier.manifest_sha256:
        problems.append(f"audit event {event.id}: records manifest "
                        f"{event.payload.get('manifest_sha256')}, dossier records "
                        f"{dossier.manifest_sha256}")
    return problems


async def _check_appeal(dossier: Dossier, registry: Registry, store: PhotoStore) -> list[str]:
    original = await Dossier.get(id=dossier.review_of_id)
    problems = []
    manifest = dossier.manifest if jury.readable(dossier.manifest) else {}
    review = manifest.get("review_of")
    if not isinstance(review, dict) or review.get("dossier") != original.id or \
            review.get("manifest_sha256") != original.manifest_sha256:
        problems.append(f"review_of: does not name dossier {original.id} with its hash")
    if not manifest or jury.original_of(manifest) != original.manifest:
        problems.append(f"evidence: differs from the manifest of dossier {original.id}")
    inner = await verify_dossier(original.id, registry, store)
    return problems + [f"reviewed dossier {original.id}: {p}" for p in inner]


# Sealed records: a decision, the closing of its session, an appeal -------------------------


async def _sealing_event(action: str, subject: str) -> tuple[AuditEvent | None, list[str]]:
    """The audit event that sealed a record, and a problem if its own content was altered
    (the event is what the row is checked against)."""
    event = await AuditEvent.filter(action=action, subject=subject).order_by("id").first()
    if event is not None and not await audit.event_trusted(event):
        return event, [f"audit event {event.id}: altered (its {action} content no longer "
                       "matches its keyed hash)"]
    return event, []


async def check_seals(dossier: Dossier) -> list[str]:
    """The dossier's decision, the closing of the session(s) it was decided in, and, for an
    appeal, the appeal itself, against their audit events."""
    problems, sessions = await check_decision(dossier)
    if dossier.session_id is not None:
        sessions.add(dossier.session_id)
    for session_id in sorted(sessions):
        problems += await check_closing(session_id)
    if dossier.review_of_id is not None:
        problems += await check_appeal_seal(dossier)
    return problems


async def check_decision(dossier: Dossier) -> tuple[list[str], set[int]]:
    """(problems, the session its audit event says it was decided in)."""
    decision = await Decision.get_or_none(dossier_id=dossier.id)
    event, problems = await _sealing_event("decision.recorded", f"dossier:{dossier.id}")
    if event is None:
        return problems + ([f"decision {decision.id}: no decision.recorded audit event"]
                           if decision else []), set()
    payload, sessions = event.payload, {s for s in [event.payload.get("session")] if s}
    if decision is None:
        return problems + [f"dossier {dossier.id}: decided in audit event {event.id}, "
                           "no decision in the rows"], sessions
    if sessions and dossier.session_id not in sessions:
        problems.append(f"dossier {dossier.id}: decided in session {payload['session']} "
                        f"(audit event {event.id}), the row says {dossier.session_id}")
    sealed = payload.get("decision")
    if sealed is None and payload.get("decision_sha256") is None:  # before decisions were sealed
        sealed = {"outcome": payload.get("outcome"), "decided_by": event.actor_id,
                  "manifest_sha256": payload.get("manifest_sha256")}
    problems += seals.seal_problems(f"decision {decision.id}", decision_record(decision),
                                    stored=decision.decision_sha256, event_id=event.id,
                                    carried=payload.get("decision_sha256"), sealed=sealed)
    return problems, sessions


async def check_closing(session_id: int) -> list[str]:
    """A closed session's minutes, recomputed from the rows, against its closing event."""
    session = await JurySession.get_or_none(id=session_id)
    event, problems = await _sealing_event("jury_session.closed", f"jury_session:{session_id}")
    what = f"closing of session {session_id}"
    if session is None:
        return problems + ([f"{what}: in audit event {event.id}, session missing from the "
                            "rows"] if event else [])
    if event is None:
        closed = session.status != "open" or session.minutes_sha256 or session.closed_at
        return problems + ([f"{what}: no jury_session.closed audit event"] if closed else [])
    if session.status != "closed":
        problems.append(f"{what}: closed in audit event {event.id}, the row says "
                        f"{session.status!r}")
    sealed = {k: v for k, v in event.payload.items() if k != "minutes_sha256"}
    return problems + seals.seal_problems(
        what, await closing_record(session), stored=session.minutes_sha256, event_id=event.id,
        carried=event.payload.get("minutes_sha256"), sealed=sealed)


async def closing_record(session: JurySession) -> dict[str, Any]:
    members = (await session_members([session.id]))[session.id]
    dossiers = await Dossier.filter(session_id=session.id).select_related(
        "enrolment__candidate").order_by("id")
    return minutes_record(session, members, await dossier_lines(list(dossiers), members))


async def check_appeal_seal(dossier: Dossier) -> list[str]:
    event, problems = await _sealing_event("dossier.appealed", f"dossier:{dossier.id}")
    reviewed = await Decision.get_or_none(dossier_id=dossier.review_of_id)
    what = f"appeal {dossier.id}"
    if event is None or reviewed is None:  # the missing event is named by _check_hashes
        return problems + ([f"{what}: the appealed decision is missing from the rows"]
                           if reviewed is None else [])
    payload = event.payload
    sealed = payload.get("appeal")
    if sealed is None and payload.get("appeal_sha256") is None:  # before appeals were sealed
        sealed = {"review_of": payload.get("review_of"), "enrolment": payload.get("enrolment"),
                  "block": payload.get("block"), "by": event.actor_id,
                  "manifest_sha256": payload.get("manifest_sha256")}
    return problems + seals.seal_problems(
        what, appeal_record(dossier, reviewed), stored=dossier.appeal_sha256,
        event_id=event.id, carried=payload.get("appeal_sha256"), sealed=sealed)


SEALING_ACTIONS = ("decision.recorded", "dossier.appealed", "jury_session.closed")


async def check_all_seals() -> list[str]:
    """Every decision, closing and appeal against its audit event, whether its row or its event
    is what remains (for `carnet audit verify`)."""
    dossier_ids = set(await Decision.all().values_list("dossier_id", flat=True))
    dossier_ids |= set(await Dossier.filter(review_of_id__not_isnull=True).values_list(
        "id", flat=True))
    session_ids = set(await JurySession.filter(
        Q(status="closed") | Q(minutes_sha256__not_isnull=True)).values_list("id", flat=True))
    for subject in await AuditEvent.filter(action__in=SEALING_ACTIONS).values_list(
            "subject", flat=True):
        kind, _, number = subject.partition(":")
        if number.isdigit():
            (session_ids if kind == "jury_session" else dossier_ids).add(int(number))
    problems = []
    for dossier in await Dossier.filter(id__in=list(dossier_ids) or [-1]).order_by("id"):
        problems += (await check_decision(dossier))[0]
        if dossier.review_of_id is not None:
            problems += await check_appeal_seal(dossier)
    for session_id in sorted(session_ids):
        problems += await check_closing(session_id)
    return problems + await check_certificates()


async def check_certificates() -> list[str]:
    """Every delivered certificate against its certificate.delivered event, either way."""
    problems = []
    rows = {c.id: c for c in await DeliveredCertificate.all().order_by("id")}
    events = {int(s.partition(":")[2]) for s in await AuditEvent.filter(
        action="certificate.delivered").values_list("subject", flat=True)
        if s.partition(":")[2].isdigit()}
    for cid in sorted(rows.keys() | events):
        what = f"certificate {cid}"
        event, found = await _sealing_event("certificate.delivered", f"certificate:{cid}")
        problems += found
        row = rows.get(cid)
        if row is None:
            problems.append(f"{what}: delivered in audit event {event.id}, missing from the "
                            "rows")
        elif event is None:
            problems.append(f"{what}: no certificate.delivered audit event")
        else:
            problems += seals.seal_problems(
                what, {**row.record, "number": row.number,
                       "delivered_on": row.delivered_on.isoformat()},
                stored=row.record_sha256, event_id=event.id,
                carried=event.payload.get("certificate_sha256"),
                sealed=event.payload.get("certificate"))
    return problems


def _check_files(photos: list[dict[str, Any]], store: PhotoStore,
                 purged: set[str] = frozenset()) -> list[str]:
    problems = []
    for p in photos:
        # Retention removed a full-size file (an event of the audit chain says so): the
        # thumbnail, the manifest and the rows remain to verify.
        kinds = ("thumb_sha256",) if p.get("id") in purged else ("sha256", "thumb_sha256")
        for kind in kinds:
            sha = p.get(kind)
            if not isinstance(sha, str) or not SHA_HEX.fullmatch(sha) or not store.exists(sha):
                problems.append(f"photo {p.get('id')}: {kind} file {sha} missing")
            elif not store.verify(sha):
                problems.append(f"photo {p.get('id')}: {kind} file {sha} altered (its bytes no "
                                "longer hash to its name)")
    return problems

