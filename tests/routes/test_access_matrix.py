"""Role × route × ownership: every route of the app has a row here, so a new route
without one fails `test_every_route_has_a_row_in_the_matrix`.

A row says, for each caller, what it gets on its own object and on someone
else's: OK (allowed: any answer but 401/403/404), or the refusal status.

The jury member's "own" objects are the dossier assigned to their session and the
evidence frozen in its manifest: the candidate's enrolment itself (progress, pages,
evidence outside the dossier, the candidate's other dossiers) is never theirs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from starlette.routing import Mount, Route

from backend.auth import utcnow
from backend.domain import jury
from backend.models import Dossier, Invitation, JuryMember, Observation, Photo
from tests import factories as f
from tests.images import jpeg

OK = "ok"
ROLES = ("anonymous", "outsider", "admin", "tutor", "candidate", "jury")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    build: Callable  # (world, own: bool) -> (url, request kwargs)
    expect: dict[str, tuple[str | int, str | int]]  # role -> (own, other)


def same(**statuses) -> dict:
    """The same answer on own and other objects (routes without an object)."""
    return {role: (statuses.get(role, OK),) * 2 for role in ROLES}


def plain(url: str, **kw) -> Callable:
    return lambda w, own: (url, kw)


def enrolment_of(w, own: bool) -> int:
    return (w.enrolment if own else w.other_enrolment).id


def observation_body(w, own: bool) -> dict:
    return {"enrolment": enrolment_of(w, own),
            "observed_on": (date.today() - timedelta(days=1)).isoformat(),
            "situation": "Soudure", "kind": "observation", "ratings": {"C2.2.a": "met"}}


def pick(w, own: bool, attribute: str) -> int:
    """An object of the caller's world (own) or of another branch (other)."""
    return getattr(w if own else w.elsewhere, attribute).id


def admin_object(template: str, attribute: str, **kw) -> Callable:
    return lambda w, own: (template.format(pick(w, own, attribute)), kw)


PUBLIC = same()
SIGNED_IN = same(anonymous=401)
PER_ENROLMENT = {  # reading an enrolment's things: others' are hidden (404)
    "anonymous": (401, 401), "outsider": (404, 404), "admin": (OK, OK), "tutor": (OK, 404),
    "candidate": (OK, 404), "jury": (404, 404)}
FROZEN = {**PER_ENROLMENT, "jury": (OK, 404)}  # evidence in the jury's dossier
ADMIN_ONLY = same(anonymous=401, outsider=403, tutor=403, candidate=403, jury=403)
ADMIN_OBJECT = {**ADMIN_ONLY, "admin": (OK, 404)}
SUBMIT = {**ADMIN_ONLY, "admin": (OK, OK), "tutor": (OK, 404)}
JURY_LISTS = same(anonymous=401, outsider=403, tutor=403, candidate=403)
SESSION_PAGES = {**JURY_LISTS, "admin": (OK, 404), "jury": (OK, 404)}
DOSSIER_READS = {**FROZEN, "outsider": (404, 404), "admin": (OK, OK)}
# The same candidate's dossier in a session the jury member does not sit on.
UNASSIGNED_DOSSIER_READS = {**DOSSIER_READS, "jury": (404, 404)}
DECIDE = {**ADMIN_ONLY, "admin": (403, 403), "jury": (OK, 404)}
APPEAL = {**ADMIN_ONLY, "admin": (OK, OK), "candidate": (OK, 404)}
CLOSE = DECIDE
TUTOR_WRITES = {**PER_ENROLMENT, "admin": (403, 403), "candidate": (403, 404)}
PHOTO_WRITES = {**TUTOR_WRITES, "candidate": (OK, 404)}
NO_UPLOAD = same(anonymous=401, outsider=404, admin=404, tutor=404, candidate=404, jury=404)

