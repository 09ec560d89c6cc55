"""The PWA's modules use no Web API that a supported browser lacks, unless the
code guards it (docs/pwa.md, supported browsers). eslint-plugin-compat checks
them against the browserslist in tools/eslint/package.json; its pinned tools
come from `npm ci` in tools/eslint (node_modules is not committed). In CI a
missing node or npm is a failure, never a skip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "eslint"
ESLINT = TOOLS / "node_modules" / ".bin" / "eslint"
CONFIG = TOOLS / "eslint.config.js"


@pytest.fixture(scope="module")
def eslint() -> Path:
    need(bool(shutil.which("node")) and bool(shutil.which("npm")), "node and npm")
    lock = TOOLS / "package-lock.json"
    stamp = TOOLS / "node_modules" / ".package-lock.json"
    if not ESLINT.exists() or not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    return ESLINT


def run(eslint: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(eslint), "-c", str(CONFIG), "pwa/"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_pwa_uses_no_unguarded_api_of_the_supported_browsers(eslint):
    done = run(eslint, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_catches_an_unguarded_api(eslint, tmp_path):
    """The rule really runs: OffscreenCanvas (iOS ≥ 16.4) unguarded is refused,
    and so is syntax newer than the modules may use."""
    (tmp_path / "pwa").mkdir()
    (tmp_path / "pwa" / "bad.js").write_text(
        "export const canvas = () => new OffscreenCanvas(1, 1);\n", encoding="utf-8")
    done = run(eslint, tmp_path)
    assert done.returncode == 1 and "OffscreenCanvas is not supported" in done.stdout, done.stdout
    (tmp_path / "pwa" / "bad.js").write_text("class A { #secret = 1; }\n", encoding="utf-8")
    done = run(eslint, tmp_path)
    assert done.returncode == 1 and "Parsing error" in done.stdout, done.stdout
