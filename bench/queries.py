"""SQL statements per page at 10, 100 and 300 observations (bar: flat).

In-process (the real app and its lifespan behind httpx's ASGITransport), SQLite
file database seeded by `carnet seed` (one candidate per size), then one photo
per third observation, cited as expected evidence, so pages that show photos
have some. Counted: every statement Tortoise's client logs on
`tortoise.db_client` (SELECT/INSERT/UPDATE; BEGIN/COMMIT are not logged).
Each page is requested once to warm up, then counted.

    python bench/queries.py [--pg]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sys
import tempfile
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    carnet_env,
    carnet_seed,
    header,
    pg_available,
    pg_database,
    pg_url,
    verdict,
)
from bench._inproc import app_client, count_statements, login, settings_for  # noqa: E402

SIZES = (10, 100, 300)


async def add_photos(enrolment_id: int, ref) -> int:
    """One received photo per third observation, cited as a referential evidence item."""
    from backend.models import Enrolment, Observation, Photo

    enrolment = await Enrolment.get(id=enrolment_id)
    pairs = [(c.code, e.label) for c in ref.competencies() for e in c.evidence]
    observations = await Observation.filter(enrolment_id=enrolment_id).order_by("observed_on")
    photos = []
    for i, o in enumerate(observations[::3]):
        pid = uuid.uuid5(o.id, "bench-photo")
        sha = hashlib.sha256(pid.bytes).hexdigest()
        photos.append(Photo(id=pid, enrolment_id=enrolment_id, uploaded_by_id=o.author_id,
                            author_role="tutor", received_sha256=sha, sha256=sha,
                            content_type="image/jpeg", size=700_000, width=2560, height=1920,
                            thumb_sha256=sha, thumb_size=22_000,
                            captured_at=datetime(2026, 1, 1, tzinfo=UTC)))
        competency, label = pairs[i % len(pairs)] if pairs else (None, None)
        o.photos = [{"id": str(pid), "competency": competency, "evidence": label}]
        await o.save(update_fields=["photos"])
    await Photo.bulk_create(photos)
    await Enrolment.filter(id=enrolment.id).update(revision=enrolment.revision + 1)
    return len(photos)


async def jury_target(app, enrolment_id: int) -> tuple[str, str, int] | None:
    """(path, jury member e-mail, observations in the manifest) of the jury dossier page
    for `enrolment_id`, when the jury routes exist; None otherwise."""
    if "jury_dossier" not in {getattr(r, "name", None) for r in app.router.routes}:
        return None
    from bench._jury import prepare_dossier

    return await prepare_dossier(app, enrolment_id)


async def count(client, path: str) -> tuple[int, int, list[str]]:
    r = await client.get(path)  # warm-up (templates compiled, caches filled)
    with count_statements() as statements:
        r = await client.get(path)
    return r.status_code, len(statements), list(statements)


async def run_one(database_url: str, data: Path, n: int, rep: dict, out: dict) -> None:
    """Counts every page for the one seeded candidate of this database."""
    settings = settings_for(database_url, data)
    results, detail, notes = out["results"], out["detail"], out["notes"]
    async with app_client(settings, no_body_cache=True) as (app, client):
        ref = app.state.registry.get("CQP-FIOMB", "2026-1")
        rep["photos"] = await add_photos(rep["first_enrolment"], ref)
        eid = rep["first_enrolment"]
        await login(client, rep["candidate_email"])
        pages = {"progress API (candidate)": f"/api/v1/enrolments/{eid}/progress",
                 "candidate page /enrolments/{id}": f"/enrolments/{eid}"}
        for name, path in pages.items():
            status, c, stmts = await count(client, path)
            results.setdefault(name, {})[n] = (status, c)
            detail[name] = stmts
        client.cookies.clear()
        await login(client, rep["tutor"])
        pages = {"progress API (tutor)": f"/api/v1/enrolments/{eid}/progress",
                 "tutor observations page": f"/enrolments/{eid}/observations",
                 "tutor capture form": f"/enrolments/{eid}/observe"}
        for name, path in pages.items():
            status, c, stmts = await count(client, path)
            results.setdefault(name, {})[n] = (status, c)
            detail[name] = stmts
        try:
            target = await jury_target(app, eid)
        except ImportError:
            target = None
        if target is None:
            if not notes:
                notes.append("jury dossier page: no jury route in the app yet")
            return
        path, email, in_manifest = target
        out.setdefault("manifest_sizes", {})[n] = in_manifest
        client.cookies.clear()
        await login(client, email)
        status, c, stmts = await count(client, path)
        results.setdefault("jury dossier page", {})[n] = (status, c)
        detail["jury dossier page"] = stmts


def run_all(make_db) -> dict:
    """`carnet seed` refuses a second run into the same database (its fixed random seed
    draws the same observation UUIDs): one database per size."""
    out: dict = {"results": {}, "detail": {}, "notes": []}
    for n in SIZES:
        with make_db(n) as (url, data):
            rep = carnet_seed(carnet_env(url, data), 1, n)
            asyncio.run(run_one(url, data, n, rep, out))
    return out


@contextmanager
def sqlite_db(n: int):
    data = Path(tempfile.mkdtemp(prefix=f"carnet-bench-queries-{n}-"))
    try:
        yield f"sqlite://{data}/carnet.sqlite3", data
    finally:
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def postgres_db(n: int):
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()  # compiled INSERTs are cached per connection name, not dialect
    data = Path(tempfile.mkdtemp(prefix=f"carnet-bench-queries-{n}-"))
    try:
        with pg_database(f"carnet_bench_queries_{n}") as name:
            yield pg_url(name), data
    finally:
        shutil.rmtree(data, ignore_errors=True)
        EXECUTOR_CACHE.clear()


def report(label: str, out: dict, show_sql: bool) -> bool:
    print(f"\n[{label}] SQL statements per request (status) at "
          + ", ".join(f"{n}" for n in SIZES) + " observations")
    flat_all = True
    for name, by_n in out["results"].items():
        counts = [by_n[n][1] for n in SIZES if n in by_n]
        statuses = {by_n[n][0] for n in SIZES if n in by_n}
        flat = len(set(counts)) == 1 and statuses == {200}
        flat_all &= flat
        print(f"  {name:34s} " + "  ".join(f"{by_n[n][1]:3d} ({by_n[n][0]})" for n in SIZES
                                          if n in by_n) + ("   flat" if flat else "   NOT FLAT"))
    for note in out["notes"]:
        print(f"  note: {note}")
    if out.get("manifest_sizes"):
        print("  jury dossier: observations in the frozen manifest per size: "
              + ", ".join(f"{n}→{m}" for n, m in out["manifest_sizes"].items()))
    if show_sql:
        for name, stmts in out["detail"].items():
            print(f"\n  -- {name} at {SIZES[-1]} observations:")
            for s in stmts:
                print(f"     {s[:160]}")
    return flat_all


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--sql", action="store_true", help="print the statements")
    args = parser.parse_args()
    header("queries: SQL statements per page vs observation count")
    ok = report("SQLite", run_all(sqlite_db), args.sql)
    if args.pg and pg_available():
        ok &= report("PostgreSQL", run_all(postgres_db), args.sql)
    print()
    verdict(ok, "statement counts independent of the number of observations" if ok else
            "some page's statement count grows with the observations (see NOT FLAT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
