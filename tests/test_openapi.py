"""The OpenAPI document of /api/v1 (docs/api.md; docs/security.md,
"Requests"): it lists exactly the router's API routes, it is valid OpenAPI 3.1, the app serves
it, and schemathesis run over it against a real server (`carnet serve --demo` on a loopback
port) gets no server error, and only documented answers: every 4xx is the one Error shape."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure, Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount, Route

from backend.app import create_app
from backend.models import RATINGS
from backend.openapi import document
from backend.storage import content_digest
from tests import factories as f
from tests.images import jpeg
from tests.test_packaging import free_port, wait_for

API = "/api/v1/"


@schemathesis.serializer("application/partial-upload")
def partial_upload(ctx, value) -> bytes:
    """A resumable upload's body is raw bytes (the IETF draft's media type for a part)."""
    return value if isinstance(value, bytes) else str(value).encode()

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


# --- the document and the router -----------------------------------------------------------


def router_api_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1 route, path parameters spelt as in OpenAPI."""
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route), route
        if not route.path.startswith(API):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        # HEAD beside GET is Starlette's; a HEAD routed alone is an operation of its own.
        found |= {(m, path) for m in route.methods or ()
                  if m != "HEAD" or "GET" not in route.methods}
    return found


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in METHODS}


def test_document_lists_exactly_the_api_routes(settings):
    app = create_app(settings)
    routes, documented = router_api_routes(app), documented_operations(document())
    assert routes, "no /api/v1 route found"
    assert not routes - documented, f"undocumented API routes: {sorted(routes - documented)}"
    assert not documented - routes, f"documented but not routed: {sorted(documented - routes)}"


def test_document_is_valid_openapi():
    doc = document()
    validate(doc)  # raises with the fault's location
    assert doc["openapi"].startswith("3.1")
    results = list(schemathesis.openapi.from_dict(doc).get_all_operations())
    assert not [str(result.err()) for result in results if hasattr(result, "err")]
    assert len(results) == len(documented_operations(doc))


def test_every_error_answer_is_the_error_schema():
    doc = document()
    responses = doc["components"]["responses"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                name = answer.get("$ref", "").removeprefix("#/components/responses/")
                assert name in responses, f"{method.upper()} {path} {status}: not a shared error"
    for name, answer in responses.items():
        assert answer["content"] == {"application/json": {"schema": {
            "$ref": "#/components/schemas/Error"}}}, name
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "message", "details"]


