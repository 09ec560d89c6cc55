"""Hardening found by the security audit, one attack per test, through HTTP in-process:
conflicts that revealed another enrolment's evidence, bodies read whole before being
bounded, secret links in the logs, avoidable 500s, cache and transport headers."""

from __future__ import annotations

import io
import logging
import logging.config
import re
import uuid
from pathlib import Path

import pytest

from backend.logs import log_config
from backend.models import Observation
from tests import factories as f
from tests.images import jpeg
from tests.routes.test_evidence import observation, put_observation, put_photo
from tests.routes.test_tutor_pages import capture

MB = 1_000_000
BACKEND = Path(__file__).resolve().parents[2] / "backend"


# --- 2. a 409 must not show what a GET would hide ----------------------------------------


async def stored_elsewhere(client, w: f.World) -> tuple[str, str]:
    """A photo and an observation stored by the other company's tutor: (photo, observation)."""
    await f.login(client, w.other_tutor)
    photo = await put_photo(client, w.other_enrolment.id, jpeg((320, 240)))
    stored = await put_observation(client, observation(w.other_enrolment.id,
                                                       situation="Chantier secret Martin"))
    assert photo.status_code == stored.status_code == 201
    await f.login(client, w.tutor)
    return photo.json()["id"], stored.json()["id"]


async def test_a_photo_put_on_a_uuid_of_an_unreadable_enrolment_answers_gets_404_not_a_409(
        client):
    w = await f.world()
    photo_id, _ = await stored_elsewhere(client, w)
    seen = await client.get(f"/api/v1/photos/{photo_id}")
    taken = await put_photo(client, w.enrolment.id, jpeg((300, 200)), photo_id)
    assert seen.status_code == taken.status_code == 404
    assert taken.json() == seen.json() == {"code": "photo_not_found",
                                           "message": "Photo introuvable.", "details": None}


async def test_an_observation_put_on_a_uuid_of_an_unreadable_enrolment_answers_gets_404(
        client):
    w = await f.world()
    _, observation_id = await stored_elsewhere(client, w)
    seen = await client.get(f"/api/v1/observations/{observation_id}")
    taken = await put_observation(client, observation(w.enrolment.id), observation_id)
    assert seen.status_code == taken.status_code == 404
    assert taken.json() == seen.json()
    assert taken.json()["details"] is None and "Martin" not in taken.text


async def test_a_capture_form_reusing_an_unreadable_observations_uuid_reveals_nothing(client):
    w = await f.world()
    _, observation_id = await stored_elsewhere(client, w)
    sent = await client.post(f"/enrolments/{w.enrolment.id}/observe",
                             data=capture(observation_id))
    assert sent.status_code == 404 and "Martin" not in sent.text
    assert await Observation.filter(enrolment_id=w.enrolment.id).count() == 0


async def test_a_conflict_on_a_readable_enrolment_still_shows_the_stored_version(client):
    w = await f.world()
    await f.login(client, w.tutor)
    first = await put_observation(client, observation(w.enrolment.id))
    other = await put_observation(client, observation(w.enrolment.id, situation="Autre"),
                                  first.json()["id"])
    assert other.status_code == 409 and other.json()["code"] == "observation_conflict"
    assert other.json()["details"]["stored"]["situation"] == first.json()["situation"]


# --- 3. bodies are bounded while they stream in ------------------------------------------


class Chunks:
    """A chunked request body of `total` bytes that counts what the server pulled."""

    def __init__(self, total: int, head: bytes = b"", chunk: bytes = b"x" * 65_536):
        self.total, self.head, self.chunk, self.sent = total, head, chunk, 0

    async def __aiter__(self):
        if self.head:
            self.sent += len(self.head)
            yield self.head
        while self.sent < self.total:
            self.sent += len(self.chunk)
            yield self.chunk

    def assert_refused_early(self, response, code: str = "body_too_large") -> None:
        assert response.status_code == 413, response.text[:300]
        assert code in response.text
        assert self.sent < self.total // 10, f"{self.sent} of {self.total} bytes were read"


async def test_a_50_mb_chunked_json_body_to_the_login_api_is_refused_while_streaming(client):
    body = Chunks(50 * MB, b'{"email": "', b"a" * 65_536)
    response = await client.post("/api/v1/session", content=body,
                                 headers={"Content-Type": "application/json"})
    body.assert_refused_early(response)
    assert response.json()["code"] == "body_too_large"


