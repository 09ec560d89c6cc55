"""Real `carnet` processes for the going-live tests: the command line, servers on loopback
ports sharing one PostgreSQL database and one S3 store, and a tutor with an enrolment in the
branch that `carnet init` created (what an admin would set up through the admin pages)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.test_packaging import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "live-tests-shared-secret-key"
LINK = re.compile(r"(/invitation/[A-Za-z0-9_-]+)")


def live_env(data_dir: Path, database_url: str, store_env: dict[str, str],
             **extra: str) -> dict[str, str]:
    env = {**os.environ, "CARNET_DATA_DIR": str(data_dir), "CARNET_DATABASE_URL": database_url,
           "CARNET_SECRET_KEY": SECRET, "CARNET_LOG_LEVEL": "warning", **store_env, **extra}
    return env


def carnet(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def init_branch(env: dict[str, str], email: str) -> str:
    """`carnet init`: the path of the setup link it prints."""
    done = carnet(env, "init", "--branch", "CPNE de la métallerie", "--admin", email)
    assert done.returncode == 0, done.stderr + done.stdout
    return LINK.search(done.stdout)[1]


@dataclass
class LiveServer:
    env: dict[str, str]
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port),
             "--no-migrate", *self.args], cwd=ROOT, env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(f"{self.url}/health", seconds=60)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn's workers too)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


SEED = """
import asyncio
from tortoise import Tortoise
from backend.db import tortoise_config
from backend.models import Organisation
from tests import factories as f

async def main():
    from backend.settings import from_env

    await Tortoise.init(config=tortoise_config(from_env().database_url))
    try:
        branch = await Organisation.get(kind="branch")
        company = await f.company(branch)
        tutor = await f.person("Tuteur", company_org=company, email="tuteur@live.test")
        candidate = await f.person("Candidate", company_org=company)
        enrolment = await f.enrolment(candidate, company, tutor)
        print(enrolment.id)
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


def seed_enrolment(env: dict[str, str]) -> tuple[str, str, int]:
    """A company of the branch, a tutor (tuteur@live.test) and a candidate's enrolment:
    (tutor e-mail, password, enrolment id)."""
    from tests.factories import PASSWORD

    done = subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return "tuteur@live.test", PASSWORD, int(done.stdout.strip().splitlines()[-1])