async def test_the_app_serves_the_document(client):
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == document()
    etag = response.headers["etag"]
    again = await client.get("/api/v1/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag and not again.content
    other = await client.get("/api/v1/openapi.json", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


# --- inputs that answered 500 before (found by the run below): now a 4xx Error -----------------

TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


def bad_inputs(enrolment_id: int) -> list[tuple[str, str, dict, int]]:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    observation = {"enrolment": enrolment_id, "observed_on": yesterday, "situation": "Soudure",
                   "ratings": {"C2.2.a": "met"}}
    photo, obs = "/api/v1/photos/9b2f6a3e-8f7e-4c1e-9a57-1d0f0b6f1c11", "/api/v1/observations/"
    raw = {"headers": {"Content-Type": "application/json"}}
    return [
        # ids no row can have: the database driver overflowed
        ("GET", "/api/v1/enrolments/99999999999999999999", {}, 404),
        ("GET", "/api/v1/enrolments/2147483648/progress", {}, 404),
        ("GET", f"/api/v1/enrolments/{'9' * 5000}/outcome", {}, 404),  # int() refuses it
        ("GET", "/api/v1/dossiers/99999999999999999999", {}, 404),
        ("PUT", f"{photo}?enrolment=99999999999999999999", {"content": b"x"}, 400),
        ("PUT", f"{photo}?enrolment=%C2%B2", {"content": b"x"}, 400),  # "²".isdigit()
        ("PUT", f"{obs}{uuid.uuid4()}", {"json": {**observation, "enrolment": 10**30}}, 422),
        # JSON that parses but cannot be stored: lone surrogates, NUL (PostgreSQL); too deep
        # for the parser; NaN (not JSON: refused since, though it was no server error)
        ("PUT", f"{obs}{uuid.uuid4()}", {**raw, "content": json.dumps(
            {**observation, "situation": "Soudure \ud800"}).encode()}, 400),
        ("PUT", f"{obs}{uuid.uuid4()}", {"json": {**observation, "comment": "a\x00b"}}, 400),
        ("POST", "/api/v1/session", {**raw, "content": b'{"email": "\\udc00@x.fr"}'}, 400),
        ("POST", "/api/v1/session", {**raw, "content": b'{"email": NaN}'}, 400),
        ("POST", "/api/v1/session", {**raw, "content": TOO_DEEP}, 400),
        # an evidence label that is not a string (unhashable)
        ("PUT", f"{obs}{uuid.uuid4()}", {"json": {**observation, "photos": [
            {"id": str(uuid.uuid4()), "competency": "C2.2", "evidence": ["x"]}]}}, 422),
        # an address longer than any account's: the ORM refused to filter by it
        ("POST", "/api/v1/session", {"json": {"email": "a" * 300 + "@x.fr",
                                              "password": "x"}}, 401),
    ]


async def test_inputs_that_were_server_errors_get_a_client_error(client):
    w = await f.world()
    await f.login(client, w.tutor)
    for method, url, kwargs, status in bad_inputs(w.enrolment.id):
        response = await client.request(method, url, **kwargs)
        assert response.status_code == status, (method, url[:80], response.text)
        assert set(response.json()) == {"code", "message", "details"}


# --- schemathesis against a real server ------------------------------------------------------

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 12}
ANONYMOUS_EXAMPLES = 4
BUDGET_SECONDS = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
LAST = {"POST /api/v1/enrolments/{id}/dossiers", "POST /api/v1/jury-sessions/{id}/close"}
PASSWORD = "carnet-demo"
LOGINS = {"tutor": "tuteur@demo.test", "candidate": "candidat@demo.test",
          "jury": "jury1@demo.test"}


@dataclass
class Known:
    """Ids and codes of the demo data: most generated cases are pointed at real objects, so
    that they get past the 404s to the code behind them."""

    referential: tuple[str, str]
    enrolments: list[int]
    dossiers: list[int]
    sessions: list[int]
    photos: list[str]
    observations: list[str]
    blocks: list[str]
    criteria: list[str]
    evidence: dict[str, list[str]]  # competency → labels of its expected evidence
    images: list[bytes] = field(default_factory=lambda: [jpeg((48, 32)), jpeg((20, 30))])


@dataclass
class Failure:
    who: str
    mode: str
    operation: str
    text: str


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CARNET_")}
    env.update(CARNET_DATA_DIR=str(data_dir), CARNET_DEMO_PASSWORD=PASSWORD)  # SQLite, dev cookie
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--demo", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", seconds=60)
    except OSError:
        process.kill()
        raise
    return process, url


def log_in(url: str, email: str) -> str:
    response = requests.post(f"{url}/api/v1/session", json={"email": email, "password": PASSWORD},
                             timeout=10)
    assert response.status_code == 200, response.text
    return f"carnet={response.cookies['carnet']}"


def known_values(url: str, data_dir: Path) -> Known:
    db = sqlite3.connect(f"file:{data_dir / 'carnet.sqlite3'}?mode=ro", uri=True)
    try:
        ids = {table: [str(row[0]) for row in db.execute(f"SELECT id FROM {table}")]
               for table in ("enrolment", "dossier", "jury_session", "photo", "observation")}
    finally:
        db.close()
    referentials = requests.get(f"{url}/api/v1/referentials", timeout=10).json()["items"]
    ref = requests.get(f"{url}/api/v1/referentials/{referentials[0]['code']}/"
                       f"{referentials[0]['version']}", timeout=10).json()
    competencies = [c for b in ref["blocks"] for c in b["competencies"]]
    return Known(
        referential=(ref["code"], ref["version"]),
        enrolments=[int(i) for i in ids["enrolment"]], dossiers=[int(i) for i in ids["dossier"]],
        sessions=[int(i) for i in ids["jury_session"]], photos=ids["photo"],
        observations=ids["observation"], blocks=[b["code"] for b in ref["blocks"]],
        criteria=[k["code"] for c in competencies for k in c["criteria"]],
        evidence={c["code"]: [e["label"] for e in c["evidence"]] for c in competencies})


def steer(case, known: Known, draw) -> None:
    """Point the case's ids, codes, dates and image at the demo's; the rest stays generated."""
    path, params = case.operation.path, case.path_parameters or {}
    if "id" in params:
        pool = (known.dossiers if path.startswith("/api/v1/dossiers/")
                else known.sessions if path.startswith("/api/v1/jury-sessions/")
                else known.enrolments)
        params["id"] = draw(st.sampled_from(pool or [1]))
    if "uuid" in params:
        pool = known.photos if path.startswith("/api/v1/photos/") else known.observations
        fresh = st.uuids().map(str) if case.method == "PUT" else st.nothing()
        params["uuid"] = draw(st.one_of(st.sampled_from(pool), fresh))
    if "code" in params and "version" in params:
        params["code"], params["version"] = known.referential
    if case.query and "enrolment" in case.query:
        case.query["enrolment"] = draw(st.sampled_from(known.enrolments))
    if case.method == "PUT" and path == "/api/v1/photos/{uuid}":
        case.body = draw(st.sampled_from(known.images))
        case.headers = {**(case.headers or {}), "Content-Digest": content_digest(case.body)}
    if isinstance(case.body, dict):
        steer_body(case.body, known, draw)


