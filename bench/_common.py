"""Helpers shared by the bench scripts (not a test module, not product code).

Everything here is loopback-only and bounded: servers are started as
subprocesses on a free 127.0.0.1 port and stopped by their own pid.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("CARNET_BENCH_PG_HOST", "127.0.0.1")
PG_USER = os.environ.get("CARNET_BENCH_PG_USER", "root")
PASSWORD = os.environ.get("CARNET_DEMO_PASSWORD") or "carnet-demo"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- machine -----------------------------------------------------------------------


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "load": loadavg()}


def header(title: str) -> None:
    m = machine()
    print(f"== {title} ==")
    print(f"machine: {m['nproc']} cores {m['cpu']}, {m['ram_gib']} GiB, Python {m['python']}, "
          f"load average {m['load']}")


def verdict(ok: bool | None, text: str) -> None:
    word = {True: "MET", False: "MISSED", None: "N/A"}[ok]
    print(f"VERDICT: {word} — {text}")


def median(values) -> float:
    return statistics.median(values)


def pct(values, p: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


# --- databases ---------------------------------------------------------------------


def pg_available() -> bool:
    if not shutil.which("createdb"):
        return False
    r = subprocess.run(["psql", "-h", PG_HOST, "-U", PG_USER, "-d", "postgres", "-Atc",
                        "select 1"], capture_output=True, text=True)
    return r.returncode == 0


def pg_url(name: str, maxsize: int | None = None) -> str:
    url = f"postgres://{PG_USER}@{PG_HOST}:5432/{name}"
    return f"{url}?maxsize={maxsize}" if maxsize else url


@contextmanager
def pg_database(name: str, keep: bool = False):
    subprocess.run(["dropdb", "-h", PG_HOST, "-U", PG_USER, "--if-exists", name], check=True)
    subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, name], check=True)
    try:
        yield name
    finally:
        if not keep:
            subprocess.run(["dropdb", "-h", PG_HOST, "-U", PG_USER, "--if-exists", "--force",
                            name], check=False)


def carnet_env(database_url: str, data_dir: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({"CARNET_DATABASE_URL": database_url, "CARNET_DATA_DIR": str(data_dir),
                "CARNET_SECRET_KEY": "bench-secret-key-not-for-production",
                "CARNET_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def carnet_seed(env: dict, candidates: int, observations: int, quiet: bool = True) -> dict:
    """Runs the real `carnet seed`; returns its JSON report plus wall time."""
    started = time.monotonic()
    r = subprocess.run([str(VENV_BIN / "carnet"), "seed", "--candidates", str(candidates),
                        "--observations", str(observations)], env=env, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE if quiet else None,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"carnet seed failed:\n{r.stderr}")
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = round(time.monotonic() - started, 2)
    return report


# --- servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(env: dict, app: str = "bench.bench_app:app", port: int | None = None,
                   extra_args: tuple[str, ...] = ()):
    """uvicorn, 1 worker, httptools + uvloop (uvicorn[standard]), access log off."""
    port = port or free_port()
    cmd = [str(VENV_BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", *extra_args]
    log = open(BENCH / ".server.log", "ab")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited ({proc.returncode}); see bench/.server.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start in 30 s")
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def login_cookie(base: str, email: str, password: str = PASSWORD) -> str:
    import httpx

    r = httpx.post(f"{base}/api/v1/session", json={"email": email, "password": password},
                   timeout=30)
    r.raise_for_status()
    token = r.cookies.get("carnet")
    if not token:
        raise RuntimeError(f"no 'carnet' cookie in login answer: {r.headers}")
    return token


# --- wrk ---------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m[1]) * _UNITS[m[2]]


def wrk(url: str, cookie: str | None, seconds: int = 10, connections: int = 64,
        threads: int = 1, script: str | None = None, headers=()) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
           "--timeout", "10s"]
    if cookie:
        cmd += ["-H", f"Cookie: carnet={cookie}"]
    for h in headers:
        cmd += ["-H", h]
    cmd += ["-s", script or str(BENCH / "latency.lua")]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    lat = {}
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        lat[p] = _ms(m[1]) if m else float("nan")
    pctl = re.search(r"PCTL p50=(\d+) p95=(\d+) p99=(\d+) max=(\d+)", out)
    if pctl:  # from bench/latency.lua: exact p95, in microseconds
        lat["50"], lat["95"], lat["99"] = (int(pctl[i]) / 1000 for i in (1, 2, 3))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50_ms": lat["50"], "p90_ms": lat["90"],
            "p95_ms": lat.get("95", float("nan")), "p99_ms": lat["99"],
            "non2xx": int(non2xx[1]) if non2xx else 0,
            "socket_errors": errors[0] if errors else "", "requests": int(total[1]),
            "raw": out}
