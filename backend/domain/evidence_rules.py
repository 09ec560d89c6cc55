"""Which evidence of an enrolment a dossier still needs, and deleting the rest (shared by
retention and erasure).

Rows named by a dossier manifest stay as long as the dossier: `carnet dossier verify`
recomputes the manifest from them, and the manifest holds the same text anyway, so deleting
them would remove nothing personal. Corrections written before a submission stay too (their
deletion would bring back the row they replaced), and so do the rows they replace (the
`supersedes` key forbids deleting them) and the photos kept rows cite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from backend import audit
from backend.domain.evidence import bump_revision
from backend.domain.garbage import delete_unreferenced
from backend.models import Dossier, Observation, Photo


@dataclass(frozen=True)
class Disposable:
    """Evidence of one enrolment that no dossier needs."""

    enrolment_id: int
    observations: tuple[str, ...]
    photos: tuple[str, ...]
    photo_files: tuple[str, ...]  # hashes of their images and thumbnails
    bytes: int

    def __bool__(self) -> bool:
        return bool(self.observations or self.photos)


def kept_rows(manifests: list[tuple[dict[str, Any], Any]], rows: list[dict[str, Any]]
              ) -> tuple[set[str], set[str]]:
    """(observation ids, photo ids) the dossiers need. `manifests` are (manifest,
    submitted_at); `rows` the enrolment's observations (id, supersedes_id, created_at, photos)."""
    keep_obs = {str(o.get("id")) for m, _ in manifests for o in m.get("observations") or []}
    keep_photos = {str(p.get("id")) for m, _ in manifests for p in m.get("photos") or []}
    cutoff = max((at for _, at in manifests), default=None)
    by_id = {str(r["id"]): r for r in rows}
    keep_obs |= {i for i, r in by_id.items()
                 if cutoff and r["supersedes_id"] and r["created_at"] <= cutoff}
    pending = list(keep_obs)
    while pending:  # what a kept row replaces must stay (foreign key)
        row = by_id.get(pending.pop())
        target = str(row["supersedes_id"]) if row and row["supersedes_id"] else None
        if target and target not in keep_obs:
            keep_obs.add(target)
            pending.append(target)
    keep_photos |= {str(p.get("id")) for i in keep_obs if i in by_id
                    for p in by_id[i]["photos"] or [] if isinstance(p, dict)}
    return keep_obs & by_id.keys(), keep_photos


async def disposable(enrolment_id: int) -> Disposable:
    manifests = [tuple(m) for m in await Dossier.filter(enrolment_id=enrolment_id).values_list(
        "manifest", "submitted_at")]
    rows = await Observation.filter(enrolment_id=enrolment_id).values(
        "id", "supersedes_id", "created_at", "photos")
    keep_obs, keep_photos = kept_rows(manifests, rows)
    photos = [p for p in await Photo.filter(enrolment_id=enrolment_id).values(
        "id", "sha256", "thumb_sha256", "size", "thumb_size") if str(p["id"]) not in keep_photos]
    return Disposable(
        enrolment_id, tuple(sorted(str(r["id"]) for r in rows if str(r["id"]) not in keep_obs)),
        tuple(sorted(str(p["id"]) for p in photos)),
        tuple(sorted({s for p in photos for s in (p["sha256"], p["thumb_sha256"])})),
        sum(p["size"] + p["thumb_size"] for p in photos))


async def delete_evidence(found: Disposable, store: Any, *, actor_id: int | None,
                          reason: str) -> int:
    """Delete the rows (one transaction, with its audit event: counts, never content), then
    their files that no other row names. The bytes freed."""
    if not found:
        return 0
    before = time.time()  # files an upload touches from now on stay
    async with in_transaction() as conn:
        doomed = list(found.observations)
        # Rows are deleted together: unlink their own corrections first (foreign key).
        await Observation.filter(id__in=doomed).using_db(conn).update(supersedes_id=None)
        await Observation.filter(id__in=doomed).using_db(conn).delete()
        await Photo.filter(id__in=list(found.photos)).using_db(conn).delete()
        await bump_revision(found.enrolment_id, conn)
        await audit.record("evidence.deleted", actor_id=actor_id,
                           subject=f"enrolment:{found.enrolment_id}",
                           payload={"reason": reason, "observations": len(found.observations),
                                    "photos": len(found.photos)}, connection=conn)
    return await delete_unreferenced(store, found.photo_files, before)
