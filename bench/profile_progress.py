"""Where a progress request spends its time (the evidence behind the misses of
http_overhead.py and scale_pg.py): pyinstrument over in-process requests, plus the
cost of each SQL statement of the request measured alone.

In-process (httpx ASGITransport, the real app), one candidate seeded with
--observations (default 100, the scale_pg size; 300 = the http_overhead size),
tutor's view; on PostgreSQL when reachable (else SQLite).

    python bench/profile_progress.py [--observations 100] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    carnet_env,
    carnet_seed,
    header,
    median,
    pg_available,
    pg_database,
    pg_url,
    verdict,
)
from bench._inproc import app_client, count_statements, login, settings_for  # noqa: E402

N = 300


async def timed(client, path: str, n: int = N) -> float:
    for _ in range(30):
        await client.get(path)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get(path)
        samples.append(time.perf_counter() - t)
    assert r.status_code == 200, r.text[:200]
    return median(samples) * 1e3


async def statement_costs(statements: list[tuple[str, list]]) -> list[tuple[float, str]]:
    """Each statement of the request replayed alone through the ORM's client."""
    from tortoise import connections

    conn = connections.get("default")
    out = []
    for sql, values in statements:
        for _ in range(20):
            await conn.execute_query_dict(sql, values)
        t = time.perf_counter()
        for _ in range(200):
            await conn.execute_query_dict(sql, values)
        out.append(((time.perf_counter() - t) / 200 * 1e3, " ".join(sql.split())[:110]))
    return out


async def run(url: str, data: Path, rep: dict) -> None:
    import logging

    from pyinstrument import Profiler

    eid = rep["first_enrolment"]
    path = f"/api/v1/enrolments/{eid}/progress"
    async with app_client(settings_for(url, data), no_body_cache=True) as (app, client):
        await login(client, rep["tutor"])
        bare = await timed(client, "/bench/bare")
        one = await timed(client, "/bench/one-query")
        cold = await timed(client, path)
        app.state.progress_bodies = type(app.state.progress_bodies)()  # the shipped cache
        hit = await timed(client, path)
        print(f"  in-process median per request (httpx in-process, no network): bare "
              f"{bare:.2f} ms, one-query {one:.2f} ms, progress body-cache hit {hit:.2f} ms, "
              f"progress recomputed {cold:.2f} ms")
        print(f"  → beyond bare: one-query {one - bare:.2f} ms, progress hit {hit - bare:.2f} ms "
              f"({(hit - bare) / max(one - bare, 1e-9):.1f}× one query), progress recomputed "
              f"{cold - bare:.2f} ms")
        # the statements of one recomputed request, replayed alone
        logger = logging.getLogger("tortoise.db_client")
        captured: list[tuple[str, list]] = []

        class Grab(logging.Handler):
            def emit(self, record):
                if record.msg == "%s: %s" and record.args:
                    captured.append((record.args[0], list(record.args[1] or [])))

        app.state.progress_bodies = type(app.state.progress_bodies)(0)
        grab = Grab(logging.DEBUG)
        logger.addHandler(grab)
        level = logger.level
        logger.setLevel(logging.DEBUG)
        try:
            await client.get(path)
        finally:
            logger.removeHandler(grab)
            logger.setLevel(level)
        print(f"\n  the {len(captured)} statements of one recomputed request, each replayed "
              "alone on the ORM's connection (raw rows, no model building):")
        for ms, sql in await statement_costs(captured):
            print(f"    {ms:6.3f} ms  {sql}")
        with count_statements() as st:
            await client.get("/bench/one-query")
        print(f"  (one-query endpoint: {len(st)} statement)")
        for label, cache in (("body-cache hit", 512), ("recomputed (body cache off)", 0)):
            app.state.progress_bodies = type(app.state.progress_bodies)(cache)
            await client.get(path)
            profiler = Profiler(interval=0.0002, async_mode="enabled")
            profiler.start()
            for _ in range(200):
                await client.get(path)
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            lines = [line for line in text.splitlines() if line.strip()][5:50]
            print(f"\n  pyinstrument, 200 requests, progress {label} (times are the sum over "
                  "200 requests, profiler overhead included):")
            for line in lines:
                print(f"    {line[:150]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    header(f"profile_progress: one progress request, {args.observations} observations")
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-profile-"))
    try:
        if pg_available() and not args.sqlite:
            with pg_database("carnet_bench_profile") as db:
                url = pg_url(db)
                print("  database: PostgreSQL")
                rep = carnet_seed(carnet_env(url, data), 5, args.observations)
                asyncio.run(run(url, data, rep))
        else:
            url = f"sqlite://{data}/carnet.sqlite3"
            print("  database: SQLite")
            rep = carnet_seed(carnet_env(url, data), 5, args.observations)
            asyncio.run(run(url, data, rep))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    print()
    verdict(None, "profile only (see the figures above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
