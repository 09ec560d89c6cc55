"""A plain, non-editable `pip install .` gives a working `carnet` command that
finds its templates, static files and referentials as package data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding the wheel of this checkout; its dependencies are borrowed
    from the test environment (a .pth line) so the test needs no download."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base, ROOT],
                   check=True, timeout=300)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(base.glob("carnet-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python",
                    "install", "--no-deps", "-q", wheel], check=True, timeout=300)
    return venv


def test_installed_wheel_carries_templates_static_files_and_referentials(installed):
    site = next((installed / "lib").glob("python*/site-packages"))
    package = site / "backend"
    assert (package / "templates" / "base.html").is_file()
    assert (package / "_pwa" / "css" / "app.css").is_file()
    assert list((package / "_assessments").glob("*.yaml"))
    assert (package / "migrations" / "0001_initial.py").is_file()


def test_installed_carnet_checks_the_packaged_referential(installed, tmp_path):
    site = next((installed / "lib").glob("python*/site-packages"))
    files = sorted((site / "backend" / "_assessments").glob("*.yaml"))
    done = subprocess.run([installed / "bin" / "carnet", "referential", "check", *files],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    listing = subprocess.run([installed / "bin" / "carnet", "referential", "list"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "CARNET_DATA_DIR": str(tmp_path / "d")})
    assert "CQP-FIOMB" in listing.stdout


def test_installed_carnet_serves_the_demo(installed, tmp_path):
    port = free_port()
    env = {**os.environ, "CARNET_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen([installed / "bin" / "carnet", "serve", "--demo", "--port",
                               str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        body = wait_for(f"http://127.0.0.1:{port}/health")
        assert '"status":"ok"' in body
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        assert '<html lang="fr">' in page
        refs = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/referentials",
                                      timeout=5).read().decode()
        assert "CQP-FIOMB" in refs
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=20)[0]
    assert "candidat@demo.test" in output and "carnet-demo" in output
    assert (tmp_path / "data" / "carnet.sqlite3").is_file()


def wait_for(url: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
