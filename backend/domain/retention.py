"""Retention (`carnet purge`): how long evidence is kept, from the settings; the reasons are
in docs/personal-data.md.

Three categories:
- `dossier_photos`: full-size photos of decided dossiers go `keep_after_decision_months`
  after the appeal window (a validated block: its validity, when the referential sets one);
  the manifest, the rows and the thumbnails stay. Each removal is an audit event
  (`photo.file_purged`) that `carnet dossier verify` and `carnet gc` read.
- `ended`: evidence no dossier needs, `keep_after_end_months` after the enrolment ended
  (every block validated or held).
- `abandoned`: the same, `keep_abandoned_months` after the last activity of an enrolment
  that has not ended and has no dossier pending.
Nothing of a dossier undecided, in an open session, within its appeal window, under appeal
or within its validity is touched.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from tortoise.transactions import in_transaction

from backend import audit
from backend.domain.evidence_rules import delete_evidence, disposable
from backend.domain.garbage import PURGED, purged_photo_ids, referenced_hashes
from backend.domain.referentials import Registry
from backend.models import Decision, Dossier, Enrolment, HeldBlock, Observation, Photo

CATEGORIES = ("dossier_photos", "ended", "abandoned")


@dataclass(frozen=True)
class Terms:
    appeal_days: int
    after_decision_months: int
    after_end_months: int
    abandoned_months: int

    @classmethod
    def of(cls, settings: Any) -> Terms:
        return cls(settings.appeal_days, settings.keep_after_decision_months,
                   settings.keep_after_end_months, settings.keep_abandoned_months)


def add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    return at.replace(year=year, month=month,
                      day=min(at.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DossierState:
    id: int
    outcome: str | None
    closed_at: datetime | None  # of its session, None while open or unassigned


def dossier_expiry(d: DossierState, terms: Terms, validity_months: int | None
                   ) -> datetime | None:
    """When the dossier's full-size photos may go; None while it must keep everything."""
    if d.outcome is None or d.closed_at is None:
        return None  # undecided, or the session is open (the decision is not final)
    end_of_appeal = d.closed_at + timedelta(days=terms.appeal_days)
    if d.outcome == "validated" and validity_months is not None:
        return add_months(end_of_appeal, validity_months)
    return add_months(end_of_appeal, terms.after_decision_months)


@dataclass
class Category:
    rows: int = 0
    files: int = 0
    bytes: int = 0


@dataclass
class Plan:
    categories: dict[str, Category] = field(
        default_factory=lambda: {c: Category() for c in CATEGORIES})
    photos_to_shrink: dict[str, str] = field(default_factory=dict)  # photo id -> sha256
    evidence: list[tuple[str, Any]] = field(default_factory=list)  # (category, Disposable)


async def dossier_states(enrolment_id: int) -> list[DossierState]:
    rows = await Dossier.filter(enrolment_id=enrolment_id).values(
        "id", "session__status", "session__closed_at")
    outcomes = dict(await Decision.filter(dossier_id__in=[r["id"] for r in rows] or [-1])
                    .values_list("dossier_id", "outcome"))
    return [DossierState(r["id"], outcomes.get(r["id"]),
                         r["session__closed_at"] if r["session__status"] == "closed" else None)
            for r in rows]


def pending(states: list[DossierState], terms: Terms, now: datetime) -> bool:
    """A dossier undecided, in an open session or within its appeal window (an appeal is a
    dossier of its own, undecided until its session closes)."""
    for d in states:
        if d.outcome is None or d.closed_at is None:
            return True
        if d.closed_at + timedelta(days=terms.appeal_days) > now:
            return True
    return False


async def ended_on(enrolment: Enrolment, registry: Registry) -> datetime | None:
    """When the last block was validated, if every block of the referential is."""
    ref = registry.find(enrolment.referential_code, enrolment.referential_version)
    if ref is None:
        return None
    validated = {row[0]: row[1] for row in await Decision.filter(
        dossier__enrolment_id=enrolment.id, outcome="validated",
        dossier__session__status="closed").values_list("dossier__block_code", "decided_at")}
    for code, on in await HeldBlock.filter(enrolment_id=enrolment.id).values_list(
            "block_code", "decided_on"):
        validated.setdefault(code, datetime.combine(on, datetime.min.time(),
                                                    tzinfo=enrolment.created_at.tzinfo))
    if any(b.code not in validated for b in ref.blocks):
        return None
    return max(validated[b.code] for b in ref.blocks)


