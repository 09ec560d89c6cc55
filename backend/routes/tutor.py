"""The tutor's pages, complete without JavaScript: my candidates, the capture form
generated from the enrolment's referential, and an enrolment's observations.

pwa/js/capture.js enhances the same form for offline capture (IndexedDB outbox,
then the sync API). Without JavaScript the form posts here and goes through the
same domain calls as that API, so both paths store the same records.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.access import PUBLIC, allow
from backend.auth import current_identity, now
from backend.domain import evidence, standing
from backend.domain.referentials import Referential
from backend.errors import CarnetError, NotFound, PayloadTooLarge, ValidationFailed
from backend.http import read_form, referential_of
from backend.models import Enrolment, Observation, Photo
from backend.pages import render
from backend.permissions import Relation, path_relation, require_writer
from backend.routes.evidence import (
    OBSERVATION_NOT_FOUND,
    PHOTO_NOT_FOUND,
    conflicts_shown_to,
    photo_store,
)
from backend.routes.session import safe_next

MAX_FORM_PHOTOS = 10
# Besides the photos, the form's text fields: ~50 ratings, a comment of 5,000
# characters at most; 1 MB is far above that and still bounds the request.
FORM_TEXT_ALLOWANCE = 1_000_000
# Parsing stops (400) beyond these; above MAX_FORM_PHOTOS we answer a clear 422.
MAX_FILE_PARTS = 50
MAX_FIELDS = 400
FIELD_BYTES = 1_000_000  # each text field (the parser's own default)
RATING_FIELD = "rating-"
# (value sent, label): the empty value is "not observed", the default.
RATING_CHOICES = (("met", "Acquis"), ("progressing", "En cours"), ("not_met", "Non acquis"),
                  ("", "Non observé"))
RATING_LABELS = dict(RATING_CHOICES)
THUMB_SIDE = 320  # backend.storage.ingest_image's thumbnail box


# --- my candidates -------------------------------------------------------------------


@allow(PUBLIC)  # the installed app's start page: checked here, to answer people
async def tutor_home(request: Request) -> Response:
    """Logged out, the login form (still a 401); anyone but a tutor goes to their home."""
    identity = await current_identity(request)
    if identity is None:
        return await render(request, "session/login.html",
                            {"next": safe_next(request, request.url.path)}, 401)
    if "tutor" not in await identity.roles():
        return RedirectResponse("/", status_code=303)
    enrolments = await Enrolment.filter(
        tutorships__tutor_id=identity.id, tutorships__ended_on=None).distinct().select_related(
        "candidate", "company").order_by("candidate__full_name", "id")
    registry = request.app.state.registry
    items = [{"enrolment": e, "referential": registry.find(e.referential_code,
                                                           e.referential_version)}
             for e in enrolments]
    return await render(request, "tutor/home.html", {"items": items})


# --- the capture form ------------------------------------------------------------------


@dataclass
class CaptureForm:
    """What the tutor typed, kept across a re-render after an error.

    `form_id` is the observation's UUID, drawn when the form is rendered: posting
    the same form twice (a double tap, a resent request) stores it once."""

    form_id: str
    observed_on: str
    situation: str = ""
    place: str = ""
    comment: str = ""
    photo_target: str = ""
    ratings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, today: date) -> CaptureForm:
        return cls(form_id=str(uuid.uuid4()), observed_on=today.isoformat())

    @classmethod
    def read(cls, form: FormData, ref: Referential) -> CaptureForm:
        codes = ref.criterion_codes()
        ratings = {key.removeprefix(RATING_FIELD): str(value) for key, value in form.multi_items()
                   if key.startswith(RATING_FIELD) and value and isinstance(value, str)
                   and key.removeprefix(RATING_FIELD) in codes}
        return cls(form_id=evidence.parse_uuid(form.get("form_id")) or str(uuid.uuid4()),
                   observed_on=_text(form, "observed_on"), situation=_text(form, "situation"),
                   place=_text(form, "place"), comment=_text(form, "comment"),
                   photo_target=_text(form, "photo_target"), ratings=ratings)

    def photo_ids(self, count: int) -> list[str]:
        """Derived from the form's UUID, so a resent form names the same photos."""
        return [str(uuid.uuid5(uuid.UUID(self.form_id), f"photo-{i}")) for i in range(count)]

    def api_body(self, enrolment_id: int, photo_ids: list[str],
                 ref: Referential | None = None) -> dict[str, Any]:
        target = self.photo_target or (default_target(ref, self.ratings) if ref else "")
        competency, _, evidence_label = target.partition("|")
        photos = [{"id": pid, "competency": competency or None,
                   "evidence": evidence_label or None} for pid in photo_ids]
        return {"enrolment": enrolment_id, "kind": "observation",
                "observed_on": self.observed_on, "situation": self.situation,
                "place": self.place, "comment": self.comment, "ratings": self.ratings,
                "photos": photos}


