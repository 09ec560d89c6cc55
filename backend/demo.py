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
    audit.use_key(settings.secret_key)  # also run on its own (tests/browser/seed.py)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        await audit.ensure_head()
        if not await Person.filter(email="admin@demo.test").exists():
            password_hash = await hash_password(settings.demo_password)
            async with in_transaction() as conn:
                await _seed(conn, password_hash)
                await audit.record("demo.seeded", actor_id=None, connection=conn)
            await _seed_evidence(settings)
    finally:
        await Tortoise.close_connections()
    return ACCOUNTS


# A month of work: block BC01 complete (two observations on distinct days, its
# photos and documents, a reflection by the candidate), so it can go to the jury;
# BC02 under way. (days ago, criteria ratings, [(competency, evidence label)])
DEMO_OBSERVATIONS = [
    (20, "Relevé sur site, garde-corps de terrasse", {
        "C1.1.a": "met", "C1.1.b": "met", "C1.1.c": "progressing", "C1.2.a": "met",
        "C1.2.b": "met", "C1.3.a": "met", "C1.3.b": "met"},
     [("C1.1", "support avant travaux"), ("C1.1", "croquis coté")]),
    (10, "Préparation du portail coulissant", {
        "C1.1.a": "met", "C1.1.b": "met", "C1.1.c": "met", "C1.2.a": "met", "C1.2.b": "met",
        "C1.2.c": "progressing", "C1.3.a": "met", "C1.3.b": "met", "C1.3.c": "met"},
     [("C1.2", "fiche de débit")]),
    (5, "Soudure des montants du garde-corps", {
        "C2.1.a": "met", "C2.1.b": "progressing", "C2.2.a": "met", "C2.2.b": "not_met"},
     [("C2.2", "détail soudure")]),
]


def demo_image(label: str) -> bytes:
    """A stand-in photo of the work item, drawn with Pillow."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 300, 1120, 600), outline=(20, 60, 90), width=12)
    draw.text((120, 420), label, fill=(255, 255, 255), font_size=64)
    out = BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _seed_evidence(settings: Settings) -> None:
    import uuid

    from backend.app import load_registry
    from backend.domain import evidence
    from backend.storage import open_store

    enrolment = await Enrolment.get(candidate__email="candidat@demo.test")
    tutor = await Person.get(email="tuteur@demo.test")
    ref = load_registry(settings).get(*DEMO_CQP)
    store, today = open_store(settings), utcnow().date()
    for days_ago, situation, ratings, photos in DEMO_OBSERVATIONS:
        refs = []
        for competency, label in photos:
            photo_id = str(uuid.uuid4())
            await evidence.put_photo(photo_id=photo_id, enrolment=enrolment,
                                     data=demo_image(label), declared=None, author_id=tutor.id,
                                     author_role="tutor", store=store,
                                     max_pixels=settings.max_image_pixels)
            refs.append({"id": photo_id, "competency": competency, "evidence": label})
        body = {"observed_on": (today - timedelta(days=days_ago)).isoformat(),
                "situation": situation, "place": "Chantier Martin, Lyon 3e",
                "ratings": ratings, "photos": refs, "comment": "Travail soigné."}
        await _observe(enrolment, ref, body, tutor.id, "tutor", today)
    candidate = await Person.get(email="candidat@demo.test")
    await _observe(enrolment, ref, {
        "kind": "reflection", "block": "BC01",
        "observed_on": (today - timedelta(days=9)).isoformat(),
        "situation": "Retour sur le relevé de cotes",
        "comment": "J'avais oublié l'accès par l'escalier ; je le note maintenant sur le croquis."},
        candidate.id, "candidate", today)


async def _observe(enrolment, ref, body: dict, author_id: int, role: str, today) -> None:
    import uuid

    from backend.domain import evidence

    data = evidence.parse_observation(body, ref=ref, started_on=enrolment.started_on,
                                      today=today, enrolment_id=enrolment.id)
    await evidence.put_observation(observation_id=str(uuid.uuid4()), data=data, ref=ref,
                                   author_id=author_id, author_role=role)


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
    # Held today, so the demo jury can deliberate (a jury decides on or after its date).
    session = await JurySession.create(organisation=branch, held_on=today,
                                       place="Chambre de métiers, salle 2", using_db=conn)
    # Each member seated for what they represent: the college follows (paritaire jury).
    await JuryMember.create(session=session, person=people["jury1@demo.test"], college="employer",
                            mandate="employer_organisation", represents="CAPEB",
                            is_president=True, using_db=conn)
    await JuryMember.create(session=session, person=people["jury2@demo.test"], college="employee",
                            mandate="union", represents="CFDT", using_db=conn)


def print_demo(settings: Settings, accounts, url: str) -> None:
    print(f"\nCarnet — démonstration : {url}")
    print(f"Données : {settings.data_dir}")
    print(f"Mot de passe de tous les comptes : {settings.demo_password}")
    for email, _, role in accounts:
        print(f"  {email:<22} {role}")
    print()