def steer_body(body: dict, known: Known, draw) -> None:
    if "enrolment" in body:
        body["enrolment"] = draw(st.sampled_from(known.enrolments))
    if "observed_on" in body:
        body["observed_on"] = (date.today() - timedelta(days=draw(st.integers(0, 30)))).isoformat()
    if "block" in body or body.get("kind") == "reflection":
        body["block"] = draw(st.sampled_from(known.blocks))
    if body.get("kind") == "reflection":
        body.pop("ratings", None)
    elif "observed_on" in body:  # an observation: it rates some criteria
        body["ratings"] = draw(st.dictionaries(st.sampled_from(known.criteria),
                                               st.sampled_from(RATINGS), min_size=1, max_size=4))
    if body.get("supersedes") is not None:
        body["supersedes"] = draw(st.sampled_from(known.observations))
    photos = body.get("photos")
    for item in photos if isinstance(photos, list) else ():
        if not isinstance(item, dict):
            continue
        item["id"] = draw(st.one_of(st.sampled_from(known.photos), st.uuids().map(str)))
        if "competency" in item or "evidence" in item:
            item["competency"] = competency = draw(st.sampled_from(sorted(known.evidence)))
            labels = known.evidence[competency]
            item["evidence"] = draw(st.sampled_from(labels)) if labels else None


def fuzz(operation, mode: GenerationMode, *, url: str, cookie: str | None, known: Known,
         examples: int, deadline: float) -> str | None:
    """Up to `examples` cases of one operation; the failure (shrunk by Hypothesis), if any."""
    headers = {"Cookie": cookie} if cookie else {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        if time.monotonic() > deadline:
            return
        if data.draw(st.integers(0, 3), label="steer") > 0:  # 3 times in 4
            steer(case, known, data.draw)
        if case.cookies and not cookie and "__Host-carnet" in case.cookies:
            # A generated session token, under the name plain http on loopback reads.
            case.cookies["carnet"] = case.cookies.pop("__Host-carnet")
        case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except FailureGroup as exc:
        return str(exc)
    except FlakyFailure as exc:  # failed, then passed on replay: the server's state moved on
        return "\n".join(["(did not fail again on replay)", *map(str, exc.exceptions)])
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing of the operation can be made invalid (e.g. free-text path segments).
    return None


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_only_documented_answers(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    process, url = start_server(data_dir, log)
    started = time.monotonic()
    deadline = started + BUDGET_SECONDS
    failures: list[Failure] = []
    try:
        schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json", timeout=10)
        # Freezing a block and closing the session last: the evidence first gets its chance.
        operations = sorted((result.ok() for result in schema.get_all_operations()),
                            key=lambda operation: operation.label in LAST)
        known = known_values(url, data_dir)
        callers = {"anonymous": None, **{who: log_in(url, email)
                                         for who, email in LOGINS.items()}}
        for who, cookie in callers.items():
            for operation in operations:
                if operation.label == "DELETE /api/v1/session" and cookie:
                    continue  # logging out would end the caller's session for what follows
                for mode, examples in EXAMPLES.items():
                    found = fuzz(operation, mode, url=url, cookie=cookie, known=known,
                                 examples=ANONYMOUS_EXAMPLES if cookie is None else examples,
                                 deadline=deadline)
                    if found:
                        failures.append(Failure(who, mode.value, operation.label, found))
    finally:
        process.terminate()
        process.wait(timeout=15)
    elapsed = time.monotonic() - started
    server_log = log.read_text(errors="replace")
    report = "\n\n".join(f"== {f.operation} as {f.who} ({f.mode})\n{f.text}" for f in failures)
    assert not failures, (f"{len(failures)} failing operation(s) in {elapsed:.0f} s:\n{report}"
                          f"\n\n== server log (tracebacks)\n{tracebacks(server_log)}")
    assert elapsed < BUDGET_SECONDS * 2, f"the run took {elapsed:.0f} s"


def tracebacks(server_log: str) -> str:
    """Each distinct traceback of the server, cut to the app's frames and the exception."""
    found = re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)+\S.*", server_log)
    short = []
    for block in found:
        lines = block.splitlines()
        ours = [line for i, line in enumerate(lines)
                if "/backend/" in line or (i and "/backend/" in lines[i - 1])]
        short.append("\n".join([*ours, lines[-1]]))
    return "\n\n".join(dict.fromkeys(short))