def photo_choices(competency) -> list[dict[str, str]]:
    """What a photo taken for this competency may show: its expected photos, then the
    documents (a photo of the paper); one choice is taken without asking."""
    kinds = sorted(competency.evidence, key=lambda e: e.kind != "photo")
    return [{"value": f"{competency.code}|{e.label}", "label": e.label, "kind": e.kind}
            for e in kinds]


def default_target(ref: Referential, ratings: dict[str, str]) -> str:
    """The plain form's photos, left without a choice: the expected photo of the one
    competency rated, when it expects exactly one kind of photo."""
    rated = {c.code: c for c in ref.competencies()
             if any(k.code in ratings for k in c.criteria)}
    if len(rated) != 1:
        return ""
    (competency,) = rated.values()
    photos = [e for e in competency.evidence if e.kind == "photo"]
    return f"{competency.code}|{photos[0].label}" if len(photos) == 1 else ""


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def capture_relation(request: Request) -> tuple[Relation, Referential]:
    """Object-level check first: visible (else 404), designated tutor (else 403)."""
    _, relation = await path_relation(request)
    require_writer(relation, "observation")
    return relation, referential_of(request, relation.enrolment)


@allow("tutor")
async def observe(request: Request) -> Response:
    relation, ref = await capture_relation(request)
    if request.method == "POST":
        return await save_observation(request, relation, ref)
    today = evidence.today_in_france(now(request))
    return await render_form(request, relation, ref, CaptureForm.blank(today))


