"""Operations: readiness, Prometheus metrics (off by default), the JSON log format, and
clean command-line errors instead of tracebacks."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from backend import cli
from backend.logs import Redact
from backend.serving import JsonFormatter
from backend.storage import content_digest
from tests import factories as f
from tests.images import jpeg


async def test_ready_checks_the_database_and_the_photo_store(client, app, tmp_path):
    answer = await client.get("/ready")
    assert answer.status_code == 200 and answer.json()["photo_store"] == "ok"

    class Unreachable:
        def check(self):
            raise ConnectionError("no route to the bucket")

    app.state.photo_store = Unreachable()
    answer = await client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["details"] == {"photo_store": "ConnectionError"}
    assert (await client.get("/health")).status_code == 200  # liveness is not readiness


async def test_metrics_are_off_unless_enabled(client):
    assert (await client.get("/metrics")).status_code == 404


async def test_metrics_count_requests_uploads_and_conflicts_by_route(client, app):
    app.state.settings = app.state.settings.with_(metrics=True)
    w = await f.world()
    await f.login(client, w.tutor)
    data = jpeg((64, 48))
    url = f"/api/v1/photos/{uuid.uuid4()}?enrolment={w.enrolment.id}"
    for _ in range(2):  # created, then replayed
        sent = await client.put(url, content=data, headers={"Content-Digest": content_digest(data)})
        assert sent.status_code in (200, 201)
    other = jpeg((65, 48))
    conflict = await client.put(url, content=other,
                                headers={"Content-Digest": content_digest(other)})
    assert conflict.status_code == 409
    text = (await client.get("/metrics")).text
    assert 'carnet_uploads_total{kind="photo",outcome="created"}' in text
    assert 'carnet_uploads_total{kind="photo",outcome="replayed"}' in text
    assert 'carnet_sync_conflicts_total{kind="photo"}' in text
    assert 'carnet_requests_total{method="PUT",route="api_put_photo",status="201"}' in text
    assert 'carnet_request_seconds_bucket{le="0.005",route="api_put_photo"}' in text
    assert "carnet_pdf_renders_waiting" in text
    assert w.enrolment.id and "/api/v1/photos/" not in text  # route names, never paths


SECRET = "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c"


def test_json_log_lines_carry_the_request_without_its_secrets():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.9:5555", "GET", f"/invitation/{SECRET}", "1.1", 200),
                               None)
    Redact().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/invitation/[redacted]" and line["status"] == 200
    assert line["method"] == "GET" and "Ab3dEf6" not in json.dumps(line)


def run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty folder, and no Carnet setting in the environment."""
    for name in ("CARNET_DATA_DIR", "CARNET_DATABASE_URL", "CARNET_SECRET_KEY",
                 "CARNET_ASSESSMENTS_DIRS", "CARNET_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_verify_commands_outside_a_data_folder_say_so_and_create_nothing(elsewhere, capsys):
    for argv in (["audit", "verify"], ["dossier", "verify", "1"], ["gc", "--dry-run"]):
        code, text = run(capsys, *argv)
        assert code == 1 and "no Carnet data in" in text and "Traceback" not in text
    code, text = run(capsys, "referential", "list")
    assert code == 0 and "CQP-FIOMB" in text
    assert list(elsewhere.iterdir()) == []  # nothing written


def test_operator_mistakes_are_one_line_not_a_traceback(elsewhere, capsys, monkeypatch):
    monkeypatch.setenv("CARNET_SECRET_KEY", "k")
    code, text = run(capsys, "seed", "--referential", "FOO")
    assert code == 1 and "no referential 'FOO'" in text
    monkeypatch.setenv("CARNET_DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
    code, text = run(capsys, "migrate")
    assert code == 1 and "cannot reach the database" in text
    monkeypatch.delenv("CARNET_DATABASE_URL")
    monkeypatch.delenv("CARNET_SECRET_KEY")
    code, text = run(capsys, "serve", "--workers", "2")
    assert code == 2 and "CARNET_SECRET_KEY" in text


def test_a_busy_port_is_refused_before_anything_is_printed(elsewhere, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, text = run(capsys, "serve", "--demo", "--port", str(port))
    assert code == 1 and "cannot listen on" in text and "demo" not in text.lower()


def test_a_conflicting_referential_stops_serve_with_its_faults(elsewhere, capsys, monkeypatch):
    from backend.domain.referentials import packaged_assessments_dir

    source = next(packaged_assessments_dir().glob("*.yaml"))
    changed = elsewhere / "refs"
    changed.mkdir()
    (changed / source.name).write_text(source.read_text().replace("title:", "title: X", 1))
    monkeypatch.setenv("CARNET_ASSESSMENTS_DIRS", str(changed))
    monkeypatch.setenv("CARNET_SECRET_KEY", "k")
    code, text = run(capsys, "serve", "--port", "0")
    assert code == 1 and "already loaded" in text and "Traceback" not in text
    code, text = run(capsys, "referential", "check", str(changed))
    assert code == 1 and "already loaded" in text


def test_referential_check_counts_every_file_of_a_folder(capsys):
    from backend.domain.referentials import packaged_assessments_dir

    folder = packaged_assessments_dir()
    count = len(list(folder.glob("*.yaml")))
    code, text = run(capsys, "referential", "check", str(folder))
    assert code == 0 and f"{count} file(s) OK" in text


def test_the_demo_on_a_public_address_warns_loudly(capsys):
    from backend.serving import loud_demo_warning
    from backend.settings import Settings

    settings = Settings(database_url="sqlite://:memory:", data_dir=None, secret_key="k")
    loud_demo_warning("0.0.0.0", settings)
    assert "WARNING" in capsys.readouterr().err
    loud_demo_warning("127.0.0.1", settings)
    assert capsys.readouterr().err == ""