async def last_activity(enrolment: Enrolment) -> datetime:
    moments = [enrolment.created_at]
    for model, column in ((Observation, "created_at"), (Photo, "created_at"),
                          (Dossier, "submitted_at")):
        moments += await model.filter(enrolment_id=enrolment.id).order_by(
            f"-{column}").limit(1).values_list(column, flat=True)
    return max(moments)


async def plan(registry: Registry, terms: Terms, now: datetime) -> Plan:
    result = Plan()
    shrink_by: dict[str, list[datetime | None]] = {}
    for enrolment in await Enrolment.all().order_by("id"):
        states = await dossier_states(enrolment.id)
        await _dossier_photos(enrolment, states, registry, terms, shrink_by)
        if pending(states, terms, now):
            continue
        end = await ended_on(enrolment, registry)
        if end is not None:
            due, category = add_months(end, terms.after_end_months), "ended"
        else:
            due = add_months(await last_activity(enrolment), terms.abandoned_months)
            category = "abandoned"
        found = await disposable(enrolment.id)
        if found and due <= now:
            result.evidence.append((category, found))
            c = result.categories[category]
            c.rows += len(found.observations) + len(found.photos)
            c.files += len(found.photo_files)
            c.bytes += found.bytes
    await _shrinkable(result, shrink_by, now)
    return result


async def _dossier_photos(enrolment: Enrolment, states: list[DossierState], registry: Registry,
                          terms: Terms, shrink_by: dict[str, list[datetime | None]]) -> None:
    """Collect, per photo, the expiry of every dossier citing it."""
    ref = registry.find(enrolment.referential_code, enrolment.referential_version)
    validity = ref.validity_months if ref else None
    # An appeal's manifest cites the same photos: its own expiry (None until decided)
    # holds them while the review is pending.
    expiry = {d.id: dossier_expiry(d, terms, validity) for d in states}
    for dossier_id, manifest in await Dossier.filter(enrolment_id=enrolment.id).values_list(
            "id", "manifest"):
        for p in manifest.get("photos") or []:
            shrink_by.setdefault(str(p.get("id")), []).append(expiry[dossier_id])


async def _shrinkable(result: Plan, shrink_by: dict[str, list[datetime | None]],
                      now: datetime) -> None:
    due = [pid for pid, ends in shrink_by.items() if all(e is not None and e <= now
                                                         for e in ends)]
    gone = await purged_photo_ids()
    rows = await Photo.filter(id__in=[p for p in due if p not in gone] or [None]).values(
        "id", "sha256", "size")
    c = result.categories["dossier_photos"]
    for r in rows:
        result.photos_to_shrink[str(r["id"])] = r["sha256"]
        c.rows, c.files, c.bytes = c.rows + 1, c.files + 1, c.bytes + r["size"]


async def purge(registry: Registry, terms: Terms, store: Any, *, now: datetime,
                dry_run: bool) -> Plan:
    """Apply the plan (or only compute it): its counts say what went."""
    found = await plan(registry, terms, now)
    if dry_run:
        return found
    for category, evidence in found.evidence:
        await delete_evidence(evidence, store, actor_id=None, reason=f"retention:{category}")
    await _shrink(found.photos_to_shrink, store)
    return found


async def _shrink(photos: dict[str, str], store: Any) -> None:
    """Record each full-size removal in the audit chain, then delete the files no longer
    named (a file shared with a photo still kept in full stays)."""
    if not photos:
        return
    before = time.time()
    async with in_transaction() as conn:
        for pid in sorted(photos):
            await audit.record(PURGED, actor_id=None, subject=f"photo:{pid}",
                               payload={"sha256": photos[pid]}, connection=conn)
    referenced = await referenced_hashes()
    doomed = sorted(set(photos.values()) - referenced)
    await run_in_threadpool(lambda: [store.delete_if_untouched(s, before) for s in doomed])
