import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_code_passes_ruff():
    folders = [name for name in ("backend", "tests", "bench") if (ROOT / name).is_dir()]
    done = subprocess.run([sys.executable, "-m", "ruff", "check", *folders],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
