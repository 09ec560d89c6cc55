"""Settings: read from the environment in one place, into one frozen object.

`create_app(settings)` receives it; tests build it directly. Every field is
listed in README.md's settings table (a test checks it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

# (environment variable, default, meaning) — the README table is checked against this.
DOCUMENTED = {
    "CARNET_DATABASE_URL": "sqlite://<data dir>/carnet.sqlite3",
    "CARNET_DATA_DIR": "./carnet-data",
    "CARNET_SECRET_KEY": "generated once into <data dir>/secret_key",
    "CARNET_ASSESSMENTS_DIRS": "(none)",
    "CARNET_MAX_UPLOAD_BYTES": "20000000",
    "CARNET_MAX_IMAGE_PIXELS": "40000000",
    "CARNET_APPEAL_DAYS": "60",
    "CARNET_KEEP_AFTER_DECISION_MONTHS": "12",
    "CARNET_KEEP_AFTER_END_MONTHS": "12",
    "CARNET_KEEP_ABANDONED_MONTHS": "24",
    "CARNET_SESSION_IDLE_HOURS": "12",
    "CARNET_SESSION_MAX_DAYS": "7",
    "CARNET_TUTOR_SESSION_DAYS": "30",
    "CARNET_COOKIE_SECURE": "auto",
    "CARNET_LOGIN_MAX_FAILURES": "5",
    "CARNET_LOGIN_WINDOW_MINUTES": "15",
    "CARNET_LOGIN_ACCOUNT_MAX_FAILURES": "20",
    "CARNET_LOGIN_ADDRESS_MAX_FAILURES": "30",
    "CARNET_INVITATION_DAYS": "7",
    "CARNET_SMTP_URL": "(none)",
    "CARNET_MAIL_FROM": "carnet@localhost",
    "CARNET_PUBLIC_URL": "(none)",
    "CARNET_DEMO_PASSWORD": "carnet-demo",
    "CARNET_JURY_ACCESS_DAYS": "90",
    "CARNET_PDF_CONCURRENCY": "2",
    "CARNET_INGEST_CONCURRENCY": "2",
    "CARNET_MAIL_INTERVAL_SECONDS": "30",
    "CARNET_LOG_LEVEL": "INFO",
    "CARNET_PHOTO_STORE": "<data dir>/photos",
    "CARNET_S3_ENDPOINT": "(none: AWS)",
    "CARNET_S3_REGION": "us-east-1",
    "CARNET_S3_ACCESS_KEY_ID": "(none)",
    "CARNET_S3_SECRET_ACCESS_KEY": "(none)",
    "CARNET_S3_PRESIGN_SECONDS": "0",
    "CARNET_WORKERS": "1",
    "CARNET_FORWARDED_ALLOW_IPS": "127.0.0.1",
    "CARNET_METRICS": "off",
    "CARNET_LOG_FORMAT": "text",
}


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str
    assessments_dirs: tuple[Path, ...] = ()
    max_upload_bytes: int = 20_000_000
    max_image_pixels: int = 40_000_000
    # Retention (docs/personal-data.md says why these defaults): nothing in a dossier
    # goes before its decision is final and the appeal window has passed. The same window is
    # the appeal deadline: an appeal later than this after the session's closing is refused.
    appeal_days: int = 60
    keep_after_decision_months: int = 12
    keep_after_end_months: int = 12
    keep_abandoned_months: int = 24
    session_idle_hours: int = 12
    session_max_days: int = 7
    tutor_session_days: int = 30
    # "auto": Secure + __Host- prefix except for plain http on a loopback host
    # (development); "always" refuses that exception; "never" is for tests only.
    cookie_secure: str = "auto"
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_account_max_failures: int = 20
    login_address_max_failures: int = 30
    invitation_days: int = 7
    smtp_url: str = ""
    mail_from: str = "carnet@localhost"
    public_url: str = ""
    demo_password: str = "carnet-demo"
    # Jury members read their session's dossiers and frozen evidence until this many days
    # after the session closed; then the candidate's data is no longer theirs to see.
    jury_access_days: int = 90
    # PDF renders at a time (each holds tens of MB for about a second of CPU).
    pdf_concurrency: int = 2
    # Photos decoded and re-encoded at a time per process (each holds a decoded image).
    ingest_concurrency: int = 2
    # How often each worker looks for mail to send (the outbox is in the database).
    mail_interval_seconds: int = 30
    log_level: str = "INFO"
    # Where photo bytes live: a folder (default <data dir>/photos) or s3://bucket/prefix.
    photo_store: str = ""
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # 0: photos stream through Carnet; N: after the access check, a redirect to a URL of
    # the store signed for N seconds.
    s3_presign_seconds: int = 0
    # Server processes of `carnet serve` (more than one needs CARNET_SECRET_KEY).
    workers: int = 1
    # Proxies whose X-Forwarded-Proto/-For are believed (uvicorn's forwarded_allow_ips).
    forwarded_allow_ips: str = "127.0.0.1"
    metrics: bool = False  # /metrics in Prometheus format
    log_format: str = "text"  # or "json": one JSON object per line
    # True when CARNET_SECRET_KEY was set (not generated into the data folder).
    secret_key_configured: bool = True

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _secret_key(env: Mapping[str, str], data_dir: Path, create: bool = True) -> str:
    """Use the configured key, else one generated once and kept in the data folder,
    so a zero-configuration demo keeps its sessions across restarts. Read-only commands
    (`create=False`) never write it: they get "" when there is none."""
    if env.get("CARNET_SECRET_KEY"):
        return env["CARNET_SECRET_KEY"]
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    if not create:
        return ""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def missing_data(env: Mapping[str, str] | None = None) -> str | None:
    """Why there is no Carnet data to read here (no database file in the data folder, for
    the default SQLite database), or None. Commands that only read call it first, so that
    run from the wrong folder they say so instead of creating an empty ./carnet-data."""
    env = os.environ if env is None else env
    if env.get("CARNET_DATABASE_URL"):
        return None
    data_dir = Path(env.get("CARNET_DATA_DIR") or "carnet-data").resolve()
    if (data_dir / "carnet.sqlite3").exists():
        return None
    return (f"no Carnet data in {data_dir} (no carnet.sqlite3): run this in the server's "
            "folder, or set CARNET_DATA_DIR (or CARNET_DATABASE_URL) as the server has them")


def from_env(env: Mapping[str, str] | None = None, *, create: bool = True) -> Settings:
    """`create=False`: write nothing (no generated secret key) for read-only commands."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("CARNET_DATA_DIR") or "carnet-data").resolve()
    dirs = tuple(Path(p) for p in env.get("CARNET_ASSESSMENTS_DIRS", "").split(os.pathsep) if p)
    cookie = env.get("CARNET_COOKIE_SECURE", "auto")
    if cookie not in ("auto", "always", "never"):
        raise SystemExit(f"CARNET_COOKIE_SECURE must be auto, always or never, got {cookie!r}")
    return Settings(
        database_url=env.get("CARNET_DATABASE_URL") or f"sqlite://{data_dir / 'carnet.sqlite3'}",
        data_dir=data_dir,
        secret_key=_secret_key(env, data_dir, create),
        assessments_dirs=dirs,
        max_upload_bytes=_int(env, "CARNET_MAX_UPLOAD_BYTES", 20_000_000),
        max_image_pixels=_int(env, "CARNET_MAX_IMAGE_PIXELS", 40_000_000),
        appeal_days=_int(env, "CARNET_APPEAL_DAYS", 60),
        keep_after_decision_months=_int(env, "CARNET_KEEP_AFTER_DECISION_MONTHS", 12),
        keep_after_end_months=_int(env, "CARNET_KEEP_AFTER_END_MONTHS", 12),
        keep_abandoned_months=_int(env, "CARNET_KEEP_ABANDONED_MONTHS", 24),
        session_idle_hours=_int(env, "CARNET_SESSION_IDLE_HOURS", 12),
        session_max_days=_int(env, "CARNET_SESSION_MAX_DAYS", 7),
        tutor_session_days=_int(env, "CARNET_TUTOR_SESSION_DAYS", 30),
        cookie_secure=cookie,
        login_max_failures=_int(env, "CARNET_LOGIN_MAX_FAILURES", 5),
        login_window_minutes=_int(env, "CARNET_LOGIN_WINDOW_MINUTES", 15),
        login_account_max_failures=_int(env, "CARNET_LOGIN_ACCOUNT_MAX_FAILURES", 20),
        login_address_max_failures=_int(env, "CARNET_LOGIN_ADDRESS_MAX_FAILURES", 30),
        invitation_days=_int(env, "CARNET_INVITATION_DAYS", 7),
        smtp_url=env.get("CARNET_SMTP_URL", ""),
        mail_from=env.get("CARNET_MAIL_FROM", "carnet@localhost"),
        public_url=env.get("CARNET_PUBLIC_URL", "").rstrip("/"),
        demo_password=env.get("CARNET_DEMO_PASSWORD") or "carnet-demo",
        jury_access_days=_int(env, "CARNET_JURY_ACCESS_DAYS", 90),
        pdf_concurrency=max(1, _int(env, "CARNET_PDF_CONCURRENCY", 2)),
        ingest_concurrency=max(1, _int(env, "CARNET_INGEST_CONCURRENCY", 2)),
        mail_interval_seconds=max(1, _int(env, "CARNET_MAIL_INTERVAL_SECONDS", 30)),
        log_level=env.get("CARNET_LOG_LEVEL", "INFO"),
        photo_store=_photo_store(env),
        s3_endpoint=env.get("CARNET_S3_ENDPOINT", ""),
        s3_region=env.get("CARNET_S3_REGION") or "us-east-1",
        s3_access_key_id=env.get("CARNET_S3_ACCESS_KEY_ID", ""),
        s3_secret_access_key=env.get("CARNET_S3_SECRET_ACCESS_KEY", ""),
        s3_presign_seconds=max(0, _int(env, "CARNET_S3_PRESIGN_SECONDS", 0)),
        workers=max(1, _int(env, "CARNET_WORKERS", 1)),
        forwarded_allow_ips=env.get("CARNET_FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1",
        metrics=_switch(env, "CARNET_METRICS"),
        log_format=_choice(env, "CARNET_LOG_FORMAT", ("text", "json")),
        secret_key_configured=bool(env.get("CARNET_SECRET_KEY")),
    )


def _switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower() or "off"
    if raw not in ("on", "off", "1", "0", "true", "false"):
        raise SystemExit(f"{name} must be on or off, got {raw!r}")
    return raw in ("on", "1", "true")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or allowed[0]
    if raw not in allowed:
        raise SystemExit(f"{name} must be {' or '.join(allowed)}, got {raw!r}")
    return raw


def _photo_store(env: Mapping[str, str]) -> str:
    value = env.get("CARNET_PHOTO_STORE", "").strip()
    if value.startswith("s3://"):
        from backend.storage import parse_s3_url

        try:
            parse_s3_url(value)
        except ValueError as exc:
            raise SystemExit(f"CARNET_PHOTO_STORE: {exc}") from None
    elif "://" in value:
        raise SystemExit(f"CARNET_PHOTO_STORE must be a folder or s3://bucket/prefix, got "
                         f"{value!r}")
    return value
