"""Evidence: photos and observations, idempotent by client UUID (ODK Central style).

Same UUID + same content → the stored result again; same UUID + other content →
409 with the stored version; concurrent sends of one UUID → one row (the primary
key decides). A 2xx leaves only after the files are durable and the transaction
has committed.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend import audit
from backend.domain import announcements
from backend.domain.audit import canonical_json
from backend.domain.referentials import Referential
from backend.errors import Conflict, Locked, ValidationFailed
from backend.models import (
    OBSERVATION_KINDS,
    RATINGS,
    Decision,
    Dossier,
    Enrolment,
    Observation,
    Photo,
    Tutorship,
)
from backend.storage import Ingested, PhotoStore, ingest_upload, sha256_hex

MAX_SITUATION = 500
MAX_PLACE = 200
MAX_COMMENT = 5000
MAX_PHOTOS = 30


# --- pure validation ---------------------------------------------------------------


@dataclass(frozen=True)
class PhotoRef:
    id: str
    competency: str | None = None
    evidence: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "competency": self.competency, "evidence": self.evidence}


@dataclass(frozen=True)
class ObservationInput:
    enrolment_id: int
    kind: str
    observed_on: date
    situation: str
    place: str
    comment: str
    ratings: dict[str, str]
    photos: tuple[PhotoRef, ...]
    block: str | None
    supersedes: str | None

    def content(self) -> dict[str, Any]:
        """What identifies the observation's content (for idempotency)."""
        return {
            "enrolment": self.enrolment_id,
            "kind": self.kind,
            "observed_on": self.observed_on.isoformat(),
            "situation": self.situation,
            "place": self.place,
            "comment": self.comment,
            "ratings": self.ratings,
            "photos": [p.as_dict() for p in self.photos],
            "block": self.block,
            "supersedes": self.supersedes,
        }

    def content_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.content())).hexdigest()


@dataclass
class Problems:
    """Collects every fault of a body so the client sees them all at once."""

    items: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, message: str) -> None:
        self.items.setdefault(where, message)

    def raise_if_any(self) -> None:
        if self.items:
            first = next(iter(self.items.values()))
            raise ValidationFailed(first, code="invalid_observation", details=self.items)


def parse_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        return None


def _text(body: dict, key: str, limit: int, problems: Problems, *, required: bool) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.add(key, f"« {key} » doit être un texte.")
        return ""
    value = value.strip()
    if required and not value:
        problems.add(key, f"« {key} » est obligatoire.")
    if len(value) > limit:
        problems.add(key, f"« {key} » dépasse {limit} caractères.")
    return value


def _observed_on(body: dict, started_on: date, today: date, problems: Problems) -> date:
    try:
        observed = date.fromisoformat(str(body.get("observed_on", "")))
    except ValueError:
        problems.add("observed_on", "Date d'observation invalide (AAAA-MM-JJ attendu).")
        return today
    if observed > today:
        problems.add("observed_on", "La date d'observation est dans le futur.")
    if observed < started_on:
        problems.add("observed_on", "La date d'observation précède le début du parcours.")
    return observed


def _ratings(body: dict, ref: Referential, kind: str, problems: Problems) -> dict[str, str]:
    ratings = body.get("ratings") or {}
    if not isinstance(ratings, dict):
        problems.add("ratings", "« ratings » doit être un objet {critère: évaluation}.")
        return {}
    codes = ref.criterion_codes()
    for code, value in ratings.items():
        if code not in codes:
            problems.add(
                f"ratings.{code}"[:80], f"Critère inconnu dans ce référentiel : {code[:40]}."
            )
        elif value not in RATINGS:
            problems.add(f"ratings.{code}", "Évaluation attendue : met, progressing ou not_met.")
    if kind == "reflection" and ratings:
        problems.add("ratings", "Une réflexion ne porte pas d'évaluation de critères.")
    return {str(k): v for k, v in sorted(ratings.items())}


def _photo_refs(body: dict, ref: Referential, problems: Problems) -> tuple[PhotoRef, ...]:
    raw = body.get("photos") or []
    if not isinstance(raw, list) or len(raw) > MAX_PHOTOS:
        problems.add("photos", f"« photos » doit être une liste d'au plus {MAX_PHOTOS} éléments.")
        return ()
    refs, seen = [], set()
    for i, item in enumerate(raw):
        photo = _photo_ref(item, ref, f"photos[{i}]", problems)
        if photo and photo.id in seen:
            problems.add(f"photos[{i}]", "Photo citée deux fois.")
        elif photo:
            seen.add(photo.id)
            refs.append(photo)
    return tuple(refs)