ROWS = [
    Row("GET", "/health", plain("/health"), PUBLIC),
    Row("GET", "/ready", plain("/ready"), PUBLIC),
    # Off unless CARNET_METRICS=on (tests/test_operations.py turns it on).
    Row("GET", "/metrics", plain("/metrics"), same(**{r: 404 for r in ROLES})),
    Row("GET", "/", plain("/"), PUBLIC),
    Row("GET", "/api/v1/openapi.json", plain("/api/v1/openapi.json"), PUBLIC),
    Row("POST", "/api/v1/session", lambda w, own: ("/api/v1/session", {"json": {
        "email": w.outsider.email, "password": f.PASSWORD}}), PUBLIC),
    Row("DELETE", "/api/v1/session", plain("/api/v1/session"), PUBLIC),
    Row("GET", "/api/v1/me", plain("/api/v1/me"), SIGNED_IN),
    Row("GET", "/login", plain("/login"), PUBLIC),
    Row("POST", "/login", lambda w, own: ("/login", {"data": {
        "email": w.outsider.email, "password": f.PASSWORD}}), PUBLIC),
    Row("POST", "/logout", plain("/logout"), PUBLIC),
    Row("GET", "/invitation/{token}", plain("/invitation/nope"), same(
        **{r: 410 for r in ROLES})),
    Row("POST", "/invitation/{token}", plain("/invitation/nope", data={}), same(
        **{r: 410 for r in ROLES})),
    Row("GET", "/account/password", plain("/account/password"), SIGNED_IN),
    Row("GET", "/notices", plain("/notices"), SIGNED_IN),
    Row("POST", "/notices", plain("/notices", data={"mode": "digest"}), SIGNED_IN),
    Row("POST", "/account/password", plain("/account/password", data={
        "current": "wrong", "password": "x", "password_again": "x"}), SIGNED_IN),
    Row("GET", "/password/forgot", plain("/password/forgot"), PUBLIC),
    Row("POST", "/password/forgot", plain("/password/forgot", data={"email": "a@b.test"}),
        PUBLIC),
    Row("GET", "/password/reset/{token}", plain("/password/reset/nope"), same(
        **{r: 410 for r in ROLES})),
    Row("POST", "/password/reset/{token}", plain("/password/reset/nope", data={}), same(
        **{r: 410 for r in ROLES})),
    Row("GET", "/unlock/{token}", plain("/unlock/nope"), same(**{r: 410 for r in ROLES})),
    Row("POST", "/unlock/{token}", plain("/unlock/nope", data={}), same(
        **{r: 410 for r in ROLES})),
    Row("GET", "/api/v1/referentials", plain("/api/v1/referentials"), PUBLIC),
    Row("GET", "/api/v1/referentials/{code}/{version}",
        plain("/api/v1/referentials/CQP-FIOMB/2026-1"), PUBLIC),
    Row("GET", "/api/v1/enrolments", plain("/api/v1/enrolments"), SIGNED_IN),
    Row("GET", "/api/v1/enrolments/{id:int}",
        lambda w, own: (f"/api/v1/enrolments/{enrolment_of(w, own)}", {}), PER_ENROLMENT),
    Row("PUT", "/api/v1/photos/{uuid}",
        lambda w, own: (f"/api/v1/photos/{uuid.uuid4()}?enrolment={enrolment_of(w, own)}",
                        {"content": b"x", "headers": {"Content-Digest": "sha-256=:AA==:"}}),
        PHOTO_WRITES),
    # A resumable upload is its sender's only: an unknown one is 404 for everyone
    # (tests/routes/test_resumable_uploads.py checks another person's and a lost tie).
    Row("HEAD", "/api/v1/photos/{uuid}/upload",
        plain(f"/api/v1/photos/{uuid.uuid4()}/upload"), NO_UPLOAD),
    Row("PATCH", "/api/v1/photos/{uuid}/upload",
        plain(f"/api/v1/photos/{uuid.uuid4()}/upload", content=b"x",
              headers={"Upload-Offset": "0", "Upload-Complete": "?1"}), NO_UPLOAD),
    Row("GET", "/api/v1/photos/{uuid}",
        lambda w, own: (f"/api/v1/photos/{w.photos[own]}", {}), FROZEN),
    Row("GET", "/api/v1/photos/{uuid}",
        lambda w, own: (f"/api/v1/photos/{w.loose_photos[own]}", {}), PER_ENROLMENT),
    Row("PUT", "/api/v1/observations/{uuid}",
        lambda w, own: (f"/api/v1/observations/{uuid.uuid4()}",
                        {"json": observation_body(w, own)}), TUTOR_WRITES),
    Row("GET", "/api/v1/observations/{uuid}",
        lambda w, own: (f"/api/v1/observations/{w.observations[own]}", {}), FROZEN),
    Row("GET", "/api/v1/observations/{uuid}",
        lambda w, own: (f"/api/v1/observations/{w.loose_observations[own]}", {}),
        PER_ENROLMENT),
    # --- progress and the candidate's pages
    Row("GET", "/api/v1/enrolments/{id:int}/progress",
        lambda w, own: (f"/api/v1/enrolments/{enrolment_of(w, own)}/progress", {}),
        PER_ENROLMENT),
    Row("GET", "/candidate", plain("/candidate"), same(
        anonymous=401, outsider=403, admin=403, tutor=403, jury=403)),
    Row("GET", "/enrolments/{id:int}",
        lambda w, own: (f"/enrolments/{enrolment_of(w, own)}", {}), PER_ENROLMENT),
    Row("POST", "/enrolments/{id:int}/reflections",
        lambda w, own: (f"/enrolments/{enrolment_of(w, own)}/reflections", {"data": {}}),
        {**PER_ENROLMENT, "admin": (403, 403)}),
    Row("GET", "/admin/figures", plain("/admin/figures"), ADMIN_ONLY),
    Row("GET", "/admin/enrolments/{id:int}/move",
        admin_object("/admin/enrolments/{}/move", "enrolment"), ADMIN_OBJECT),
    Row("POST", "/admin/enrolments/{id:int}/move",
        admin_object("/admin/enrolments/{}/move", "enrolment", data={}), ADMIN_OBJECT),
    # --- the tutor's pages and the installable app
    # The installed app's start page: the login form (401) logged out, else one's home.
    Row("GET", "/tutor", plain("/tutor"), same(anonymous=401)),
    *[Row(method, "/enrolments/{id:int}/observe", lambda w, own, method=method: (
        f"/enrolments/{enrolment_of(w, own)}/observe", {"data": {}} if method == "POST" else {}),
        {**same(anonymous=401, outsider=403, admin=403, candidate=403, jury=403),
         "tutor": (OK, 404)}) for method in ("GET", "POST")],
    Row("GET", "/enrolments/{id:int}/observations",
        lambda w, own: (f"/enrolments/{enrolment_of(w, own)}/observations", {}),
        {**PER_ENROLMENT, "outsider": (403, 403), "jury": (403, 403)}),
    Row("GET", "/sw.js", plain("/sw.js"), PUBLIC),
    Row("GET", "/manifest.webmanifest", plain("/manifest.webmanifest"), PUBLIC),
    Row("GET", "/offline", plain("/offline"), PUBLIC),
    # --- the jury: dossiers, sessions, decisions, documents
    *[Row("POST", path, lambda w, own, path=path: (
        path.replace("{id:int}", str(enrolment_of(w, own))), {"json": {"block": "BC01"}}
        if path.startswith("/api") else {"data": {"block": "BC01"}}), SUBMIT)
      for path in ("/api/v1/enrolments/{id:int}/dossiers", "/enrolments/{id:int}/dossiers")],
    *[Row("GET", path, lambda w, own, path=path: (
        path.replace("{id:int}", str(enrolment_of(w, own))), {}), PER_ENROLMENT)
      for path in ("/api/v1/enrolments/{id:int}/outcome", "/enrolments/{id:int}/outcome",
                   "/enrolments/{id:int}/certificate.pdf")],
    Row("GET", "/api/v1/jury-sessions", plain("/api/v1/jury-sessions"), JURY_LISTS),
    Row("GET", "/jury", plain("/jury"), JURY_LISTS),
    *[Row(method, path, lambda w, own, path=path: (
        path.replace("{id:int}", str(pick(w, own, "session"))), {"data": {}}), expect)
      for method, path, expect in (
          ("GET", "/jury-sessions/{id:int}", SESSION_PAGES),
          ("GET", "/jury-sessions/{id:int}/minutes.pdf", SESSION_PAGES),
          ("GET", "/admin/jury-sessions/{id:int}/dossiers", ADMIN_OBJECT),
          ("POST", "/admin/jury-sessions/{id:int}/dossiers", ADMIN_OBJECT))
      if method == "GET"],
    Row("POST", "/admin/jury-sessions/{id:int}/dossiers", lambda w, own: (
        f"/admin/jury-sessions/{pick(w, own, 'session')}/dossiers",
        {"data": {"dossier": str(w.dossiers[True])}}), ADMIN_OBJECT),
    *[Row(method, path, lambda w, own, path=path, method=method: (
        path.replace("{id:int}", str(w.dossiers[own])),
        {"json": {}} if path.startswith("/api") and method != "GET" else
        ({"data": {}} if method == "POST" else {})), expect)
      for method, path, expect in (
          ("GET", "/api/v1/dossiers/{id:int}", DOSSIER_READS),
          ("GET", "/dossiers/{id:int}", DOSSIER_READS),
          ("GET", "/dossiers/{id:int}.pdf", DOSSIER_READS),
          ("PUT", "/api/v1/dossiers/{id:int}/decision", DECIDE),
          ("POST", "/dossiers/{id:int}/decision", DECIDE),
          ("POST", "/api/v1/dossiers/{id:int}/appeal", APPEAL),
          ("POST", "/dossiers/{id:int}/appeal", APPEAL))],
    *[Row("GET", path, lambda w, own, path=path: (
        path.replace("{id:int}", str(w.unassigned_dossiers[own])), {}), UNASSIGNED_DOSSIER_READS)
      for path in ("/api/v1/dossiers/{id:int}", "/dossiers/{id:int}", "/dossiers/{id:int}.pdf")],
    # Closing last: it ends the session's decisions for the rows above.
    *[Row("POST", path, lambda w, own, path=path: (
        path.replace("{id:int}", str(pick(w, own, "session"))),
        {"json": {}} if path.startswith("/api") else {"data": {}}), CLOSE)
      for path in ("/api/v1/jury-sessions/{id:int}/close", "/jury-sessions/{id:int}/close")],
    # --- branch administration: lists and forms, then objects of the admin's branch
    # --- (own) or of another branch (other, 404).
    *[Row(method, path, plain(path, **({"data": {}} if method == "POST" else {})), ADMIN_ONLY)
      for method, path in [
          ("GET", "/admin"), ("GET", "/admin/companies"), ("GET", "/admin/companies/new"),
          ("POST", "/admin/companies/new"), ("GET", "/admin/people"),
          ("GET", "/admin/people/invite"), ("POST", "/admin/people/invite"),
          ("GET", "/admin/invitations"), ("GET", "/admin/enrolments"),
          ("GET", "/admin/enrolments/new"), ("POST", "/admin/enrolments/new"),
          ("GET", "/admin/jury-sessions"), ("GET", "/admin/jury-sessions/new"),
          ("POST", "/admin/jury-sessions/new")]],
    Row("GET", "/admin/companies/{id:int}", admin_object("/admin/companies/{}", "company"),
        ADMIN_OBJECT),
    Row("GET", "/admin/people/{id:int}", admin_object("/admin/people/{}", "candidate"),
        ADMIN_OBJECT),
    Row("POST", "/admin/people/{id:int}/disable",
        admin_object("/admin/people/{}/disable", "spare", data={}), ADMIN_OBJECT),
    Row("POST", "/admin/people/{id:int}/represents",
        admin_object("/admin/people/{}/represents", "spare", data={"company": ""}),
        ADMIN_OBJECT),
    # --- personal data: the notice, one's own export, the admin's export and erasure
    Row("GET", "/privacy", plain("/privacy"), PUBLIC),
    Row("GET", "/me/data", plain("/me/data"), SIGNED_IN),
    Row("GET", "/me/data.zip", plain("/me/data.zip"), SIGNED_IN),
    Row("GET", "/admin/people/{id:int}/export.zip",
        admin_object("/admin/people/{}/export.zip", "candidate"), ADMIN_OBJECT),
    Row("GET", "/admin/people/{id:int}/erase", admin_object("/admin/people/{}/erase", "spare"),
        ADMIN_OBJECT),
    Row("POST", "/admin/people/{id:int}/erase",
        admin_object("/admin/people/{}/erase", "spare", data={}), ADMIN_OBJECT),
    Row("GET", "/admin/invitations/{id:int}", admin_object("/admin/invitations/{}",
                                                          "invitation"), ADMIN_OBJECT),
    Row("GET", "/admin/enrolments/{id:int}", admin_object("/admin/enrolments/{}", "enrolment"),
        ADMIN_OBJECT),
    Row("POST", "/admin/enrolments/{id:int}/tutors",
        admin_object("/admin/enrolments/{}/tutors", "enrolment", data={}), ADMIN_OBJECT),
    Row("POST", "/admin/enrolments/{id:int}/held-blocks",
        admin_object("/admin/enrolments/{}/held-blocks", "enrolment", data={}), ADMIN_OBJECT),
    Row("GET", "/admin/jury-sessions/{id:int}", admin_object("/admin/jury-sessions/{}",
                                                            "session"), ADMIN_OBJECT),
    Row("POST", "/admin/jury-sessions/{id:int}/members",
        admin_object("/admin/jury-sessions/{}/members", "session", data={}), ADMIN_OBJECT),
    Row("POST", "/admin/jury-sessions/{id:int}/members/{member_id:int}/remove",
        lambda w, own: (f"/admin/jury-sessions/{pick(w, own, 'session')}/members/"
                        f"{pick(w, own, 'member')}/remove", {"data": {}}), ADMIN_OBJECT),
    Row("GET", "/admin/branches/new", plain("/admin/branches/new"), ADMIN_ONLY),
    Row("POST", "/admin/branches/new", plain("/admin/branches/new", data={}), ADMIN_ONLY),
    Row("GET", "/admin/branches/{id:int}", admin_object("/admin/branches/{}", "branch"),
        ADMIN_OBJECT),
    Row("POST", "/admin/branches/{id:int}", admin_object("/admin/branches/{}", "branch",
                                                         data={}), ADMIN_OBJECT),
    # --- the branch's certificates: the imported national register (shared public data;
    # --- an unknown fiche is 404 to admins; tests/routes/test_register.py reads real ones)
    Row("GET", "/admin/register", plain("/admin/register?q=rncp"), ADMIN_ONLY),
    *[Row("GET", path, plain(path.replace("{number}", "RNCP0")),
          {**ADMIN_ONLY, "admin": (404, 404)})
      for path in ("/admin/register/{number}", "/admin/register/{number}/draft.yaml")],
    Row("GET", "/admin/catalogue", plain("/admin/catalogue"), ADMIN_ONLY),
    Row("POST", "/admin/catalogue/{code}/figures",
        plain("/admin/catalogue/CQP-FIOMB/figures", data={}), ADMIN_ONLY),
    Row("POST", "/admin/catalogue/{code}/{version}/status",
        plain("/admin/catalogue/CQP-FIOMB/2026-1/status", data={}), ADMIN_ONLY),
    *[Row("GET", path, plain(path), ADMIN_ONLY)
      for path in ("/admin/inventory", "/admin/inventory.csv", "/admin/inventory.xlsx")],
    *[Row(method, template.replace("{}", "{id:int}"),
          admin_object(template, attribute, **({"data": {}} if method == "POST" else {})),
          ADMIN_OBJECT)
      for template, attribute in (("/admin/enrolments/{}/route", "enrolment"),
                                  ("/admin/companies/{}/size", "company"))
      for method in ("GET", "POST")],
    # --- CQP projects and their opportunity reports (an unknown project is 404 to admins;
    # --- tests/routes/test_projects.py reads real ones, of the admin's branch and another's)
    Row("GET", "/admin/projects", plain("/admin/projects"), ADMIN_ONLY),
    Row("POST", "/admin/projects/new", plain("/admin/projects/new", data={}), ADMIN_ONLY),
    *[Row(method, path, plain(path.replace("{id:int}", "999999"),
                              **({"data": {}} if method == "POST" else {})),
          {**ADMIN_ONLY, "admin": (404, 404)})
      for method, path in (("GET", "/admin/projects/{id:int}"),
                           ("POST", "/admin/projects/{id:int}/save"),
                           ("POST", "/admin/projects/{id:int}/existing"),
                           ("POST", "/admin/projects/{id:int}/submit"),
                           ("POST", "/admin/projects/{id:int}/decision"),
                           ("GET", "/admin/projects/{id:int}/report.pdf"))],
    # --- the public catalogue (no login)
    Row("GET", "/catalogue", plain("/catalogue"), PUBLIC),
    Row("GET", "/catalogue/feed.atom", plain("/catalogue/feed.atom"), PUBLIC),
    Row("GET", "/catalogue/{code}", plain("/catalogue/CQP-FIOMB"), PUBLIC),
    Row("POST", "/catalogue/{code}/contact", plain("/catalogue/CQP-FIOMB/contact", data={}),
        PUBLIC),
    Row("GET", "/api/v1/catalogue", plain("/api/v1/catalogue"), PUBLIC),
]


