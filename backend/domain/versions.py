"""Moving an enrolment to a newer version of its certificate (admin action).

The evidence rows are never touched: observations keep the version they were made against,
and the progress engine reads them against the enrolment's new version by identical criterion
codes (`progress.map_to_version`). The move itself and what it carries are in the audit chain.
"""

from __future__ import annotations

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend import audit
from backend.domain.progress import VersionMapping, map_to_version
from backend.domain.referentials import Referential, Registry
from backend.domain.standing import load_records
from backend.errors import Conflict, ValidationFailed
from backend.models import Enrolment


def newer_versions(registry: Registry, enrolment: Enrolment) -> list[Referential]:
    """Loaded versions of the enrolment's certificate after its own, oldest first."""
    versions = registry.versions(enrolment.referential_code)
    keys = [r.version for r in versions]
    if enrolment.referential_version not in keys:
        return versions
    return versions[keys.index(enrolment.referential_version) + 1:]


def target(registry: Registry, enrolment: Enrolment, version: str) -> Referential:
    found = next((r for r in newer_versions(registry, enrolment) if r.version == version), None)
    if found is None:
        raise ValidationFailed("Choisissez une version plus récente du même certificat.",
                               code="version_not_newer", details={"version": version})
    return found


def current(registry: Registry, enrolment: Enrolment) -> Referential:
    return registry.get(enrolment.referential_code, enrolment.referential_version)


async def preview_move(enrolment: Enrolment, version: str, registry: Registry,
                       conn=None) -> VersionMapping:
    """What moving to `version` would carry, drop and add; writes nothing."""
    old, new = current(registry, enrolment), target(registry, enrolment, version)
    records = await load_records(enrolment.id, old, conn=conn)
    if any(d.status == "submitted" for d in records.decisions):
        raise Conflict("Un dossier de ce parcours attend la décision du jury : changez de "
                       "version après la décision.", code="dossier_pending")
    return map_to_version(old, new, records.ratings, records.evidence)


async def move_enrolment(enrolment_id: int, version: str, registry: Registry, *,
                         by: int) -> VersionMapping:
    """Pin the enrolment to `version` (newer, same certificate); one transaction with its
    audit event. The enrolment row is locked so two concurrent moves cannot interleave."""
    async with in_transaction() as conn:
        enrolment = await Enrolment.select_for_update().using_db(conn).get(id=enrolment_id)
        mapping = await preview_move(enrolment, version, registry, conn=conn)
        await Enrolment.filter(id=enrolment_id).using_db(conn).update(
            referential_version=mapping.new_version, revision=F("revision") + 1)
        await audit.record("enrolment.version_moved", actor_id=by,
                           subject=f"enrolment:{enrolment_id}",
                           payload=_audit_payload(mapping), connection=conn)
    return mapping


def _audit_payload(m: VersionMapping) -> dict:
    return {"code": m.code, "from": m.old_version, "to": m.new_version,
            "mapped": list(m.mapped), "new": list(m.new), "removed": list(m.removed),
            "ratings_carried": len(m.ratings), "ratings_dropped": m.ratings_dropped,
            "evidence_carried": len(m.evidence), "evidence_dropped": m.evidence_dropped,
            "summary": m.summary()}
