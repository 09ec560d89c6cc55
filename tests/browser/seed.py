"""Prepare the browser tests' database: `python -m tests.browser.seed` with
CARNET_DATA_DIR set. Migrations, then the demo data (a branch, a company, the
tutor tuteur@demo.test with CARNET_DEMO_PASSWORD, a candidate and her enrolment),
and a second tutor of the same enrolment (tuteur2@demo.test, same password): the
shared-phone tests log both in on one browser."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tortoise import Tortoise

from backend.auth import hash_password
from backend.db import migrate, tortoise_config
from backend.demo import seed_demo
from backend.models import Enrolment, Person, Tutorship
from backend.settings import from_env

SECOND_TUTOR = ("tuteur2@demo.test", "Bérénice Binôme")


async def add_second_tutor(settings) -> None:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        email, name = SECOND_TUTOR
        if await Person.filter(email=email).exists():
            return
        enrolment = await Enrolment.get(candidate__email="candidat@demo.test")
        first = await Person.get(email="tuteur@demo.test")
        person = await Person.create(email=email, full_name=name, company_id=first.company_id,
                                     password_hash=await hash_password(settings.demo_password))
        await Tutorship.create(enrolment=enrolment, tutor=person,
                               designated_on=enrolment.started_on - timedelta(days=1))
    finally:
        await Tortoise.close_connections()


def main() -> None:
    settings = from_env()
    asyncio.run(migrate(settings.database_url))
    asyncio.run(seed_demo(settings))
    asyncio.run(add_second_tutor(settings))


if __name__ == "__main__":
    main()