# Rows after which the caller must log in again.
ENDS_SESSION = {"/api/v1/session", "/logout", "/login"}


def app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD" or "GET" not in route.methods:  # HEAD alone is a route
                found.add((method, route.path))
    return found


async def test_every_route_has_a_row_in_the_matrix(app):
    rows = {(r.method, r.path) for r in ROWS}
    missing = app_routes(app) - rows
    assert not missing, f"routes without an access row: {sorted(missing)}"
    assert not rows - app_routes(app), "rows for routes that no longer exist"


async def matrix_world(app):
    """f.world(), plus on each enrolment a photo and an observation citing it, frozen in a
    dossier (in the jury's session for the candidate's enrolment), and a photo and an
    observation recorded after; and a dossier of the candidate in a session the jury member
    does not sit on."""
    store = app.state.photo_store
    w = await f.world()
    w.photos, w.observations, w.loose_photos, w.loose_observations = {}, {}, {}, {}
    w.dossiers, w.unassigned_dossiers = {}, {}
    elsewhere = await f.jury_session(w.branch, (await f.person("Juré d'ailleurs"), "employer"))
    for own, e, author in ((True, w.enrolment, w.tutor), (False, w.other_enrolment,
                                                         w.other_tutor)):
        w.photos[own] = await photo_row(store, e, author)
        w.observations[own] = await observation_row(e, author, photos=[w.photos[own]])
        dossier = await frozen_dossier(app, e, author, w.session if own else None)
        w.dossiers[own] = dossier.id
        w.unassigned_dossiers[own] = (await frozen_dossier(app, e, author, elsewhere)).id
        w.loose_photos[own] = await photo_row(store, e, author)
        w.loose_observations[own] = await observation_row(e, author,
                                                          photos=[w.loose_photos[own]])
    await add_admin_objects(w, w)
    w.elsewhere = await f.world()  # another branch, with its own admin
    await add_admin_objects(w.elsewhere, w.elsewhere)
    return w


