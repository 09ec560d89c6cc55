"""Received prefixes of resumable photo uploads (docs/pwa.md, "Resumable uploads").

A photo sent with the resumable-upload protocol is written to this area as it
arrives. When the connection drops, what arrived stays: its length is the offset the
client asks for (HEAD) before sending the rest (PATCH). Only the complete file goes
through `evidence.put_photo` (digest check, idempotency, re-encode), exactly like a
photo sent in one request.

One upload per photo UUID and person: `<area>/<uuid>.<person>.part` (the bytes),
`.json` (enrolment, declared digest, offset committed, complete) and `.lock` (an
advisory lock held while a request appends, across workers: flock). The offset in
the JSON is written only after the bytes up to it were fsynced, so a crash never
reports bytes that are not there; the file is cut back to it before appending.

The area is a folder of the photo store's host: `<photo folder>/.uploads` for a
local store, `<data dir>/uploads` for an S3 store (several hosts behind one bucket
would need a shared folder here; a lost prefix only costs a resend from zero).
`carnet gc` removes uploads untouched for `GRACE` seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

GRACE = 3 * 24 * 3600  # an offline week-end keeps its prefixes
_NAME = re.compile(r"[0-9a-f-]{36}\.[0-9]+\.(part|json|lock)")


class Busy(Exception):
    """Another request is appending to this upload."""


@dataclass
class UploadState:
    enrolment: int
    digest: str  # hex sha256 of the whole photo, as declared at creation
    offset: int = 0  # bytes received and fsynced
    length: int | None = None  # Upload-Length, when the client declared it
    content_type: str = "image/jpeg"
    complete: bool = False
    received_sha256: str | None = None  # set when the photo was stored


class UploadArea:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, photo_id: str, person: int, kind: str) -> Path:
        return self.root / f"{photo_id}.{int(person)}.{kind}"

    def state(self, photo_id: str, person: int) -> UploadState | None:
        try:
            data = json.loads(self._path(photo_id, person, "json").read_bytes())
            return UploadState(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save(self, photo_id: str, person: int, state: UploadState) -> None:
        target = self._path(photo_id, person, "json")
        temp = target.with_suffix(".json-tmp")
        with open(temp, "wb") as f:
            f.write(json.dumps(asdict(state)).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)

    @contextlib.contextmanager
    def locked(self, photo_id: str, person: int) -> Iterator[None]:
        """Exclusive hold on one upload, or Busy at once."""
        fd = os.open(self._path(photo_id, person, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy() from None
            yield
        finally:
            os.close(fd)

    def open_for_append(self, photo_id: str, person: int, offset: int):
        """The part file positioned at `offset` (anything after it is cut)."""
        path = self._path(photo_id, person, "part")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+b", buffering=0)
        f.truncate(offset)
        f.seek(offset)
        return f

    def read(self, photo_id: str, person: int, length: int) -> bytes:
        with open(self._path(photo_id, person, "part"), "rb") as f:
            return f.read(length)

    def drop_bytes(self, photo_id: str, person: int) -> None:
        self._path(photo_id, person, "part").unlink(missing_ok=True)

    def discard(self, photo_id: str, person: int) -> None:
        for kind in ("part", "json"):
            self._path(photo_id, person, kind).unlink(missing_ok=True)

    def iter_stale(self, before: float) -> Iterator[tuple[Path, int]]:
        """Files of uploads untouched since `before`: (path, size)."""
        for entry in sorted(self.root.iterdir()):
            if not _NAME.fullmatch(entry.name):
                continue
            with suppress(FileNotFoundError):
                st = entry.stat()
                if st.st_mtime < before:
                    yield entry, st.st_size

    def remove_stale(self, before: float, *, dry_run: bool = False) -> list[tuple[Path, int]]:
        """Remove (or list) stale uploads; a file whose upload is held right now stays."""
        removed = []
        # Lock files last, and only once their upload's other files are gone: a lock
        # file unlinked while someone opens it would let two holders in.
        stale = sorted(self.iter_stale(before), key=lambda t: t[0].name.endswith(".lock"))
        for path, size in stale:
            photo_id, person, kind = path.name.split(".")
            if kind == "lock" and any(
                    self._path(photo_id, int(person), k).exists() for k in ("part", "json")):
                continue
            if dry_run:
                removed.append((path, size))
                continue
            try:
                with self.locked(photo_id, int(person)):
                    with suppress(FileNotFoundError):
                        if path.stat().st_mtime >= before:
                            continue
                        path.unlink()
                        removed.append((path, size))
            except Busy:
                continue
        return removed


def upload_area(store, settings) -> UploadArea:
    """The area beside the photo store (see the module's docstring)."""
    root = getattr(store, "root", None)
    if root is not None:
        return UploadArea(Path(root) / ".uploads")
    return UploadArea(Path(settings.data_dir) / "uploads")


def stale_before(now: float | None = None) -> float:
    return (time.time() if now is None else now) - GRACE
