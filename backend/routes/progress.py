"""Progress: the API tree with its ETag, the candidate and tutor pages, branch figures, and
the admin's move of an enrolment to a newer referential version."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections import OrderedDict
from dataclasses import is_dataclass
from datetime import date
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.access import AUTHENTICATED, allow
from backend.auth import Identity, current_identity, now
from backend.domain import evidence, progress, standing, versions
from backend.domain.progress import observe_next
from backend.domain.referentials import Referential
from backend.errors import CarnetError, Forbidden, ValidationFailed
from backend.http import etag_matches, read_form, referential_of
from backend.models import Enrolment, Person
from backend.pages import render
from backend.permissions import (
    Relation,
    admin_branch_ids,
    path_relation,
    require_writer,
    with_path_relation,
)
from backend.routes.evidence import OBSERVATION_NOT_FOUND, conflicts_shown_to

# Part of every ETag: a deploy that changes the rules or the body changes the ETags too.
ENGINE_DIGEST = hashlib.sha256(b"".join(
    Path(file).read_bytes() for file in (progress.__file__, standing.__file__, __file__)
)).hexdigest()[:16]
# Bodies by ETag. The ETag names everything the body depends on, so a body cached under it
# stays right; most requests after a write are the same people reloading the same page.
BODY_CACHE_SIZE = 512
GZIP_LEVEL = 6  # nearly level 9's size on JSON for a fraction of its time

# Words of the pages (the API keeps the engine's stable state names).
BLOCK_WORDS = {"in_progress": "En cours", "ready": "Prêt pour le jury",
               "submitted": "Présenté au jury", "not_validated": "Non validé par le jury",
               "validated": "Validé par le jury", "held": "Acquis (capitalisé)"}
COMPETENCY_WORDS = {"not_started": "Pas commencée", "in_progress": "En cours",
                    "acquired": "Acquise"}
RATING_WORDS = {"met": "acquis", "progressing": "en cours", "not_met": "non acquis"}
REFLECTION_FIELDS = ("id", "block", "observed_on", "did", "gap", "learnt")
# The reflection form's fields, as the parser's messages name them.
FIELD_NAMES = {"« situation »": "« Ce que j'ai fait »",
               "« comment »": "« L'écart avec l'attendu » et « Ce que j'ai appris »"}


class BodyCache:
    """A small LRU of encoded progress bodies, keyed by ETag, one per app. Each keeps its
    gzipped form once asked for: compressing 20 kB again on every request cost a fifth of
    the request rate (bench/README.md)."""

    def __init__(self, size: int = BODY_CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[str, list[bytes | None]] = OrderedDict()

    def get(self, key: str, gzipped: bool = False) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return _encoded(item, gzipped)

    def put(self, key: str, body: bytes, gzipped: bool = False) -> bytes:
        """Keeps `body` and returns it, gzipped if asked."""
        item = self._items[key] = [body, None]
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return _encoded(item, gzipped)


def _encoded(item: list[bytes | None], gzipped: bool) -> bytes:
    if not gzipped:
        return item[0]
    if item[1] is None:
        item[1] = gzip.compress(item[0], compresslevel=GZIP_LEVEL, mtime=0)
    return item[1]


def body_cache(request: Request) -> BodyCache:
    cache = getattr(request.app.state, "progress_bodies", None)
    if cache is None:
        cache = request.app.state.progress_bodies = BodyCache()
    return cache


def today(request: Request) -> date:
    return evidence.today_in_france(now(request))


# API ------------------------------------------------------------------------------------------


def progress_etag(enrolment: Enrolment, ref: Referential, day: date, tutor: bool) -> str:
    """Changes exactly when the body may: evidence or decisions (the revision), the
    referential, the day (capitalised blocks expire) and the tutor's extra list."""
    key = f"{ENGINE_DIGEST}|{enrolment.id}|{enrolment.revision}|{ref.digest}|{day}|{tutor}"
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


async def progress_body(enrolment: Enrolment, ref: Referential, day: date, tutor: bool) -> bytes:
    # The enrolment row (its revision) was read before the records: a write landing in
    # between gives a newer body under the older ETag, never an older body under a newer one.
    tree = (await standing.load_records(enrolment.id, ref)).progress(ref, day)
    return encode_progress(tree, enrolment, observe_next(tree) if tutor else None)


