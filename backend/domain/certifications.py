"""Use cases on the imported national register: import a France compétences export, search
it, and draft a referential from one certification. The XML rules are in `register.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from tortoise.transactions import in_transaction

from backend.domain.register import Draft, Fiche, draft_referential, fiche_from_row, fold
from backend.errors import NotFound
from backend.models import RegisterBlock, RegisterCertification

BATCH = 500  # fiches per transaction
SEARCH_LIMIT = 50


@dataclass
class ImportCount:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    blocks: int = 0


def _rows(fiche: Fiche, sha: str) -> tuple[RegisterCertification, list[RegisterBlock]]:
    certification = RegisterCertification(
        number=fiche.number, kind=fiche.kind, title=fiche.title,
        abbreviation=fiche.abbreviation[:100], level=fiche.level, active=fiche.active,
        state=fiche.state[:64], certifiers=list(fiche.certifiers),
        rome_codes=[{"code": c.code, "label": c.label} for c in fiche.rome],
        nsf_codes=[{"code": c.code, "label": c.label} for c in fiche.nsf],
        effective_on=fiche.effective_on, ends_on=fiche.ends_on, published_on=fiche.published_on,
        details=fiche.details(), search_text=fiche.search_text(), content_sha256=sha)
    blocks = [RegisterBlock(certification_id=fiche.number, code=b.code[:64], position=i,
                            title=b.title, competencies=list(b.competencies),
                            assessment=b.assessment)
              for i, b in enumerate(fiche.blocks, 1)]
    return certification, blocks


async def _write_batch(batch: dict[str, Fiche], count: ImportCount) -> None:
    hashes = {number: fiche.sha256() for number, fiche in batch.items()}
    known = dict(await RegisterCertification.filter(number__in=list(batch))
                 .values_list("number", "content_sha256"))
    changed = [n for n in batch if known.get(n) != hashes[n]]
    count.unchanged += len(batch) - len(changed)
    if not changed:
        return
    replaced = [n for n in changed if n in known]
    certifications, blocks = [], []
    for number in changed:
        certification, its_blocks = _rows(batch[number], hashes[number])
        certifications.append(certification)
        blocks.extend(its_blocks)
    async with in_transaction():
        if replaced:  # an update replaces the fiche and its blocks
            await RegisterBlock.filter(certification_id__in=replaced).delete()
            await RegisterCertification.filter(number__in=replaced).delete()
        await RegisterCertification.bulk_create(certifications)
        if blocks:
            await RegisterBlock.bulk_create(blocks)
    count.updated += len(replaced)
    count.added += len(changed) - len(replaced)
    count.blocks += len(blocks)


async def import_fiches(fiches: Iterable[Fiche],
                        progress: Callable[[ImportCount], None] | None = None) -> ImportCount:
    """Store every fiche, by batches; rerunnable: a fiche already stored is updated when its
    content changed and left alone otherwise (never duplicated)."""
    count = ImportCount()
    batch: dict[str, Fiche] = {}
    for fiche in fiches:
        count.read += 1
        batch[fiche.number] = fiche  # the same number twice in a file: the last one wins
        if len(batch) >= BATCH:
            await _write_batch(batch, count)
            batch = {}
            if progress is not None:
                progress(count)
    if batch:
        await _write_batch(batch, count)
    if progress is not None:
        progress(count)
    return count


async def search(query: str, *, active_only: bool = False,
                 limit: int = SEARCH_LIMIT) -> list[RegisterCertification]:
    """Certifications whose number, title, certifiers, ROME or NSF codes hold every word of
    the query (accents and case ignored)."""
    rows = RegisterCertification.all()
    for word in fold(query).split()[:8]:
        rows = rows.filter(search_text__contains=word)
    if active_only:
        rows = rows.filter(active=True)
    return await rows.order_by("-active", "title").limit(limit)


async def count() -> int:
    return await RegisterCertification.all().count()


async def certification(number: str) -> RegisterCertification:
    found = await RegisterCertification.get_or_none(number=number.strip().upper())
    if found is None:
        raise NotFound("Cette certification n'est pas dans le répertoire importé.",
                       code="register_certification_not_found")
    return found


async def blocks_of(found: RegisterCertification) -> list[RegisterBlock]:
    return await RegisterBlock.filter(certification_id=found.number).order_by("position")


async def draft(number: str, today: date, version: str | None = None) -> Draft:
    """A draft referential file from an imported certification."""
    found = await certification(number)
    blocks = await blocks_of(found)
    fiche = fiche_from_row(found.number, found.kind, found.title, found.level, found.certifiers,
                           found.details, [(b.code, b.title, b.competencies, b.assessment)
                                           for b in blocks])
    return draft_referential(fiche, version or f"{today.year}-1", today)