async def render_form(request: Request, relation: Relation, ref: Referential, values: CaptureForm,
                      errors: dict[str, str] | None = None, status: int = 200) -> Response:
    enrolment = await Enrolment.get(id=relation.enrolment.id).select_related("candidate",
                                                                            "company")
    today = evidence.today_in_france(now(request))
    tree = (await standing.load_records(enrolment.id, ref)).progress(ref, today)
    identity = await current_identity(request)
    last = await Observation.filter(enrolment_id=enrolment.id, author_id=identity.id,
                                    kind="observation").order_by("-created_at").first()
    context = {"enrolment": enrolment, "ref": ref, "values": values, "errors": errors or {},
               "blocks": work_in_progress(ref, tree, values.ratings),
               "last": {"situation": last.situation, "place": last.place} if last else {},
               "today": today.isoformat(), "choices": RATING_CHOICES,
               "max_photos": MAX_FORM_PHOTOS,
               "max_photo_mb": request.app.state.settings.max_upload_bytes // 1_000_000}
    return await render(request, "tutor/observe.html", context, status)


def work_in_progress(ref: Referential, tree, rated: dict[str, str]) -> list[dict]:
    """Blocks with something left to acquire first; in each, the competencies not yet
    acquired first (unfolded), the acquired ones folded at the end. Among those left to
    do, the ones still missing an expected photo come first (and their blocks): a photo
    taken after rating one of their criteria counts at once."""
    states = {c.code: c for b in tree.blocks for c in b.competencies}
    criteria = {k.code: k.state for c in states.values() for k in c.criteria}
    blocks = []
    for block in ref.blocks:
        items = []
        for c in block.competencies:
            done = states[c.code].state == "acquired" if c.code in states else False
            missing = set(states[c.code].evidence_missing) if c.code in states else set()
            wants_photo = any(e.kind == "photo" and e.label in missing for e in c.evidence)
            one_kind = sum(e.kind == "photo" for e in c.evidence) == 1
            items.append({"c": c, "done": done, "open": not done or any(
                k.code in rated for k in c.criteria), "choices": photo_choices(c),
                "wants_photo": wants_photo and not done, "one_kind": one_kind,
                "reason": states[c.code].reason if c.code in states else ""})
        # Stable sorts: the referential's order otherwise.
        # (a photo for one kind of photo is attached without asking: those lead).
        items.sort(key=lambda i: (i["done"], not i["wants_photo"], not i["one_kind"]))
        blocks.append({"b": block, "competencies": items, "criteria": criteria,
                       "done": all(i["done"] for i in items),
                       "wants_photo": any(i["wants_photo"] for i in items)})
    blocks.sort(key=lambda b: (b["done"], not b["wants_photo"]))
    return blocks


async def save_observation(request: Request, relation: Relation, ref: Referential) -> Response:
    settings = request.app.state.settings
    limit = MAX_FORM_PHOTOS * settings.max_upload_bytes + FORM_TEXT_ALLOWANCE
    form = await read_form(request, max_files=MAX_FILE_PARTS, max_bytes=limit,
                           max_fields=MAX_FIELDS, max_part_size=FIELD_BYTES)
    try:
        values = CaptureForm.read(form, ref)
        uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile)
                   and (f.filename or f.size)]  # an empty file input still sends a part
        try:
            data = validate_capture(request, relation, ref, values, uploads)
        except CarnetError as exc:  # nothing stored yet
            return await render_form(request, relation, ref, values, field_errors(exc),
                                     exc.status)
        try:
            await store_capture(request, relation, ref, values, uploads, data)
        except CarnetError as exc:
            values.form_id = str(uuid.uuid4())  # some photos may be stored already
            return await render_form(request, relation, ref, values, {"": exc.message},
                                     exc.status)
    finally:
        await form.close()  # the spooled photo files
    url = request.url_for("enrolment_observations", id=relation.enrolment.id)
    return RedirectResponse(url.path, status_code=303)


def validate_capture(request: Request, relation: Relation, ref: Referential,
                     values: CaptureForm, uploads: list[UploadFile]) -> evidence.ObservationInput:
    check_uploads(uploads, request.app.state.settings.max_upload_bytes)
    enrolment = relation.enrolment
    return evidence.parse_observation(
        values.api_body(enrolment.id, values.photo_ids(len(uploads)), ref), ref=ref,
        started_on=enrolment.started_on, today=evidence.today_in_france(now(request)),
        enrolment_id=enrolment.id)


async def store_capture(request: Request, relation: Relation, ref: Referential,
                        values: CaptureForm, uploads: list[UploadFile],
                        data: evidence.ObservationInput) -> None:
    """The photos first, then the observation: the order of the sync protocol."""
    settings = request.app.state.settings
    identity = await current_identity(request)
    role = require_writer(relation, "observation")
    photo_ids = values.photo_ids(len(uploads))
    for number, (upload, photo_id) in enumerate(zip(uploads, photo_ids, strict=True), 1):
        try:
            async with conflicts_shown_to(identity, PHOTO_NOT_FOUND):
                await evidence.put_photo(
                    photo_id=photo_id, enrolment=relation.enrolment, data=await upload.read(),
                    declared=None, author_id=identity.id, author_role=role,
                    store=photo_store(request), max_pixels=settings.max_image_pixels)
        except CarnetError as exc:
            exc.message = f"Photo {number} ({upload.filename or 'sans nom'}) : {exc.message}"
            raise
    async with conflicts_shown_to(identity, OBSERVATION_NOT_FOUND):
        await evidence.put_observation(observation_id=values.form_id, data=data, ref=ref,
                                       author_id=identity.id, author_role=role)


