"""What `carnet serve` needs around uvicorn: the app factory of each worker process, the
port check made before anything is printed, the JSON log format, the demo's warning."""

from __future__ import annotations

import json
import logging
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from backend.proxy import is_loopback


class CommandError(Exception):
    """A clean one-line error for the command line (never a traceback)."""


def app_from_env():
    """uvicorn's factory in each worker (`--workers N`): the settings from the environment,
    the same in every process (which is why several workers need CARNET_SECRET_KEY)."""
    from backend.app import create_app
    from backend.cli import load_settings

    return create_app(load_settings())


def limit_malloc_arenas(default: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
    freed image buffers stay in them: a worker's RSS then grows with the photos decoded
    in parallel. Two arenas keep it bounded (bench/README.md, "Memory"). Sets
    MALLOC_ARENA_MAX for the worker processes uvicorn starts, and applies it to this one
    now (mallopt), unless the environment already chose."""
    import ctypes
    import os

    value = os.environ.setdefault("MALLOC_ARENA_MAX", str(default))
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, int(value))  # M_ARENA_MAX
    except (OSError, AttributeError, ValueError):
        pass  # not glibc: nothing to do


def check_port(host: str, port: int) -> None:
    """CommandError unless `host:port` can be bound now (uvicorn binds it later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror} (another "
                               "server already uses this port? choose one with --port)") from None


def loud_demo_warning(host: str, settings) -> None:
    if is_loopback(host):
        return
    password = "the published default" if settings.demo_password == "carnet-demo" else \
        "CARNET_DEMO_PASSWORD"
    line = "!" * 78
    print(f"{line}\n!! WARNING: the demo is listening on {host}, reachable from other machines,"
          f"\n!! and its accounts log in with {password} password. Anyone who can reach this"
          f"\n!! port can log in as its admin. Use `carnet init` for a real branch.\n{line}",
          file=sys.stderr, flush=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (already redacted by
    backend/logs.py's filter), and for uvicorn's access lines the request's parts."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name}
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and \
                len(record.args) == 5:
            client, method, path, version, status = record.args
            entry.update({"client": client, "method": method, "path": path,
                          "http": version, "status": status})
            entry["message"] = f"{method} {path} {status}"
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def json_log_config(config: dict[str, Any]) -> dict[str, Any]:
    """backend/logs.py's configuration (redaction included), every formatter as JSON."""
    for name in config["formatters"]:
        config["formatters"][name] = {"()": JsonFormatter}
    return config


def clean_error(exc: BaseException) -> str | None:
    """The one-line message for an error an operator causes and can fix (no traceback);
    None for anything else (a bug: its traceback is wanted)."""
    from tortoise.exceptions import ConfigurationError, DBConnectionError, OperationalError

    from backend.domain.referentials import ReferentialError

    if isinstance(exc, ReferentialError):
        faults = "\n".join(f"  {fault}" for fault in exc.faults)
        return f"the referentials do not load:\n{faults}"
    text = f"{type(exc).__name__}: {exc}".strip()
    try:
        import asyncpg

        if isinstance(exc, asyncpg.InvalidCatalogNameError):
            return f"the PostgreSQL database does not exist ({exc}); create it (createdb) " \
                   "or fix CARNET_DATABASE_URL"
        if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError |
                      asyncpg.InvalidPasswordError):
            return f"PostgreSQL refused the login ({exc}); check CARNET_DATABASE_URL"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, ConnectionRefusedError | TimeoutError | socket.gaierror) or (
            isinstance(exc, OSError) and exc.errno in (111, 113, 101, -2, -3)):
        return f"cannot reach the database ({text}); is it running, and is " \
               "CARNET_DATABASE_URL right?"
    if isinstance(exc, DBConnectionError | ConfigurationError):
        return f"database: {text}; check CARNET_DATABASE_URL"
    if isinstance(exc, OperationalError) and "unable to open database" in str(exc):
        return f"cannot open the SQLite database ({exc}); check CARNET_DATA_DIR"
    return None


def prepare_multiprocess_metrics(folder) -> None:
    """A fresh folder for prometheus-client's multiprocess mode, named in the environment
    the workers inherit (before any of them imports prometheus_client)."""
    import os
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
