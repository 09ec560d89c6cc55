"""Figures a buyer comparing Carnet with ODK Collect/Central or a UK e-portfolio asks
for, where the issue sets no bar (informational, no verdict bar).

On the real server (bench/bench_app.py under uvicorn, 1 worker; SQLite and, when
reachable, PostgreSQL), through the sync API exactly as the PWA uses it (PUT each
photo with its Content-Digest, then PUT the observation), over loopback:

1. time to record one observation with 3 photos end-to-end (3 photo PUTs + 1
   observation PUT, sequential like the PWA), for phone-downscaled photos
   (2000×1500, as pwa/js/images.js sends them) and for 12 MP originals (a client
   that does not downscale); median of N, each with distinct photos;
2. storage per observation with 3 photos: photo files (stored image + thumbnail,
   from the API's answers) and database rows (PostgreSQL relation sizes);
3. server capacity: observations with 3 photos per minute, 4 phones syncing at
   once against 1 worker (2-core machine), 10 s, distinct photos.

    python bench/buyer.py [--runs 10]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from bench._common import (  # noqa: E402
    PG_HOST,
    PG_USER,
    carnet_env,
    carnet_seed,
    header,
    loadavg,
    login_cookie,
    median,
    pg_available,
    pg_database,
    pg_url,
    uvicorn_server,
    verdict,
)


def photo_bytes(seed: int, size: tuple[int, int], quality: int) -> bytes:
    """Phone-like content (smooth colour fields, sharp strokes), distinct per seed."""
    rng = random.Random(seed)
    small = (max(1, size[0] // 32), max(1, size[1] // 32))
    channels = [Image.effect_noise(small, 30 + 10 * c).point(
        lambda v, c=c, s=seed: (v + 60 * c + 7 * s) % 256) for c in range(3)]
    image = Image.merge("RGB", channels).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    scale = size[0] / 4000
    for _ in range(300):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        d = int(400 * scale)
        draw.line((x, y, x + rng.randrange(-d, d), y + rng.randrange(-d, d)),
                  fill=tuple(rng.randrange(256) for _ in range(3)),
                  width=max(1, int(rng.randrange(1, 6) * scale)))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


class Phone:
    """The PWA's sync protocol, in Python: photos first, then the observation."""

    def __init__(self, base: str, cookie: str, enrolment: int, codes: list[str],
                 targets: list[tuple[str, str]]):
        self.client = httpx.Client(base_url=base, cookies={"carnet": cookie}, timeout=120)
        self.enrolment, self.codes, self.targets = enrolment, codes, targets

    def record(self, photos: list[bytes], i: int) -> tuple[float, list[dict], dict]:
        t0 = time.perf_counter()
        answers, refs = [], []
        for k, data in enumerate(photos):
            pid = str(uuid.uuid4())
            r = self.client.put(f"/api/v1/photos/{pid}", params={"enrolment": self.enrolment},
                                content=data, headers={"Content-Type": "image/jpeg",
                                                       "Content-Digest": digest(data)})
            r.raise_for_status()
            answers.append(r.json())
            competency, label = self.targets[(i + k) % len(self.targets)]
            refs.append({"id": pid, "competency": competency, "evidence": label})
        body = {"enrolment": self.enrolment, "kind": "observation",
                "observed_on": date.today().isoformat(), "situation": f"Ouvrage n°{i}",
                "place": "Atelier", "comment": "",
                "ratings": {c: "met" for c in self.codes[i % 5:i % 5 + 3]}, "photos": refs}
        r = self.client.put(f"/api/v1/observations/{uuid.uuid4()}", json=body)
        r.raise_for_status()
        return time.perf_counter() - t0, answers, r.json()


def referential_bits():
    from backend.app import load_registry
    from backend.settings import Settings

    registry = load_registry(Settings(database_url="sqlite://:memory:",
                                      data_dir=Path(tempfile.gettempdir()), secret_key="x"))
    ref = registry.get("CQP-FIOMB", "2026-1")
    codes = [c.code for c in ref.criteria()]
    targets = [(c.code, e.label) for c in ref.competencies() for e in c.evidence]
    return codes, targets


CAPACITY_SECONDS = 10
CAPACITY_SETS = 100


