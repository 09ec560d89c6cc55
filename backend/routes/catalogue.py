"""The public catalogue of the branch's CQPs (no login): the list, one page per CQP with a
contact form, an Atom feed of new and revised CQPs, and `/api/v1/catalogue` for
orientation services. French by default, English with `?lang=en`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2.ext import _make_new_gettext, _make_new_ngettext
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backend.access import PUBLIC, allow
from backend.auth import now
from backend.domain import cqps
from backend.domain.catalogue import (
    CONTACT_KINDS,
    CONTACT_RETENTION_MONTHS,
    as_json,
    atom_feed,
    consent_wording,
    json_ld,
)
from backend.errors import ValidationFailed
from backend.http import json_response, read_form
from backend.i18n import translations
from backend.pages import render

LANGUAGES = ("fr", "en")
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}  # each in its own language


def language(request: Request) -> str:
    wanted = request.query_params.get("lang", "fr")
    return wanted if wanted in LANGUAGES else "fr"


def base_url(request: Request) -> str:
    return (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")


def cqp_url(request: Request, code: str) -> str:
    return f"{base_url(request)}/catalogue/{code}"


async def page(request: Request, template: str, context: dict[str, Any],
               status: int = 200) -> Response:
    lang = language(request)
    words = translations(lang)
    suffix = "?lang=en" if lang == "en" else ""
    # The page's language in place of the app's: Jinja's own new-style wrappers (escaping,
    # %(name)s placeholders) around the chosen catalogue.
    gettext = _make_new_gettext(words.gettext)
    other = "fr" if lang == "en" else "en"
    return await render(request, f"catalogue/{template}", {
        "lang": lang, "suffix": suffix, "other_lang": other,
        "other_lang_name": LANGUAGE_NAMES[other], "other_suffix": "" if other == "fr" else
        "?lang=en", "_": gettext, "gettext": gettext,
        "ngettext": _make_new_ngettext(words.ngettext),
        "retention_months": CONTACT_RETENTION_MONTHS,
        "feed_url": f"{base_url(request)}/catalogue/feed.atom", **context}, status)


@allow(PUBLIC)
async def index(request: Request) -> Response:
    entries = await cqps.catalogue(request.app.state.registry)
    return await page(request, "index.html", {"entries": entries})


async def cqp_context(request: Request, code: str) -> dict[str, Any]:
    found = await cqps.entry(request.app.state.registry, code)
    return {"e": found, "ref": found.referential, "cat": found.referential.catalogue,
            "json_ld": json_ld(found, cqp_url(request, code)), "kinds": CONTACT_KINDS,
            "consent": consent_wording(found.referential.branch,
                                       translations(language(request)).gettext),
            "form": {}, "problems": [],
            "sent": request.query_params.get("sent") == "1"}


@allow(PUBLIC)
async def cqp(request: Request) -> Response:
    return await page(request, "cqp.html", await cqp_context(request,
                                                             request.path_params["code"]))


@allow(PUBLIC)
async def contact(request: Request) -> Response:
    code = request.path_params["code"]
    form = {k: str(v) for k, v in (await read_form(request)).items()}
    if form.get("website"):  # the hidden field only robots fill in: accepted, not stored
        return RedirectResponse(f"/catalogue/{code}?sent=1", status_code=303)
    settings = request.app.state.settings
    try:
        await cqps.record_contact(request.app.state.registry, code, form, now(request),
                                  smtp_url=settings.smtp_url, sender=settings.mail_from,
                                  gettext=translations(language(request)).gettext)
    except ValidationFailed as exc:
        context = {**await cqp_context(request, code), "form": form,
                   "problems": exc.details["fields"]}
        return await page(request, "cqp.html", context, exc.status)
    lang = "&lang=en" if language(request) == "en" else ""
    return RedirectResponse(f"/catalogue/{code}?sent=1{lang}#contact", status_code=303)


def source_mtime(source: str) -> float:
    path = Path(source)
    return path.stat().st_mtime if source and path.is_file() else 0.0


@allow(PUBLIC)
async def feed(request: Request) -> Response:
    registry = request.app.state.registry
    states = await cqps.version_states(registry)
    items = []
    for state in states.values():
        if state.status != "open":
            continue
        ref = state.referential
        items.append((cqps.Entry(ref, state.opened_on), cqp_url(request, ref.code),
                      cqps.feed_time(state, source_mtime(ref.source))))
    body = atom_feed(items, feed_url=f"{base_url(request)}/catalogue/feed.atom",
                     site_url=f"{base_url(request)}/catalogue",
                     title=translations(language(request)).gettext("Catalogue des CQP"),
                     now=now(request))
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@allow(PUBLIC)
async def api_catalogue(request: Request) -> Response:
    entries = await cqps.catalogue(request.app.state.registry)
    return json_response({"items": [as_json(e, cqp_url(request, e.code)) for e in entries]})


routes = [
    Route("/catalogue", index, name="catalogue"),
    Route("/catalogue/feed.atom", feed, name="catalogue_feed"),
    Route("/catalogue/{code}", cqp, name="catalogue_cqp"),
    Route("/catalogue/{code}/contact", contact, methods=["POST"], name="catalogue_contact"),
    Route("/api/v1/catalogue", api_catalogue, name="api_catalogue"),
]