async def test_a_declared_huge_json_body_is_refused_before_any_byte_is_read(client):
    body = Chunks(50 * MB, b'{"email": "')
    response = await client.post("/api/v1/session", content=body, headers={
        "Content-Type": "application/json", "Content-Length": str(50 * MB)})
    body.assert_refused_early(response)
    assert body.sent <= len(body.head)


MULTIPART_FILE = (b'--B\r\nContent-Disposition: form-data; name="email"; filename="x.bin"\r\n'
                  b"Content-Type: application/octet-stream\r\n\r\n")


async def test_a_50_mb_file_part_to_the_login_page_is_refused_before_it_is_spooled(client):
    body = Chunks(50 * MB, MULTIPART_FILE)
    response = await client.post("/login", content=body,
                                 headers={"Content-Type": "multipart/form-data; boundary=B"})
    body.assert_refused_early(response)


async def test_a_50_mb_urlencoded_login_form_is_refused_while_streaming(client):
    body = Chunks(50 * MB, b"email=", b"a" * 65_536)
    response = await client.post("/login", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    body.assert_refused_early(response)


async def test_thousands_of_small_fields_in_a_login_form_are_refused(client):
    body = Chunks(50 * MB, b"", b"a=1&" * 1000)
    response = await client.post("/login", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    body.assert_refused_early(response)


async def test_an_admin_form_takes_no_file_and_is_refused_while_streaming(client):
    w = await f.world()
    await f.login(client, w.admin)
    body = Chunks(50 * MB, MULTIPART_FILE.replace(b"email", b"name"))
    response = await client.post("/admin/companies/new", content=body,
                                 headers={"Content-Type": "multipart/form-data; boundary=B"})
    body.assert_refused_early(response)


async def test_a_50_mb_chunked_photo_is_refused_past_the_upload_limit_while_streaming(client):
    w = await f.world()
    await f.login(client, w.tutor)
    body = Chunks(50 * MB)
    response = await client.put(f"/api/v1/photos/{uuid.uuid4()}?enrolment={w.enrolment.id}",
                                content=body, headers={"Content-Type": "image/jpeg",
                                                       "Content-Digest": "sha-256=:AA==:"})
    assert response.json()["code"] == "payload_too_large"
    assert response.status_code == 413 and body.sent <= 21 * MB  # the 20 MB limit, no more


def test_every_body_in_backend_is_read_through_the_bounded_helpers():
    """The class, not the example: a handler reading a body itself would skip the bounds."""
    readers = re.compile(r"\.(form|json|body|stream)\(\)|request\.form\(")
    offenders = [f"{path.relative_to(BACKEND)}:{number}: {line.strip()}"
                 for path in BACKEND.rglob("*.py") if path.name != "http.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if readers.search(line)]
    assert offenders == []


# --- 6. secret links never reach a log line ----------------------------------------------


TOKEN = "Xk3_aQ9-Zr7vLm2PqW8sTn4yBc6dEf1GhJ5uKo0iR2w"


@pytest.fixture
def configured_logs():
    """`carnet serve`'s logging configuration, its handlers writing to one buffer; the
    loggers it touches are put back afterwards."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "carnet"]
    saved = {n: (lg.handlers[:], lg.level, lg.propagate, lg.filters[:], lg.disabled)
             for n in names for lg in [logging.getLogger(n)]}
    logging.config.dictConfig(log_config("info"))
    buffer = io.StringIO()
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.setStream(buffer)
    yield buffer
    for name, (handlers, level, propagate, filters, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate
        logger.filters, logger.disabled = filters, disabled


@pytest.mark.parametrize("path", [
    f"/invitation/{TOKEN}", f"/invitation/{TOKEN}?next=/", f"/invitation%2F{TOKEN}",
    f"/password/reset/{TOKEN}", f"/unlock/{TOKEN}", f"/setup/{TOKEN}",
    f"/somewhere/{TOKEN}/else", f"/login?token={TOKEN}"])
def test_a_secret_link_in_the_access_log_is_written_without_its_token(configured_logs, path):
    # What uvicorn's h11/httptools protocols log for each request.
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d',
                                             "203.0.113.9:5000", "GET", path, "1.1", 200)
    line = configured_logs.getvalue()
    assert "GET" in line and "200" in line and "[redacted]" in line
    assert TOKEN not in line


def test_our_own_error_lines_do_not_carry_a_token_either(configured_logs):
    logging.getLogger("carnet").error("unexpected error on %s %s", "POST",
                                      f"/invitation/{TOKEN}")
    line = configured_logs.getvalue()
    assert "/invitation/[redacted]" in line and TOKEN not in line


def test_ids_uuids_and_digests_in_the_access_log_are_left_alone(configured_logs):
    path = (f"/api/v1/observations/{uuid.uuid4()}?enrolment=12 /dossiers/42.pdf "
            f"/static/app.css?v={'ab12' * 16}")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d',
                                             "203.0.113.9:5000", "GET", path, "1.1", 200)
    assert path in configured_logs.getvalue()


# --- 9. clean 4xx answers, not 500s ------------------------------------------------------


async def call_asgi(app, method: str, path: str, messages: list[dict],
                    headers: list[tuple[bytes, bytes]]) -> int:
    """One request straight to the app, its body given as ASGI receive messages."""
    pending = iter(messages)
    sent: list[dict] = []

    async def receive():
        return next(pending)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver"),
                                                                *headers],
             "client": ("203.0.113.9", 5000), "server": ("testserver", 443), "app": app}
    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


@pytest.mark.parametrize("path, content_type", [
    ("/api/v1/session", b"application/json"),
    ("/login", b"application/x-www-form-urlencoded")])
async def test_a_client_dropping_mid_body_on_login_gets_a_400_and_no_traceback(
        app, caplog, path, content_type):
    dropped = [{"type": "http.request", "body": b'{"email": "a', "more_body": True},
               {"type": "http.disconnect"}]
    status = await call_asgi(app, "POST", path, dropped, [(b"content-type", content_type)])
    assert status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


NINES = "9" * 25


async def test_an_id_of_25_nines_in_admin_form_fields_is_a_clean_422(client, caplog):
    w = await f.world()
    await f.login(client, w.admin)
    response = await client.post("/admin/enrolments/new", data={
        "candidate": NINES, "company": NINES, "referential": "CQP-FIOMB/2026-1",
        "access_route": "afest", "started_on": "2026-01-05",
        "tutor": [NINES], "designated_on": ["2026-01-05"]})
    assert response.status_code == 422
    members = await client.post(f"/admin/jury-sessions/{w.session.id}/members",
                                data={"person": NINES, "college": "employer"})
    assert members.status_code == 422
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_huge_numbers_in_admin_paths_queries_and_jury_forms_are_clean_answers(client):
    w = await f.world()
    await f.login(client, w.admin)
    assert (await client.get(f"/admin/people/{NINES}")).status_code == 404
    assert (await client.get(f"/admin/companies?page={NINES}")).status_code == 200
    assert (await client.get(f"/admin/companies?page={'9' * 5000}")).status_code == 200
    assigned = await client.post(f"/admin/jury-sessions/{w.session.id}/dossiers",
                                 data={"dossier": NINES})
    assert 400 <= assigned.status_code < 500


def test_no_route_converts_client_integers_itself():
    """Every integer from a client goes through backend.http.bounded_int / row_id (the domain
    modules' form fields are covered by the two tests above)."""
    where = (BACKEND / "routes").glob("*.py")
    offenders = [f"{path.name}:{number}: {line.strip()}" for path in where
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\bint\((?!d\b)", line) and "total_seconds" not in line]
    assert offenders == []


# --- 11. transport and cache headers -----------------------------------------------------


async def test_an_https_answer_tells_browsers_to_keep_to_https(client):
    response = await client.get("/login")
    assert response.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"


async def test_a_plain_http_answer_carries_no_hsts(app):
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as plain:
        response = await plain.get("/login")
    assert "strict-transport-security" not in response.headers


async def test_authenticated_html_and_json_answers_are_never_stored_by_a_cache(client):
    w = await f.world()
    logged_in = await f.login(client, w.tutor)
    assert logged_in.headers["cache-control"] == "no-store"  # it carries the person
    for url in ("/api/v1/me", f"/api/v1/enrolments/{w.enrolment.id}/progress", "/tutor",
                f"/enrolments/{w.enrolment.id}/observations", "/api/v1/nowhere"):
        response = await client.get(url)
        assert response.headers["cache-control"] == "no-store", url


async def test_photos_and_static_files_keep_their_own_caching(client):
    w = await f.world()
    await f.login(client, w.tutor)
    photo = await put_photo(client, w.enrolment.id, jpeg((320, 240)))
    served = await client.get(f"/api/v1/photos/{photo.json()['id']}")
    assert served.headers["cache-control"] == "private, max-age=86400"
    page = (await client.get("/tutor")).text
    css = re.search(r'href="(/static/css/app\.css\?v=[^"]+)"', page)[1]
    assert "immutable" in (await client.get(css)).headers["cache-control"]
