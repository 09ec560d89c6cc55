"""Who hears of what (docs/notifications.md). Each function runs inside the
transaction of the change it announces, so the notices exist exactly when it does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.domain.notices import notify
from backend.domain.referentials import Referential
from backend.domain.standing import french_day, load_records
from backend.i18n import _
from backend.models import AdminGrant, Enrolment, Notice, Tutorship

OUTCOME_WORDS = {"validated": "validé", "not_validated": "non validé"}


async def _enrolment(conn, enrolment_id: int) -> Enrolment:
    return await Enrolment.get(id=enrolment_id).using_db(conn).select_related(
        "candidate", "company")


async def _admins(conn, enrolment: Enrolment) -> list[int]:
    return await AdminGrant.filter(organisation_id=enrolment.company.branch_id).using_db(
        conn).values_list("person_id", flat=True)


async def _tutors(conn, enrolment_id: int) -> list[int]:
    return await Tutorship.filter(enrolment_id=enrolment_id, ended_on=None).using_db(
        conn).values_list("tutor_id", flat=True)


async def blocks_now_ready(conn, enrolment_id: int, ref: Referential, at: datetime) -> None:
    """After new evidence: each block that is ready and was never announced as ready."""
    progress = (await load_records(enrolment_id, ref, conn=conn)).progress(ref, french_day(at))
    ready = [b.code for b in progress.blocks if b.ready]
    if not ready:
        return
    link = f"/enrolments/{enrolment_id}/outcome"
    told = {n.params.get("block") for n in await Notice.filter(
        event="block.ready", link=link).using_db(conn)}
    enrolment = await _enrolment(conn, enrolment_id)
    for block in ready:
        if block not in told:
            await notify(conn, event="block.ready",
                         person_ids=[*await _tutors(conn, enrolment_id), enrolment.candidate_id],
                         params={"candidate": enrolment.candidate.full_name, "block": block},
                         link=link, at=at)


async def dossier_presented(conn, enrolment_id: int, block: str, at: datetime) -> None:
    enrolment = await _enrolment(conn, enrolment_id)
    await notify(conn, event="dossier.presented", person_ids=await _admins(conn, enrolment),
                 params={"candidate": enrolment.candidate.full_name, "block": block},
                 link="/admin", at=at)


async def dossier_assigned(conn, enrolment_id: int, block: str, session: Any,
                           member_ids: list[int], at: datetime) -> None:
    enrolment = await _enrolment(conn, enrolment_id)
    await notify(conn, event="dossier.assigned", person_ids=member_ids,
                 params={"candidate": enrolment.candidate.full_name, "block": block,
                         "date": f"{session.held_on:%d/%m/%Y}"},
                 link=f"/jury-sessions/{session.id}", at=at)


async def decision_published(conn, enrolment_id: int, block: str, outcome: str,
                             at: datetime) -> None:
    enrolment = await _enrolment(conn, enrolment_id)
    await notify(conn, event="decision.published",
                 person_ids=[enrolment.candidate_id, *await _tutors(conn, enrolment_id)],
                 params={"candidate": enrolment.candidate.full_name, "block": block,
                         "outcome": _(OUTCOME_WORDS.get(outcome, outcome))},
                 link=f"/enrolments/{enrolment_id}/outcome", at=at)


async def appeal_lodged(conn, enrolment_id: int, block: str, at: datetime) -> None:
    enrolment = await _enrolment(conn, enrolment_id)
    await notify(conn, event="appeal.lodged", person_ids=await _admins(conn, enrolment),
                 params={"candidate": enrolment.candidate.full_name, "block": block},
                 link="/admin", at=at)
