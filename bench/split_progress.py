"""No bar: the parts of one progress first view, each timed alone, no profiler.

One candidate seeded with --observations (default 100, the scale_pg size) on
PostgreSQL; then, 300 times, the steps `api_progress` runs on a body-cache miss
(observation rows, the photos/held/dossiers statement, `build_records`,
`compute_progress`, JSON encoding), each timed with perf_counter; medians printed.
The figures of bench/README.md's "what changed" table come from this split.

    python bench/split_progress.py [--observations 100] [--runs 300]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
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

STEPS = ("observation rows", "photos, held, dossiers", "build_records", "compute_progress",
         "encode (tutor view)", "whole")


async def split(url: str, enrolment_id: int, runs: int) -> dict[str, float]:
    from tortoise import Tortoise

    from backend.db import tortoise_config
    from backend.domain import standing
    from backend.domain.progress import observe_next
    from backend.domain.referentials import Registry
    from backend.models import Enrolment
    from backend.resources import ASSESSMENTS_DIR
    from backend.routes.progress import encode_progress

    await Tortoise.init(config=tortoise_config(url))
    try:
        registry = Registry.load([ASSESSMENTS_DIR])
        enrolment = await Enrolment.get(id=enrolment_id)
        ref = registry.get(enrolment.referential_code, enrolment.referential_version)
        today = date.today()
        times: dict[str, list[float]] = {step: [] for step in STEPS}
        for _ in range(runs):
            marks = [time.perf_counter()]
            rows = await standing.observation_rows(enrolment.id, standing.PROGRESS_FIELDS)
            marks.append(time.perf_counter())
            photos, held, dossiers = await standing.standing_rows(enrolment.id)
            marks.append(time.perf_counter())
            records = standing.build_records(ref, rows, photos, held, dossiers)
            marks.append(time.perf_counter())
            tree = records.progress(ref, today)
            marks.append(time.perf_counter())
            encode_progress(tree, enrolment, observe_next(tree))
            marks.append(time.perf_counter())
            for step, start, end in zip(STEPS, marks, marks[1:], strict=False):
                times[step].append((end - start) * 1e3)
            times["whole"].append((marks[-1] - marks[0]) * 1e3)
        return {step: statistics.median(values) for step, values in times.items()}
    finally:
        await Tortoise.close_connections()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    header(f"split_progress: the parts of one progress first view, {args.observations} "
           "observations, PostgreSQL")
    if not pg_available():
        verdict(None, "PostgreSQL not reachable at 127.0.0.1:5432")
        return 0
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-split-"))
    try:
        with pg_database("carnet_bench_split") as db:
            report = carnet_seed(carnet_env(pg_url(db), data), 1, args.observations)
            medians = asyncio.run(split(pg_url(db), report["first_enrolment"], args.runs))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    for step, value in medians.items():
        print(f"  {step:28s} {value:7.3f} ms (median of {args.runs})")
    verdict(None, f"a first view's database reads and Python take {medians['whole']:.2f} ms "
                  "(no HTTP, no session or relation lookup)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
