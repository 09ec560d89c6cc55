"""Backups that restore, and moving the photos to an S3-compatible store.

`backup(settings, dest)` writes into an empty folder:
- the database: SQLite through its online backup API (a consistent copy while the server
  writes), or for PostgreSQL a `pg_dump --format=custom` file when pg_dump is installed, else
  `DATABASE.txt` saying which command to run;
- the photos: the folder store's files (each re-hashed as it is copied), or for an S3 store
  `photos.tsv`, the listing of the bucket with each object's hash and size (the bucket is
  backed up by the store's own means: versioning, replication);
- `secret_key`: the key in use (without it, no audit event verifies);
- `MANIFEST.json`: every file written with its SHA-256 and size, and what the backup holds.

The database is copied first, the photos after: every photo a copied row names was stored
before its row was committed, so it is there when the photos are copied (later uploads add
files no copied row names: harmless).

`restore(settings, src)` checks every file against the manifest, then fills an empty data
folder: the SQLite file, the photos (into the folder store, or checked present in the
configured bucket), the secret key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from backend.storage import LocalPhotoStore, PhotoStore, S3PhotoStore, check_sha, open_store

MANIFEST = "MANIFEST.json"
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


def _sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    if path in ("", ":memory:"):
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def _file_sha(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and any(path.iterdir()):
        raise BackupError(f"{path} is not empty: {what} goes into an empty folder")
    path.mkdir(parents=True, exist_ok=True)


def backup(settings, dest: Path, progress: Callable[[str], None] = lambda line: None) -> dict:
    dest = Path(dest)
    _empty_folder(dest, "a backup")
    files: dict[str, dict] = {}

    def add(relative: str, sha: str | None = None) -> None:
        path = dest / relative
        files[relative] = {"sha256": sha or _file_sha(path), "size": path.stat().st_size}

    sqlite = _sqlite_path(settings.database_url)
    if sqlite is not None:
        if not sqlite.exists():
            raise BackupError(f"no database at {sqlite}")
        source = sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True)
        target = sqlite3.connect(dest / "carnet.sqlite3")
        try:
            source.backup(target)  # online: pages copied consistently while others write
        finally:
            target.close()
            source.close()
        add("carnet.sqlite3")
        database = "sqlite"
    else:
        database = "postgresql"
        dump = shutil.which("pg_dump")
        if dump:
            url = settings.database_url.replace("postgres://", "postgresql://", 1).split("?")[0]
            done = subprocess.run([dump, "--format=custom", "--no-owner", "--file",
                                   str(dest / "carnet.pgdump"), url],
                                  capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            add("carnet.pgdump")
        else:
            (dest / "DATABASE.txt").write_text(
                "The database is PostgreSQL: back it up with pg_dump, e.g.\n"
                "  pg_dump --format=custom --no-owner --file carnet.pgdump DATABASE_URL\n"
                "and restore it with pg_restore --no-owner -d NEW_DATABASE carnet.pgdump\n")
            add("DATABASE.txt")
    progress(f"database ({database}) copied")

    store = open_store(settings)
    photos = 0
    if isinstance(store, S3PhotoStore):
        lines = [f"{f.sha}\t{f.size}" for f in store.iter_files()]
        (dest / "photos.tsv").write_text("".join(f"{line}\n" for line in lines))
        add("photos.tsv")
        photos, kind = len(lines), store.url
    else:
        for sha in store.iter_hashes():
            relative = f"photos/{sha[:2]}/{sha[2:4]}/{sha}"
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                data = store.open(sha)
            except Exception:  # deleted since the listing (collector): not named by a row
                continue
            copied = hashlib.sha256(data).hexdigest()
            if copied != sha:
                raise BackupError(f"photo {sha} is damaged in the store (hashes to {copied})")
            target.write_bytes(data)
            files[relative] = {"sha256": sha, "size": len(data)}
            photos += 1
        kind = "folder"
    progress(f"{photos} photo file(s) {'listed' if kind != 'folder' else 'copied'}")

    key = dest / "secret_key"
    key.write_text(settings.secret_key)
    key.chmod(0o600)
    add("secret_key")
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": database, "photo_store": kind, "photos": photos, "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def check(src: Path) -> dict:
    """The manifest, once every file it lists hashes as it says (BackupError otherwise)."""
    src = Path(src)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src}: no readable {MANIFEST} ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: unknown backup format {manifest.get('format')!r}")
    bad = [name for name, entry in manifest["files"].items()
           if not (src / name).is_file() or _file_sha(src / name) != entry["sha256"]]
    if bad:
        raise BackupError(f"{len(bad)} file(s) missing or altered in {src}: {', '.join(bad[:5])}")
    return manifest


def restore(settings, src: Path, progress: Callable[[str], None] = lambda line: None) -> dict:
    src = Path(src)
    manifest = check(src)
    progress(f"{len(manifest['files'])} file(s) verified against the manifest")
    data_dir = Path(settings.data_dir)
    _empty_folder(data_dir, "a restore")
    if manifest["database"] == "sqlite":
        target = _sqlite_path(settings.database_url)
        if target is None:
            raise BackupError("this backup holds a SQLite database, but CARNET_DATABASE_URL "
                              "names another: unset it to restore into the data folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / "carnet.sqlite3", target)
    else:
        progress("PostgreSQL: restore the database with pg_restore (see DATABASE.txt or "
                 "docs/operations.md) before starting the server")
    store: PhotoStore = open_store(settings)
    names = [n for n in manifest["files"] if n.startswith("photos/")]
    if isinstance(store, LocalPhotoStore):
        for name in names:
            sha = check_sha(name.rsplit("/", 1)[1])
            if store.put((src / name).read_bytes()) != sha:
                raise BackupError(f"{name} does not hash to its name")
    if manifest["photo_store"] != "folder":
        listed = [line.split("\t")[0] for line in (src / "photos.tsv").read_text().splitlines()
                  if line]
        missing = [sha for sha in listed if not store.exists(sha)]
        if missing:
            raise BackupError(f"{len(missing)} listed photo object(s) missing from the store, "
                              f"e.g. {missing[0]}: restore the bucket first")
    progress(f"{len(names) or manifest['photos']} photo(s) in place")
    if os.environ.get("CARNET_SECRET_KEY"):
        if os.environ["CARNET_SECRET_KEY"] != (src / "secret_key").read_text():
            progress("WARNING: CARNET_SECRET_KEY differs from the backup's key: set it to the "
                     "content of the backup's secret_key, or no audit event will verify")
    else:
        key = data_dir / "secret_key"
        key.write_text((src / "secret_key").read_text())
        key.chmod(0o600)
    return manifest


def migrate_photos(source: PhotoStore, target: PhotoStore,
                   progress: Callable[[str], None] = lambda line: None) -> tuple[int, int]:
    """Copy every photo of `source` into `target`, skipping what is there already (so a run
    that stopped can start again), each copy verified by hash: (copied, already there)."""
    copied = skipped = 0
    for sha in source.iter_hashes():
        if target.exists(sha) and target.verify(sha):
            skipped += 1
            continue
        data = source.open(sha)
        if hashlib.sha256(data).hexdigest() != sha:
            raise BackupError(f"photo {sha} is damaged in the source store")
        target.put(data)
        if not target.verify(sha):
            raise BackupError(f"photo {sha} does not verify in the target store")
        copied += 1
        if copied % 100 == 0:
            progress(f"{copied} copied, {skipped} already there")
    return copied, skipped
