"""Memory and throughput per worker under many phones uploading photos at once.

Bars (issue "faster where the tutor waits", 5): RSS of one worker under a 20-tutor
upload load ≤ 250 MiB and steady; photo throughput with 2 workers ≥ 1.5× that of 1
worker; 0 lost, 0 duplicated.

- The shipped server: `carnet serve --workers N` (so MALLOC_ARENA_MAX and
  CARNET_INGEST_CONCURRENCY apply as in production), PostgreSQL, a local photo folder.
- 20 clients (httpx, one login session each, the seeded tutor's 20 enrolments) send
  photos as the PWA does: the resumable creation PUT (Upload-Draft-Interop-Version,
  Upload-Complete, Content-Digest), each photo distinct, 1600×1200 WebP q0.75 as the
  phone now sends (generated like sync_bytes.py's set), back to back for --seconds.
- RSS of every worker process from /proc every 0.5 s: the maximum, and the median of
  each third of the run (steady = the last third not above the middle one by > 10 %).
- Then the database: every photo answered 2xx is there once (lost, duplicated).

    python bench/upload_load.py [--clients 20] [--seconds 30] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from bench._common import (  # noqa: E402
    PASSWORD,
    VENV_BIN,
    carnet_env,
    carnet_seed,
    free_port,
    header,
    loadavg,
    pg_available,
    pg_database,
    pg_url,
    verdict,
)
from bench.sync_bytes import phone_photo  # noqa: E402

RSS_BAR_MIB, SCALE_BAR = 250, 1.5


def photos(folder: Path, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        path = phone_photo(folder / f"p{i}.jpg", 500 + i, size=(1600, 1200))
        buf = io.BytesIO()
        Image.open(path).save(buf, "WEBP", quality=75)
        out.append(buf.getvalue())
    return out


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(x) for x in text.split()]
    return found + [g for c in found for g in children(c)]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def sample(server_pid: int, stop: threading.Event, out: dict[int, list[float]]) -> None:
    while not stop.is_set():
        pids = children(server_pid) or [server_pid]
        # With --workers 1 uvicorn serves in the main process; with N, in N children
        # (the main process only supervises).
        for pid in pids:
            value = rss_mib(pid)
            if value is not None:
                out.setdefault(pid, []).append(value)
        stop.wait(0.5)


async def log_in(base: str, tutor: str) -> dict:
    """One session per phone, one after the other (simultaneous attempts on one account
    count against its login limit before the password is checked)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        r = await http.post("/api/v1/session", json={"email": tutor, "password": PASSWORD})
        r.raise_for_status()
        return dict(http.cookies)


async def client(base: str, cookies: dict, enrolments: list[int], index: int,
                 data: list[bytes], deadline: float, results: list) -> None:
    import base64
    import hashlib

    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=120, cookies=cookies) as http:
        n = 0
        while time.monotonic() < deadline:
            body = data[(index * 7 + n) % len(data)]
            n += 1
            photo_id = str(uuid.uuid4())
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            enrolment = enrolments[index % len(enrolments)]
            t0 = time.monotonic()
            try:
                r = await http.put(f"/api/v1/photos/{photo_id}?enrolment={enrolment}",
                                   content=body, headers={
                                       "Content-Type": "image/webp",
                                       "Content-Digest": f"sha-256=:{digest}:",
                                       "Upload-Draft-Interop-Version": "7",
                                       "Upload-Complete": "?1",
                                       "Upload-Length": str(len(body))})
                results.append((photo_id, r.status_code, time.monotonic() - t0,
                                time.monotonic() < deadline))
            except httpx.HTTPError as exc:
                results.append((photo_id, f"error {type(exc).__name__}",
                                time.monotonic() - t0, False))


def serve(env: dict, workers: int, port: int) -> subprocess.Popen:
    log = open(Path(__file__).parent / ".server.log", "ab")
    return subprocess.Popen([str(VENV_BIN / "carnet"), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers)],
                            env=env, stdout=log, stderr=log, start_new_session=True)