async def add_admin_objects(w, target) -> None:
    target.spare = await f.person("Salarié", company_org=w.company)
    target.member = await JuryMember.filter(session=w.session, college="employee").first()
    target.invitation = await Invitation.create(
        token_hash=uuid.uuid4().hex, email="new@example.test", full_name="Nouveau",
        role="tutor", organisation=w.company, invited_by=w.admin,
        expires_at=utcnow() + timedelta(days=1))


async def photo_row(store, e, author) -> uuid.UUID:
    photo_id, sha = uuid.uuid4(), store.put(jpeg((40, 30)))
    await Photo.create(id=photo_id, enrolment=e, uploaded_by=author, author_role="tutor",
                       received_sha256=sha, sha256=sha, content_type="image/jpeg",
                       size=1, width=40, height=30, thumb_sha256=sha, thumb_size=1)
    return photo_id


async def observation_row(e, author, photos=()) -> uuid.UUID:
    oid = uuid.uuid4()
    await Observation.create(id=oid, enrolment=e, author=author, author_role="tutor",
                             kind="observation", referential_version=e.referential_version,
                             observed_on=e.started_on, situation="s", ratings={"C1.1.a": "met"},
                             photos=[{"id": str(p), "competency": "C1.1", "evidence": None}
                                     for p in photos], content_sha256="e" * 64)
    return oid


