"""`carnet seed`: fill a database with realistic volume, fast, for benchmarks.

Bulk inserts in batches (one transaction per batch); no audit events: this is
synthetic load, not evidence. Ratings follow the referential so that progress
has real work to do.

Rerunnable on one database: the ratings come from a fixed seed (the same load
each time), but each run draws its own tag for names and e-mails and its own
observation ids, so a second run adds candidates beside the first run's.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from datetime import date, timedelta

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from backend import audit
from backend.auth import hash_password
from backend.db import tortoise_config
from backend.domain.referentials import Referential
from backend.models import Enrolment, Observation, Organisation, Person, Tutorship
from backend.settings import Settings

BATCH = 2000
VALUES = ("met", "met", "met", "progressing", "not_met")


def progress_bar(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // max(total, 1)
    rate = done / max(time.monotonic() - started, 1e-6)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"observations ({rate:,.0f}/s)")
    sys.stderr.flush()


def observation_rows(enrolment: Enrolment, author_id: int, ref: Referential, count: int,
                     rng: random.Random, ids: random.Random) -> list[Observation]:
    codes = [c.code for c in ref.criteria()]
    rows = []
    for i in range(count):
        day = enrolment.started_on + timedelta(days=i % 300)
        ratings = {code: rng.choice(VALUES) for code in rng.sample(codes, 3)}
        rows.append(Observation(
            id=uuid.UUID(int=ids.getrandbits(128)), enrolment_id=enrolment.id,
            author_id=author_id, author_role="tutor", kind="observation",
            referential_version=ref.version, observed_on=day, situation=f"Ouvrage n°{i}",
            place="Atelier", ratings=ratings, photos=[], content_sha256="0" * 64))
    return rows


async def seed(settings: Settings, ref: Referential, candidates: int, observations: int,
               password: str, seed_value: int = 1) -> dict:
    rng = random.Random(seed_value)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        await audit.ensure_head()
        return await _seed(ref, candidates, observations, await hash_password(password), rng)
    finally:
        await Tortoise.close_connections()


async def _seed(ref: Referential, candidates: int, observations: int, password_hash: str,
                rng: random.Random) -> dict:
    started, tag = time.monotonic(), uuid.uuid4().hex[:8]
    ids = random.Random()  # seeded by the OS: never the ids of an earlier run
    branch = await Organisation.create(kind="branch", name=f"Branche {tag}")
    company = await Organisation.create(kind="company", name=f"Entreprise {tag}", branch=branch)
    tutor = await Person.create(email=f"tuteur-{tag}@seed.test", full_name="Tuteur seed",
                                password_hash=password_hash, company=company)
    people = [Person(email=f"c{i}-{tag}@seed.test", full_name=f"Candidat {i}",
                     password_hash=password_hash, company=company) for i in range(candidates)]
    await Person.bulk_create(people, batch_size=BATCH)
    people = await Person.filter(email__endswith=f"-{tag}@seed.test").exclude(id=tutor.id)
    start = date.today() - timedelta(days=365)
    await Enrolment.bulk_create([
        Enrolment(candidate_id=p.id, company_id=company.id, referential_code=ref.code,
                  referential_version=ref.version, access_route="afest", started_on=start)
        for p in people], batch_size=BATCH)
    enrolments = await Enrolment.filter(company_id=company.id)
    await Tutorship.bulk_create([Tutorship(enrolment_id=e.id, tutor_id=tutor.id,
                                           designated_on=start) for e in enrolments],
                                batch_size=BATCH)
    total, done = len(enrolments) * observations, 0
    pending: list[Observation] = []
    for enrolment in enrolments:
        pending += observation_rows(enrolment, tutor.id, ref, observations, rng, ids)
        if len(pending) >= BATCH:
            done += await _flush(pending)
            progress_bar(done, total, started)
    done += await _flush(pending)
    progress_bar(done, total, started)
    elapsed = time.monotonic() - started
    sys.stderr.write("\n")
    return {"tutor": tutor.email, "candidates": len(enrolments), "observations": done,
            "seconds": round(elapsed, 2), "per_second": round(done / max(elapsed, 1e-6)),
            "first_enrolment": enrolments[0].id if enrolments else None,
            "candidate_email": people[0].email if people else None}


async def _flush(rows: list[Observation]) -> int:
    count = len(rows)
    if count:
        async with in_transaction() as conn:
            await Observation.bulk_create(rows, batch_size=BATCH, using_db=conn)
        rows.clear()
    return count