def psql(db: str, sql: str) -> str:
    return subprocess.run(["psql", "-h", PG_HOST, "-U", PG_USER, "-d", db, "-At", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def measure(label: str, database_url: str, runs: int, pg_db: str | None) -> dict:
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-buyer-"))
    codes, targets = referential_bits()
    out: dict = {"db": label}
    try:
        env = carnet_env(database_url, data)
        rep = carnet_seed(env, 5, 0)
        with uvicorn_server(env) as (base, _):
            cookie = login_cookie(base, rep["tutor"])
            enrolment = rep["first_enrolment"]
            phone = Phone(base, cookie, enrolment, codes, targets)
            seed = 1000
            for name, size, q in (("downscaled 2000×1500 (PWA)", (2000, 1500), 85),
                                  ("original 12 MP 4000×3000", (4000, 3000), 90)):
                sets = [[photo_bytes(seed + 3 * i + k, size, q) for k in range(3)]
                        for i in range(runs + 1)]
                seed += 3 * (runs + 1)
                phone.record(sets[0], 0)  # warm-up
                times, stored, sent = [], [], []
                for i, photos in enumerate(sets[1:], 1):
                    t, answers, _ = phone.record(photos, i)
                    times.append(t)
                    stored.append(sum(a["size"] + a["thumb_size"] for a in answers))
                    sent.append(sum(len(p) for p in photos))
                out[name] = {"median_s": median(times), "max_s": max(times),
                             "sent": median(sent), "stored": median(stored),
                             "load": loadavg()}
            # capacity: 4 phones at once, downscaled photos, bounded to CAPACITY_SECONDS
            # Distinct pixels for every photo (the store is content-addressed: identical
            # photos would skip the file write): a base image with a varying patch.
            base_im = Image.open(io.BytesIO(photo_bytes(4242, (2000, 1500), 85)))
            base_im.load()

            def variant(i: int) -> bytes:
                im = base_im.copy()
                ImageDraw.Draw(im).rectangle((0, 0, 200, 150), fill=(i % 251, i // 251 % 251,
                                                                      (7 * i) % 251))
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=85)
                return buf.getvalue()

            pool = [[variant(3 * i + k) for k in range(3)] for i in range(CAPACITY_SETS)]
            eids = list(range(enrolment, enrolment + 4))
            done, lock, stop = [0], threading.Lock(), time.monotonic() + CAPACITY_SECONDS
            cookie_by = login_cookie(base, rep["tutor"])

            def worker(n: int) -> None:
                ph = Phone(base, cookie_by, eids[n], codes, targets)
                while time.monotonic() < stop:
                    with lock:
                        i = done[0] + n * 1000
                        photos = pool[(done[0] + n) % len(pool)]
                    ph.record(photos, i)
                    with lock:
                        done[0] += 1

            t0 = time.monotonic()
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            out["capacity_per_min"] = done[0] / (time.monotonic() - t0) * 60
            out.update(capacity_sets=len(pool), capacity_done=done[0],
                       capacity_seconds=CAPACITY_SECONDS)
            out["capacity_load"] = loadavg()
        if pg_db:
            sizes = {}
            for table in ("observation", "photo", "audit_event"):
                rows = int(psql(pg_db, f"select count(*) from {table}"))
                total = int(psql(pg_db, f"select pg_total_relation_size('{table}')"))
                sizes[table] = (rows, total)
            out["pg_sizes"] = sizes
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return out


def report(r: dict) -> None:
    print(f"\n[{r['db']}] one observation with 3 photos, sync API on loopback "
          "(3 photo PUTs + 1 observation PUT, sequential)")
    print(f"  capacity run: {r['capacity_sets']} distinct 3-photo sets for "
          f"{r['capacity_done']} observations in {r['capacity_seconds']} s")
    for name in ("downscaled 2000×1500 (PWA)", "original 12 MP 4000×3000"):
        v = r[name]
        print(f"  {name:28s} {v['median_s'] * 1e3:7.0f} ms median (max {v['max_s'] * 1e3:.0f})"
              f"; sent {v['sent'] / 1e6:.2f} MB, stored {v['stored'] / 1e6:.2f} MB of files "
              f"(2560-px cap q85 + 320-px thumb); load {v['load']}")
    print(f"  capacity: {r['capacity_per_min']:.0f} observations with 3 downscaled photos per "
          f"minute, 4 phones syncing at once, 1 worker (load {r['capacity_load']})")
    if "pg_sizes" in r:
        parts = []
        for table, (rows, total) in r["pg_sizes"].items():
            parts.append(f"{table} {rows} rows {total / 1e3:.0f} kB")
        print("  PostgreSQL relations after the run (incl. indexes, TOAST; small tables carry "
              "fixed page overhead): " + "; ".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    header("buyer: one observation with 3 photos end to end, storage, capacity")
    results = []
    sqlite_dir = Path(tempfile.mkdtemp(prefix="carnet-bench-buyer-db-"))
    try:
        results.append(measure("SQLite", f"sqlite://{sqlite_dir}/carnet.sqlite3", args.runs,
                               None))
    finally:
        shutil.rmtree(sqlite_dir, ignore_errors=True)
    if pg_available():
        with pg_database("carnet_bench_buyer") as db:
            results.append(measure("PostgreSQL", pg_url(db), args.runs, db))
    for r in results:
        report(r)
    first = results[0]["downscaled 2000×1500 (PWA)"]
    print()
    verdict(None, f"informational: {first['median_s'] * 1e3:.0f} ms server-side for an "
                  f"observation with 3 phone photos (SQLite), {first['stored'] / 1e6:.2f} MB "
                  "of photo files stored per such observation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
