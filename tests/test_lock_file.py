"""CI installs the exact versions of requirements.lock: every dependency that
pyproject.toml names must be pinned there, or CI would pick whatever is newest."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def name_of(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_declared_dependency_is_pinned_in_the_lock_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {name_of(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {name_of(r) for r in extra}
    pinned = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pinned[name.strip().lower().replace("_", "-")] = version.strip()
    missing = sorted(d for d in declared if d not in pinned)
    assert not missing, (f"not pinned in requirements.lock: {missing}; run "
                         "uv pip compile pyproject.toml --extra test --extra bench "
                         "-o requirements.lock "
                         "--python-version 3.11")