def wait_up(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def one_run(args, workers: int, data: list[bytes]) -> dict:
    name = f"carnet_bench_upload_{workers}"
    with pg_database(name):
        folder = Path(tempfile.mkdtemp(prefix="carnet-bench-upload-"))
        env = carnet_env(pg_url(name), folder)
        env.pop("MALLOC_ARENA_MAX", None)  # as shipped: carnet serve sets it
        rep = carnet_seed(env, args.clients, 0)
        enrolments = list(range(rep["first_enrolment"], rep["first_enrolment"] + args.clients))
        port = free_port()
        proc = serve(env, workers, port)
        try:
            wait_up(port)
            rss: dict[int, list[float]] = {}
            stop = threading.Event()
            sampler = threading.Thread(target=sample, args=(proc.pid, stop, rss), daemon=True)
            sampler.start()
            results: list = []
            base = f"http://127.0.0.1:{port}"

            async def everyone() -> float:
                cookies = [await log_in(base, rep["tutor"]) for _ in range(args.clients)]
                start = time.monotonic()
                deadline = start + args.seconds
                await asyncio.gather(*(client(base, cookies[i], enrolments, i, data,
                                              deadline, results)
                                       for i in range(args.clients)))
                return time.monotonic() - start

            elapsed = asyncio.run(everyone())
            stop.set()
            sampler.join(5)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        ok = [r for r in results if isinstance(r[1], int) and 200 <= r[1] < 300]
        in_time = [r for r in ok if r[3]]
        rows = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", name, "-Atc",
                               "SELECT id FROM photo"], capture_output=True, text=True,
                              check=True).stdout.split()
        stored = {r.lower() for r in rows}
        lost = [r[0] for r in ok if r[0] not in stored]
        duplicated = len(rows) - len(stored)
        extra = len(stored - {r[0] for r in results})
        workers_rss = {pid: v for pid, v in rss.items() if len(v) > 3}
        return {"workers": workers, "ok": len(ok), "in_time": len(in_time),
                "elapsed": elapsed, "rate": len(in_time) / args.seconds,
                "errors": len(results) - len(ok),
                "latency_p50": statistics.median(r[2] for r in ok) if ok else float("nan"),
                "lost": len(lost), "duplicated": duplicated + extra,
                "rss": workers_rss, "statuses": sorted({str(r[1]) for r in results})}


def thirds(values: list[float]) -> list[float]:
    n = len(values)
    return [statistics.median(values[i * n // 3:(i + 1) * n // 3] or [0]) for i in range(3)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--photos", type=int, default=40, help="distinct photos")
    args = parser.parse_args()
    header("upload_load: RSS per worker and photo throughput, 20 phones uploading")
    if not pg_available():
        print("  PostgreSQL not available")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="carnet-bench-upload-photos-"))
    data = photos(folder, args.photos)
    print(f"  {len(data)} distinct photos, 1600×1200 WebP q75, median "
          f"{statistics.median(len(d) for d in data) / 1e3:.0f} kB; {args.clients} clients, "
          f"{args.seconds:.0f} s per run; MALLOC_ARENA_MAX as carnet serve sets it "
          f"({os.environ.get('MALLOC_ARENA_MAX', 'unset here → 2')}), "
          f"CARNET_INGEST_CONCURRENCY {os.environ.get('CARNET_INGEST_CONCURRENCY', '2')}")
    runs = {}
    for workers in args.workers:
        run = one_run(args, workers, data)
        runs[workers] = run
        print(f"\n  {workers} worker(s): {run['in_time']} photos stored in {args.seconds:.0f} s "
              f"= {run['rate']:.2f} photos/s (p50 {run['latency_p50'] * 1000:.0f} ms per "
              f"upload); answers {run['statuses']}; lost {run['lost']}, duplicated "
              f"{run['duplicated']}; load {loadavg()}")
        for pid, values in run["rss"].items():
            print(f"    worker {pid}: RSS max {max(values):.0f} MiB; medians by third of the "
                  f"run {', '.join(f'{v:.0f}' for v in thirds(values))} MiB "
                  f"({len(values)} samples)")
    peak = max(max(v) for run in runs.values() for v in run["rss"].values())
    steady = all(thirds(v)[2] <= 1.1 * thirds(v)[1] for run in runs.values()
                 for v in run["rss"].values())
    clean = all(r["lost"] == 0 and r["duplicated"] == 0 for r in runs.values())
    print()
    verdict(peak <= RSS_BAR_MIB and steady and clean,
            f"RSS per worker ≤ {RSS_BAR_MIB} MiB (max {peak:.0f}) and steady ({steady}); "
            f"0 lost, 0 duplicated ({clean})")
    if 1 in runs and 2 in runs:
        ratio = runs[2]["rate"] / runs[1]["rate"] if runs[1]["rate"] else float("nan")
        verdict(ratio >= SCALE_BAR, f"2 workers {ratio:.2f}× the photo throughput of 1 "
                f"(bar ≥ {SCALE_BAR}); load {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
