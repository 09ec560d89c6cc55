"""Prepare the browser tests' database: `python -m tests.browser.seed` with
CARNET_DATA_DIR set. Migrations, then the demo data (a branch, a company, the
tutor tuteur@demo.test with CARNET_DEMO_PASSWORD, a candidate and her enrolment)."""

from __future__ import annotations

import asyncio

from backend.db import migrate
from backend.demo import seed_demo
from backend.settings import from_env


def main() -> None:
    settings = from_env()
    asyncio.run(migrate(settings.database_url))
    asyncio.run(seed_demo(settings))


if __name__ == "__main__":
    main()
