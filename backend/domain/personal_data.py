"""What Carnet holds about one person, gathered for the right of access (GDPR art. 15)
and portability (art. 20): `gather` reads the rows, `backend.exports` writes the ZIP.

A person is named by a row when they are its subject (profile, enrolments as candidate,
decisions on their dossiers) or its author (observations, photos, decisions as a juror).
Others appear only by id: the export carries no other person's name or e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from backend import audit
from backend.domain.dossiers import decision_json, dossier_json
from backend.domain.evidence import observation_json, photo_json
from backend.exports import write_zip
from backend.models import (
    AdminGrant,
    AuditEvent,
    Decision,
    Dossier,
    Enrolment,
    HeldBlock,
    Invitation,
    JuryMember,
    Observation,
    Person,
    Photo,
    Tutorship,
)

AUDIT_BATCH = 5000  # events read per query while looking for those naming the person
# Payload keys whose value is a person id.
PERSON_KEYS = ("person", "candidate", "tutor")


@dataclass
class Gathered:
    data: dict[str, Any]
    photos: list[dict[str, Any]] = field(default_factory=list)  # {id, sha256} per file

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.data.items() if isinstance(v, list)}


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def gather(person: Person) -> Gathered:
    """Every row naming `person`, as JSON-ready values, and the photo files to include."""
    enrolments = list(await Enrolment.filter(candidate_id=person.id).order_by("id"))
    mine = [e.id for e in enrolments] or [-1]
    observations = list(await Observation.filter(enrolment_id__in=mine).order_by(
        "observed_on", "id")) + list(await Observation.filter(author_id=person.id).exclude(
            enrolment_id__in=mine).order_by("observed_on", "id"))
    photos = list(await Photo.filter(enrolment_id__in=mine).order_by("created_at", "id")) + list(
        await Photo.filter(uploaded_by_id=person.id).exclude(enrolment_id__in=mine).order_by(
            "created_at", "id"))
    dossiers = list(await Dossier.filter(enrolment_id__in=mine).order_by("id"))
    decisions = list(await Decision.filter(dossier_id__in=[d.id for d in dossiers] or [-1]))
    decided = list(await Decision.filter(decided_by_id=person.id).exclude(
        dossier_id__in=[d.id for d in dossiers] or [-1]))
    data = {
        "format": "carnet-personal-data/1",
        "profile": await _profile(person),
        "roles": await _roles(person),
        "enrolments": [_enrolment_json(e) for e in enrolments],
        "held_blocks": [{"enrolment": h.enrolment_id, "block": h.block_code,
                         "decided_on": h.decided_on.isoformat(),
                         "referential_version": h.referential_version}
                        for h in await HeldBlock.filter(enrolment_id__in=mine).order_by("id")],
        "observations": [observation_json(o) for o in observations],
        "ratings": [{"observation": str(o.id), "criterion": code, "rating": rating}
                    for o in observations for code, rating in sorted(o.ratings.items())],
        "photos": [{**photo_json(p), "file": photo_file(p)} for p in photos],
        "dossiers": [dossier_json(d, manifest=True) for d in dossiers],
        "decisions_about_me": [decision_json(d) for d in decisions],
        "decisions_taken": [decision_json(d) for d in decided],
        "invitations": await _invitations(person),
        "audit_events": await naming_events(person.id, mine, dossiers, observations, photos),
    }
    return Gathered(data, [{"id": str(p.id), "sha256": p.sha256, "thumb_sha256": p.thumb_sha256}
                           for p in photos])


async def export(person: Person, *, actor_id: int | None, store: Any, day: str,
                 dest: Any = None) -> Path:
    """The person's ZIP (a temporary file unless `dest`), with its audit event. The event
    names the person by id and counts what left, never the data itself."""
    gathered = await gather(person)
    path = await run_in_threadpool(write_zip, gathered, store, day, dest)
    await audit.record("personal_data.exported", actor_id=actor_id, subject=f"person:{person.id}",
                       payload={"photos": len(gathered.photos), **gathered.counts})
    return path


def photo_file(p: Photo) -> str:
    return f"photos/{p.id}.jpg"


async def _profile(person: Person) -> dict[str, Any]:
    await person.fetch_related("company")
    return {"id": person.id, "email": person.email, "full_name": person.full_name,
            "is_active": person.is_active, "created_at": _instant(person.created_at),
            "company": {"id": person.company.id, "name": person.company.name}
            if person.company else None}


async def _roles(person: Person) -> dict[str, Any]:
    return {
        "admin_of": list(await AdminGrant.filter(person_id=person.id).values_list(
            "organisation_id", flat=True)),
        "tutor_of": [{"enrolment": t.enrolment_id, "designated_on": t.designated_on.isoformat(),
                      "ended_on": t.ended_on.isoformat() if t.ended_on else None}
                     for t in await Tutorship.filter(tutor_id=person.id).order_by("id")],
        "jury_seats": [{"session": m.session_id, "college": m.college,
                        "is_president": m.is_president}
                       for m in await JuryMember.filter(person_id=person.id).order_by("id")],
    }


def _enrolment_json(e: Enrolment) -> dict[str, Any]:
    return {"id": e.id, "company": e.company_id, "referential_code": e.referential_code,
            "referential_version": e.referential_version, "access_route": e.access_route,
            "started_on": e.started_on.isoformat(), "created_at": _instant(e.created_at)}


async def _invitations(person: Person) -> list[dict[str, Any]]:
    """Invitations addressed to the person (never their token's hash)."""
    rows = await Invitation.filter(person_id=person.id).order_by("id")
    rows += await Invitation.filter(email=person.email, person_id=None).order_by("id")
    return [{"id": i.id, "email": i.email, "full_name": i.full_name, "role": i.role,
             "organisation": i.organisation_id, "created_at": _instant(i.created_at),
             "expires_at": _instant(i.expires_at), "used_at": _instant(i.used_at)}
            for i in rows]


async def naming_events(person_id: int, enrolment_ids: list[int], dossiers: list[Dossier],
                        observations: list[Observation], photos: list[Photo]
                        ) -> list[dict[str, Any]]:
    """Audit events the person did, or that name them or their enrolments' records.
    Read in batches by id: payloads are JSON, matched here the same way on every database."""
    subjects = {f"person:{person_id}", *(f"dossier:{d.id}" for d in dossiers),
                *(f"observation:{o.id}" for o in observations),
                *(f"photo:{p.id}" for p in photos), *(f"enrolment:{e}" for e in enrolment_ids)}
    enrolments = set(enrolment_ids)
    found, after = [], 0
    while True:
        batch = await AuditEvent.filter(id__gt=after).order_by("id").limit(AUDIT_BATCH)
        if not batch:
            return found
        for e in batch:
            payload = e.payload if isinstance(e.payload, dict) else {}
            if (e.actor_id == person_id or e.subject in subjects
                    or any(payload.get(k) == person_id for k in PERSON_KEYS)
                    or payload.get("enrolment") in enrolments):
                found.append({"id": e.id, "at": _instant(e.at), "actor": e.actor_id,
                              "action": e.action, "subject": e.subject, "payload": e.payload})
        after = batch[-1].id