def check_uploads(uploads: list[UploadFile], max_bytes: int) -> None:
    if len(uploads) > MAX_FORM_PHOTOS:
        message = f"{MAX_FORM_PHOTOS} photos au plus par observation."
        raise ValidationFailed(message, code="too_many_photos", details={"photos": message})
    for number, upload in enumerate(uploads, 1):
        if upload.size is not None and upload.size > max_bytes:
            raise PayloadTooLarge(f"Photo {number} : fichier trop volumineux "
                                  f"({max_bytes // 1_000_000} Mo au plus).",
                                  details={"limit": max_bytes})


# Friendlier than the API's wording for the one field a tutor may forget.
REQUIRED_MESSAGES = {"situation": "Indiquez la situation ou l'ouvrage observé."}


def field_errors(exc: CarnetError) -> dict[str, str]:
    """Field → message for the form; "" holds the summary shown at the top."""
    errors = {"": exc.message}
    if isinstance(exc, ValidationFailed) and isinstance(exc.details, dict):
        for where, message in exc.details.items():
            name = re.split(r"[.\[]", str(where), maxsplit=1)[0]
            if "obligatoire" in str(message):
                message = REQUIRED_MESSAGES.get(name, message)
            errors.setdefault(name, str(message))
        if len(errors) > 2:
            errors[""] = "Vérifiez les champs signalés."
        elif len(errors) == 2:  # one field: its message is the summary
            errors[""] = next(m for k, m in errors.items() if k)
    return errors


# --- an enrolment's observations -----------------------------------------------------


@allow("admin", "tutor", "candidate")
async def observations_page(request: Request) -> Response:
    _, relation = await path_relation(request)
    if not (relation.admin or relation.tutor or relation.candidate):
        raise NotFound("Parcours introuvable.", code="enrolment_not_found")
    eid = relation.enrolment.id
    enrolment = await Enrolment.get(id=eid).select_related("candidate", "company")
    observations = await Observation.filter(enrolment_id=eid).select_related("author").order_by(
        "-observed_on", "-created_at")
    photos = {str(p["id"]): p for p in await Photo.filter(enrolment_id=eid).values(
        "id", "width", "height", "author_role")}
    ref = request.app.state.registry.find(enrolment.referential_code,
                                          enrolment.referential_version)
    context = {"enrolment": enrolment, "relation": relation,
               "items": [observation_view(o, photos, ref) for o in observations],
               "superseded": {str(o.supersedes_id) for o in observations if o.supersedes_id}}
    return await render(request, "tutor/observations.html", context)


def observation_view(o: Observation, photos: dict[str, dict], ref: Referential | None) -> dict:
    labels = {k.code: k.label for k in ref.criteria()} if ref else {}
    return {
        "o": o, "id": str(o.id),
        "ratings": [{"code": code, "label": labels.get(code, code), "value": value,
                     "value_label": RATING_LABELS.get(value, value)}
                    for code, value in o.ratings.items()],
        "photos": [{**ref_, "stored": photos.get(ref_["id"]),
                    "thumb": thumb_size(photos.get(ref_["id"]))} for ref_ in o.photos],
    }


def thumb_size(photo: dict | None) -> tuple[int, int] | None:
    if photo is None:
        return None
    w, h = photo["width"], photo["height"]
    scale = min(1.0, THUMB_SIDE / max(w, h, 1))
    return max(1, round(w * scale)), max(1, round(h * scale))


routes = [
    Route("/tutor", tutor_home, name="tutor_home"),
    Route("/enrolments/{id:int}/observe", observe, methods=["GET", "POST"],
          name="enrolment_observe"),
    Route("/enrolments/{id:int}/observations", observations_page,
          name="enrolment_observations"),
]