def _photo_ref(item: Any, ref: Referential, where: str, problems: Problems) -> PhotoRef | None:
    if not isinstance(item, dict) or parse_uuid(item.get("id")) is None:
        problems.add(where, "Chaque photo doit avoir un identifiant UUID.")
        return None
    competency, evidence = item.get("competency") or None, item.get("evidence") or None
    found = ref.competency(competency) if isinstance(competency, str) else None
    if competency is not None and found is None:
        problems.add(where, "Compétence inconnue dans ce référentiel.")
    elif evidence is not None and (
        found is None
        or not isinstance(evidence, str)
        or evidence not in {e.label for e in found.evidence}
    ):
        problems.add(where, "Preuve attendue inconnue pour cette compétence.")
    return PhotoRef(parse_uuid(item["id"]), competency, evidence)


def parse_observation(
    body: dict, *, ref: Referential, started_on: date, today: date, enrolment_id: int
) -> ObservationInput:
    problems = Problems()
    kind = body.get("kind", "observation")
    if kind not in OBSERVATION_KINDS:
        problems.add("kind", "« kind » vaut observation ou reflection.")
        kind = "observation"
    block = body.get("block") or None
    if block is not None and (not isinstance(block, str) or ref.block(block) is None):
        problems.add("block", "Bloc inconnu dans ce référentiel.")
    if kind == "reflection" and block is None:
        problems.add("block", "Une réflexion indique le bloc sur lequel elle porte.")
    supersedes = body.get("supersedes")
    if supersedes is not None and parse_uuid(supersedes) is None:
        problems.add("supersedes", "« supersedes » doit être l'UUID d'une observation.")
    parsed = ObservationInput(
        enrolment_id=enrolment_id,
        kind=kind,
        observed_on=_observed_on(body, started_on, today, problems),
        situation=_text(body, "situation", MAX_SITUATION, problems,
                        required=kind == "reflection"),  # optional for an observation
        place=_text(body, "place", MAX_PLACE, problems, required=False),
        comment=_text(body, "comment", MAX_COMMENT, problems, required=False),
        ratings=_ratings(body, ref, kind, problems),
        photos=_photo_refs(body, ref, problems),
        block=block if isinstance(block, str) else None,
        supersedes=parse_uuid(supersedes) if supersedes is not None else None,
    )
    if kind == "observation" and not parsed.ratings and not parsed.photos:
        problems.add("ratings", "Une observation évalue au moins un critère ou joint une photo.")
    problems.raise_if_any()
    return parsed


def blocks_touched(data: ObservationInput, ref: Referential) -> set[str]:
    blocks = {b.code for code in data.ratings if (b := ref.block_of_criterion(code))}
    for photo in data.photos:
        for block in ref.blocks:
            if any(c.code == photo.competency for c in block.competencies):
                blocks.add(block.code)
    if data.block:
        blocks.add(data.block)
    return blocks


# --- JSON shapes -------------------------------------------------------------------


def photo_json(p: Photo) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "enrolment": p.enrolment_id,
        "author_role": p.author_role,
        "received_sha256": p.received_sha256,
        "sha256": p.sha256,
        "size": p.size,
        "content_type": p.content_type,
        "width": p.width,
        "height": p.height,
        "thumb_sha256": p.thumb_sha256,
        "thumb_size": p.thumb_size,
        "captured_at": p.captured_at.isoformat() if p.captured_at else None,
    }


def observation_json(o: Observation, missing: list[str] | None = None) -> dict[str, Any]:
    data = {
        "id": str(o.id),
        "enrolment": o.enrolment_id,
        "kind": o.kind,
        "author": o.author_id,
        "author_role": o.author_role,
        "referential_version": o.referential_version,
        "observed_on": o.observed_on.isoformat(),
        "situation": o.situation,
        "place": o.place,
        "comment": o.comment,
        "ratings": o.ratings,
        "photos": o.photos,
        "block": o.block_code,
        "supersedes": str(o.supersedes_id) if o.supersedes_id else None,
        "content_sha256": o.content_sha256,
    }
    if missing is not None:
        data["missing_photos"] = missing
        data["complete"] = not missing
    return data


# --- frozen blocks (dossiers) ------------------------------------------------------


async def frozen_blocks(enrolment_id: int, conn=None) -> set[str]:
    """Blocks whose evidence is frozen in a dossier: submitted and not (yet) refused.
    After a `not_validated` decision the candidate goes on, so evidence reopens."""
    dossiers = (
        await Dossier.filter(enrolment_id=enrolment_id)
        .using_db(conn)
        .values_list("id", "block_code")
    )
    if not dossiers:
        return set()
    refused = set(
        await Decision.filter(dossier_id__in=[d for d, _ in dossiers], outcome="not_validated")
        .using_db(conn)
        .values_list("dossier_id", flat=True)
    )
    return {block for d, block in dossiers if d not in refused}


