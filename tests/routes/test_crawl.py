"""No page reachable only by its address: for each role, a crawl from that role's home
page, following links only (and the search forms a user would submit, which are GETs),
reaches every page the access matrix opens to that role on its own objects.

The objects, in the states the pages need (a dossier in a session, a decision, an
invitation…), come from the access matrix's world. A new page that nothing links to
fails here."""

from __future__ import annotations

import html
import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from backend.models import HeldBlock
from tests import factories as f
from tests.routes.test_access_matrix import OK, ROLES, ROWS, caller, matrix_world

# Not pages a person browses to: the API, the worker's files, one-time token links
# (they arrive by e-mail), and pages that answer nobody (the register's unknown fiche).
NOT_PAGES = ("/api/", "/health", "/ready", "/sw.js", "/manifest.webmanifest", "/offline",
             "/static/")
# Reached before logging in; a logged-in person has no reason to come back to them.
LOGGED_OUT_ONLY = {"/login", "/password/forgot"}
MAX_PAGES = 600
MAX_PER_PATTERN = 8  # the same page with other parameters (filters, pages) adds nothing

LINK = re.compile(r'<a\b[^>]*\bhref="([^"#][^"]*)"', re.I)
GET_FORM = re.compile(r'<form\b(?=[^>]*\bmethod="get")[^>]*\baction="([^"]*)"', re.I)


def pattern(path: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", path)
    regex = "".join(("[0-9]+" if p.endswith(":int}") else "[^/]+") if p.startswith("{")
                    else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def pages_of(role: str) -> dict[str, re.Pattern]:
    skip = LOGGED_OUT_ONLY if role != "anonymous" else set()
    if role != "tutor":
        skip = skip | {"/tutor"}  # the app's start page sends anyone else to their home
    return {row.path: pattern(row.path) for row in ROWS
            if row.method == "GET" and row.expect[role][0] == OK
            and not row.path.startswith(NOT_PAGES) and "{token}" not in row.path
            and row.path not in skip}


def links(page: str, here: str) -> list[str]:
    found = [html.unescape(u) for u in LINK.findall(page)]
    found += [html.unescape(u) or here for u in GET_FORM.findall(page)]
    urls = []
    for url in found:
        parts = urlsplit(urljoin(f"https://testserver{here}", url))
        if parts.netloc == "testserver" and not parts.path.startswith(("/logout", "/static/")):
            urls.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return urls


async def crawl(client: httpx.AsyncClient, start: str, patterns: dict[str, re.Pattern]
                ) -> set[str]:
    """The patterns of the pages reached from `start` by following links."""
    reached: set[str] = set()
    seen, queue, per_pattern = {start}, deque([start]), {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        response = await client.get(url, follow_redirects=True)
        path = response.url.path
        passed = [r.url.path for r in response.history] + [path]  # redirects lead through
        for name, regex in patterns.items():
            if response.status_code < 400 and any(regex.match(p) for p in passed):
                reached.add(name)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for link in links(response.text, path):
            key = next((n for n, r in patterns.items() if r.match(urlsplit(link).path)),
                       urlsplit(link).path)
            if link in seen or per_pattern.get(key, 0) >= MAX_PER_PATTERN:
                continue
            per_pattern[key] = per_pattern.get(key, 0) + 1
            seen.add(link)
            queue.append(link)
    return reached


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_of_a_role_is_linked_from_its_home(app, role):
    w = await matrix_world(app)
    # A block held from an earlier decision: the outcome page offers the attestation.
    await HeldBlock.create(enrolment=w.enrolment, block_code="BC04",
                           decided_on=w.enrolment.started_on,
                           referential_version=w.enrolment.referential_version)
    expected = pages_of(role)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        if caller(w, role) is not None:
            await f.login(client, caller(w, role))
        reached = await crawl(client, "/", expected)
    missing = sorted(set(expected) - reached)
    assert not missing, f"{role}: pages reachable only by their address: {missing}"
