"""Where the non-Python files are, whether installed from a wheel or run from a checkout.

The wheel carries `pwa/` and `assessments/` inside the package (pyproject's
force-include); a checkout has them at the repository's top level.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
LOCALE_DIR = PACKAGE_DIR / "locale"


def _packaged_or_checkout(packaged: str, checkout: str) -> Path:
    inside = PACKAGE_DIR / packaged
    return inside if inside.is_dir() else PACKAGE_DIR.parent / checkout


PWA_DIR = _packaged_or_checkout("_pwa", "pwa")
ASSESSMENTS_DIR = _packaged_or_checkout("_assessments", "assessments")


@lru_cache(maxsize=256)
def static_hash(relative: str) -> str:
    """Short content hash of a static file, for cache-forever URLs."""
    path = (PWA_DIR / relative).resolve()
    if not path.is_relative_to(PWA_DIR.resolve()) or not path.is_file():
        raise FileNotFoundError(relative)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