def refuse_if_frozen(touched: set[str], frozen: set[str]) -> None:
    hit = sorted(touched & frozen)
    if hit:
        raise Locked(
            f"Le bloc {', '.join(hit)} est figé dans un dossier soumis au jury.",
            details={"blocks": hit},
        )


# --- photos ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    created: bool
    body: dict[str, Any]


class StoredConflict(Conflict):
    """Another photo or observation holds the UUID: `details` show the stored one. It may
    lie on an enrolment the caller cannot read, so `enrolment_id` lets the caller's side
    show it only to those who may (`backend.routes.evidence.conflicts_shown_to`)."""

    def __init__(self, message: str, *, code: str, stored: dict[str, Any]):
        super().__init__(message, code=code, details={"stored": stored})
        self.enrolment_id: int = stored["enrolment"]


def _same_photo(existing: Photo, enrolment_id: int, received: str) -> Stored:
    if existing.enrolment_id == enrolment_id and existing.received_sha256 == received:
        return Stored(False, photo_json(existing))
    raise StoredConflict(
        "Une autre photo porte déjà cet identifiant.",
        code="photo_conflict",
        stored=photo_json(existing),
    )


async def put_photo(
    *,
    photo_id: str,
    enrolment: Enrolment,
    data: bytes,
    declared: bytes | None,
    author_id: int,
    author_role: str,
    store: PhotoStore,
    max_pixels: int,
) -> Stored:
    received = sha256_hex(data)
    if declared is not None and declared.hex() != received:
        raise ValidationFailed(
            "L'empreinte déclarée ne correspond pas aux octets reçus.",
            code="digest_mismatch",
            details={"received_sha256": received},
        )
    existing = await Photo.get_or_none(id=photo_id)
    if existing is not None:
        return _same_photo(existing, enrolment.id, received)
    if not data:
        raise ValidationFailed("Le corps de la requête est vide.", code="empty_body")
    # An image (re-encoded) or a PDF document (checked, kept as received).
    ingested = await run_in_threadpool(ingest_upload, data, max_pixels=max_pixels)
    await run_in_threadpool(_store_files, store, ingested)
    try:
        async with in_transaction() as conn:
            photo = await Photo.create(
                id=photo_id,
                enrolment=enrolment,
                uploaded_by_id=author_id,
                author_role=author_role,
                received_sha256=received,
                sha256=ingested.sha256,
                content_type=ingested.content_type,
                size=ingested.size,
                width=ingested.width,
                height=ingested.height,
                thumb_sha256=ingested.thumb_sha256,
                thumb_size=ingested.thumb_size,
                captured_at=ingested.captured_at,
                using_db=conn,
            )
            await bump_revision(enrolment.id, conn)
            await audit.record(
                "photo.stored",
                actor_id=author_id,
                subject=f"photo:{photo_id}",
                payload={
                    "enrolment": enrolment.id,
                    "sha256": ingested.sha256,
                    "received_sha256": received,
                },
                connection=conn,
            )
    except IntegrityError:  # a concurrent send of the same UUID won
        return _same_photo(await Photo.get(id=photo_id), enrolment.id, received)
    return Stored(True, photo_json(photo))


def _store_files(store: PhotoStore, ingested: Ingested) -> None:
    store.put(ingested.content)
    store.put(ingested.thumb)


async def bump_revision(enrolment_id: int, conn) -> None:
    await Enrolment.filter(id=enrolment_id).using_db(conn).update(revision=F("revision") + 1)


# --- observations ------------------------------------------------------------------


def _same_observation(existing: Observation, data: ObservationInput, missing: list[str]) -> Stored:
    if (
        existing.enrolment_id == data.enrolment_id
        and existing.content_sha256 == data.content_sha256()
    ):
        return Stored(False, observation_json(existing, missing))
    raise StoredConflict(
        "Une autre observation porte déjà cet identifiant.",
        code="observation_conflict",
        stored=observation_json(existing),
    )


async def missing_photos(
    refs: list[dict] | tuple[PhotoRef, ...], enrolment_id: int, conn=None
) -> list[str]:
    ids = [r["id"] if isinstance(r, dict) else r.id for r in refs]
    if not ids:
        return []
    rows = await Photo.filter(id__in=ids).using_db(conn).values_list("id", "enrolment_id")
    elsewhere = [str(pid) for pid, eid in rows if eid != enrolment_id]
    if elsewhere:
        raise ValidationFailed(
            "Une photo citée appartient à un autre parcours.",
            code="photo_wrong_enrolment",
            details={"photos": elsewhere},
        )
    present = {str(pid) for pid, _ in rows}
    return [i for i in ids if i not in present]