async def frozen_dossier(app, e, author, session) -> Dossier:
    """A BC01 dossier of `e` freezing its evidence as it stands (the rows built so far)."""
    manifest = jury.build_manifest(
        ref=app.state.registry.get(*f.CQP), block_code="BC01",
        enrolment={"id": e.id, "candidate": e.candidate_id, "company": e.company_id},
        observations=await Observation.filter(enrolment=e).values(*jury.OBSERVATION_FIELDS),
        photos=await Photo.filter(enrolment=e).values(*jury.PHOTO_FIELDS),
        attestation={"person": author.id, "name": author.full_name, "role": "tutor",
                     "at": jury.instant(utcnow())})
    return await Dossier.create(enrolment=e, block_code="BC01", manifest=manifest,
                                manifest_sha256=jury.sha256_of(manifest), submitted_by=author,
                                submitted_at=utcnow(), session=session)


def caller(w, role: str):
    return {"anonymous": None, "outsider": w.outsider, "admin": w.admin, "tutor": w.tutor,
            "candidate": w.candidate, "jury": w.jury_employer}[role]


def verdict(status: int) -> str | int:
    return status if status in (401, 403, 404, 410) else OK


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_what_the_matrix_says(app, role):
    import httpx

    w = await matrix_world(app)
    transport = httpx.ASGITransport(app=app)
    failures = []
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        for row in ROWS:
            for own in (True, False):
                if caller(w, role) is not None and (row.path in ENDS_SESSION or not client.cookies):
                    client.cookies.clear()
                    await f.login(client, caller(w, role))
                url, kw = row.build(w, own)
                response = await client.request(row.method, url, **kw)
                expected = row.expect[role][0 if own else 1]
                if verdict(response.status_code) != expected:
                    failures.append(f"{row.method} {url} as {role} ({'own' if own else 'other'})"
                                    f": {response.status_code}, expected {expected}")
    assert not failures, "\n".join(failures)
