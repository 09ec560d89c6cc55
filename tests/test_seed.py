import json
import os
import sqlite3
import subprocess
import sys


def test_seed_fills_the_database_with_candidates_and_their_observations(tmp_path):
    env = {**os.environ, "CARNET_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "backend.cli", "seed", "--candidates", "7",
                           "--observations", "13"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["candidates"] == 7 and report["observations"] == 91
    assert "91/91 observations" in done.stderr  # the progress bar
    db = sqlite3.connect(tmp_path / "carnet.sqlite3")
    assert db.execute("SELECT count(*) FROM enrolment").fetchone()[0] == 7
    assert db.execute("SELECT count(*) FROM observation").fetchone()[0] == 91
    assert db.execute("SELECT count(*) FROM tutorship").fetchone()[0] == 7
