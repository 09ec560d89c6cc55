"""The inventory (état des lieux) on PostgreSQL at 10,000 candidates × 100 observations.

Bar (the issue): the inventory's SQL aggregates take ≤ 300 ms at 10,000 candidates × 100
observations on PostgreSQL.

1. `carnet seed --candidates N --observations M` into a fresh database (the same seeding as
   scale_pg.py), then dossiers and jury decisions added by SQL: for a third of the
   candidates every block submitted, four in five validated (so "certified", "time to
   certification" and the per-block funnel have rows), then `VACUUM ANALYZE`.
2. `backend.domain.inventories.inventory()` in-process (Tortoise on asyncpg, the packaged
   referential), run `--runs` times after one warm-up; median and p95 wall time of the
   whole computation (every statement and the Python around them), checked against the bar.
3. EXPLAIN (ANALYZE, BUFFERS) of the heaviest statement, for the record.

    python bench/inventory_pg.py [--candidates 10000] [--observations 100] [--runs 20]
                                 [--keep] [--reuse DBNAME]

Run it only on a quiet machine: seeding 1,000,000 observations takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    carnet_env,
    carnet_seed,
    header,
    loadavg,
    pct,
    pg_available,
    pg_database,
    pg_url,
    verdict,
)

BAR_MS = 300.0


async def add_decisions(url: str, share: float = 1 / 3) -> int:
    """Dossiers and decisions for a share of the enrolments (every block of the version)."""
    import asyncpg

    from backend.app import load_registry
    from backend.settings import from_env

    registry = load_registry(from_env())
    conn = await asyncpg.connect(url.split("?")[0])
    try:
        rows = await conn.fetch("SELECT e.id, e.referential_code, e.referential_version, "
                                "e.started_on, e.candidate_id FROM enrolment e")
        judge = await conn.fetchval("SELECT id FROM person ORDER BY id LIMIT 1")
        rng = random.Random(7)
        dossiers, outcomes = [], []
        for row in rng.sample(list(rows), int(len(rows) * share)):
            ref = registry.find(row["referential_code"], row["referential_version"])
            for block in ref.blocks if ref else ():
                at = datetime.combine(row["started_on"], datetime.min.time(), tzinfo=UTC) + \
                    timedelta(days=rng.randint(120, 500))
                dossiers.append((row["id"], block.code, "{}", "d" * 64, judge, at))
                outcomes.append(("validated" if rng.random() < 0.8 else "not_validated", at))
        ids = []
        async with conn.transaction():
            for start in range(0, len(dossiers), 5000):
                chunk = dossiers[start:start + 5000]
                ids += [r["id"] for r in await conn.fetch(
                    "INSERT INTO dossier (enrolment_id, block_code, manifest, manifest_sha256, "
                    "submitted_by_id, submitted_at) SELECT * FROM unnest($1::int[], $2::text[], "
                    "$3::jsonb[], $4::text[], $5::int[], $6::timestamptz[]) RETURNING id",
                    *map(list, zip(*chunk, strict=True)))]
            await conn.executemany(
                "INSERT INTO decision (dossier_id, outcome, reasons, recommendations, "
                "decided_by_id, decided_at, manifest_sha256) VALUES ($1, $2, '', '', $3, $4, $5)",
                [(i, o, judge, at, "d" * 64) for i, (o, at) in zip(ids, outcomes, strict=True)])
        await conn.execute("VACUUM ANALYZE")
        return len(ids)
    finally:
        await conn.close()


async def measure(url: str, runs: int) -> tuple[list[float], str]:
    from tortoise import Tortoise, connections

    from backend.app import load_registry
    from backend.db import tortoise_config
    from backend.domain import inventories
    from backend.models import Organisation
    from backend.settings import from_env

    registry = load_registry(from_env())
    await Tortoise.init(config=tortoise_config(url))
    try:
        branches = list(await Organisation.filter(kind="branch").values_list("id", flat=True))
        today = date.today()
        await inventories.inventory(branches, registry, today)  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            found = await inventories.inventory(branches, registry, today)
            times.append((time.perf_counter() - started) * 1000)
        v = max(found.versions, key=lambda line: line.enrolled)
        print(f"  {v.code} {v.version}: {v.enrolled} enrolled, {v.active} active, "
              f"{v.presented} presented, {v.certified} certified, {v.abandoned} abandoned, "
              f"median {v.median_days} d, p90 {v.p90_days} d")
        plan = await connections.get("default").execute_query_dict(
            "EXPLAIN (ANALYZE, BUFFERS) " + inventories.COUNTS.format(
                enrolments=inventories.ENROLMENTS.format(
                    branches=", ".join(map(str, branches)))).replace("?", "$1"),
            [today - timedelta(days=90)])
        return times, "\n".join(r["QUERY PLAN"] for r in plan)
    finally:
        await Tortoise.close_connections()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", help="an already seeded database: skip seeding")
    args = parser.parse_args()
    if not pg_available():
        print("PostgreSQL not reachable: skipped")
        return 2
    header(f"inventory on PostgreSQL, {args.candidates} × {args.observations} "
           f"(load {loadavg()})")
    with tempfile.TemporaryDirectory() as tmp:
        if args.reuse:
            url = pg_url(args.reuse)
            times, plan = asyncio.run(measure(url, args.runs))
        else:
            with pg_database("carnet_bench_inventory", keep=args.keep) as name:
                url = pg_url(name)
                env = carnet_env(url, Path(tmp))
                report = carnet_seed(env, args.candidates, args.observations)
                print(f"  seeded: {report}")
                import os

                os.environ.update({k: v for k, v in env.items() if k.startswith("CARNET_")})
                made = asyncio.run(add_decisions(url))
                print(f"  {made} dossiers and decisions added")
                times, plan = asyncio.run(measure(url, args.runs))
    median, p95 = statistics.median(times), pct(times, 0.95)
    print(f"  inventory: median {median:.0f} ms, p95 {p95:.0f} ms over {len(times)} runs")
    print("  EXPLAIN of the per-version counts:\n    " + plan.replace("\n", "\n    "))
    verdict(p95 <= BAR_MS, f"p95 {p95:.0f} ms ≤ {BAR_MS:.0f} ms")
    return 0 if p95 <= BAR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
