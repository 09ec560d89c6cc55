"""Collecting photo files that no row names, and `.tmp-*` leftovers (`carnet gc`).

A file is referenced when a photo row names it (image or thumbnail) or a dossier manifest
does (the manifest is the legal record, its files go only through retention). Uploads put
their file before committing their row, so a file young enough may be about to be named:
only files untouched for `GRACE` go, and the store rechecks the age under its lock at the
moment of deleting (`LocalPhotoStore.delete_if_untouched`), so a racing upload that reuses
an old file keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from backend.models import AuditEvent, Dossier, Photo
from backend.storage import LocalPhotoStore

GRACE = 3600.0  # seconds: an upload's put and its commit are seconds apart, never an hour


@dataclass
class Collected:
    orphans: list[tuple[str, int]] = field(default_factory=list)  # (sha, bytes)
    temps: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(n for _, n in self.orphans) + sum(n for _, n in self.temps)


PURGED = "photo.file_purged"  # audit action: a photo's full-size file went by retention


async def purged_photo_ids() -> set[str]:
    """Photos whose full-size file retention removed (their thumbnail stays)."""
    subjects = await AuditEvent.filter(action=PURGED).values_list("subject", flat=True)
    return {s.removeprefix("photo:") for s in subjects}


async def referenced_hashes() -> set[str]:
    """Every file a row names: photos (image and thumbnail) and dossier manifests, except
    the full-size images retention has purged."""
    purged = await purged_photo_ids()
    found: set[str] = set()
    for pid, sha, thumb in await Photo.all().values_list("id", "sha256", "thumb_sha256"):
        found.update((thumb,) if str(pid) in purged else (sha, thumb))
    for manifest in await Dossier.all().values_list("manifest", flat=True):
        found.update(manifest_hashes(manifest, purged))
    return found


def manifest_hashes(manifest: object, purged: set[str] = frozenset()) -> set[str]:
    photos = manifest.get("photos") if isinstance(manifest, dict) else None
    found = set()
    for p in photos if isinstance(photos, list) else ():
        if isinstance(p, dict):
            kinds = ("thumb_sha256",) if p.get("id") in purged else ("sha256", "thumb_sha256")
            found.update(v for k in kinds if isinstance(v := p.get(k), str))
    return found


async def collect(store: LocalPhotoStore, *, dry_run: bool, now: float | None = None,
                  grace: float = GRACE) -> Collected:
    """Remove (or with `dry_run` only list) unreferenced files and stale temp files."""
    before = (time.time() if now is None else now) - grace
    # Listed first, rows read second: a row committed in between names a file already
    # listed, and it is then seen as referenced.
    files = await run_in_threadpool(lambda: [f for f in store.iter_files() if f.mtime < before])
    temps = await run_in_threadpool(lambda: [t for t in store.iter_temp_files() if t[2] < before])
    referenced = await referenced_hashes()
    result = Collected()
    orphans = [(f.sha, f.size) for f in files if f.sha not in referenced]
    if dry_run:
        result.orphans = orphans
        result.temps = [(path, size) for path, size, _ in temps]
        return result
    result.orphans = await run_in_threadpool(_delete_orphans, store, orphans, before)
    result.temps = await run_in_threadpool(_delete_temps, store, temps, before)
    return result


def _delete_orphans(store: LocalPhotoStore, orphans: Iterable[tuple[str, int]],
                    before: float) -> list[tuple[str, int]]:
    return [(sha, freed) for sha, _ in orphans if (freed := store.delete_if_untouched(sha, before))]


def _delete_temps(store: LocalPhotoStore, temps: Iterable[tuple[Path, int, float]],
                  before: float) -> list[tuple[Path, int]]:
    return [(path, freed) for path, _, _ in temps
            if (freed := store.delete_temp_file(path, before))]


async def delete_unreferenced(store: LocalPhotoStore, shas: Iterable[str], before: float) -> int:
    """After rows were deleted (erasure, purge): delete their files that no row names any
    more and no upload has touched since `before` (taken before the deleting transaction).
    A file shared with another photo row stays. The bytes freed."""
    candidates = set(shas) - await referenced_hashes()
    return sum(await run_in_threadpool(
        lambda: [store.delete_if_untouched(sha, before) for sha in sorted(candidates)]))
