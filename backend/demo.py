"""`carnet serve --demo`: seeds, idempotently, what a visitor needs to try Carnet."""

from __future__ import annotations

from datetime import timedelta

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from backend import audit
from backend.auth import hash_password, utcnow
from backend.db import tortoise_config
from backend.models import (
    AdminGrant,
    Enrolment,
    JuryMember,
    JurySession,
    Organisation,
    Person,
    Tutorship,
)
from backend.settings import Settings

DEMO_CQP = ("CQP-FIOMB", "2026-1")
# (email, full name, role shown at start)
ACCOUNTS = [
    ("admin@demo.test", "Agnès Admin", "administratrice de branche"),
    ("tuteur@demo.test", "Thierry Tuteur", "tuteur (Métallerie Durand)"),
    ("candidat@demo.test", "Camille Candidate", "candidate (Métallerie Durand)"),
    ("jury1@demo.test", "Jacques Juré", "jury, collège employeurs, président"),
    ("jury2@demo.test", "Julie Jurée", "jury, collège salariés"),
]


async def seed_demo(settings: Settings) -> list[tuple[str, str, str]]:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        await audit.ensure_head()
        if not await Person.filter(email="admin@demo.test").exists():
            password_hash = await hash_password(settings.demo_password)
            async with in_transaction() as conn:
                await _seed(conn, password_hash)
                await audit.record("demo.seeded", actor_id=None, connection=conn)
    finally:
        await Tortoise.close_connections()
    return ACCOUNTS


async def _seed(conn, password_hash: str) -> None:
    today = utcnow().date()
    branch = await Organisation.create(kind="branch", name="Artisanat du bâtiment (CPNE)",
                                       using_db=conn)
    company = await Organisation.create(kind="company", name="Métallerie Durand",
                                        siret="73282932000074", branch=branch, using_db=conn)
    people = {}
    for email, name, _ in ACCOUNTS:
        works_there = email in ("tuteur@demo.test", "candidat@demo.test")
        people[email] = await Person.create(email=email, full_name=name,
                                            password_hash=password_hash,
                                            company=company if works_there else None,
                                            using_db=conn)
    await AdminGrant.create(person=people["admin@demo.test"], organisation=branch, using_db=conn)
    started = today - timedelta(days=30)
    enrolment = await Enrolment.create(
        candidate=people["candidat@demo.test"], company=company, referential_code=DEMO_CQP[0],
        referential_version=DEMO_CQP[1], access_route="afest", started_on=started, using_db=conn)
    await Tutorship.create(enrolment=enrolment, tutor=people["tuteur@demo.test"],
                           designated_on=started, using_db=conn)
    session = await JurySession.create(organisation=branch, held_on=today + timedelta(days=30),
                                       place="Chambre de métiers, salle 2", using_db=conn)
    await JuryMember.create(session=session, person=people["jury1@demo.test"], college="employer",
                            is_president=True, using_db=conn)
    await JuryMember.create(session=session, person=people["jury2@demo.test"], college="employee",
                            using_db=conn)


def print_demo(settings: Settings, accounts, url: str) -> None:
    print(f"\nCarnet — démonstration : {url}")
    print(f"Données : {settings.data_dir}")
    print(f"Mot de passe de tous les comptes : {settings.demo_password}")
    for email, _, role in accounts:
        print(f"  {email:<22} {role}")
    print()