def encode_progress(tree: progress.EnrolmentProgress, enrolment: Enrolment,
                    next_criteria: list[progress.CriterionProgress] | None) -> bytes:
    """`tree.to_dict()` plus the enrolment's id and revision (and what to observe next),
    encoded in one pass: the C encoder walks the dataclasses through `_plain_json` instead
    of a copy of the tree being built in Python first (a test checks both agree)."""
    data = {**vars(tree), "enrolment": enrolment.id, "revision": enrolment.revision}
    if next_criteria is not None:
        data["observe_next"] = next_criteria
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                      default=_plain_json).encode()


def _plain_json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value):
        return vars(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@with_path_relation  # session and ties in one round trip (bench/README.md, 2)
@allow(AUTHENTICATED)
async def api_progress(request: Request) -> Response:
    _, rel = await path_relation(request)
    enrolment, ref, day = rel.enrolment, referential_of(request, rel.enrolment), today(request)
    etag = progress_etag(enrolment, ref, day, rel.tutor)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    # GZipMiddleware leaves a response that already has a Content-Encoding alone.
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    if gzipped:  # another encoding of the same body: a weak tag (RFC 9110, 8.8.3)
        headers["ETag"] = f"W/{etag}"
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    cache = body_cache(request)
    body = cache.get(etag, gzipped)
    if body is None:
        body = cache.put(etag, await progress_body(enrolment, ref, day, rel.tutor), gzipped)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


# Candidate and tutor pages ----------------------------------------------------------------------


@allow("candidate")
async def candidate_home(request: Request) -> Response:
    identity = await current_identity(request)
    enrolments = await Enrolment.filter(candidate_id=identity.id).order_by(
        "-started_on", "-id").values("id", "referential_code", "referential_version",
                                     "started_on", "company__name")
    if len(enrolments) == 1:
        welcome = "?welcome=1" if request.query_params.get("welcome") else ""
        return RedirectResponse(enrolment_path(request, enrolments[0]["id"]) + welcome, 303)
    registry = request.app.state.registry
    for e in enrolments:
        ref = registry.find(e["referential_code"], e["referential_version"])
        e["title"] = ref.title if ref else e["referential_code"]
    return await render(request, "progress/candidate.html", {"enrolments": enrolments})


def enrolment_path(request: Request, enrolment_id: int) -> str:
    return str(request.app.url_path_for("enrolment", id=enrolment_id))


def fr_date(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


async def enrolment_view(request: Request, identity: Identity, rel: Relation,
                         form: dict[str, str] | None = None, errors: list[str] | None = None,
                         status: int = 200) -> Response:
    enrolment = rel.enrolment
    ref, day = referential_of(request, enrolment), today(request)
    records = await standing.load_records(enrolment.id, ref, timeline=True)
    tree = records.progress(ref, day)
    names = await Person.filter(id=enrolment.candidate_id).values_list("full_name", flat=True)
    context = {
        "enrolment": enrolment, "ref": ref, "progress": tree, "records": records,
        "candidate_name": names[0] if names else "", "relation": rel,
        "observe_next": observe_next(tree) if rel.tutor else [],
        "criteria": labels(ref),
        "block_titles": {b.code: b.title for b in ref.blocks},
        "words": {"block": BLOCK_WORDS, "competency": COMPETENCY_WORDS,
                  "rating": RATING_WORDS},
        "fr": fr_date, "today": day.isoformat(),
        "can_reflect": rel.candidate, "form": form or {"id": str(uuid.uuid4())},
        "errors": errors or [],
        "notice": notice(request, enrolment),
    }
    return await render(request, "progress/enrolment.html", context, status)


def notice(request: Request, enrolment: Enrolment) -> str:
    """The confirmation after a redirect (PRG); never echoes arbitrary text."""
    params = request.query_params
    if params.get("reflection"):
        return "Réflexion enregistrée."
    if params.get("moved") == enrolment.referential_version:
        return f"Parcours passé à la version {enrolment.referential_version}."
    return ""


@allow(AUTHENTICATED)
async def enrolment_page(request: Request) -> Response:
    identity, rel = await path_relation(request)
    return await enrolment_view(request, identity, rel)


def reflection_comment(gap: str, learnt: str) -> str:
    parts = [("Écart avec l'attendu", gap.strip()), ("Ce que j'ai appris", learnt.strip())]
    return "\n\n".join(f"{title} : {text}" for title, text in parts if text)


def reflection_errors(exc: CarnetError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    messages = [str(m) for m in details.values()] or [exc.message]
    for field, name in FIELD_NAMES.items():
        messages = [m.replace(field, name) for m in messages]
    return messages


def parse_reflection(values: dict[str, str], rel: Relation, ref: Referential,
                     day: date) -> evidence.ObservationInput:
    body = {"kind": "reflection", "block": values["block"] or None,
            "observed_on": values["observed_on"], "situation": values["did"],
            "comment": reflection_comment(values["gap"], values["learnt"])}
    try:
        data = evidence.parse_observation(body, ref=ref, started_on=rel.enrolment.started_on,
                                          today=day, enrolment_id=rel.enrolment.id)
    except ValidationFailed as exc:
        problems = exc.details
    else:
        problems = {}
    if not values["gap"].strip() and not values["learnt"].strip():
        problems["learnt"] = ("Dites l'écart avec ce qui était attendu ou ce que vous avez "
                              "appris.")
    if problems:
        raise ValidationFailed(next(iter(problems.values())), code="invalid_reflection",
                               details=problems)
    return data


@allow(AUTHENTICATED)
async def add_reflection(request: Request) -> Response:
    identity, rel = await path_relation(request)
    role = require_writer(rel, "reflection")
    form = await read_form(request)
    values = {name: str(form.get(name, "")) for name in REFLECTION_FIELDS}
    values["id"] = evidence.parse_uuid(values["id"]) or str(uuid.uuid4())
    ref = referential_of(request, rel.enrolment)
    try:
        data = parse_reflection(values, rel, ref, today(request))
        # The id was drawn when the form was shown: sending the form twice stores it once.
        async with conflicts_shown_to(identity, OBSERVATION_NOT_FOUND):
            await evidence.put_observation(observation_id=values["id"], data=data, ref=ref,
                                           author_id=identity.id, author_role=role)
    except CarnetError as exc:
        return await enrolment_view(request, identity, rel, values, reflection_errors(exc),
                                    exc.status)
    target = enrolment_path(request, rel.enrolment.id)
    return RedirectResponse(f"{target}?reflection=1#journal", 303)


# Branch admin ---------------------------------------------------------------------------------


@allow("admin")
async def admin_figures(request: Request) -> Response:
    identity = await current_identity(request)
    branches = await admin_branch_ids(identity.id)
    figures = await standing.branch_figures(branches, request.app.state.registry,
                                            today(request))
    return await render(request, "progress/figures.html",
                        {"figures": figures, "states": BLOCK_WORDS, "days": days_text})


def days_text(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.1f}".replace(".", ",").removesuffix(",0")
    return f"{text} jour" if value <= 1 else f"{text} jours"


def labels(ref: Referential) -> dict[str, str]:
    return {k.code: k.label for k in ref.criteria()}


async def admin_relation(request: Request) -> tuple[Identity, Relation]:
    """The enrolment must belong to a company of a branch the admin holds."""
    identity, rel = await path_relation(request)
    if not rel.admin:
        raise Forbidden("Ce parcours ne relève pas de votre branche.", code="not_branch_admin")
    return identity, rel


@allow("admin")
async def admin_move(request: Request) -> Response:
    identity, rel = await admin_relation(request)
    enrolment, registry = rel.enrolment, request.app.state.registry
    context: dict[str, Any] = {"enrolment": enrolment, "ref": referential_of(request, enrolment),
                               "choices": versions.newer_versions(registry, enrolment)}
    if request.method == "POST":
        version = str((await read_form(request)).get("version", ""))
        try:
            await versions.move_enrolment(enrolment.id, version, registry, by=identity.id)
        except CarnetError as exc:
            context.update(version=version, error=exc.message)
            return await render(request, "progress/move.html", context, exc.status)
        target = enrolment_path(request, enrolment.id)
        return RedirectResponse(f"{target}?moved={version}", 303)
    version = request.query_params.get("version", "")
    context["version"] = version
    if version:
        try:
            context["mapping"] = await versions.preview_move(enrolment, version, registry)
            context["new_labels"] = labels(versions.target(registry, enrolment, version))
            context["old_labels"] = labels(context["ref"])
        except CarnetError as exc:
            context["error"] = exc.message
            return await render(request, "progress/move.html", context, exc.status)
    return await render(request, "progress/move.html", context)


routes = [
    Route("/api/v1/enrolments/{id:int}/progress", api_progress, name="api_progress"),
    Route("/candidate", candidate_home, name="candidate"),
    Route("/enrolments/{id:int}", enrolment_page, name="enrolment"),
    Route("/enrolments/{id:int}/reflections", add_reflection, methods=["POST"],
          name="add_reflection"),
    Route("/admin/figures", admin_figures, name="admin_figures"),
    Route("/admin/enrolments/{id:int}/move", admin_move, methods=["GET", "POST"],
          name="admin_move_enrolment"),
]