async def put_observation(
    *,
    observation_id: str,
    data: ObservationInput,
    ref: Referential,
    author_id: int,
    author_role: str,
) -> Stored:
    existing = await Observation.get_or_none(id=observation_id)
    if existing is not None:
        return _same_observation(
            existing, data, await missing_photos(existing.photos, existing.enrolment_id)
        )
    missing = await missing_photos(data.photos, data.enrolment_id)
    try:
        async with in_transaction() as conn:
            # Submitting a dossier locks the enrolment too: no observation slips
            # into a block between its readiness check and its freezing.
            await Enrolment.select_for_update().using_db(conn).get(id=data.enrolment_id)
            refuse_if_frozen(
                blocks_touched(data, ref), await frozen_blocks(data.enrolment_id, conn)
            )
            await _check_supersedes(data, ref, conn, author_id)
            if author_role == "tutor":
                await _check_designated_before(data, author_id, conn)
            observation = await Observation.create(
                id=observation_id,
                enrolment_id=data.enrolment_id,
                author_id=author_id,
                author_role=author_role,
                kind=data.kind,
                referential_version=ref.version,
                observed_on=data.observed_on,
                block_code=data.block,
                situation=data.situation,
                place=data.place,
                comment=data.comment,
                ratings=data.ratings,
                photos=[p.as_dict() for p in data.photos],
                supersedes_id=data.supersedes,
                content_sha256=data.content_sha256(),
                using_db=conn,
            )
            await bump_revision(data.enrolment_id, conn)
            await audit.record(
                f"{data.kind}.stored",
                actor_id=author_id,
                subject=f"observation:{observation_id}",
                payload={
                    "enrolment": data.enrolment_id,
                    "content_sha256": data.content_sha256(),
                    "supersedes": data.supersedes,
                },
                connection=conn,
            )
            await announcements.blocks_now_ready(conn, data.enrolment_id, ref,
                                                   datetime.now(UTC))
    except IntegrityError:
        winner = await Observation.get_or_none(id=observation_id)
        if winner is None:  # the unique conflict was on `supersedes`
            raise Conflict(
                "Cette observation a déjà été corrigée.", code="already_superseded"
            ) from None
        return _same_observation(winner, data, missing)
    return Stored(True, observation_json(observation, missing))


def supersede_problem(*, old_kind: str, old_author: int, kind: str, author: int) -> str | None:
    """A correction replaces only a record of the same kind by the same author: a candidate's
    reflection never replaces the tutor's observation (nor its ratings), a work situation
    never becomes a reflective phase (docs/domain.md)."""
    if old_kind != kind:
        return ("Une correction remplace un enregistrement de même nature : une réflexion ne "
                "remplace pas une observation, ni l'inverse.")
    if old_author != author:
        return "Seul l'auteur d'un enregistrement peut le corriger."
    return None


async def _check_designated_before(data: ObservationInput, tutor_id: int, conn) -> None:
    """AFEST (D6313-3-2): the tutor is designated before the work situations they observe."""
    designated = await Tutorship.filter(enrolment_id=data.enrolment_id,
                                        tutor_id=tutor_id).using_db(conn).values_list(
        "designated_on", flat=True)
    if designated and data.observed_on < min(designated):
        raise ValidationFailed(
            f"Observation datée du {data.observed_on:%d/%m/%Y}, avant la désignation du "
            f"tuteur le {min(designated):%d/%m/%Y}.", code="observed_before_designation",
            details={"observed_on": "avant la désignation du tuteur"})


async def _check_supersedes(data: ObservationInput, ref: Referential, conn,
                            author_id: int) -> None:
    if data.supersedes is None:
        return
    old = await Observation.get_or_none(id=data.supersedes).using_db(conn)
    if old is None or old.enrolment_id != data.enrolment_id:
        raise ValidationFailed(
            "L'observation corrigée est introuvable sur ce parcours.", code="supersedes_not_found"
        )
    problem = supersede_problem(old_kind=old.kind, old_author=old.author_id, kind=data.kind,
                                author=author_id)
    if problem:
        raise ValidationFailed(problem, code="supersede_refused",
                               details={"supersedes": problem})
    frozen = await frozen_blocks(data.enrolment_id, conn)
    touched = {b.code for code in old.ratings if (b := ref.block_of_criterion(code))}
    refuse_if_frozen(touched | ({old.block_code} if old.block_code else set()), frozen)


def today_in_france(at: datetime) -> date:
    """Observations are dated by the French calendar day (a 23:30 UTC entry in
    summer is already tomorrow in Paris)."""
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Europe/Paris")).date()
